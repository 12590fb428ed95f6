// The shared-memory layout of a channel, allocated as one block of its pool:
//   [ChannelHeader][Slot x capacity]
//
// The ring is Vyukov's bounded MPMC queue with one change for crash safety: a
// slot's 64-bit state word packs (sequence:40 | phase:2 | pid:22). A producer
// claims the slot for position p by CAS'ing FREE(p) -> CLAIMED(p, pid), then
// advances enqueue_pos (anyone who sees the claim helps advance it), writes the
// payload and publishes FULL(p). A consumer claims FULL(p) -> TAKING(p, pid),
// advances dequeue_pos, reads, and releases FREE(p + capacity). Because every
// transient state names its owner, a process killed mid-operation is detected
// (kill(pid, 0) / zombie) by whoever it blocks, and the slot is repaired: a dead
// producer's claim becomes a tombstone that consumers skip; a dead consumer's
// take becomes FREE for the next lap. Nobody waits on a dead process.
#pragma once

#include "dataplane/robust_mutex.hpp"

#include <atomic>
#include <cstdint>

namespace dragon {

class Pool;

inline constexpr uint64_t channel_magic = 0x4e4e414843474452ull; // "RDGCHANN"

// Positions are compared modulo 2^40 (over 10^12 messages per slot lap count).
inline constexpr int slot_seq_bits = 40;
inline constexpr int slot_pid_bits = 22;
enum SlotPhase : uint64_t { slot_free = 0, slot_claimed = 1, slot_full = 2, slot_taking = 3 };

inline uint64_t slot_state(uint64_t seq, SlotPhase phase, uint32_t pid)
{
    return (seq << (64 - slot_seq_bits)) | (uint64_t(phase) << slot_pid_bits) |
           (pid & ((1u << slot_pid_bits) - 1));
}
inline uint64_t slot_seq(uint64_t state)
{
    return state >> (64 - slot_seq_bits);
}
inline SlotPhase slot_phase(uint64_t state)
{
    return SlotPhase((state >> slot_pid_bits) & 3);
}
inline uint32_t slot_pid(uint64_t state)
{
    return uint32_t(state & ((1u << slot_pid_bits) - 1));
}
// seq - pos as a signed distance in the 40-bit sequence space.
inline int64_t slot_distance(uint64_t seq, uint64_t pos)
{
    return int64_t((seq - pos) << (64 - slot_seq_bits)) >> (64 - slot_seq_bits);
}

// What a FULL slot holds (top bits of Slot::length).
enum SlotKind : uint64_t { kind_inline = 0, kind_block = 1, kind_tombstone = 2 };
inline constexpr int slot_kind_shift = 62;

struct alignas(64) ChannelHeader {
    uint64_t magic;
    uint32_t capacity; // power of two
    uint32_t slot_size;
    uint32_t inline_max;
    std::atomic<uint32_t> destroyed;
    // serial:32 | refs:32. refs counts every reference in the job (holders.hpp);
    // the channel is freed when it drops to 0. The serial tells this channel from
    // an earlier or later one at the same offset, so a stale descriptor fails.
    std::atomic<uint64_t> life;
    // 1: an unbounded channel: a send that finds the ring full (or messages
    // already overflowed) appends to the overflow list instead of waiting.
    uint32_t unbounded;
    // A memory channel (Channel::create_memory): this many bytes of shared memory
    // follow the ring; 0: none.
    uint64_t memory_bytes;

    alignas(64) std::atomic<uint64_t> enqueue_pos;
    alignas(64) std::atomic<uint64_t> dequeue_pos;

    // Bumped after a send while receivers (or readiness watchers) sleep.
    alignas(64) std::atomic<uint32_t> send_event;
    std::atomic<uint32_t> recv_waiters;
    // Who last woke sleeping receivers, and on which CPU (waker_cpu.hpp).
    std::atomic<uint64_t> waker;
    // Bumped after a receive while senders (or readiness watchers) sleep.
    alignas(64) std::atomic<uint32_t> recv_event;
    std::atomic<uint32_t> send_waiters;

    // A semaphore channel (Channel::create_semaphore) carries a count instead of
    // messages; it is also the futex word its waiters sleep on while it is 0.
    alignas(64) std::atomic<uint32_t> sem_value;
    std::atomic<uint32_t> sem_waiters;
    uint32_t sem_max; // 0: a message channel

    // Unbounded channels: messages that did not fit the ring, oldest first, as a
    // list of pool blocks (OverflowNode). Every overflowed message is newer than
    // every ring message of the same sender, so receivers take the ring first.
    alignas(64) std::atomic<uint64_t> overflow_count;
    uint64_t overflow_head; // node handles, 0: none; guarded by overflow_lock
    uint64_t overflow_tail;
    RobustMutex overflow_lock;
};

struct OverflowNode {
    uint64_t next;   // handle of the next node, 0: last
    uint64_t length; // kind << 62 | payload bytes, as in a slot
    // The inline payload, or the block's handle (8 bytes), follows.
};

// Frees an unbounded channel's overflowed messages (the channel is being freed).
void free_overflow(Pool &pool, ChannelHeader *h);

// Slots are slot_size apart (a multiple of 64), so each starts on its own cache line.
struct SlotHeader {
    std::atomic<uint64_t> state;
    uint64_t length; // kind << 62 | payload bytes
    // Inline payload, or the block's handle (8 bytes), follows.
};
inline constexpr uint32_t slot_header_bytes = 16;
static_assert(sizeof(SlotHeader) == slot_header_bytes, "payload follows the 16-byte slot header");

inline uint32_t life_serial(uint64_t life)
{
    return uint32_t(life >> 32);
}
inline uint32_t life_refs(uint64_t life)
{
    return uint32_t(life);
}
// One more reference, unless the channel at `h` is no longer the one `serial`
// names or has none left (it is being freed). Never writes otherwise.
bool channel_try_ref(ChannelHeader *h, uint32_t serial);
// One reference fewer; the last one frees the channel (undelivered blocks too).
// Does nothing if `h` is no longer the channel `serial` names.
void channel_unref(Pool &pool, ChannelHeader *h, uint32_t serial);

} // namespace dragon
