// How a blocking data-plane call waits before it sleeps on a futex: a few
// microseconds of pure spinning (a peer that answers at once costs no syscall on
// either side), then looking again between sched_yield()s for a while (other
// threads of a busy core run meanwhile; on an idle core the yield returns at
// once), and only then a futex sleep.
//
// The yield phase is there for peers that were themselves asleep: waking a
// sleeping vCPU takes tens of microseconds on a VM, and two processes that each
// stop spinning before the other's answer arrives settle into paying a wake-up
// on every message (a 3 us ping-pong became 33 us).
#pragma once

#include "dataplane/deadline.hpp"
#include "dataplane/futex.hpp"

#include <sched.h>

namespace dragon {

class SpinPhase {
public:
    static constexpr int64_t spin_ns = 5'000;
    static constexpr int64_t poll_ns = 200'000;

    // Pauses or yields and returns true while the caller should look again;
    // false once it is time to sleep.
    bool keep_polling()
    {
        int64_t now = Deadline::now_ns();
        if (start_ == 0)
            start_ = now;
        int64_t spent = now - start_;
        if (spent < spin_ns) {
            futex::cpu_relax();
            return true;
        }
        if (spent < poll_ns) {
            sched_yield();
            return true;
        }
        return false;
    }

private:
    int64_t start_ = 0;
};

} // namespace dragon
