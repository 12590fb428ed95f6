#include "node_runtime.hpp"

#include "death_report.hpp"
#include "descendants.hpp"
#include "frontend_leftovers.hpp"
#include "gateway.hpp"
#include "lane.hpp"
#include "managed_process.hpp"
#include "node_pool.hpp"
#include "node_transport.hpp"
#include "node_watchdog.hpp"
#include "node_wireup.hpp"
#include "output_forwarder.hpp"
#include "warm_server_link.hpp"

#include "core/error.hpp"
#include "core/job.hpp"
#include "core/log.hpp"
#include "core/netns.hpp"
#include "dataplane/polling_waiters.hpp"
#include "dataplane/spin_phase.hpp"
#include "dataplane/wake_slice.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dragon::node {
namespace {

using Clock = std::chrono::steady_clock;
// The frontend allows 5 s for an orderly stop; leave it time to see us exit.
constexpr auto stop_grace = std::chrono::milliseconds(4000);
// After the head program ends, its orphans get this long to go.
constexpr auto orphan_grace = std::chrono::milliseconds(1000);
// Every peer's transport endpoint connects within this after the fence.
constexpr auto connect_deadline = std::chrono::seconds(30);
// Nothing in the loop needs a clock tick; the cap only bounds any missed wake-up.
constexpr int loop_cap_ms = 1000;

// Waits for the loop's next event. After a turn that moved remote traffic, it looks
// again for a while before sleeping (dataplane/spin_phase.hpp; only while a CPU is
// idle): the answer to what was just forwarded usually comes within it, and waking
// a sleeping vCPU costs tens of microseconds on a VM, paid by every hop of a remote
// operation (process -> its node -> the owner's node -> back).
void wait_for_events(std::vector<pollfd> &fds, int timeout_ms, bool after_traffic)
{
    if (after_traffic && timeout_ms > 0)
        for (SpinPhase spin; spin.keep_polling();)
            if (poll(fds.data(), fds.size(), 0) != 0)
                return;
    // On busy cores, asleep with a short slice: every hop of a remote operation wakes
    // a node, and waiting out a CPU-bound neighbour's slice is paid by each.
    ShortSliceAsleep wake_promptly;
    poll(fds.data(), fds.size(), timeout_ms);
}

int loop_timeout_ms(bool work_pending, const std::optional<Clock::time_point> &deadline)
{
    if (work_pending)
        return 0;
    if (!deadline)
        return loop_cap_ms;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
    return static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, loop_cap_ms));
}

class SignalChannel {
public:
    SignalChannel()
    {
        sigset_t set;
        sigemptyset(&set);
        for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP})
            sigaddset(&set, s);
        fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd_ < 0)
            throw Error(DRAGON_ERR_INTERNAL, "signalfd failed: " + errno_text(errno));
    }
    ~SignalChannel() { close(fd_); }
    int fd() const { return fd_; }
    struct Received {
        int signum;
        pid_t sender; // 0 from the kernel (SIGCHLD)
    };
    std::vector<Received> take()
    {
        std::vector<Received> got;
        signalfd_siginfo info;
        while (read(fd_, &info, sizeof info) == sizeof info)
            got.push_back({static_cast<int>(info.ssi_signo), static_cast<pid_t>(info.ssi_pid)});
        return got;
    }

private:
    int fd_;
};

// The first IPv4 address of an interface that is up and not loopback (what other
// hosts reach this node at); 127.0.0.1 when there is none.
std::string primary_ipv4()
{
    ifaddrs *list = nullptr;
    std::string found = "127.0.0.1";
    if (getifaddrs(&list) != 0)
        return found;
    for (ifaddrs *a = list; a; a = a->ifa_next) {
        if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || !(a->ifa_flags & IFF_UP) ||
            (a->ifa_flags & IFF_LOOPBACK))
            continue;
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in *>(a->ifa_addr)->sin_addr, buf,
                  sizeof buf);
        found = buf;
        break;
    }
    freeifaddrs(list);
    return found;
}

