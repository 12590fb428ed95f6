#include "dataplane/wait_interruption.hpp"

#include "dataplane/deadline.hpp"
#include "dataplane/wake_slice.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <optional>

namespace dragon {
namespace {

thread_local WaitInterruption *innermost = nullptr;

} // namespace

WaitInterruption::WaitInterruption(int64_t period_ns)
    : period_ns_(period_ns), last_check_ns_(Deadline::now_ns()), previous_(innermost)
{
    innermost = this;
}

WaitInterruption::~WaitInterruption()
{
    innermost = previous_;
}

WaitInterruption *WaitInterruption::current()
{
    return innermost;
}

void WaitInterruption::tick(bool interrupted)
{
    int64_t now = Deadline::now_ns();
    if (!interrupted && now - last_check_ns_ < period_ns_)
        return;
    last_check_ns_ = now;
    check();
}

void sleep_interruptibly(std::atomic<uint32_t> *word, uint32_t expected, int64_t timeout_ns,
                         bool prompt)
{
    std::optional<ShortSliceAsleep> wake_promptly;
    if (prompt)
        wake_promptly.emplace();
    WaitInterruption *interruption = innermost;
    if (!interruption) {
        futex::wait(word, expected, timeout_ns);
        return;
    }
    futex::WaitEnd end =
        futex::wait(word, expected, std::min(timeout_ns, interruption->period_ns()));
    interruption->tick(end == futex::WaitEnd::interrupted);
}

void nap_interruptibly(int64_t ns)
{
    timespec ts{time_t(ns / 1'000'000'000), long(ns % 1'000'000'000)};
    bool interrupted = nanosleep(&ts, nullptr) != 0 && errno == EINTR;
    if (WaitInterruption *interruption = innermost)
        interruption->tick(interrupted);
}

} // namespace dragon
