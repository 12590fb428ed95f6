// A bounded multi-producer multi-consumer message queue inside a Pool.
//
// Layout and crash safety: see channel_layout.hpp. Messages up to inline_max
// bytes are copied into the slot; larger ones travel as a pool block whose
// handle is put in the slot, and recv() hands that very block to the receiver
// (zero copy): a Message frees it when dropped, or release() gives it away.
//
// Blocking calls spin briefly (a sleeping peer costs a futex syscall on each
// side; a spinning one costs nothing when messages flow) and then sleep on a
// futex word in the channel, woken only when a waiter count says someone sleeps.
// Every wait has a deadline; sleeps are sliced (<= 50 ms) so a destroyed channel
// or a dead peer is noticed even if no wake-up comes.
//
// Order: messages from one sender are received in the order sent (a single
// ring; with several receivers each sees a subsequence in that order). An
// unbounded channel (ChannelOptions::unbounded) never makes a sender wait: what
// does not fit the ring overflows to pool blocks (channel_overflow.cpp), in order.
//
// Lifetime: every Channel object, and every descriptor in transit, is a
// reference; the channel is freed when the job's last one is gone (holders.hpp).
#pragma once

#include "dataplane/deadline.hpp"
#include "dataplane/pool.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dragon {

struct ChannelHeader;
struct SlotHeader;
class BlockInHand;

// A received message. Small ones are copied out of the slot; large ones are the
// sender's pool block itself, freed when the Message is dropped.
class Message {
public:
    Message() = default;
    Message(Message &&other) noexcept;
    Message &operator=(Message &&other) noexcept;
    Message(const Message &) = delete;
    Message &operator=(const Message &) = delete;
    ~Message();

    const std::byte *data() const
    {
        return block_ ? block_ : size_ <= sizeof inline_ ? inline_ : small_.data();
    }
    size_t size() const { return size_; }
    std::string str() const { return std::string(reinterpret_cast<const char *>(data()), size_); }
    bool zero_copy() const { return block_ != nullptr; }
    // Takes ownership of the pool block (the caller frees it with pool.free);
    // nullptr for a small message.
    void *release();
    // A message that is `block` of `pool` (from allocate()), which it frees when dropped:
    // a large message that came from another node into this node's pool.
    static Message adopt(std::shared_ptr<Pool> pool, void *block, size_t size);

private:
    friend class Channel;
    // A pool block this process holds now is recorded in its holder, so that its
    // reaper frees it if the process dies first (holders.hpp).
    void record_block();
    std::unique_ptr<BlockInHand> held_;
    // Small payloads land here without a heap allocation; larger inline slots use small_.
    std::byte inline_[240];
    std::vector<std::byte> small_;
    std::byte *block_ = nullptr;
    std::shared_ptr<Pool> pool_;
    size_t size_ = 0;
};

struct ChannelOptions {
    uint32_t capacity = 1024; // messages; rounded up to a power of two
    uint32_t slot_size = 128; // bytes per slot, a multiple of 64; payload inline up to this - 16
    // Sends never wait for room: what does not fit the ring goes to an overflow
    // list of pool blocks (bounded only by the pool). Order per sender is kept.
    bool unbounded = false;
};

class Channel {
public:
    // A new channel inside `pool`. Throws dragon::Error.
    static Channel create(std::shared_ptr<Pool> pool, const ChannelOptions &options = {});
    // A semaphore channel: it carries a count from 0 to `maximum` instead of messages
    // (Dragon's semaphore channels). Locks and semaphores are built on it so that
    // whatever reaches a channel from another node reaches them too. Throws dragon::Error.
    static Channel create_semaphore(std::shared_ptr<Pool> pool, uint32_t initial, uint32_t maximum);
    // A memory channel: `bytes` of zeroed shared memory (64-byte aligned) that every
    // holder on this node reads and writes in place, with a channel's job-wide
    // identity and lifetime (freed with its last reference), so that a process on
    // another node reaches it through the gateway as it reaches any channel (Value
    // and Array live in one). Throws dragon::Error.
    static Channel create_memory(std::shared_ptr<Pool> pool, size_t bytes);
    // A channel from its descriptor(), in any process of the job on this node.
    static Channel attach(const std::string &descriptor);

    Channel() = default;
    Channel(Channel &&other) noexcept;
    Channel &operator=(Channel &&other) noexcept;
    Channel(const Channel &) = delete;
    Channel &operator=(const Channel &) = delete;
    ~Channel();

    // "dragon-channel:<plugin>:<segment>:<handle>:<serial>". Attaching it needs the
    // channel alive (some holder still has it) when attach() runs.
    std::string descriptor() const;
    // The descriptor plus one reference held for it while in transit: the channel
    // stays alive until a process attaches it (which gives that reference back), or
    // until this process is gone (holders.hpp). For pickling.
    std::string transit_descriptor() const;

