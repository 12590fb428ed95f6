#include "node_wireup.hpp"

#include "core/log.hpp"

#include <unistd.h>

namespace dragon::node {
namespace {

using std::chrono::seconds;
// PMIx connection is local and quick; a fence waits for the slowest node to start.
constexpr auto init_deadline = seconds(10);
constexpr auto fence_deadline = seconds(60);
constexpr auto get_deadline = seconds(10);

} // namespace

NodeWireup::NodeWireup(wireup::PmixPeer peer, std::vector<PeerFacts> peers)
    : peers_(std::move(peers)), index_(peer.rank()), count_(peer.size())
{
    peer_.emplace(std::move(peer));
}

void NodeWireup::finish()
{
    peer_.reset();
}

NodeWireup wire_up_node(const std::string &hostname)
{
    wireup::PmixPeer peer = wireup::PmixPeer::init(init_deadline);
    peer.put("dragon.host", hostname);
    peer.put("dragon.pid", std::to_string(getpid()));
    peer.commit();
    peer.fence(fence_deadline);
    std::vector<PeerFacts> peers(peer.size());
    for (uint32_t rank = 0; rank < peer.size(); ++rank) {
        peers[rank].host = peer.get(rank, "dragon.host", get_deadline);
        peers[rank].pid = std::stol(peer.get(rank, "dragon.pid", get_deadline));
    }
    log::debug("wired up as node ", peer.rank(), " of ", peer.size(), " in ", peer.nspace());
    return NodeWireup(std::move(peer), std::move(peers));
}

} // namespace dragon::node
