#include "local_launch.hpp"

#include "common/process_support.hpp"
#include "core/error.hpp"
#include "node_process.hpp"
#include "pmix_global.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace dragon::launcher_local {

namespace {

using Clock = std::chrono::steady_clock;

// Hosting the server and registering the job takes ~50 ms; this only catches a wedged PMIx.
constexpr std::chrono::milliseconds server_setup_deadline{10000};

int exit_code_of(int status)
{
    if (WIFSIGNALED(status))
        return -WTERMSIG(status); // the ABI's encoding of "killed by signal N"
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

// "dragon.<32 random hex digits>.<launch>": nothing another user can see (the job id
// is in /dev/shm's file names, the frontend's pid in ps) tells the namespace.
std::string namespace_for()
{
    static std::atomic<unsigned> launches{0};
    unsigned char bytes[16];
    size_t got = 0;
    while (got < sizeof bytes) {
        ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno != EINTR)
            throw Error(DRAGON_ERR_INTERNAL,
                        std::string("local launcher: getrandom failed: ") + std::strerror(errno));
        got += n > 0 ? static_cast<size_t>(n) : 0;
    }
    std::string name = "dragon.";
    for (unsigned char b : bytes) {
        const char *hex = "0123456789abcdef";
        name += hex[b >> 4];
        name += hex[b & 15];
    }
    return name + "." + std::to_string(launches++);
}

// The value of NAME in `env` (else this process's environment), as node_environment()
// will give it to the nodes; nullptr if unset.
const char *variable_in(const std::vector<std::string> &env, const std::string &name)
{
    for (const auto &e : env)
        if (e.rfind(name + "=", 0) == 0)
            return e.c_str() + name.size() + 1;
    return std::getenv(name.c_str());
}

// "<this host>-n<k>": tellable from the real host and from each other in every log.
std::string simulated_hostname(uint32_t index)
{
    char buf[64] = {};
    gethostname(buf, sizeof buf - 1);
    std::string base(buf);
    base = base.substr(0, 40);
    return base + "-n" + std::to_string(index);
}

// Simulated nodes share this machine's CPUs: node `index` of `count` gets its share of
// the `cpus` CPUs this process may use (at least one), so the job's CPU count is the
// machine's, not the machine's times the node count.
long share_of(long cpus, uint32_t index, uint32_t count)
{
    long share = cpus / count + (index < cpus % count ? 1 : 0);
    return share > 0 ? share : 1;
}

} // namespace

std::vector<int> cpus_of_node(uint32_t index, uint32_t count)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> mine;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
            if (CPU_ISSET(cpu, &set))
                mine.push_back(cpu);
    if (mine.empty())
        return {};
    const long cpus = long(mine.size());
    if (cpus < long(count)) // more nodes than CPUs: each node gets one, in turn
        return {mine[index % mine.size()]};
    // Consecutive slices, as large as cpu_share() says.
    long from = 0;
    for (uint32_t k = 0; k < index; ++k)
        from += share_of(cpus, k, count);
    return std::vector<int>(mine.begin() + from,
                            mine.begin() + from + share_of(cpus, index, count));
}

long cpu_share(uint32_t index, uint32_t count)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                            : sysconf(_SC_NPROCESSORS_ONLN);
    return share_of(cpus, index, count);
}

