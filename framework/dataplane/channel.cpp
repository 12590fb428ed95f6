#include "dataplane/channel.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "dataplane/channel_layout.hpp"
#include "dataplane/futex.hpp"
#include "dataplane/holders.hpp"
#include "dataplane/pool_layout.hpp"
#include "dataplane/process_alive.hpp"
#include "dataplane/spin_phase.hpp"
#include "dataplane/wait_interruption.hpp"
#include "dataplane/waker_cpu.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <utility>

namespace dragon {
namespace {

// Sleeps are sliced so a destroyed channel or a dead peer is noticed without a wake.
constexpr int64_t sleep_slice_ns = 50'000'000;

constexpr std::string_view descriptor_prefix = "dragon-channel:";

std::byte *payload(SlotHeader *s)
{
    return reinterpret_cast<std::byte *>(s + 1);
}

// Moves `position` from `from` to from + 1 unless someone already did; never changes `from`.
void advance(std::atomic<uint64_t> &position, uint64_t from)
{
    position.compare_exchange_strong(from, from + 1, std::memory_order_acq_rel);
}

std::optional<uint64_t> parse_u64(const std::string &text)
{
    if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != text.npos)
        return std::nullopt;
    errno = 0;
    unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
    if (errno != 0)
        return std::nullopt;
    return uint64_t(v);
}

void store_length(SlotHeader *s, uint64_t value)
{
    __atomic_store_n(&s->length, value, __ATOMIC_RELAXED);
}

} // namespace

// ---- Message --------------------------------------------------------------------------------

Message::Message(Message &&o) noexcept
    : held_(std::move(o.held_)), small_(std::move(o.small_)),
      block_(std::exchange(o.block_, nullptr)), pool_(std::move(o.pool_)),
      size_(std::exchange(o.size_, 0))
{
    if (!block_ && size_ <= sizeof inline_)
        std::memcpy(inline_, o.inline_, size_);
}

Message &Message::operator=(Message &&o) noexcept
{
    if (this != &o) {
        this->~Message();
        new (this) Message(std::move(o));
    }
    return *this;
}

Message::~Message()
{
    held_.reset(); // first: a record must never name a block already freed
    if (block_ && pool_) {
        try {
            pool_->free(block_);
        } catch (...) {
        }
    }
}

void *Message::release()
{
    held_.reset();
    return std::exchange(block_, nullptr);
}

void Message::record_block()
{
    if (block_ && pool_ && size_ >= BlockInHand::recorded_from)
        held_ = std::make_unique<BlockInHand>(*pool_, block_, size_);
}

Message Message::adopt(std::shared_ptr<Pool> pool, void *block, size_t size)
{
    Message m;
    m.block_ = static_cast<std::byte *>(block);
    m.pool_ = std::move(pool);
    m.size_ = size;
    m.record_block();
    return m;
}

// ---- Channel lifetime (see holders.hpp) -----------------------------------------------------

bool channel_try_ref(ChannelHeader *h, uint32_t serial)
{
    uint64_t life = h->life.load(std::memory_order_acquire);
    for (;;) {
        if (life_serial(life) != serial || life_refs(life) == 0 || life_refs(life) == UINT32_MAX)
            return false;
        if (h->life.compare_exchange_weak(life, life + 1, std::memory_order_acq_rel))
            return true;
    }
}

void channel_unref(Pool &pool, ChannelHeader *h, uint32_t serial)
{
    uint64_t life = h->life.load(std::memory_order_acquire);
    do {
        if (life_serial(life) != serial || life_refs(life) == 0)
            return;
    } while (!h->life.compare_exchange_weak(life, life - 1, std::memory_order_acq_rel));
    if (life_refs(life) != 1)
        return;
    // The last reference in the job (nobody can be waiting on it: a waiter holds
    // one): return undelivered blocks, overflowed messages and the ring.
    try {
        h->destroyed.store(1, std::memory_order_seq_cst);
        free_overflow(pool, h);
        for (uint64_t pos = h->dequeue_pos.load(); pos != h->enqueue_pos.load(); ++pos) {
            auto *s = reinterpret_cast<SlotHeader *>(reinterpret_cast<std::byte *>(h + 1) +
                                                     (pos & (h->capacity - 1)) * h->slot_size);
            uint64_t st = s->state.load();
            if (slot_phase(st) == slot_full && (s->length >> slot_kind_shift) == kind_block) {
                uint64_t handle;
                std::memcpy(&handle, payload(s), sizeof handle);
                pool.free(pool.pointer_of(handle));
            }
        }
        h->magic = 0;
        h->life.store(0, std::memory_order_release);
        pool.free(h);
    } catch (...) {
    }
}