    // Blocks up to `timeout` while full; throws dragon::Error (TIMEOUT; UNAVAILABLE if
    // destroyed; NO_MEMORY if a large message finds no pool room in time).
    void send(const void *data, size_t size, Timeout timeout = wait_forever);
    void send(const std::string &s, Timeout timeout = wait_forever)
    {
        send(s.data(), s.size(), timeout);
    }
    // Non-blocking: false if the channel is full (or a large message finds no room).
    bool try_send(const void *data, size_t size);
    // Zero-copy send of a block from this channel's pool; ownership passes to the
    // channel on success (on failure the caller still owns it). `in_hand`: the
    // block's record (holders.hpp), let go of just before the channel takes it.
    void send_block(void *block, size_t size, Timeout timeout = wait_forever,
                    BlockInHand *in_hand = nullptr);
    // As send_block without waiting: false (the caller still owns the block) if full.
    bool try_send_block(void *block, size_t size);

    // Blocks up to `timeout` while empty; throws dragon::Error on timeout/destroyed.
    Message recv(Timeout timeout = wait_forever);
    std::optional<Message> try_recv();

    // Semaphore channels only (else DRAGON_ERR_INVALID). P: takes one unit, waiting up
    // to `timeout` while the count is 0; false on timeout; throws if destroyed.
    bool sem_acquire(Timeout timeout = wait_forever);
    // V: gives one unit back and wakes one waiter; false (and no change) if the
    // count is already at its maximum.
    bool sem_release();
    uint32_t sem_value() const;
    uint32_t sem_max() const;
    bool is_semaphore() const;

    // Memory channels only: the memory (nullptr, size 0 for other channels), and
    // bounds-checked copies in and out of it (the gateway's remote reads and writes;
    // DRAGON_ERR_INVALID out of range or on another kind of channel).
    bool is_memory() const;
    std::byte *memory() const;
    size_t memory_size() const;
    void read_memory(size_t offset, void *out, size_t len) const;
    void write_memory(size_t offset, const void *data, size_t len);

    // A message is waiting (a snapshot).
    bool readable() const;
    // Messages sent and not yet received (a snapshot; counts in-flight operations).
    size_t size() const;
    uint32_t capacity() const; // of the ring; an unbounded channel holds more
    bool unbounded() const;
    uint32_t inline_max() const;
    bool destroyed() const;
    // Whether a process other than this one (or a descriptor in transit from one)
    // holds the channel: false means that nothing but this process can ever send to
    // or receive from it (a snapshot).
    bool held_elsewhere() const;
    bool valid() const { return header_ != nullptr; }
    Pool &pool() const { return *pool_; }

    // Marks the channel destroyed and wakes every waiter in every process with an
    // error; its memory returns to the pool when the last reference in the job is
    // gone (as for any channel: see holders.hpp).
    void destroy();

    // Internal: for ChannelSet and readiness watchers.
    ChannelHeader *header() const { return header_; }

private:
    enum class Outcome { done, would_block, repaired };
    static Channel create_with_memory(std::shared_ptr<Pool> pool, const ChannelOptions &options,
                                      size_t memory_bytes);
    void check_memory_range(size_t offset, size_t len) const;
    Channel(std::shared_ptr<Pool> pool, ChannelHeader *header)
        : pool_(std::move(pool)), header_(header)
    {
    }
    SlotHeader *slot(uint64_t pos) const;
    Outcome send_once(uint64_t kind, const void *data, size_t size, BlockInHand *in_hand);
    Outcome recv_once(Message &out);
    Outcome ring_send_once(uint64_t kind, const void *data, size_t size, BlockInHand *in_hand);
    Outcome ring_recv_once(Message &out);
    // channel_overflow.cpp: the unbounded channel's overflow list.
    Outcome overflow_push(uint64_t kind, const void *data, size_t size, BlockInHand *in_hand);
    Outcome overflow_pop(Message &out);
    void notify_receivers();
    void notify_senders();
    void notify_pool_watchers();
    void send_payload(uint64_t kind, const void *data, size_t size, const Deadline &deadline,
                      BlockInHand *in_hand = nullptr);
    void send_block(void *block, size_t size, const Deadline &deadline, BlockInHand *in_hand);
    // `waker`: a receive's, whose lone sleeper may sleep beside its waker (waker_cpu.hpp).
    template <typename Attempt>
    bool wait_until(Attempt &&attempt, std::atomic<uint32_t> &event, std::atomic<uint32_t> &waiters,
                    const Deadline &deadline, const std::atomic<uint64_t> *waker = nullptr);
    void check_alive() const;
    void check_semaphore() const;
    bool sem_try_take();
    void release();

    std::shared_ptr<Pool> pool_;
    ChannelHeader *header_ = nullptr;
    uint32_t owner_pid_ = 0; // the process holding this object's reference
};

} // namespace dragon
