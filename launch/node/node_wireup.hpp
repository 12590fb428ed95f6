// A dragon-node's place in the job, learned through PMIx: every node Puts its facts
// (host, pid, usable CPUs; transport addresses as they come), Commits, Fences with data collection
// and Gets its peers'. Each step has a deadline.
#pragma once

#include "wireup/pmix_peer.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dragon::node {

struct PeerFacts {
    std::string host;
    long pid = 0;
    long cpus = 0; // CPUs its processes may use (its affinity mask)
};

class NodeWireup {
public:
    explicit NodeWireup(wireup::PmixPeer peer, std::vector<PeerFacts> peers);
    uint32_t node_index() const { return index_; }
    uint32_t node_count() const { return count_; }
    const std::vector<PeerFacts> &peers() const { return peers_; }
    // The CPUs the whole job may use: every node's usable CPUs, summed.
    long job_cpus() const;
    // Leave PMIx (idempotent).
    void finish();

private:
    std::optional<wireup::PmixPeer> peer_;
    std::vector<PeerFacts> peers_;
    uint32_t index_, count_;
};

NodeWireup wire_up_node(const std::string &hostname);

} // namespace dragon::node
