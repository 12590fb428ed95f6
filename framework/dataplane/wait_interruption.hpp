// Lets the caller of a blocking data-plane call run a check of its own while the
// call sleeps. The Python binding uses it to run signal handlers: Ctrl-C must
// interrupt a Queue.get() that waits without a timeout, as it does with stock
// multiprocessing, and a handler that returns must let the wait go on.
//
// A WaitInterruption installs itself for the calling thread while it lives. Every
// data-plane sleep of that thread then ends at least every period_ns, and the
// check runs when a signal cut a sleep short (EINTR) or a period has passed since
// it last ran (a signal that arrived just before the sleep began, or went to
// another thread). The check may throw to abandon the wait: the waits leave
// nothing behind (no waiter stays registered, no block stays allocated) and the
// exception reaches the caller. If it returns, the wait goes on to its deadline.
//
// Nothing of this runs on the fast path: the check is installed by callers only
// once an operation must wait, and only runs after a sleep.
#pragma once

#include "dataplane/futex.hpp"

#include <atomic>
#include <cstdint>

namespace dragon {

class WaitInterruption {
public:
    explicit WaitInterruption(int64_t period_ns);
    virtual ~WaitInterruption();
    WaitInterruption(const WaitInterruption &) = delete;
    WaitInterruption &operator=(const WaitInterruption &) = delete;

    // The innermost WaitInterruption of the calling thread, or nullptr.
    static WaitInterruption *current();
    int64_t period_ns() const { return period_ns_; }
    // Runs check() if `interrupted`, or if a period has passed since it last ran.
    void tick(bool interrupted);

protected:
    // Throws to abandon the wait.
    virtual void check() = 0;

private:
    int64_t period_ns_;
    int64_t last_check_ns_;
    WaitInterruption *previous_;
};

// futex::wait for at most timeout_ns, but no longer than the calling thread's
// WaitInterruption period; then that interruption's tick. Throws what the check throws.
// With `prompt`, asleep with a short time slice (wake_slice.hpp).
void sleep_interruptibly(std::atomic<uint32_t> *word, uint32_t expected, int64_t timeout_ns,
                         bool prompt = true);

// nanosleep for ns (a polling wait's pause), then the same tick.
void nap_interruptibly(int64_t ns);

// Counts the calling thread in a waiter count while it lives, so that a check that
// throws out of a sleep leaves no waiter registered (wakers would make a futex
// call for nobody on every operation from then on).
class WaiterRegistration {
public:
    explicit WaiterRegistration(std::atomic<uint32_t> &waiters) : waiters_(waiters)
    {
        waiters_.fetch_add(1, std::memory_order_seq_cst);
    }
    ~WaiterRegistration() { waiters_.fetch_sub(1, std::memory_order_seq_cst); }
    WaiterRegistration(const WaiterRegistration &) = delete;
    WaiterRegistration &operator=(const WaiterRegistration &) = delete;

private:
    std::atomic<uint32_t> &waiters_;
};

} // namespace dragon
