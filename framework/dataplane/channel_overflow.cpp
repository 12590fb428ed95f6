// The overflow list of an unbounded channel: where a send goes when the ring is
// full, instead of waiting (a stock Queue's put never blocks: its feeder thread
// buffers without bound).
//
// Only the slow path comes here: the ring stays the fast path, and the list is
// used only while the ring is full or the list is not empty. Each overflowed
// message is one pool block (OverflowNode + inline payload, or + the handle of
// the message's own block), appended and taken under the channel's robust
// overflow lock. Order: a sender that finds the list non-empty appends to it, so
// each sender's later messages stay behind its earlier ones; receivers take the
// ring first, then the list. A process killed holding the lock leaves the list
// walkable (links are written before they are published); the repair recounts it.
#include "core/error.hpp"
#include "dataplane/channel.hpp"
#include "dataplane/channel_layout.hpp"
#include "dataplane/holders.hpp"

#include <cstring>

namespace dragon {
namespace {

const std::string overflow_lock_what = "channel overflow list";
constexpr Timeout overflow_lock_timeout = std::chrono::seconds(30);

std::byte *node_payload(OverflowNode *n)
{
    return reinterpret_cast<std::byte *>(n + 1);
}

OverflowNode *node_at(Pool &pool, uint64_t handle)
{
    return static_cast<OverflowNode *>(pool.pointer_of(handle));
}

// With the lock of a dead owner: the tail and count from the list itself.
void repair(Pool &pool, ChannelHeader *h)
{
    uint64_t count = 0, tail = 0;
    for (uint64_t at = h->overflow_head; at; at = node_at(pool, at)->next, ++count)
        tail = at;
    h->overflow_tail = tail;
    h->overflow_count.store(count, std::memory_order_release);
}

class OverflowLock {
public:
    OverflowLock(Pool &pool, ChannelHeader *h) : h_(h)
    {
        h->overflow_lock.lock(Deadline(overflow_lock_timeout), overflow_lock_what,
                              [&] { repair(pool, h); });
    }
    ~OverflowLock() { h_->overflow_lock.unlock(); }
    OverflowLock(const OverflowLock &) = delete;
    OverflowLock &operator=(const OverflowLock &) = delete;

private:
    ChannelHeader *h_;
};

} // namespace

Channel::Outcome Channel::overflow_push(uint64_t kind, const void *data, size_t size,
                                        BlockInHand *in_hand)
{
    ChannelHeader *h = header_;
    size_t bytes = kind == kind_block ? sizeof(uint64_t) : size;
    // No wait for room: a full pool is an error naming the knob, not a hang.
    auto *node =
        static_cast<OverflowNode *>(pool_->allocate(sizeof(OverflowNode) + bytes, no_wait));
    node->next = 0;
    node->length = (kind << slot_kind_shift) | size;
    std::memcpy(node_payload(node), data, bytes);
    uint64_t handle = pool_->handle_of(node);
    {
        OverflowLock lock(*pool_, h);
        if (in_hand) // the list owns the block from the next store on
            in_hand->let_go();
        if (h->overflow_tail)
            node_at(*pool_, h->overflow_tail)->next = handle;
        else
            h->overflow_head = handle;
        h->overflow_tail = handle;
        h->overflow_count.fetch_add(1, std::memory_order_acq_rel);
    }
    notify_receivers();
    return Outcome::done;
}

Channel::Outcome Channel::overflow_pop(Message &out)
{
    ChannelHeader *h = header_;
    uint64_t handle;
    {
        OverflowLock lock(*pool_, h);
        handle = h->overflow_head;
        if (!handle)
            return Outcome::would_block; // another receiver took the last one
        OverflowNode *node = node_at(*pool_, handle);
        h->overflow_head = node->next;
        if (!node->next)
            h->overflow_tail = 0;
        h->overflow_count.fetch_sub(1, std::memory_order_acq_rel);
    }
    OverflowNode *node = node_at(*pool_, handle);
    uint64_t kind = node->length >> slot_kind_shift;
    size_t size = size_t(node->length & ((uint64_t(1) << slot_kind_shift) - 1));
    if (kind == kind_block) {
        uint64_t block;
        std::memcpy(&block, node_payload(node), sizeof block);
        out.block_ = static_cast<std::byte *>(pool_->pointer_of(block));
        out.pool_ = pool_;
    } else if (size <= sizeof out.inline_) {
        std::memcpy(out.inline_, node_payload(node), size);
    } else {
        out.small_.assign(node_payload(node), node_payload(node) + size);
    }
    out.size_ = size;
    pool_->free(node);
    notify_senders(); // readiness watchers wait for a receive while readable
    return Outcome::done;
}

void free_overflow(Pool &pool, ChannelHeader *h)
{
    if (!h->unbounded)
        return;
    for (uint64_t at = h->overflow_head; at;) {
        OverflowNode *node = node_at(pool, at);
        at = node->next;
        if ((node->length >> slot_kind_shift) == kind_block) {
            uint64_t block;
            std::memcpy(&block, node_payload(node), sizeof block);
            pool.free(pool.pointer_of(block));
        }
        pool.free(node);
    }
    h->overflow_head = h->overflow_tail = 0;
    h->overflow_count.store(0);
}

} // namespace dragon
