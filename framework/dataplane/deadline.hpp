// Deadlines for every blocking data-plane call: a wait always ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>

namespace dragon {

using Timeout = std::chrono::nanoseconds;

// Return at once if the operation cannot proceed.
inline constexpr Timeout no_wait{0};
// Wait without limit; only for callers that own a deadline of their own.
inline constexpr Timeout wait_forever = Timeout::max();

// A point on the monotonic clock, or "never" for wait_forever. The clock is first read
// when the deadline is first asked about, so an operation that succeeds at its first
// attempt (the common case on a busy channel) never pays for a clock read.
class Deadline {
public:
    explicit Deadline(Timeout timeout)
        : never_(timeout == wait_forever), timeout_ns_(timeout.count() < 0 ? 0 : timeout.count())
    {
    }

    bool never() const { return never_; }
    bool expired() const { return !never_ && (timeout_ns_ == 0 || now_ns() >= at()); }
    // Nanoseconds left (0 when expired); a large value when never.
    int64_t remaining_ns() const
    {
        if (never_)
            return INT64_MAX;
        int64_t left = at() - now_ns();
        return left > 0 ? left : 0;
    }

    static int64_t now_ns()
    {
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    }

private:
    int64_t at() const
    {
        if (at_ < 0)
            at_ = now_ns() + timeout_ns_;
        return at_;
    }

    bool never_;
    int64_t timeout_ns_;
    mutable int64_t at_ = -1;
};

} // namespace dragon
