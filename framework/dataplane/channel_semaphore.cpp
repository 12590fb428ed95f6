// Semaphore channels: the count lives in the channel header and is itself the
// futex word waiters sleep on (while it is 0). Acquire is one CAS when a unit is
// free; release is one CAS plus a wake only when the waiter count says someone
// sleeps. A process killed while holding a unit does not give it back (as with
// POSIX semaphores); every wait still ends at its deadline.
#include "dataplane/channel.hpp"

#include "core/error.hpp"
#include "dataplane/channel_layout.hpp"
#include "dataplane/futex.hpp"
#include "dataplane/wait_interruption.hpp"

#include <algorithm>
#include <new>

namespace dragon {
namespace {

// Lock hand-offs between processes take a few microseconds; spinning longer than
// that only burns the CPU the holder needs to finish (there may be 2 cores).
constexpr int64_t sem_spin_ns = 5'000;
// Sleeps are sliced so a destroyed channel is noticed without a wake-up.
constexpr int64_t sem_sleep_slice_ns = 50'000'000;

} // namespace

Channel Channel::create_semaphore(std::shared_ptr<Pool> pool, uint32_t initial, uint32_t maximum)
{
    if (maximum == 0 || initial > maximum)
        throw Error(DRAGON_ERR_INVALID,
                    "semaphore value " + std::to_string(initial) + " and maximum " +
                        std::to_string(maximum) +
                        " are invalid: need 0 <= value <= maximum, maximum > 0");
    // The ring is never used; two minimal slots keep the layout a channel's.
    Channel ch = create(std::move(pool), ChannelOptions{2, 64});
    ch.header_->sem_max = maximum;
    ch.header_->sem_value.store(initial, std::memory_order_release);
    return ch;
}

bool Channel::is_semaphore() const
{
    return header_->sem_max != 0;
}

void Channel::check_semaphore() const
{
    if (!is_semaphore())
        throw Error(DRAGON_ERR_INVALID,
                    "channel " + descriptor() + " is a message channel, not a semaphore channel");
}

uint32_t Channel::sem_value() const
{
    return header_->sem_value.load(std::memory_order_acquire);
}

uint32_t Channel::sem_max() const
{
    return header_->sem_max;
}

bool Channel::sem_try_take()
{
    auto &value = header_->sem_value;
    // seq_cst (a plain load on x86): a sleeper's look after registering must be
    // ordered against a releaser's look at the waiter count (see sem_release).
    uint32_t v = value.load(std::memory_order_seq_cst);
    while (v > 0)
        if (value.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                        std::memory_order_relaxed))
            return true;
    return false;
}

bool Channel::sem_acquire(Timeout timeout)
{
    // The uncontended path is this one CAS (a message channel's count is always
    // 0, so it never succeeds there): millions of Lock.acquire() calls a second.
    if (sem_try_take())
        return true;
    check_semaphore();
    check_alive();
    Deadline deadline(timeout);
    if (deadline.expired())
        return false;
    ChannelHeader *h = header_;
    int64_t spin_end = Deadline::now_ns() + sem_spin_ns;
    while (Deadline::now_ns() < spin_end) {
        for (int i = 0; i < 16; ++i)
            futex::cpu_relax();
        if (sem_try_take())
            return true;
    }
    for (;;) {
        check_alive();
        try {
            WaiterRegistration registered(h->sem_waiters);
            if (sem_try_take())
                return true;
            if (!deadline.expired())
                sleep_interruptibly(&h->sem_value, 0,
                                    std::min(deadline.remaining_ns(), sem_sleep_slice_ns));
        } catch (...) {
            // Abandoned (a signal handler raised): a release may have woken this
            // thread alone for its unit, so hand the wake-up on to another sleeper.
            if (h->sem_value.load(std::memory_order_seq_cst) > 0 &&
                h->sem_waiters.load(std::memory_order_seq_cst) > 0)
                futex::wake_one(&h->sem_value);
            throw;
        }
        if (sem_try_take())
            return true;
        if (deadline.expired())
            return false;
    }
}

bool Channel::sem_release()
{
    ChannelHeader *h = header_;
    if (h->sem_max == 0 || h->destroyed.load(std::memory_order_acquire)) {
        check_semaphore();
        check_alive();
    }
    uint32_t v = h->sem_value.load(std::memory_order_relaxed);
    do {
        if (v >= h->sem_max)
            return false;
    } while (!h->sem_value.compare_exchange_weak(v, v + 1, std::memory_order_seq_cst,
                                                 std::memory_order_relaxed));
    // All seq_cst, no fence: a waiter registers then looks at the value, we change
    // the value then look at the waiters; one of us sees the other.
    if (h->sem_waiters.load(std::memory_order_seq_cst) > 0)
        futex::wake_one(&h->sem_value);
    notify_pool_watchers();
    return true;
}

} // namespace dragon
