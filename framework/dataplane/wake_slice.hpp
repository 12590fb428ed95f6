// Sleeping waits ask the scheduler for a short time slice, so that their
// wake-up preempts a CPU-bound neighbour instead of queueing behind its slice.
//
// Why: with two CPU-bound processes beside them on each CPU, a cross-node Queue
// ping-pong (four wake-ups per round trip: a process, the owner's dragon-node,
// the other process, the other dragon-node) took 3-8 ms on 35% of its round
// trips, one or two whole slices of the neighbours (mean 2.2 ms, median 0.12 ms):
// a woken task that is not ahead of the running one waits for it. Since Linux
// 6.12 (EEVDF) a task may ask for a shorter slice than the default (about 1.4 ms
// on 2 CPUs); a woken task with a shorter slice preempts the running one.
//
// Only while asleep, and only when no CPU is spare (cpu_to_spare.hpp): the work
// after the wake-up runs with the thread's own slice again, so a computing
// process of the job (one that never sleeps here) is not cut into short slices,
// and a quiet machine pays no system call. A kernel without custom slices
// refuses the request once (or ignores it: the first change is read back); from
// then on nothing is asked. DRAGON_SHORT_SLICES=off asks for nothing.
#pragma once

#include "dataplane/cpu_to_spare.hpp"

#include <cstdint>

namespace dragon {

// The kernel's struct sched_attr (linux/sched/types.h), which glibc does not declare.
struct SchedAttr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime; // SCHED_OTHER: the slice in ns (0: the default)
    uint64_t sched_deadline;
    uint64_t sched_period;
    uint32_t sched_util_min;
    uint32_t sched_util_max;
};

// What the thread asks for while asleep: the kernel's minimum.
inline constexpr uint64_t short_slice_ns = 100'000;

// While it lives, the calling thread has a short slice (when no CPU is spare and
// its own slice is not short already). The default slice comes back afterwards
// (also to a thread that had asked for a longer slice of its own: the kernel
// reports both alike).
class ShortSliceAsleep {
public:
    explicit ShortSliceAsleep(bool cpu_spare = cpu_to_spare());
    ~ShortSliceAsleep();
    ShortSliceAsleep(const ShortSliceAsleep &) = delete;
    ShortSliceAsleep &operator=(const ShortSliceAsleep &) = delete;

private:
    bool changed_ = false;
    SchedAttr attr_; // as they were: the default slice comes back with the same nice
};

} // namespace dragon
