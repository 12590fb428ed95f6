// A dragon-node's place in the job, learned through PMIx: every node Puts its facts
// (host, pid, usable CPUs, and its transport address when there are peers), Commits, Fences
// with data collection and Gets its peers'. Each step has a deadline.
#pragma once

#include "wireup/pmix_peer.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dragon::node {

// The CPUs a launcher that runs several nodes on this machine gave this node as its
// share (DRAGON_NODE_CPUS); 0 when the node has its machine to itself.
long machine_share_cpus();

struct PeerFacts {
    std::string host;
    long pid = 0;
    long cpus = 0; // CPUs its processes may use (its affinity mask)
};

class NodeWireup {
public:
    // PMIx_Init and Put of this node's facts. Nothing is committed yet, so more can be
    // Put (the transport's address) before complete().
    static NodeWireup begin(const std::string &hostname);

    uint32_t node_index() const { return index_; }
    uint32_t node_count() const { return count_; }
    // Publishes more bytes under `key` for every node; only before complete().
    void put(const std::string &key, const std::string &bytes);
    // Commit, Fence (every node's data reaches every node), Get every peer's facts.
    void complete();
    // Every node reached this point (a fence without data); `while_waiting` as in
    // PmixPeer::fence. Throws naming the nodes that did not.
    void barrier(const std::function<void()> &while_waiting);
    // What `rank` put under `key`; only after complete().
    std::string get(uint32_t rank, const std::string &key);

    const std::vector<PeerFacts> &peers() const { return peers_; }
    // The CPUs the whole job may use: every node's usable CPUs, summed.
    long job_cpus() const;
    // Leave PMIx (idempotent).
    void finish();

private:
    explicit NodeWireup(wireup::PmixPeer peer);
    std::optional<wireup::PmixPeer> peer_;
    std::vector<PeerFacts> peers_;
    uint32_t index_, count_;
    bool completed_ = false;
};

} // namespace dragon::node