std::string hostname()
{
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    return buf;
}

} // namespace

int run_node(const NodeConfig &config)
{
    become_subreaper();
    NodeWatchdog watchdog; // before wire-up starts threads: it forks
    SignalChannel signals;
    const std::string host = hostname();
    NodeWireup wireup = NodeWireup::begin(host);
    // A simulated separate host: its PMIx connection stays on the launcher's loopback,
    // everything from here on (transport, the job's processes) lives on its own network.
    if (const char *netns = std::getenv("DRAGON_NODE_NETNS"); netns && *netns)
        enter_network_namespace(netns);
    const uint32_t index = wireup.node_index();
    log::set_program("dragon-node[" + std::to_string(index) + "]");
    // One node needs no transport. With peers, the endpoint opens before the commit so
    // its address travels with the node's other facts, in the same fence.
    std::optional<NodeTransport> transport;
    LaneSetup lanes;
    const std::string ip = primary_ipv4();
    if (wireup.node_count() > 1) {
        transport.emplace(index, wireup.node_count(), config.job_secret);
        wireup.put("dragon.transport", transport->address());
        uint16_t port = 0;
        lanes.listen_fd = listen_for_lanes(ip, port);
        lanes.key = lane_key(config.job_secret);
        wireup.put("dragon.lane", ip + ":" + std::to_string(port));
    }
    wireup.put("dragon.ip", ip);
    wireup.complete();
    NodePool pool = NodePool::create(index);
    watchdog.watch(index, pool.plugin_name(), pool.name());
    // One per machine, shared with the job's other nodes there (polling_waiters.hpp).
    const std::string polling_table = segment_name("polling");
    if (count_polling_in_machine_table(polling_table, true))
        watchdog.remove_segment_with_node(polling_table);
    else
        log::warning("cannot open the polling table ", polling_table, ": ", errno_text(errno),
                     "; waits on this node sleep sooner when the machine looks busy");
    WarmServerLink warm(index);
    watchdog.remove_with_node(warm.directory());
    std::optional<Gateway> gateway;
    if (transport) {
        std::vector<std::string> addresses;
        for (uint32_t rank = 0; rank < wireup.node_count(); ++rank) {
            addresses.push_back(wireup.get(rank, "dragon.transport"));
            lanes.addresses += (rank ? "," : "") + wireup.get(rank, "dragon.lane");
        }
        transport->connect_all(addresses, Deadline(connect_deadline));
        log::debug("transport ", transport->plugin_name(), " connected to ",
                   wireup.node_count() - 1, " peer(s)");
        // Ready for other nodes' requests before any node starts work.
        gateway.emplace(
            index, wireup.node_count(), pool.pool(), transport->endpoint(),
            warm.directory() + "/gateway.sock", warm.socket_path(),
            [&wireup](uint32_t node) {
                return "node " + std::to_string(node) + " (" + wireup.peers()[node].host + ")";
            },
            std::move(lanes));
        transport->set_receiver(
            [&gateway](const dragon_transport_message &m) { gateway->on_message(m); });
        // Nobody starts work (node 0: the head program, which may end at once and close
        // its endpoint) before every node has connected to every other. Our side of a
        // handshake may still need progress for a peer to finish, hence the callback.
        wireup.barrier([&] { transport->progress(); });
    }

    OutputForwarder output(config.labels, index, host);
    std::vector<std::string> env = pool.environment();
    env.push_back("DRAGON_POLLING_TABLE=" + polling_table);
    for (auto &e : warm.environment())
        env.push_back(std::move(e));
    if (gateway)
        for (auto &e : gateway->environment())
            env.push_back(std::move(e));
    env.push_back("DRAGON_NODE_INDEX=" + std::to_string(index));
    env.push_back("DRAGON_NUM_NODES=" + std::to_string(wireup.node_count()));
    env.push_back("DRAGON_JOB_CPUS=" + std::to_string(wireup.job_cpus()));
    // The allocation, for placement and dragon.native.machine: per node (by index) its
    // host name, usable CPUs and address.
    std::string hosts, cpus, ips;
    for (uint32_t k = 0; k < wireup.node_count(); ++k) {
        const char *sep = k ? "," : "";
        hosts += sep + wireup.peers()[k].host;
        cpus += sep + std::to_string(wireup.peers()[k].cpus);
        ips += sep + wireup.get(k, "dragon.ip");
    }
    env.push_back("DRAGON_NODE_HOSTS=" + hosts);
    env.push_back("DRAGON_NODE_CPU_COUNTS=" + cpus);
    env.push_back("DRAGON_NODE_ADDRESSES=" + ips);
    env.push_back(std::string("DRAGON_LOG_LEVEL=") + log::level_name(log::level()));
    // Every node starts its warm server now, but for simulated nodes that share this
    // machine (the launcher gave this one a share of its CPUs): there, nodes other than
    // the head's start theirs when a process first asks for one, so that the
    // interpreters of nodes that start nothing do not compete for the few CPUs with
    // the head program while it starts.
    if (index == 0 || machine_share_cpus() == 0)
        warm.start(env, output, config.head_command);
    else
        warm.start_on_first_use(env, config.head_command);

    std::optional<pid_t> head;
    std::optional<int> head_code;
    if (index == 0) {
        StartedProcess p = start_process(config.head_command, env);
        head = p.pid;
        output.add(p.stdout_fd, 1, p.pid);
        output.add(p.stderr_fd, 2, p.pid);
        log::debug("head program started as pid ", p.pid);
    }

    int stop_signal = 0;
    bool peer_failed = false;
    std::optional<Clock::time_point> stop_deadline;
    bool after_traffic = false;
    // A workload manager's step daemon (slurmstepd) signals every process of the step,
    // ours included: relaying what it sent would give the program the signal twice.
    const pid_t launcher_parent = getppid();
    const char *reach = std::getenv("DRAGON_NODE_SIGNALS_REACH_STEP");
    const bool parent_signals_reach_all = reach && std::string(reach) == "1";
    auto relay = [&](const SignalChannel::Received &s) {
        if (!(parent_signals_reach_all && s.sender == launcher_parent))
            signal_descendants(s.signum);
    };
    // False when the node was stopping already.
    auto mark_stopping = [&](int signum) {
        if (stop_signal)
            return false;
        stop_signal = signum;
        stop_deadline = Clock::now() + stop_grace;
        return true;
    };
    // For the node's own reasons (a lost peer, the head program done elsewhere).
    auto begin_stop = [&](int signum) {
        if (mark_stopping(signum))
            signal_descendants(signum);
    };
    while (true) {
        // The transport's fd joins the loop armed; -1 (skipped by poll) if it has work now.
        int transport_fd = transport ? transport->armed_fd() : -1;
        std::vector<pollfd> fds{{signals.fd(), POLLIN, 0},
                                {warm.control_fd(), POLLIN, 0},
                                {transport_fd, POLLIN, 0},
                                {warm.wake_fd(), POLLIN, 0}};
        for (int fd : output.fds())
            fds.push_back({fd, POLLIN, 0});
        const size_t gateway_from = fds.size();
        if (gateway)
            for (auto [fd, events] : gateway->poll_set())
                fds.push_back({fd, events, 0});
        bool busy = (transport && transport_fd < 0) || (gateway && gateway->busy());
        int timeout = loop_timeout_ms(busy, stop_deadline);
        if (auto next = gateway ? gateway->next_deadline_in() : std::nullopt)
            timeout = std::min<int>(timeout, int(std::min<int64_t>(*next / 1'000'000 + 1, 1000)));
        wait_for_events(fds, timeout, after_traffic);
        after_traffic = busy || fds[2].revents;
        if (fds[1].revents)
            warm.handle_control(output);
        if (fds[3].revents)
            warm.start_now(output);
        for (size_t i = 4; i < gateway_from; ++i)
            if (fds[i].revents)
                output.drain(fds[i].fd);
        for (size_t i = gateway_from; i < fds.size(); ++i)
            if (fds[i].revents) {
                gateway->handle(fds[i].fd, fds[i].revents);
                after_traffic = true;
            }
        if (transport) {
            transport->progress();
            for (const PeerEnd &end : transport->take_peer_ends()) {
                const std::string who =
                    "node " + std::to_string(end.node) + " (" + wireup.peers()[end.node].host + ")";
                if (gateway)
                    gateway->on_peer_lost(end.node, end.reason);
                if (end.lost) {
                    log::error("lost ", who, ": ", end.reason, "; stopping the job");
                    peer_failed = true;
                    begin_stop(SIGTERM);
                } else if (end.node == 0 && index != 0) {
                    // The head program is done: so is the job. A launcher through a
                    // workload manager (srun) learns nothing until every node has
                    // ended, so the nodes end themselves as the frontend would end them.
                    log::debug(who, " closed its endpoint: the head program has ended");
                    begin_stop(SIGTERM);
                } else {
                    // Orderly: that node's part of the job is over; the frontend ends ours.
                    log::debug(who, " closed its endpoint");
                }
            }
            if (gateway) {
                gateway->tick();
                for (const auto &[node, reason] : gateway->take_silent_peers()) {
                    gateway->on_peer_lost(node, reason);
                    log::error("lost node ", node, " (", wireup.peers()[node].host, "): ", reason,
                               "; stopping the job");
                    peer_failed = true;
                    begin_stop(SIGTERM);
                }
            }
        }

        // Read only when poll() said so: a read that finds nothing is a system call
        // per loop turn, and a remote operation takes several turns on each node.
        for (auto received :
             fds[0].revents ? signals.take() : std::vector<SignalChannel::Received>{}) {
            const int signum = received.signum;
            if (signum == SIGCHLD) {
                int status = 0;
                pid_t pid;
                while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                    if (head && pid == *head) {
                        head_code = exit_code_of(status);
                        report_signal_death(pid, index, status, stop_signal);
                    } else if (warm.pid() && pid == *warm.pid()) {
                        if (!stop_signal)
                            warm.ended(status, output);
                    } else {
                        report_signal_death(pid, index, status, stop_signal); // an orphan
                    }
                }
                continue;
            }
            if (mark_stopping(signum))
                log::debug("received ", strsignal(signum), " from pid ", received.sender,
                           ": stopping");
            // Relay as the user sent it (again, if sent again): SIGINT becomes
            // KeyboardInterrupt in Python.
            relay(received);
        }
        if (head_code)
            break;
        if (stop_signal && (!head || Clock::now() > *stop_deadline))
            break;
    }

    auto grace = head_code ? orphan_grace : std::chrono::milliseconds(200);
    if (int killed = end_descendants(grace))
        log::debug(killed, " process(es) had to be killed");
    // Every writer is gone now: forward what remains, bounded in time all the same.
    auto drain_deadline = Clock::now() + std::chrono::seconds(2);
    while (!output.empty() && Clock::now() < drain_deadline) {
        std::vector<pollfd> fds;
        for (int fd : output.fds())
            fds.push_back({fd, POLLIN, 0});
        poll(fds.data(), fds.size(), 50);
        for (const auto &f : fds)
            if (f.revents)
                output.drain(f.fd);
    }
    if (transport)
        transport->set_receiver(nullptr); // what still arrives while closing is dropped
    if (gateway) {
        gateway->stop();
        transport->close(); // fires the completions the gateway owns, then it may go
    }
    gateway.reset();
    pool.destroy();
    remove_machine_polling_table(polling_table);
    watchdog.release();
    if (transport)
        transport->close();
    wireup.finish();
    remove_dead_frontends_directory();
    if (peer_failed)
        return 1;
    if (index == 0)
        return head_code ? *head_code : 128 + stop_signal;
    return stop_signal == SIGTERM || stop_signal == 0 ? 0 : 128 + stop_signal;
}

} // namespace dragon::node
