// One launch of the local launcher: the PMIx server and the node processes, with
// waiting, signalling and teardown.
#pragma once

#include "core/netns.hpp"
#include "wireup/pmix_server.hpp"

#include <dragon/plugin.h>

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dragon::launcher_local {

// CPUs node `index` of `count` simulated nodes counts as its own: its share of this
// process's affinity (at least 1).
long cpu_share(uint32_t index, uint32_t count);
// Which CPUs node `index` runs on when the simulated nodes are separate hosts: a
// slice of this process's affinity, cpu_share() CPUs long; with more nodes than CPUs,
// one CPU each, in turn. Empty when the affinity cannot be read.
std::vector<int> cpus_of_node(uint32_t index, uint32_t count);

class LocalLaunch {
public:
    // Hosts the server, then forks/execs `argv` once per node. Throws dragon::Error;
    // on failure nothing started is left running.
    // With `separate_hosts`, each node runs in a network namespace of its own (own
    // address on a bridge, own host name), removed when the launch ends; with
    // `own_cpus` also CPUs of its own (cpus_of_node()).
    static std::unique_ptr<LocalLaunch> start(const dragon_host *host,
                                              const std::vector<std::string> &argv,
                                              const std::vector<std::string> &extra_env,
                                              uint32_t num_nodes, bool separate_hosts,
                                              bool own_cpus);
    // Kills (SIGKILL, whole process group) and reaps every node still running, then
    // stops the server and removes its directory.
    ~LocalLaunch();
    LocalLaunch(const LocalLaunch &) = delete;
    LocalLaunch &operator=(const LocalLaunch &) = delete;

    enum class Waited { Ended, TimedOut, AllReported };
    // The next node to end (timeout_ns < 0: no limit; 0: poll). exit_code: its exit code,
    // or 128+N when signal N killed it.
    Waited wait_next(int64_t timeout_ns, uint32_t &node, int &exit_code);
    // Delivers `signum` to the process group of every node not yet reaped.
    void signal_all(int signum);

private:
    struct Node {
        pid_t pid = -1;
        int pidfd = -1; // readable when the process ends; -1 where pidfds are missing
        bool reaped = false;
        bool reported = false;
        int exit_code = 0;
    };

    explicit LocalLaunch(const dragon_host *host) : host_(host) {}
    void log(dragon_log_level level, const std::string &message) const;
    void on_abort(const wireup::AbortReport &report);
    void reap_ended(); // with mutex_ held

    const dragon_host *host_;
    std::mutex mutex_; // nodes_: the abort handler runs on PMIx's thread
    std::vector<Node> nodes_;
    std::unique_ptr<wireup::PmixServer> server_;
    std::unique_ptr<NetnsHosts> hosts_; // separate-hosts mode; outlives the nodes
};

} // namespace dragon::launcher_local
