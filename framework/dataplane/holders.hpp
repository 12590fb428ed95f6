// Who holds which channels of a pool: reference counting that survives crashes.
//
// A channel is freed when the last reference to it in the job is gone. A
// reference belongs to a *holder*: a slot in the pool's holder table, named by a
// 64-bit holder id and guarded by a *guardian* process whose death releases it.
//   - A process of this node is its own holder (guardian: itself; id: its pid
//     plus a per-pool generation in the high half, so a reused pid never matches
//     an old id). It registers lazily at its first channel (local_holder()).
//   - A process on another node (next issue) is held through its own node's
//     dragon-node, which registers one holder per remote process here, with a
//     remote id (high bit set: remote_holder_id(node, pid)) and itself as guardian,
//     and calls release_holder() when that process or its node goes away.
//
// Everything lives in the pool's shared memory so that any process of the node
// (the warm server that reaps children, dragon-node, or whoever finds the table
// full) can release a dead holder's references:
//   - the channel header has one word (serial:32 | refs:32): the total count,
//     and a per-pool serial that a descriptor names, so that a descriptor of a
//     freed channel never attaches a newer one at the same offset (attach CASes
//     the whole word, so it cannot resurrect or corrupt reused memory);
//   - each holder slot has a robust mutex and an open-addressing map in a pool
//     block: (channel handle, transit flag, serial) -> count.
// A descriptor in transit (a Queue pickled into a message or into a child's start
// payload) is a reference of its sender, kept under the transit flag: the
// receiver attaches (its own reference) and then gives the sender's transit
// reference back, naming the sender's slot and id in the descriptor. If the
// sender dies before the receiver attached, its transit references go with it
// (as a stock Connection pickled through its resource sharer needs its sender
// alive until received).
//
// A large message's pool block is in nobody's hands between its allocation and the
// moment a channel takes it (ring slot or overflow list): a sender killed meanwhile
// (during the copy of a 64 MiB object, say) would leak it until the job ends. So
// the sender records it in its holder slot (BlockInHand, one of a few words per
// slot), from inside the pool's allocation, and whoever releases the holder of a
// dead process frees it. The record is cleared just before the block is published:
// a crash in the few instructions between leaks it, never frees a block a channel
// owns. The same holds for the receiving side: a large message taken out of a
// channel is its receiver's alone (a Message), recorded from just after the take
// until the Message frees the block or hands it on (a Pool worker killed by
// terminate() while it held a 64 MiB task leaked it until the job ended).
//
// Crash safety: counts move channel first, map second when taking, and map first,
// channel second when giving back, so a process killed between the two leaks one
// reference (the channel outlives it) and never frees a channel still in use. A
// map entry a crash left twice (mid backward-shift deletion) is counted once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace dragon {

class Pool;
struct ChannelHeader;

inline constexpr uint64_t remote_holder_bit = uint64_t(1) << 63;
inline uint64_t remote_holder_id(uint32_t node, uint32_t pid)
{
    return remote_holder_bit | (uint64_t(node & 0x7fffffff) << 32) | pid;
}

// A holder as it appears in a transit descriptor.
struct HolderName {
    uint32_t slot;
    uint64_t id;
};

// This process's holder in `pool` (registered at the first call in each process;
// a fork child gets its own). Throws dragon::Error when the table is full of
// live holders.
HolderName local_holder(Pool &pool);
// Registers a holder for `id` guarded by `guardian_pid` (for a dragon-node
// holding references on behalf of remote processes).
HolderName register_holder(Pool &pool, uint64_t id, uint32_t guardian_pid);
// Gives back every reference of the holder (its channels are freed when that
// was their last reference) and frees its slot. False if the slot is not `holder`.
bool release_holder(Pool &pool, const HolderName &holder);
// Releases every holder guarded by `pid` (a process known to be dead: its
// reaper calls this). Returns the number of references given back.
uint64_t release_process(Pool &pool, uint32_t pid);
// Releases the holders whose guardian is dead (whoever finds the table full).
uint64_t release_dead_holders(Pool &pool);

// One reference of `holder` to the channel at `handle` (already counted in the
// channel header by the caller), or, with `transit`, one sent in a descriptor.
void hold(Pool &pool, const HolderName &holder, uint64_t handle, uint32_t serial, bool transit);
// Gives one back. Returns false (and changes nothing) if the holder has no such
// reference, e.g. a transit reference already returned or its holder released.
bool unhold(Pool &pool, const HolderName &holder, uint64_t handle, uint32_t serial, bool transit);

// Where a BlockInHand record is: a block handed to another process of the node
// (a message for another node, which dragon-node sends from the block) stays
// recorded there until that process takes it over with take_block_in_hand().
struct BlockRecord {
    uint32_t slot;
    uint32_t word;
    uint64_t holder_id;
};

// A record's bytes as a process hands them to its dragon-node with the block (slot,
// word, holder id; native byte order), and back (nullopt unless 16 bytes long).
std::string encode_block_record(const BlockRecord &record);
std::optional<BlockRecord> decode_block_record(std::string_view bytes);

// Takes over the block at `handle` that the process of `record` handed over: true
// when the record still named that block (cleared now: the block is the caller's),
// false when that process died meanwhile and its releaser freed the block.
bool take_block_in_hand(Pool &pool, const BlockRecord &record, uint64_t handle);

// The record of one block this process is writing a message into (see above).
// Blocks smaller than `recorded_from` are not recorded: their copy is short, and
// small messages are the hot path.
class BlockInHand {
public:
    static constexpr size_t recorded_from = 64 * 1024;
    // Claims a record word in this process's holder of `pool` when `size` is
    // recorded_from or more and a word is free (else records nothing: word() is null).
    BlockInHand(Pool &pool, size_t size);
    // Records `block`, of `size` bytes, that this process holds now: a large message
    // it received (Message), freed by the releaser of this process if it dies first.
    BlockInHand(Pool &pool, const void *block, size_t size);
    ~BlockInHand(); // clears the record
    BlockInHand(const BlockInHand &) = delete;
    BlockInHand &operator=(const BlockInHand &) = delete;

    // Where Pool::allocate stores the block's handle, under the pool's lock.
    std::atomic<uint64_t> *word() const { return word_; }
    // Just before the block is published, and when the caller frees it itself.
    void let_go();
    // Publishing failed after let_go(): the block is ours again.
    void take_back();
    // For a block another process takes over: the record stays when this object
    // goes, until that process clears it (take_block_in_hand) or, if this process
    // dies first, its releaser frees the block. Null when nothing was recorded.
    std::optional<BlockRecord> hand_over();

private:
    std::atomic<uint64_t> *word_ = nullptr;
    uint64_t handle_ = 0;
    BlockRecord record_{};
};

// The references `holder` has to the channel at `handle` (held and in transit).
uint32_t references_of(Pool &pool, const HolderName &holder, uint64_t handle, uint32_t serial);

// Holders registered now, and the pool bytes the table and their maps take (tests
// and tools: channel bytes in use are bytes_in_use - holder_bytes).
uint32_t holder_count(Pool &pool);
uint64_t holder_bytes(Pool &pool);

// The next channel serial of this pool (never 0).
uint32_t next_channel_serial(Pool &pool);

} // namespace dragon
