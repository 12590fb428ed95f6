// Whether this machine has a CPU to spare right now: fewer runnable threads than
// online CPUs. A waiter that polls (spinning, yielding) only gains while another
// CPU can run its peer; on busy cores its yields hand whole time slices to
// CPU-bound neighbours, and sleeping on the futex at once is faster (the wake-up
// lets the woken thread preempt them).
#pragma once

namespace dragon {

// From /proc/loadavg's count of runnable threads (the caller included), less the
// machine's waiters of the job that are polling (polling_waiters.hpp), about 1-2 us; true when
// that cannot be read (then waits poll as they always did).
bool cpu_to_spare();

} // namespace dragon
