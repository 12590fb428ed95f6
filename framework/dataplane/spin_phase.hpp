// How a blocking data-plane call waits before it sleeps on a futex: a few
// microseconds of pure spinning (a peer that answers at once costs no syscall on
// either side), then looking again between sched_yield()s for a while (on an
// idle core the yield returns at once), and only then a futex sleep.
//
// The yield phase is there for peers that were themselves asleep: waking a
// sleeping vCPU takes tens of microseconds on a VM, and two processes that each
// stop spinning before the other's answer arrives settle into paying a wake-up
// on every message (a 3 us ping-pong became 33 us).
//
// It is skipped when the cores are busy (cpu_to_spare.hpp), and left as soon as a
// yield took long (another thread ran meanwhile): there a yield hands a time slice
// to a CPU-bound neighbour while the peer waits for a CPU, and sleeping at once
// lets the peer's wake-up preempt the neighbour instead (Queue ping-pong beside
// two CPU-bound processes on 2 cores was 5x stock's time).
#pragma once

#include "dataplane/cpu_to_spare.hpp"
#include "dataplane/deadline.hpp"
#include "dataplane/futex.hpp"
#include "dataplane/polling_waiters.hpp"

#include <optional>

#include <sched.h>

namespace dragon {

class SpinPhase {
public:
    static constexpr int64_t spin_ns = 5'000;
    static constexpr int64_t poll_ns = 200'000;
    // A yield (and the look after it) that took longer than this ran another thread.
    static constexpr int64_t long_yield_ns = 50'000;

    // Pauses or yields and returns true while the caller should look again;
    // false once it is time to sleep.
    bool keep_polling()
    {
        int64_t now = Deadline::now_ns();
        if (start_ == 0) {
            if (!cpu_to_spare())
                return false;
            start_ = now;
        }
        int64_t spent = now - start_;
        if (spent < spin_ns) {
            futex::cpu_relax();
            return true;
        }
        if (spent >= poll_ns || (last_yield_ != 0 && now - last_yield_ > long_yield_ns)) {
            counted_.reset();
            return false;
        }
        // Counted from the first yield on: most waits end within the spin, and
        // taking a slot is a write to a cache line the machine's waiters share.
        if (last_yield_ == 0)
            counted_.emplace(start_ + poll_ns);
        last_yield_ = now;
        sched_yield();
        return true;
    }

    // From the beginning again (after progress: the next wait polls anew).
    void restart()
    {
        start_ = 0;
        last_yield_ = 0;
        counted_.reset();
    }

private:
    int64_t start_ = 0;
    int64_t last_yield_ = 0;
    std::optional<PollingEntry> counted_; // while polling: the machine's pollers include us
};

} // namespace dragon
