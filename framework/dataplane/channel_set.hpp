// Waiting on several channels at once (a poll() for channels).
//
// All channels in one pool: the waiter sleeps on the pool's channel_event futex,
// which every send in that pool bumps while a poller is registered
// (poll_waiters), so readiness is reported without polling. Channels spread over
// several pools: the waiter re-checks every millisecond (no single futex word
// covers them all). A destroyed channel counts as ready, so its recv() reports it.
#pragma once

#include "dataplane/channel.hpp"

#include <vector>

namespace dragon {

class ChannelSet {
public:
    // Channels are referenced, not owned; they must outlive the set.
    void add(const Channel &channel) { channels_.push_back(&channel); }
    size_t size() const { return channels_.size(); }

    // Indices (in add order) of the channels with a message waiting, waiting up to
    // `timeout` for at least one; empty on timeout.
    std::vector<size_t> wait(Timeout timeout);

private:
    std::vector<size_t> ready() const;
    std::vector<const Channel *> channels_;
};

} // namespace dragon
