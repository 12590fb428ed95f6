#include "dataplane/channel_set.hpp"
#include "dataplane/spin_phase.hpp"

#include "dataplane/futex.hpp"
#include "dataplane/pool_layout.hpp"
#include "dataplane/wait_interruption.hpp"

#include <algorithm>
#include <ctime>

namespace dragon {
namespace {

constexpr int64_t sleep_slice_ns = 50'000'000;
constexpr int64_t multi_pool_poll_ns = 1'000'000;

} // namespace

std::vector<size_t> ChannelSet::ready() const
{
    std::vector<size_t> indices;
    for (size_t i = 0; i < channels_.size(); ++i)
        if (channels_[i]->destroyed() || channels_[i]->readable())
            indices.push_back(i);
    return indices;
}

std::vector<size_t> ChannelSet::wait(Timeout timeout)
{
    Deadline deadline(timeout);
    for (SpinPhase spin; spin.keep_polling();) {
        if (auto r = ready(); !r.empty())
            return r;
        if (deadline.expired())
            return {};
    }
    PoolHeader *shared = nullptr;
    bool one_pool = !channels_.empty();
    for (const Channel *c : channels_) {
        PoolHeader *ph = c->pool().header();
        if (shared && ph != shared)
            one_pool = false;
        shared = ph;
    }
    for (;;) {
        if (auto r = ready(); !r.empty())
            return r;
        if (deadline.expired())
            return {};
        if (!one_pool) {
            nap_interruptibly(std::min(deadline.remaining_ns(), multi_pool_poll_ns));
            continue;
        }
        uint32_t seen = shared->channel_event.load(std::memory_order_acquire);
        WaiterRegistration registered(shared->poll_waiters);
        if (auto r = ready(); !r.empty())
            return r;
        sleep_interruptibly(&shared->channel_event, seen,
                            std::min(deadline.remaining_ns(), sleep_slice_ns));
    }
}

} // namespace dragon