Channel Channel::create(std::shared_ptr<Pool> pool, const ChannelOptions &options)
{
    return create_with_memory(std::move(pool), options, 0);
}

Channel Channel::create_with_memory(std::shared_ptr<Pool> pool, const ChannelOptions &options,
                                    size_t memory_bytes)
{
    uint32_t capacity = std::bit_ceil(std::max<uint32_t>(options.capacity, 2));
    uint32_t slot_size = (std::max<uint32_t>(options.slot_size, 64) + 63) / 64 * 64;
    if (capacity > (1u << 24))
        throw Error(DRAGON_ERR_INVALID, "channel capacity " + std::to_string(options.capacity) +
                                            " is too large; use at most 16M messages");
    HolderName holder = local_holder(*pool);
    uint32_t serial = next_channel_serial(*pool);
    size_t ring_bytes = sizeof(ChannelHeader) + size_t(capacity) * slot_size;
    void *mem = pool->allocate(ring_bytes + memory_bytes, no_wait);
    auto *h = new (mem) ChannelHeader{};
    h->capacity = capacity;
    h->slot_size = slot_size;
    h->inline_max = slot_size - slot_header_bytes;
    h->life.store(uint64_t(serial) << 32 | 1);
    h->memory_bytes = memory_bytes;
    if (memory_bytes)
        std::memset(static_cast<std::byte *>(mem) + ring_bytes, 0, memory_bytes);
    if (options.unbounded) {
        h->unbounded = 1;
        h->overflow_lock.init();
    }
    auto *slots = reinterpret_cast<std::byte *>(h + 1);
    for (uint32_t i = 0; i < capacity; ++i) {
        auto *s = new (slots + size_t(i) * slot_size) SlotHeader{};
        s->state.store(slot_state(i, slot_free, 0), std::memory_order_relaxed);
    }
    std::atomic_thread_fence(std::memory_order_release);
    h->magic = channel_magic;
    try {
        hold(*pool, holder, pool->handle_of(h), serial, false);
    } catch (...) {
        channel_unref(*pool, h, serial);
        throw;
    }
    Channel ch(std::move(pool), h);
    ch.owner_pid_ = current_pid();
    return ch;
}

Channel Channel::attach(const std::string &descriptor)
{
    auto bad = [&](const std::string &why) {
        return Error(DRAGON_ERR_INVALID, "channel descriptor '" + descriptor + "' is invalid: " +
                                             why + "; pass the string descriptor() returned");
    };
    if (descriptor.rfind(descriptor_prefix, 0) != 0)
        throw bad("it does not start with 'dragon-channel:'");
    auto parts = text::split(std::string_view(descriptor).substr(descriptor_prefix.size()), ':');
    if (parts.size() != 4 && parts.size() != 5)
        throw bad("expected <plugin>:<segment>:<handle>:<serial>[:<slot>.<holder>]");
    auto handle = text::parse_int(parts[2]);
    if (!handle || *handle <= 0)
        throw bad("the handle is not a positive number");
    auto serial = text::parse_int(parts[3]);
    if (!serial || *serial <= 0 || *serial > int64_t(UINT32_MAX))
        throw bad("the serial is not a positive 32-bit number");
    std::optional<HolderName> sender;
    if (parts.size() == 5) {
        auto fields = text::split(parts[4], '.');
        auto slot = fields.size() == 2 ? parse_u64(fields[0]) : std::nullopt;
        auto id = fields.size() == 2 ? parse_u64(fields[1]) : std::nullopt;
        if (!slot || !id || *slot > UINT32_MAX || *id == 0)
            throw bad("the sender's holder is not <slot>.<id>");
        sender = HolderName{uint32_t(*slot), uint64_t(*id)};
    }
    auto pool = Pool::attach(parts[0], parts[1]);
    auto *h = static_cast<ChannelHeader *>(pool->pointer_of(uint64_t(*handle)));
    HolderName holder = local_holder(*pool);
    if (!channel_try_ref(h, uint32_t(*serial)))
        throw Error(DRAGON_ERR_UNAVAILABLE,
                    "channel " + descriptor +
                        " no longer exists: every process holding it dropped it (a "
                        "descriptor in transit counts only while its sender runs)");
    try {
        hold(*pool, holder, uint64_t(*handle), uint32_t(*serial), false);
    } catch (...) {
        channel_unref(*pool, h, uint32_t(*serial));
        throw;
    }
    Channel ch(std::move(pool), h);
    ch.owner_pid_ = current_pid();
    // The sender's reference in transit has arrived: give it back (once).
    if (sender && unhold(*ch.pool_, *sender, uint64_t(*handle), uint32_t(*serial), true))
        channel_unref(*ch.pool_, h, uint32_t(*serial));
    if (h->destroyed.load())
        throw Error(DRAGON_ERR_UNAVAILABLE, "channel " + descriptor + " was destroyed");
    return ch;
}

