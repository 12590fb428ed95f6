// A binary buddy allocator over a heap in shared memory; the caller holds the pool lock.
//
// Why buddy: every size from 64 bytes to the whole heap is served by one
// structure whose worst case is known. Internal fragmentation is under 2x (a
// request rounds up to a power of two) and external fragmentation is bounded
// because a freed block immediately merges with its free buddy, so churn never
// leaves the heap in slivers that need compaction. Allocation and free are
// O(log heap) with no search. Small blocks share the same lists: a 64-byte
// block is the minimum, so a few-byte request costs one cache line.
//
// Why the block states live out of band (one byte per 64-byte unit, ~1.6% of
// the heap) rather than in a header before each block: a power-of-two request
// (1 MiB, 64 MiB) then fits a block of exactly its size, and the state survives
// a crash in a form that can be walked. The tiling of the heap into blocks is
// recorded only by the state byte at each block's first unit, and every update
// is ordered so that a walk from offset 0 sees a valid tiling after any prefix of
// the stores: rebuild() (run when a process died holding the lock) recomputes
// the free lists and statistics from the walk. Blocks that the dead process was
// splitting or merging come back free; blocks it had allocated stay allocated
// (they are released when the pool is destroyed).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dragon {

inline constexpr int buddy_min_order = 6; // 64-byte blocks: one cache line
inline constexpr int buddy_max_orders = 48;
inline constexpr uint64_t buddy_none = ~uint64_t(0);

// Lives in the pool header (shared memory); offsets are relative to the heap start.
struct BuddyState {
    uint64_t heap_size;
    uint32_t max_order;
    uint32_t reserved;
    uint64_t free_head[buddy_max_orders];
    uint64_t bytes_in_use;
    uint64_t high_water;
    uint64_t allocations_total;
    uint64_t allocations_live;
};

// A view binding the shared state to this process's mapping of the heap.
class Buddy {
public:
    Buddy(BuddyState *state, uint8_t *units, uint8_t *heap) : s_(state), units_(units), heap_(heap)
    {
    }

    // Number of state bytes needed for a heap of `heap_size` bytes.
    static size_t unit_bytes(size_t heap_size) { return heap_size >> buddy_min_order; }
    // Order of the block that serves `size` bytes, or -1 if larger than any block.
    int order_for(size_t size) const;

    void init(uint64_t heap_size);
    // Offset of a block of at least `size` bytes, or buddy_none if none is free.
    uint64_t allocate(size_t size);
    // Returns false (and changes nothing) if `offset` is not an allocated block.
    bool free(uint64_t offset);
    // Bytes of the allocated block at `offset`, or 0 if it is not one.
    uint64_t block_size(uint64_t offset) const;
    // Recomputes free lists and statistics from the block states.
    void rebuild();
    // Largest block currently free (0 if none).
    uint64_t largest_free() const;

private:
    struct Link {
        uint64_t next, prev;
    };
    Link *link(uint64_t off) const { return reinterpret_cast<Link *>(heap_ + off); }
    uint8_t &unit(uint64_t off) const { return units_[off >> buddy_min_order]; }
    void push(int order, uint64_t off);
    void unlink(int order, uint64_t off);
    void account_alloc(uint64_t bytes);

    BuddyState *s_;
    uint8_t *units_;
    uint8_t *heap_;
};

} // namespace dragon
