#include "node_wireup.hpp"

#include "core/error.hpp"
#include "core/log.hpp"

#include <cstdlib>
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
    if (long share = machine_share_cpus())
        return share;
    // A workload manager's launcher names the variable that holds this node's grant
    // (Slurm: SLURM_CPUS_ON_NODE), which differs from node to node.
    long granted = 0;
    if (const char *var = std::getenv("DRAGON_NODE_CPUS_VAR"); var && *var)
        if (const char *value = std::getenv(var))
            granted = std::atol(value);
    cpu_set_t set;
    CPU_ZERO(&set);
    long mine = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                            : sysconf(_SC_NPROCESSORS_ONLN);
    return granted > 0 && granted < mine ? granted : mine;
}

} // namespace

long machine_share_cpus()
{
    const char *share = std::getenv("DRAGON_NODE_CPUS");
    long cpus = share ? std::atol(share) : 0;
    return cpus > 0 ? cpus : 0;
}

NodeWireup::NodeWireup(wireup::PmixPeer peer) : index_(peer.rank()), count_(peer.size())
{
    peer_.emplace(std::move(peer));
}

NodeWireup NodeWireup::begin(const std::string &hostname)
{
    NodeWireup w(wireup::PmixPeer::init(init_deadline));
    w.put("dragon.host", hostname);
    w.put("dragon.pid", std::to_string(getpid()));
    w.put("dragon.cpus", std::to_string(usable_cpus()));
    return w;
}

void NodeWireup::put(const std::string &key, const std::string &bytes)
{
    if (completed_)
        throw Error(DRAGON_ERR_INVALID, "wire-up: '" + key + "' put after the fence");
    peer_->put(key, bytes);
}

void NodeWireup::complete()
{
    peer_->commit();
    peer_->fence(fence_deadline);
    completed_ = true;
    peers_.resize(count_);
    for (uint32_t rank = 0; rank < count_; ++rank) {
        peers_[rank].host = get(rank, "dragon.host");
        peers_[rank].pid = std::stol(get(rank, "dragon.pid"));
        peers_[rank].cpus = std::stol(get(rank, "dragon.cpus"));
    }
    log::debug("wired up as node ", index_, " of ", count_, " in ", peer_->nspace(), " on host ",
               peers_[index_].host);
}

void NodeWireup::barrier(const std::function<void()> &while_waiting)
{
    peer_->fence(fence_deadline, while_waiting);
}

std::string NodeWireup::get(uint32_t rank, const std::string &key)
{
    return peer_->get(rank, key, get_deadline);
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

} // namespace dragon::node