std::string Channel::transit_descriptor() const
{
    uint32_t serial = life_serial(header_->life.load(std::memory_order_acquire));
    HolderName holder = local_holder(*pool_);
    if (!channel_try_ref(header_, serial))
        throw Error(DRAGON_ERR_UNAVAILABLE, "channel " + descriptor() + " is being freed");
    try {
        hold(*pool_, holder, pool_->handle_of(header_), serial, true);
    } catch (...) {
        channel_unref(*pool_, header_, serial);
        throw;
    }
    return descriptor() + ":" + std::to_string(holder.slot) + "." + std::to_string(holder.id);
}

Channel::Channel(Channel &&o) noexcept
    : pool_(std::move(o.pool_)), header_(std::exchange(o.header_, nullptr)),
      owner_pid_(std::exchange(o.owner_pid_, 0))
{
}

Channel &Channel::operator=(Channel &&o) noexcept
{
    if (this != &o) {
        release();
        pool_ = std::move(o.pool_);
        header_ = std::exchange(o.header_, nullptr);
        owner_pid_ = std::exchange(o.owner_pid_, 0);
    }
    return *this;
}

Channel::~Channel()
{
    release();
}

void Channel::release()
{
    // A fork child's copy never took a reference, so it never drops one.
    if (!header_ || owner_pid_ != current_pid()) {
        header_ = nullptr;
        return;
    }
    ChannelHeader *h = std::exchange(header_, nullptr);
    try {
        uint32_t serial = life_serial(h->life.load(std::memory_order_acquire));
        // Map first, channel second: a crash in between leaks, never frees early.
        if (unhold(*pool_, local_holder(*pool_), pool_->handle_of(h), serial, false))
            channel_unref(*pool_, h, serial);
    } catch (...) {
    }
}

void Channel::destroy()
{
    if (!header_)
        return;
    header_->destroyed.store(1, std::memory_order_seq_cst);
    header_->send_event.fetch_add(1);
    header_->recv_event.fetch_add(1);
    futex::wake_all(&header_->send_event);
    futex::wake_all(&header_->recv_event);
    futex::wake_all(&header_->sem_value);
    PoolHeader *ph = pool_->header();
    ph->channel_event.fetch_add(1);
    futex::wake_all(&ph->channel_event);
}

std::string Channel::descriptor() const
{
    return std::string(descriptor_prefix) + pool_->plugin_name() + ":" + pool_->name() + ":" +
           std::to_string(pool_->handle_of(header_)) + ":" +
           std::to_string(life_serial(header_->life.load(std::memory_order_acquire)));
}

uint32_t Channel::capacity() const
{
    return header_->capacity;
}
uint32_t Channel::inline_max() const
{
    return header_->inline_max;
}
bool Channel::held_elsewhere() const
{
    uint64_t life = header_->life.load(std::memory_order_acquire);
    uint32_t mine =
        references_of(*pool_, local_holder(*pool_), pool_->handle_of(header_), life_serial(life));
    return life_refs(life) > mine;
}

bool Channel::destroyed() const
{
    return header_->destroyed.load(std::memory_order_acquire) != 0;
}

bool Channel::unbounded() const
{
    return header_->unbounded != 0;
}

size_t Channel::size() const
{
    uint64_t deq = header_->dequeue_pos.load(std::memory_order_acquire);
    uint64_t enq = header_->enqueue_pos.load(std::memory_order_acquire);
    size_t overflowed = header_->unbounded ? header_->overflow_count.load() : 0;
    return (enq > deq ? size_t(enq - deq) : 0) + overflowed;
}

