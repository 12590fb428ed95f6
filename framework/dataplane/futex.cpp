#include "dataplane/futex.hpp"

#include <cerrno>
#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace dragon::futex {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex words must be plain u32");

WaitEnd wait(std::atomic<uint32_t> *word, uint32_t expected, int64_t timeout_ns)
{
    timespec ts{};
    timespec *tsp = nullptr;
    if (timeout_ns != INT64_MAX) {
        ts.tv_sec = timeout_ns / 1'000'000'000;
        ts.tv_nsec = timeout_ns % 1'000'000'000;
        tsp = &ts;
    }
    // A relative timeout: FUTEX_WAIT measures it on CLOCK_MONOTONIC.
    if (syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAIT, expected, tsp, nullptr,
                0) == 0)
        return WaitEnd::woken;
    if (errno == ETIMEDOUT)
        return WaitEnd::timed_out;
    if (errno == EINTR)
        return WaitEnd::interrupted;
    return WaitEnd::woken; // EAGAIN: the word had changed already
}

void wake_all(std::atomic<uint32_t> *word)
{
    syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr,
            0);
}

void wake_one(std::atomic<uint32_t> *word)
{
    syscall(SYS_futex, reinterpret_cast<uint32_t *>(word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

} // namespace dragon::futex
