// A shared-memory pool: one allocator used at once by every process of a node.
//
// The pool is a memory-plugin segment holding a buddy allocator (see buddy.hpp
// for why) guarded by a robust process-shared mutex (see robust_mutex.hpp): a
// process SIGKILLed at any instruction leaves no lock held, and the next locker
// repairs the allocator's state. A full pool makes a blocking allocate sleep on a
// futex bumped by every free, up to its timeout; then it fails with the usage and
// the knob to turn. Pointers are process-local; handles (offsets) are what travel
// between processes.
#pragma once

#include "core/memory.hpp"
#include "dataplane/deadline.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace dragon {

struct PoolHeader;

struct PoolStats {
    uint64_t capacity;          // heap bytes
    uint64_t bytes_in_use;      // in allocated blocks (sizes rounded to their block)
    uint64_t high_water;        // most bytes_in_use ever
    uint64_t allocations_total; // allocations ever made
    uint64_t allocations_live;  // allocations not yet freed
    uint64_t largest_free;      // the biggest allocation that would succeed now
};

class Pool {
public:
    // A new pool of `size` heap bytes in segment `segment_name` (a full name from
    // segment_name()). The returned pool removes the segment when the creating
    // process drops its last reference, or at destroy(). Throws dragon::Error.
    static std::shared_ptr<Pool> create(const MemoryPlugin &plugin, const std::string &segment_name,
                                        size_t size);
    // As above, on the plugin DRAGON_MEMORY selects, sized by DRAGON_DEFAULT_SEG_SZ.
    static std::shared_ptr<Pool> create(const std::string &segment_name);
    // The pool in an existing segment; one mapping per process is shared by all callers.
    static std::shared_ptr<Pool> attach(const std::string &plugin_name,
                                        const std::string &segment_name);

    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;
    ~Pool();

    // A block of at least `size` bytes, waiting up to `timeout` for room (no_wait:
    // fail at once). Throws dragon::Error(NO_MEMORY) naming usage and the fix.
    // With `record`, the block's handle is stored there before the pool's lock is
    // let go, so that a process killed at any point after the allocation leaves a
    // record of it (BlockInHand, holders.hpp).
    void *allocate(size_t size, Timeout timeout = no_wait, std::atomic<uint64_t> *record = nullptr);
    // nullptr instead of throwing when there is no room now.
    void *try_allocate(size_t size, std::atomic<uint64_t> *record = nullptr);
    // Returns a block from allocate(); throws dragon::Error on a pointer that is not one.
    void free(void *ptr);
    // Usable bytes of the block at `ptr`.
    size_t block_size(const void *ptr) const;

    uint64_t handle_of(const void *ptr) const;
    void *pointer_of(uint64_t handle) const; // throws dragon::Error if out of the heap
    bool contains(const void *ptr) const;

    PoolStats stats() const;
    const std::string &name() const { return name_; }
    const std::string &plugin_name() const { return plugin_name_; }
    // Removes the segment name now (mappings stay valid until each process detaches).
    void destroy();

    // Internal: the shared header, for channels living in this pool.
    PoolHeader *header() const { return header_; }

private:
    Pool(Segment segment, const std::string &plugin_name, bool owner);
    template <typename Fn> auto locked(Timeout timeout, Fn &&fn) const;
    [[noreturn]] void throw_exhausted(size_t size, Timeout timeout) const;
    // The most one allocation can ever get: more waits forever, so it fails at once.
    size_t largest_request() const;

    Segment segment_;
    std::string name_;
    std::string plugin_name_;
    std::string lock_what_; // "pool <name>", built once: lock() is on every allocate/free
    PoolHeader *header_;
    uint8_t *base_;
    int owner_pid_; // creator's pid, or 0: only the creator's process removes the segment
    bool destroyed_ = false;
};

} // namespace dragon