bool Channel::readable() const
{
    if (header_->unbounded && header_->overflow_count.load(std::memory_order_acquire) > 0)
        return true;
    uint64_t pos = header_->dequeue_pos.load(std::memory_order_acquire);
    // A slot being taken whose taker has not advanced dequeue_pos yet: look past it.
    for (int i = 0; i < 2; ++i, ++pos) {
        uint64_t st = slot(pos)->state.load(std::memory_order_acquire);
        if (slot_distance(slot_seq(st), pos) != 0)
            return false;
        if (slot_phase(st) == slot_full)
            return true;
        if (slot_phase(st) != slot_taking)
            return false;
    }
    return false;
}

SlotHeader *Channel::slot(uint64_t pos) const
{
    return reinterpret_cast<SlotHeader *>(reinterpret_cast<std::byte *>(header_ + 1) +
                                          (pos & (header_->capacity - 1)) * header_->slot_size);
}

void Channel::check_alive() const
{
    if (header_->destroyed.load(std::memory_order_acquire))
        throw Error(DRAGON_ERR_UNAVAILABLE,
                    "channel " + descriptor() + " was destroyed; no more sends or receives");
}

// ---- Ring operations ------------------------------------------------------------------------

Channel::Outcome Channel::send_once(uint64_t kind, const void *data, size_t size,
                                    BlockInHand *in_hand)
{
    if (!header_->unbounded)
        return ring_send_once(kind, data, size, in_hand);
    // Once messages overflowed, later ones follow them there (order per sender).
    if (header_->overflow_count.load(std::memory_order_acquire) > 0)
        return overflow_push(kind, data, size, in_hand);
    Outcome o = ring_send_once(kind, data, size, in_hand);
    return o == Outcome::would_block ? overflow_push(kind, data, size, in_hand) : o;
}

Channel::Outcome Channel::recv_once(Message &out)
{
    Outcome o = ring_recv_once(out);
    // The ring's messages are older than the overflow's: it goes first.
    if (o == Outcome::would_block && header_->unbounded &&
        header_->overflow_count.load(std::memory_order_acquire) > 0)
        o = overflow_pop(out);
    if (o == Outcome::done)
        out.record_block(); // the block is ours alone from the take on
    return o;
}

Channel::Outcome Channel::ring_send_once(uint64_t kind, const void *data, size_t size,
                                         BlockInHand *in_hand)
{
    ChannelHeader *h = header_;
    for (;;) {
        uint64_t pos = h->enqueue_pos.load(std::memory_order_acquire);
        SlotHeader *s = slot(pos);
        uint64_t st = s->state.load(std::memory_order_acquire);
        int64_t d = slot_distance(slot_seq(st), pos);
        if (d == 0) {
            if (slot_phase(st) == slot_free) {
                // From the claim on, the ring owns the block: its record goes first.
                if (in_hand)
                    in_hand->let_go();
                if (s->state.compare_exchange_weak(st, slot_state(pos, slot_claimed, current_pid()),
                                                   std::memory_order_acq_rel)) {
                    advance(h->enqueue_pos, pos);
                    std::memcpy(payload(s), data, kind == kind_block ? sizeof(uint64_t) : size);
                    store_length(s, (kind << slot_kind_shift) | size);
                    s->state.store(slot_state(pos, slot_full, 0), std::memory_order_release);
                    notify_receivers();
                    return Outcome::done;
                }
                if (in_hand)
                    in_hand->take_back();
            } else {
                // Claimed by a producer that has not advanced enqueue_pos yet: help it.
                advance(h->enqueue_pos, pos);
            }
        } else if (d < 0) {
            // The slot still holds the previous lap's message: full, unless its taker died.
            if (slot_phase(st) == slot_taking && process_dead(slot_pid(st))) {
                s->state.compare_exchange_strong(st, slot_state(pos, slot_free, 0));
                return Outcome::repaired;
            }
            if (h->enqueue_pos.load(std::memory_order_acquire) == pos)
                return Outcome::would_block;
        }
        // d > 0: our position is stale; reload.
    }
}

