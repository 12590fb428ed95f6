// The node's transport endpoint: opened before the PMIx commit so its address is
// published with the node's other facts, connected to every peer with a deadline
// after the fence, and watched in the node's event loop (its fd, armed) for peer
// events. A lost peer is the job's failure: the node reports it by name and stops.
#pragma once

#include "core/transport.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dragon::node {

// A peer the transport reported lost or closed.
struct PeerEnd {
    uint32_t node = 0;
    bool lost = false; // false: it closed in order (its job was done)
    std::string reason;
};

class NodeTransport : public TransportHandler {
public:
    // Opens the endpoint of the plugin the frontend chose (DRAGON_TRANSPORT_AGENT).
    NodeTransport(uint32_t node_index, uint32_t num_nodes, const std::string &job_secret);
    ~NodeTransport() override;

    const std::string &plugin_name() const;
    std::string address();
    // Connects every peer (addresses indexed by node). Throws naming the nodes that did
    // not connect by the deadline, or the first one lost and why.
    void connect_all(const std::vector<std::string> &addresses, const Deadline &deadline);

    // For the event loop: arm and return the fd to sleep on, or -1 if progress() has
    // work already (do not sleep).
    int armed_fd();
    void progress();
    // Peers that ended since the last call.
    std::vector<PeerEnd> take_peer_ends();

    // Where the messages of other nodes go (the gateway); dropped until set.
    void set_receiver(std::function<void(const dragon_transport_message &)> receiver)
    {
        receiver_ = std::move(receiver);
    }
    TransportEndpoint &endpoint() { return *endpoint_; }

    // Orderly close: peers see this node close rather than fail.
    void close();

    void on_message(const dragon_transport_message &message) override;
    void on_peer(uint32_t peer, dragon_transport_peer_state state,
                 const std::string &reason) override;

private:
    PeerTable peers_;
    std::vector<PeerEnd> ended_;
    std::unique_ptr<TransportEndpoint> endpoint_;
    std::function<void(const dragon_transport_message &)> receiver_;
};

// The job secret the frontend handed this node (DRAGON_JOB_SECRET, hex), removed from
// the environment so that no process of the job inherits it. Empty when unset.
std::string take_job_secret_from_environment();

} // namespace dragon::node
