// The shared-memory layout of a pool segment:
//   [PoolHeader, one 4 KiB page][block states, 1 byte per 64 heap bytes][heap]
// Handles are byte offsets from the segment start, so every process resolves
// them against its own mapping address.
#pragma once

#include "dataplane/buddy.hpp"
#include "dataplane/robust_mutex.hpp"

#include <atomic>
#include <cstdint>

namespace dragon {

inline constexpr uint64_t pool_magic = 0x4c4f4f504e474452ull; // "RDGNPOOL"
inline constexpr uint32_t pool_layout_version = 4;            // 4: 8 block records per holder
inline constexpr size_t pool_header_bytes = 4096;

struct PoolHeader {
    uint64_t magic;
    uint32_t version;
    uint32_t reserved;
    uint64_t units_offset;
    uint64_t heap_offset;
    RobustMutex lock;

    // Bumped by every free; allocators out of memory sleep on it.
    alignas(64) std::atomic<uint32_t> free_event;
    std::atomic<uint32_t> alloc_waiters;
    // Bumped by a send on any channel of the pool while a ChannelSet waits on it.
    alignas(64) std::atomic<uint32_t> channel_event;
    std::atomic<uint32_t> poll_waiters;

    alignas(64) BuddyState buddy;

    // Pool handle of the holder table (holders.hpp); 0 until the first channel.
    alignas(64) std::atomic<uint64_t> holder_table;
};
static_assert(sizeof(PoolHeader) <= pool_header_bytes, "pool header must fit its page");

} // namespace dragon