Channel::Outcome Channel::ring_recv_once(Message &out)
{
    ChannelHeader *h = header_;
    for (;;) {
        uint64_t pos = h->dequeue_pos.load(std::memory_order_acquire);
        SlotHeader *s = slot(pos);
        uint64_t st = s->state.load(std::memory_order_acquire);
        int64_t d = slot_distance(slot_seq(st), pos);
        if (d > 0)
            continue; // stale position
        if (d < 0 || slot_phase(st) == slot_free) {
            if (h->dequeue_pos.load(std::memory_order_acquire) == pos)
                return Outcome::would_block;
            continue;
        }
        switch (slot_phase(st)) {
        case slot_taking: advance(h->dequeue_pos, pos); continue;
        case slot_claimed:
            if (!process_dead(slot_pid(st)))
                return Outcome::would_block; // the producer is still writing
            // Its producer died mid-send: make it a tombstone that the ring skips.
            store_length(s, kind_tombstone << slot_kind_shift);
            s->state.compare_exchange_strong(st, slot_state(pos, slot_full, 0),
                                             std::memory_order_acq_rel);
            return Outcome::repaired;
        default: break;
        }
        if (!s->state.compare_exchange_weak(st, slot_state(pos, slot_taking, current_pid()),
                                            std::memory_order_acq_rel))
            continue;
        advance(h->dequeue_pos, pos);
        uint64_t length = __atomic_load_n(&s->length, __ATOMIC_RELAXED);
        uint64_t kind = length >> slot_kind_shift;
        size_t size = size_t(length & ((uint64_t(1) << slot_kind_shift) - 1));
        bool got = kind != kind_tombstone;
        if (kind == kind_inline) {
            if (size <= sizeof out.inline_) {
                std::memcpy(out.inline_, payload(s), size);
            } else {
                out.small_.resize(size);
                std::memcpy(out.small_.data(), payload(s), size);
            }
            out.size_ = size;
        } else if (kind == kind_block) {
            uint64_t handle;
            std::memcpy(&handle, payload(s), sizeof handle);
            out.block_ = static_cast<std::byte *>(pool_->pointer_of(handle));
            out.pool_ = pool_;
            out.size_ = size;
        }
        s->state.store(slot_state(pos + h->capacity, slot_free, 0), std::memory_order_release);
        notify_senders();
        if (got)
            return Outcome::done;
    }
}

void Channel::notify_receivers()
{
    // Pairs with the waiter's increment-then-recheck: one of us sees the other.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (header_->recv_waiters.load(std::memory_order_relaxed) > 0) {
        note_waker(header_->waker);
        header_->send_event.fetch_add(1, std::memory_order_release);
        futex::wake_all(&header_->send_event);
    }
    PoolHeader *ph = pool_->header();
    if (ph->poll_waiters.load(std::memory_order_relaxed) > 0) {
        ph->channel_event.fetch_add(1, std::memory_order_release);
        futex::wake_all(&ph->channel_event);
    }
}

void Channel::notify_senders()
{
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (header_->send_waiters.load(std::memory_order_relaxed) > 0) {
        header_->recv_event.fetch_add(1, std::memory_order_release);
        futex::wake_all(&header_->recv_event);
    }
    notify_pool_watchers();
}

void Channel::notify_pool_watchers()
{
    // dragon-node retries the blocked operations of other nodes' processes when
    // anything in its pool changes (launch/node/pool_watch.hpp).
    PoolHeader *ph = pool_->header();
    if (ph->poll_waiters.load(std::memory_order_relaxed) > 0) {
        ph->channel_event.fetch_add(1, std::memory_order_release);
        futex::wake_all(&ph->channel_event);
    }
}

template <typename Attempt>
bool Channel::wait_until(Attempt &&attempt, std::atomic<uint32_t> &event,
                         std::atomic<uint32_t> &waiters, const Deadline &deadline,
                         const std::atomic<uint64_t> *waker)
{
    SpinPhase spin;
    for (;;) {
        check_alive();
        Outcome o = attempt();
        if (o == Outcome::done)
            return true;
        if (o == Outcome::repaired)
            continue;
        if (deadline.expired())
            return false;
        if (spin.keep_polling())
            continue;
        uint32_t seen = event.load(std::memory_order_acquire);
        WaiterRegistration registered(waiters);
        o = attempt();
        if (o == Outcome::done)
            return true;
        if (o == Outcome::would_block && !destroyed()) {
            std::optional<SleepBesideWaker> beside;
            if (waker && waiters.load(std::memory_order_relaxed) == 1 && !cpu_to_spare())
                beside.emplace(*waker);
            bool prompt = !(waker && waker_sleeps_beside(*waker));
            sleep_interruptibly(&event, seen, std::min(deadline.remaining_ns(), sleep_slice_ns),
                                prompt);
        }
    }
}