std::unique_ptr<LocalLaunch> LocalLaunch::start(const dragon_host *host,
                                                const std::vector<std::string> &argv,
                                                const std::vector<std::string> &extra_env,
                                                uint32_t num_nodes, bool separate_hosts,
                                                bool own_cpus)
{
    std::string program = resolve_program(argv.at(0));
    make_pmix_symbols_global();
    auto t0 = Clock::now();
    std::unique_ptr<LocalLaunch> launch(new LocalLaunch(host));
    launch->server_ = std::make_unique<wireup::PmixServer>(
        namespace_for(), num_nodes,
        [self = launch.get()](const wireup::AbortReport &r) { self->on_abort(r); },
        server_setup_deadline,
        [self = launch.get()](const std::string &w) { self->log(DRAGON_LOG_WARNING, w); });
    std::vector<std::string> env_extra = extra_env;
    if (separate_hosts) {
        launch->hosts_ = std::make_unique<NetnsHosts>(static_cast<int>(num_nodes));
        // The transports must use the bridge, not the loopback each namespace has.
        if (!variable_in(env_extra, "DRAGON_NETWORK_PREFIX"))
            env_extra.push_back("DRAGON_NETWORK_PREFIX=" + launch->hosts_->cidr());
    }
    const char *port_text = variable_in(env_extra, "DRAGON_TRANSPORT_PORT");
    const long pinned_port = port_text ? std::atol(port_text) : 0;
    if (pinned_port && !launch->hosts_ && num_nodes > 1) {
        if (pinned_port + num_nodes - 1 > 65535)
            throw Error(DRAGON_ERR_INVALID, "local launcher: port " + std::to_string(pinned_port) +
                                                " for " + std::to_string(num_nodes) +
                                                " simulated nodes on one host needs ports up to " +
                                                std::to_string(pinned_port + num_nodes - 1) +
                                                ": choose a lower --port, or 0");
        launch->log(DRAGON_LOG_INFO, "local launcher: " + std::to_string(num_nodes) +
                                         " nodes share this host, so node k listens on port " +
                                         std::to_string(pinned_port) + "+k");
    }
    auto t1 = Clock::now();
    // If a node fails to start, `launch` going out of scope kills those already running.
    for (uint32_t i = 0; i < num_nodes; ++i) {
        // This node's own entries; node_environment() lets later entries replace earlier.
        std::vector<std::string> node_extra = env_extra;
        if (num_nodes > 1)
            node_extra.push_back("DRAGON_NODE_CPUS=" + std::to_string(cpu_share(i, num_nodes)));
        // Nodes sharing this host's addresses cannot all listen on one pinned port: node
        // k takes the k-th port from it (in separate-hosts mode each has its own address).
        if (pinned_port && !launch->hosts_)
            node_extra.push_back("DRAGON_TRANSPORT_PORT=" + std::to_string(pinned_port + i));
        if (launch->hosts_)
            node_extra.push_back("DRAGON_NODE_NETNS=" + launch->hosts_->path(static_cast<int>(i)));
        auto env =
            node_environment(launch->server_->client_environment(i), node_extra, i, num_nodes);
        Node node;
        if (launch->hosts_) {
            SeparateHost where{simulated_hostname(i),
                               own_cpus ? cpus_of_node(i, num_nodes) : std::vector<int>{}};
            node.pid = spawn_node(program, argv, env, i == 0, &where);
        } else {
            node.pid = spawn_node(program, argv, env, i == 0);
        }
        node.pidfd = launcher_support::open_pidfd(node.pid);
        launch->server_->admit(node.pid); // only the nodes may reach the server
        std::lock_guard lock(launch->mutex_);
        launch->nodes_.push_back(node);
    }
    auto ms = [](auto d) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f",
                      std::chrono::duration<double, std::milli>(d).count());
        return std::string(buf);
    };
    launch->log(DRAGON_LOG_DEBUG, "local launcher: PMIx server for " + launch->server_->nspace() +
                                      " up in " + ms(t1 - t0) + " ms, " +
                                      std::to_string(num_nodes) + " node(s) started in " +
                                      ms(Clock::now() - t1) + " ms (server directory " +
                                      launch->server_->tmpdir().string() + ")");
    return launch;
}

LocalLaunch::~LocalLaunch()
{
    {
        std::lock_guard lock(mutex_);
        for (auto &n : nodes_) {
            if (!n.reaped) {
                kill(-n.pid, SIGKILL); // the whole group: the node and whatever it started
                int status;
                while (waitpid(n.pid, &status, 0) < 0 && errno == EINTR) {
                }
                n.reaped = true;
            }
            if (n.pidfd >= 0)
                close(n.pidfd);
            n.pidfd = -1;
        }
    }
    server_.reset(); // after the clients are gone: deregister, finalize, remove the directory
}

