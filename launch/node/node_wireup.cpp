#include "node_wireup.hpp"

#include "core/log.hpp"

#include <numeric>
#include <sched.h>
#include <unistd.h>

namespace dragon::node {
namespace {

using std::chrono::seconds;
// PMIx connection is local and quick; a fence waits for the slowest node to start.
constexpr auto init_deadline = seconds(10);
constexpr auto fence_deadline = seconds(60);
constexpr auto get_deadline = seconds(10);

long usable_cpus()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    return sysconf(_SC_NPROCESSORS_ONLN);
}

} // namespace

NodeWireup::NodeWireup(wireup::PmixPeer peer, std::vector<PeerFacts> peers)
    : peers_(std::move(peers)), index_(peer.rank()), count_(peer.size())
{
    peer_.emplace(std::move(peer));
}

long NodeWireup::job_cpus() const
{
    return std::accumulate(peers_.begin(), peers_.end(), 0L,
                           [](long sum, const PeerFacts &p) { return sum + p.cpus; });
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
    peer.put("dragon.cpus", std::to_string(usable_cpus()));
    peer.commit();
    peer.fence(fence_deadline);
    std::vector<PeerFacts> peers(peer.size());
    for (uint32_t rank = 0; rank < peer.size(); ++rank) {
        peers[rank].host = peer.get(rank, "dragon.host", get_deadline);
        peers[rank].pid = std::stol(peer.get(rank, "dragon.pid", get_deadline));
        peers[rank].cpus = std::stol(peer.get(rank, "dragon.cpus", get_deadline));
    }
    log::debug("wired up as node ", peer.rank(), " of ", peer.size(), " in ", peer.nspace());
    return NodeWireup(std::move(peer), std::move(peers));
}

} // namespace dragon::node