// ---- Public send/receive --------------------------------------------------------------------

void Channel::send_payload(uint64_t kind, const void *data, size_t size, const Deadline &deadline,
                           BlockInHand *in_hand)
{
    bool sent = wait_until([&] { return send_once(kind, data, size, in_hand); },
                           header_->recv_event, header_->send_waiters, deadline);
    if (!sent)
        throw Error(DRAGON_ERR_TIMEOUT,
                    "send on channel " + descriptor() + " timed out: the channel is full (" +
                        std::to_string(capacity()) + " messages) and no receiver took one in time");
}

void Channel::send(const void *data, size_t size, Timeout timeout)
{
    Deadline deadline(timeout);
    check_alive();
    if (size <= header_->inline_max)
        return send_payload(kind_inline, data, size, deadline);
    // An unbounded channel never waits for room, in the ring or in the pool: a
    // full pool is an error at once (naming DRAGON_DEFAULT_SEG_SZ), not a hang.
    Timeout room = header_->unbounded        ? no_wait
                   : timeout == wait_forever ? wait_forever
                                             : Timeout(deadline.remaining_ns());
    BlockInHand in_hand(*pool_, size); // a sender killed during the copy leaks nothing
    void *block = pool_->allocate(size, room, in_hand.word());
    std::memcpy(block, data, size);
    try {
        send_block(block, size, deadline, &in_hand);
    } catch (...) {
        in_hand.let_go();
        pool_->free(block);
        throw;
    }
}

void Channel::send_block(void *block, size_t size, Timeout timeout, BlockInHand *in_hand)
{
    send_block(block, size, Deadline(timeout), in_hand);
}

void Channel::send_block(void *block, size_t size, const Deadline &deadline, BlockInHand *in_hand)
{
    if (size >= (uint64_t(1) << slot_kind_shift))
        throw Error(DRAGON_ERR_INVALID,
                    "message of " + std::to_string(size) + " bytes is too large");
    uint64_t handle = pool_->handle_of(block);
    send_payload(kind_block, &handle, size, deadline, in_hand);
}

bool Channel::try_send(const void *data, size_t size)
{
    check_alive();
    if (size <= header_->inline_max)
        return wait_until([&] { return send_once(kind_inline, data, size, nullptr); },
                          header_->recv_event, header_->send_waiters, Deadline(no_wait));
    BlockInHand in_hand(*pool_, size);
    void *block = pool_->try_allocate(size, in_hand.word());
    if (!block)
        return false;
    std::memcpy(block, data, size);
    uint64_t handle = pool_->handle_of(block);
    bool sent = false;
    try {
        sent = wait_until([&] { return send_once(kind_block, &handle, size, &in_hand); },
                          header_->recv_event, header_->send_waiters, Deadline(no_wait));
    } catch (...) {
        in_hand.let_go();
        pool_->free(block);
        throw;
    }
    if (!sent) {
        in_hand.let_go();
        pool_->free(block);
    }
    return sent;
}

bool Channel::try_send_block(void *block, size_t size)
{
    check_alive();
    if (size >= (uint64_t(1) << slot_kind_shift))
        throw Error(DRAGON_ERR_INVALID,
                    "message of " + std::to_string(size) + " bytes is too large");
    uint64_t handle = pool_->handle_of(block);
    return wait_until([&] { return send_once(kind_block, &handle, size, nullptr); },
                      header_->recv_event, header_->send_waiters, Deadline(no_wait));
}

Message Channel::recv(Timeout timeout)
{
    Message m;
    bool got = wait_until([&] { return recv_once(m); }, header_->send_event, header_->recv_waiters,
                          Deadline(timeout), &header_->waker);
    if (!got)
        throw Error(DRAGON_ERR_TIMEOUT, "receive on channel " + descriptor() + " timed out after " +
                                            std::to_string(timeout.count() / 1'000'000) +
                                            " ms: no message arrived");
    return m;
}

std::optional<Message> Channel::try_recv()
{
    Message m;
    if (wait_until([&] { return recv_once(m); }, header_->send_event, header_->recv_waiters,
                   Deadline(no_wait)))
        return m;
    return std::nullopt;
}

} // namespace dragon