void LocalLaunch::log(dragon_log_level level, const std::string &message) const
{
    if (host_ && host_->log)
        host_->log(host_->ctx, level, message.c_str());
}

void LocalLaunch::on_abort(const wireup::AbortReport &report)
{
    log(DRAGON_LOG_ERROR, "local launcher: node " + std::to_string(report.rank) +
                              " called PMIx_Abort (status " + std::to_string(report.status) +
                              "): " + report.message + "; ending the launch");
    std::lock_guard lock(mutex_);
    for (auto &n : nodes_)
        if (!n.reaped)
            kill(-n.pid, SIGKILL);
}

void LocalLaunch::reap_ended()
{
    for (auto &n : nodes_) {
        if (n.reaped)
            continue;
        int status;
        pid_t got = waitpid(n.pid, &status, WNOHANG);
        if (got == n.pid) {
            n.reaped = true;
            n.exit_code = exit_code_of(status);
        } else if (got < 0 && errno == ECHILD) {
            // Someone else reaped it (a SIGCHLD handler set to SIG_IGN, or waitpid(-1)).
            n.reaped = true;
            n.exit_code = 255;
            log(DRAGON_LOG_WARNING, "local launcher: node process " + std::to_string(n.pid) +
                                        " was reaped elsewhere; its exit code is unknown");
        }
    }
}

LocalLaunch::Waited LocalLaunch::wait_next(int64_t timeout_ns, uint32_t &node, int &exit_code)
{
    auto until = Clock::now() + std::chrono::nanoseconds(timeout_ns < 0 ? 0 : timeout_ns);
    for (;;) {
        std::vector<pollfd> fds;
        bool missing_pidfd = false;
        {
            std::lock_guard lock(mutex_);
            reap_ended();
            bool any_running = false;
            for (uint32_t i = 0; i < nodes_.size(); ++i) {
                Node &n = nodes_[i];
                if (n.reaped && !n.reported) {
                    n.reported = true;
                    node = i;
                    exit_code = n.exit_code;
                    return Waited::Ended;
                }
                if (!n.reaped) {
                    any_running = true;
                    if (n.pidfd >= 0)
                        fds.push_back(pollfd{n.pidfd, POLLIN, 0});
                    else
                        missing_pidfd = true;
                }
            }
            if (!any_running)
                return Waited::AllReported;
        }
        auto now = Clock::now();
        if (timeout_ns >= 0 && now >= until)
            return Waited::TimedOut;
        // Sleep until a node ends (its pidfd turns readable) or the deadline; without
        // pidfds, look again every 10 ms.
        int64_t wait_ms = timeout_ns < 0
                              ? 1000
                              : std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
        if (missing_pidfd || fds.empty())
            wait_ms = std::min<int64_t>(wait_ms, 10);
        wait_ms = std::min<int64_t>(wait_ms, 1000);
        if (poll(fds.data(), fds.size(), static_cast<int>(wait_ms)) < 0 && errno != EINTR)
            throw Error(DRAGON_ERR_INTERNAL,
                        std::string("local launcher: poll on node processes failed: ") +
                            std::strerror(errno));
    }
}

void LocalLaunch::signal_all(int signum)
{
    if (signum <= 0 || signum >= NSIG)
        throw Error(DRAGON_ERR_INVALID, "local launcher: " + std::to_string(signum) +
                                            " is not a signal number (1.." +
                                            std::to_string(NSIG - 1) + ")");
    // The node itself, not its process group: dragon-node relays the signal to every
    // process it started, so a group-wide kill made the head program get a Ctrl-C twice
    // (a program that counts them, or is in its exit path at the second, saw two).
    std::lock_guard lock(mutex_);
    for (auto &n : nodes_)
        if (!n.reaped && kill(n.pid, signum) != 0 && errno != ESRCH)
            throw Error(DRAGON_ERR_PERMISSION, "local launcher: cannot signal node process " +
                                                   std::to_string(n.pid) + ": " +
                                                   std::strerror(errno));
}

} // namespace dragon::launcher_local
