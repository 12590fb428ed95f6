// transport_bench: our transports between two "hosts" (two network namespaces joined by a
// veth bridge; loopback when not root, and it says so) against what the same two hosts
// get without us, measured in the same run:
//   tcp  plugin  vs  two processes with raw TCP sockets (TCP_NODELAY)
//   hsta plugin  vs  ucx_perftest (tag_lat / tag_bw), both with UCX_TLS=tcp
// Prints a TSV: metric, ours, baseline, ratio (ours / baseline). Notes start with '#'.
// The table also goes to a CSV file for bench/plot.py (bench_csv.hpp).
//
//   transport_bench [--busy N] [--iters N] [--messages N] [--loopback] [--only tcp|hsta]
//                   [--spin] [--csv FILE]
#include "bench_csv.hpp"
#include "busy_neighbours.hpp"
#include "core/netns.hpp"
#include "raw_tcp_baseline.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/transport.hpp"

#include <boost/program_options.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <iostream>
#include <poll.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using dragon::NetnsHosts;

// ---------- where the two hosts are ----------

struct Hosts {
    std::unique_ptr<NetnsHosts> netns; // null: both on loopback
    std::string address[2] = {"127.0.0.1", "127.0.0.1"};
    std::string prefix = "127.0.0.0/8";
    const char *device = "lo";

    // Forks a child that runs `body` on host k; returns its pid.
    pid_t spawn(int k, const std::function<int()> &body) const
    {
        auto guarded = [&] {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            setenv("UCX_NET_DEVICES", device, 1);
            setenv("UCX_TLS", "tcp", 1); // the same transport for hsta and ucx_perftest
            return body();
        };
        if (netns)
            return netns->spawn(k, guarded);
        pid_t pid = fork();
        if (pid == 0)
            _exit(guarded());
        return pid;
    }
};

// Waits for `pid` up to `timeout`, then kills it; its exit code or -1.
int wait_child(pid_t pid, std::chrono::seconds timeout)
{
    auto deadline = Clock::now() + timeout;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(2ms);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---------- length-prefixed strings over pipes ----------

void put(int fd, const std::string &s)
{
    uint32_t len = static_cast<uint32_t>(s.size());
    std::string all(reinterpret_cast<const char *>(&len), 4);
    all += s;
    size_t off = 0;
    while (off < all.size()) {
        ssize_t n = write(fd, all.data() + off, all.size() - off);
        if (n <= 0)
            return;
        off += static_cast<size_t>(n);
    }
}

bool get(int fd, std::string &s, std::chrono::seconds timeout)
{
    auto deadline = Clock::now() + timeout;
    auto read_n = [&](char *p, size_t len) {
        while (len > 0) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            pollfd pfd{fd, POLLIN, 0};
            if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
                return false;
            ssize_t n = read(fd, p, len);
            if (n <= 0)
                return false;
            p += n;
            len -= static_cast<size_t>(n);
        }
        return true;
    };
    uint32_t len;
    if (!read_n(reinterpret_cast<char *>(&len), 4))
        return false;
    s.assign(len, '\0');
    return read_n(s.data(), len);
}

// ---------- ours: two endpoints of one plugin ----------

// Completions used over and over. A slot is reused once it has fired; if it has not (it
// cannot be waited for inside a callback), a fresh one is made and kept.
class CompletionRing {
public:
    explicit CompletionRing(std::function<void(dragon_status, const std::string &)> then = {})
        : then_(std::move(then))
    {
        for (auto &slot : slots_)
            slot = std::make_unique<dragon::TransportCompletion>(then_);
    }
    dragon::TransportCompletion &next()
    {
        auto &slot = slots_[at_++ % slots_.size()];
        if (used_ < slots_.size() || slot->done()) {
            ++used_;
            slot->reset();
            return *slot;
        }
        extra_.push_back(std::make_unique<dragon::TransportCompletion>(then_));
        return *extra_.back();
    }

private:
    std::function<void(dragon_status, const std::string &)> then_;
    std::array<std::unique_ptr<dragon::TransportCompletion>, 64> slots_;
    std::vector<std::unique_ptr<dragon::TransportCompletion>> extra_;
    size_t at_ = 0, used_ = 0;
};

// What one endpoint of the benchmark sees: messages counted, large payloads placed into
// two buffers in turn, peers tracked; as the echo side, every message answered.
class BenchHandler : public dragon::TransportHandler {
public:
    explicit BenchHandler(uint64_t buffer_size)
        : peers(2), placements([this](dragon_status, const std::string &) { ++placed; })
    {
        if (buffer_size)
            for (auto &b : buffers)
                b.reset(new unsigned char[buffer_size]);
    }
    void on_message(const dragon_transport_message &m) override
    {
        ++messages;
        if (m.payload || m.payload_len == 0) {
            ++placed;
            return;
        }
        ep->receive_into(m.token, buffers[messages % 2].get(), m.payload_len, placements.next());
    }
    void on_peer(uint32_t peer, dragon_transport_peer_state state,
                 const std::string &reason) override
    {
        peers.update(peer, state, reason);
    }
    // An 8-byte message to `peer` (a ping, a pong, an acknowledgement), retried while the
    // plugin says AGAIN. Not from a callback: it may progress.
    void send_small(uint32_t peer)
    {
        static const uint64_t word = 0x0123456789abcdef;
        dragon_transport_iov iov{&word, sizeof word};
        auto &c = sends.next();
        while (ep->send(peer, nullptr, 0, {&iov, 1}, c) == DRAGON_ERR_AGAIN)
            ep->progress();
    }

    dragon::TransportEndpoint *ep = nullptr;
    dragon::PeerTable peers;
    uint64_t messages = 0;
    uint64_t placed = 0;
    CompletionRing sends, placements;
    std::unique_ptr<unsigned char[]> buffers[2];
};

struct Ours {
    double value = -1;
    std::string why;
};

// Runs `role` in endpoint k (0 serves, 1 measures) of plugin `name`; node 1's result
// comes back through the pipe.
Ours run_ours(const Hosts &hosts, const std::string &name, uint64_t buffer_size,
              const std::function<double(dragon::TransportEndpoint &, BenchHandler &)> &measure,
              const std::function<void(dragon::TransportEndpoint &, BenchHandler &)> &serve)
{
    Ours out;
    std::string secret = dragon::make_job_secret();
    int up[2][2], down[2][2];
    pid_t pid[2];
    for (int k = 0; k < 2; ++k) {
        if (pipe(up[k]) != 0 || pipe(down[k]) != 0)
            return {-1, "pipe failed"};
        pid[k] = hosts.spawn(k, [&, k]() -> int {
            try {
                BenchHandler handler(k == 0 ? buffer_size : 0);
                dragon::TransportConfig config;
                config.node_index = static_cast<uint32_t>(k);
                config.num_nodes = 2;
                config.job_secret = secret;
                config.network_prefix = hosts.prefix;
                auto ep = dragon::TransportPlugin::named(name).open(config, handler);
                handler.ep = ep.get();
                put(up[k][1], ep->address());
                std::string a0, a1;
                if (!get(down[k][0], a0, 60s) || !get(down[k][0], a1, 60s))
                    return 2;
                dragon::connect_all(*ep, {a0, a1}, handler.peers, dragon::Deadline(30s));
                if (k == 0) {
                    serve(*ep, handler);
                } else {
                    double v = measure(*ep, handler);
                    put(up[k][1], "ok " + std::to_string(v));
                }
                ep->close(5s);
            } catch (const std::exception &e) {
                put(up[k][1], std::string("error ") + e.what());
                return 1;
            }
            return 0;
        });
    }
    std::string a[2];
    bool wired = get(up[0][0], a[0], 60s) && get(up[1][0], a[1], 60s);
    if (wired)
        for (int k = 0; k < 2; ++k) {
            put(down[k][1], a[0]);
            put(down[k][1], a[1]);
        }
    std::string result;
    if (!wired || !get(up[1][0], result, 300s))
        out.why = "an endpoint did not start or answer" +
                  (a[0].rfind("error", 0) == 0 ? ": " + a[0] : "") +
                  (a[1].rfind("error", 0) == 0 ? ": " + a[1] : "");
    else if (result.rfind("ok ", 0) == 0)
        out.value = std::stod(result.substr(3));
    else
        out.why = result;
    for (int k = 0; k < 2; ++k) {
        wait_child(pid[k], 30s);
        for (int fd : {up[k][0], up[k][1], down[k][0], down[k][1]})
            close(fd);
    }
    return out;
}

// Runs progress until `done`, spinning (as ucx_perftest does) or as the framework waits
// (TransportEndpoint::progress_until: looks while a CPU is to spare, then sleeps on the fd).
void progress_until(dragon::TransportEndpoint &ep, const std::function<bool()> &done, bool spin)
{
    dragon::Deadline deadline(120s);
    if (spin) {
        while (!done() && !deadline.expired())
            ep.progress();
    } else {
        ep.progress_until(done, deadline);
    }
    if (!done())
        throw dragon::Error(DRAGON_ERR_TIMEOUT, "the benchmark made no progress for 120 s");
}

void wait_peer_gone(dragon::TransportEndpoint &ep, BenchHandler &h)
{
    dragon::Deadline deadline(30s);
    while (h.peers.state(1) == DRAGON_TRANSPORT_PEER_CONNECTED && !deadline.expired())
        if (ep.progress() == 0)
            ep.wait(dragon::Deadline(100ms));
}

Ours ours_pingpong(const Hosts &hosts, const std::string &name, int iterations, bool spin)
{
    return run_ours(
        hosts, name, 0,
        [&](dragon::TransportEndpoint &ep, BenchHandler &h) {
            const int warmup = iterations / 10;
            Clock::time_point start;
            for (int i = 0; i < iterations; ++i) {
                if (i == warmup)
                    start = Clock::now();
                h.send_small(0);
                uint64_t want = static_cast<uint64_t>(i) + 1;
                progress_until(
                    ep, [&] { return h.messages >= want; }, spin);
            }
            double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
            return us / (iterations - warmup) / 2;
        },
        [&](dragon::TransportEndpoint &ep, BenchHandler &h) {
            for (uint64_t i = 1; i <= static_cast<uint64_t>(iterations); ++i) {
                progress_until(
                    ep, [&] { return h.messages >= i; }, spin);
                h.send_small(1); // the pong
            }
            wait_peer_gone(ep, h);
        });
}

Ours ours_stream(const Hosts &hosts, const std::string &name, uint64_t size, int messages)
{
    const int warmup = 2;
    return run_ours(
        hosts, name, size,
        [&](dragon::TransportEndpoint &ep, BenchHandler &h) {
            std::unique_ptr<unsigned char[]> data(new unsigned char[size]);
            std::memset(data.get(), 7, size);
            dragon_transport_iov iov{data.get(), size};
            std::array<dragon::TransportCompletion, 2> window;
            auto send_batch = [&](int count, uint64_t acks) {
                for (int i = 0; i < count; ++i) {
                    auto &c = window[static_cast<size_t>(i) % 2];
                    if (i >= 2)
                        progress_until(
                            ep, [&] { return c.done(); }, false);
                    c.reset();
                    while (ep.send(0, nullptr, 0, {&iov, 1}, c) == DRAGON_ERR_AGAIN)
                        progress_until(
                            ep, [&] { return true; }, false);
                }
                progress_until(
                    ep, [&] { return h.messages >= acks; }, false);
                for (auto &c : window)
                    progress_until(
                        ep, [&] { return c.done(); }, false);
            };
            send_batch(warmup, 1);
            auto start = Clock::now();
            send_batch(messages, 2);
            double s = std::chrono::duration<double>(Clock::now() - start).count();
            return static_cast<double>(size) * messages / s / (1 << 20);
        },
        [&](dragon::TransportEndpoint &ep, BenchHandler &h) {
            uint64_t first = warmup, all = warmup + static_cast<uint64_t>(messages);
            progress_until(
                ep, [&] { return h.placed >= first; }, false);
            h.send_small(1);
            progress_until(
                ep, [&] { return h.placed >= all; }, false);
            h.send_small(1);
            wait_peer_gone(ep, h);
        });
}

// ---------- baselines ----------

// A raw baseline: `server` on host 0 writes its port into the pipe it is given; `client`
// on host 1 connects to it and returns the figure. `what` names it when it fails.
Ours raw_pair(const Hosts &hosts, const std::function<int(int port_fd)> &server,
              const std::function<double(uint16_t port)> &client, const std::string &what)
{
    int port_pipe[2], result_pipe[2];
    if (pipe(port_pipe) != 0 || pipe(result_pipe) != 0)
        return {-1, "pipe failed"};
    pid_t server_pid = hosts.spawn(0, [&] { return server(port_pipe[1]); });
    uint16_t port = 0;
    Ours out;
    if (read(port_pipe[0], &port, sizeof port) == sizeof port) {
        pid_t client_pid = hosts.spawn(1, [&] {
            put(result_pipe[1], std::to_string(client(port)));
            return 0;
        });
        std::string r;
        if (get(result_pipe[0], r, 300s))
            out.value = std::stod(r);
        wait_child(client_pid, 10s);
    }
    if (out.value < 0)
        out.why = "the raw TCP " + what + " failed";
    wait_child(server_pid, 10s);
    for (int fd : {port_pipe[0], port_pipe[1], result_pipe[0], result_pipe[1]})
        close(fd);
    return out;
}

Ours raw_pingpong(const Hosts &hosts, int iterations)
{
    const std::string &at = hosts.address[0];
    return raw_pair(
        hosts,
        [&](int port_fd) { return dragon::bench::raw_tcp_echo_server(at, port_fd, iterations); },
        [&](uint16_t port) { return dragon::bench::raw_tcp_pingpong_client(at, port, iterations); },
        "ping-pong");
}

Ours raw_stream(const Hosts &hosts, uint64_t size, int messages)
{
    const std::string &at = hosts.address[0];
    return raw_pair(
        hosts,
        [&](int port_fd) {
            return dragon::bench::raw_tcp_sink_server(at, port_fd, size, messages);
        },
        [&](uint16_t port) {
            return dragon::bench::raw_tcp_stream_client(at, port, size, messages);
        },
        "stream");
}

bool have_ucx_perftest()
{
    for (const char *dir : {"/usr/bin", "/usr/local/bin", "/bin"})
        if (access((std::string(dir) + "/ucx_perftest").c_str(), X_OK) == 0)
            return true;
    return false;
}

// ucx_perftest server on host 0, client on host 1; `field` of the client's "Final:" line
// (1: p50 latency, 3: overall latency in us one way; 5: overall bandwidth in MB/s).
Ours ucx_perftest_pair(const Hosts &hosts, const std::string &test, uint64_t size, int iterations,
                       int field)
{
    if (!have_ucx_perftest())
        return {-1, "ucx_perftest not installed (apt-get install ucx-utils)"};
    std::string port = std::to_string(20000 + getpid() % 20000);
    std::vector<std::string> args = {
        "ucx_perftest", "-t", test, "-s", std::to_string(size), "-n", std::to_string(iterations),
        "-p",           port};
    auto exec = [](std::vector<std::string> argv, int out_fd) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(out_fd >= 0 ? out_fd : devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
        std::vector<char *> raw;
        for (auto &a : argv)
            raw.push_back(a.data());
        raw.push_back(nullptr);
        execvp(raw[0], raw.data());
        return 127;
    };
    pid_t server = hosts.spawn(0, [&] { return exec(args, -1); });
    std::string out;
    for (int attempt = 0; attempt < 10 && out.find("Final:") == std::string::npos; ++attempt) {
        std::this_thread::sleep_for(300ms); // let the server listen
        int pipe_fd[2];
        if (pipe(pipe_fd) != 0)
            break;
        std::vector<std::string> client_args = args;
        client_args.insert(client_args.begin() + 1, hosts.address[0]);
        pid_t client = hosts.spawn(1, [&] {
            close(pipe_fd[0]);
            return exec(client_args, pipe_fd[1]);
        });
        close(pipe_fd[1]);
        out.clear();
        char buf[4096];
        ssize_t n;
        while ((n = read(pipe_fd[0], buf, sizeof buf)) > 0)
            out.append(buf, static_cast<size_t>(n));
        close(pipe_fd[0]);
        wait_child(client, 120s);
    }
    wait_child(server, 5s);
    auto at = out.find("Final:");
    if (at == std::string::npos)
        return {-1, "ucx_perftest gave no result"};
    std::istringstream line(out.substr(at + 6));
    std::vector<double> values(8, -1);
    for (auto &v : values)
        line >> v;
    return {values[static_cast<size_t>(field)], ""};
}

// ---------- the table ----------

// `metric` ends in its unit: _us (lower is better) or _MB_s (higher is better).
void row(dragon::bench::CsvTable &table, const std::string &metric, const std::string &baseline,
         const Ours &ours, const Ours &base)
{
    if (ours.value < 0 || base.value < 0) {
        std::cout << "# " << metric << " skipped: " << (ours.value < 0 ? ours.why : base.why)
                  << std::endl;
        return;
    }
    char line[256];
    std::snprintf(line, sizeof line, "%s\t%.2f\t%.2f\t%.3f", metric.c_str(), ours.value, base.value,
                  ours.value / base.value);
    std::cout << line << std::endl;
    bool latency = metric.ends_with("_us");
    table.add(metric, latency ? "us" : "MB/s", latency, ours.value, baseline, base.value);
}

bool plugin_runs(const std::string &name, std::string *why)
{
    const auto *p = dragon::Registry::global().find(DRAGON_PLUGIN_TRANSPORT, name);
    if (!p) {
        *why = "transport plugin " + name + " is not built or not found";
        return false;
    }
    if (!p->available()) {
        *why = "transport plugin " + name + " unavailable: " + p->reason();
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    namespace po = boost::program_options;
    int busy = 0, iterations = 20000, messages = 16;
    bool force_loopback = false, spin = false;
    std::string only, csv;
    po::options_description opts("transport_bench options");
    opts.add_options()("help,h", "this help")("busy", po::value<int>(&busy),
                                              "run N CPU-bound processes during the measurements")(
        "iters", po::value<int>(&iterations), "ping-pong round trips (default 20000)")(
        "messages", po::value<int>(&messages), "64 MiB messages per stream (default 16)")(
        "loopback", po::bool_switch(&force_loopback), "stay on loopback even as root")(
        "only", po::value<std::string>(&only), "measure one transport (tcp or hsta)")(
        "spin", po::bool_switch(&spin),
        "tcp ping-pong spins on progress() instead of sleeping on its fd")(
        "csv", po::value<std::string>(&csv),
        "also write the table as CSV to this file (default: $BENCH_CSV_DIR/"
        "transport_bench-<quiet|busyN>.csv when that is set)");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, opts), vm);
        po::notify(vm);
    } catch (const std::exception &e) {
        std::cerr << "transport_bench: " << e.what() << "\n" << opts;
        return 2;
    }
    if (vm.count("help")) {
        std::cout << opts;
        return 0;
    }
    dragon::log::init_from_environment("transport_bench");
    (void)dragon::Registry::global(); // plugins loaded once, before any fork

    Hosts hosts;
    std::string why_not = force_loopback ? "--loopback given" : NetnsHosts::unavailable_reason();
    if (why_not.empty()) {
        hosts.netns = std::make_unique<NetnsHosts>(2);
        hosts.address[0] = hosts.netns->address(0);
        hosts.address[1] = hosts.netns->address(1);
        hosts.prefix = hosts.netns->cidr();
        hosts.device = NetnsHosts::interface_name;
        std::cout << "# two hosts: network namespaces " << hosts.address[0] << " and "
                  << hosts.address[1] << " on a veth bridge" << std::endl;
    } else {
        std::cout << "# loopback (both endpoints in this namespace): " << why_not << std::endl;
    }
    dragon::bench::BusyNeighbours neighbours(busy);
    if (busy)
        std::cout << "# " << busy << " CPU-bound processes run during the measurements"
                  << std::endl;
    std::cout << "# one-way latency in us (round trip / 2); bandwidth in MiB/s (ucx_perftest's MB)"
              << std::endl;
    std::cout << "# UCX_TLS=tcp for hsta and ucx_perftest; hsta and ucx_perftest spin; tcp "
              << (spin ? "spins too (--spin)"
                       : "sleeps on its fd between messages, raw TCP in recv()")
              << std::endl;
    std::cout << "metric\tours\tbaseline\tratio" << std::endl;
    dragon::bench::CsvTable table("transport_bench", busy, csv);

    const uint64_t big = 64u << 20;
    std::string why;
    if (only == "hsta") {
        std::cout << "# tcp rows skipped: --only hsta" << std::endl;
    } else if (plugin_runs("tcp", &why)) {
        row(table, "tcp_pingpong_8B_us", "raw TCP", ours_pingpong(hosts, "tcp", iterations, spin),
            raw_pingpong(hosts, iterations));
        row(table, "tcp_stream_64MiB_MB_s", "raw TCP", ours_stream(hosts, "tcp", big, messages),
            raw_stream(hosts, big, messages));
    } else {
        std::cout << "# tcp rows skipped: " << why << std::endl;
    }
    if (only == "tcp") {
        std::cout << "# hsta rows skipped: --only tcp" << std::endl;
    } else if (plugin_runs("hsta", &why)) {
        row(table, "hsta_pingpong_8B_us", "ucx_perftest",
            ours_pingpong(hosts, "hsta", iterations, true),
            ucx_perftest_pair(hosts, "tag_lat", 8, iterations, 3));
        row(table, "hsta_stream_64MiB_MB_s", "ucx_perftest",
            ours_stream(hosts, "hsta", big, messages),
            ucx_perftest_pair(hosts, "tag_bw", big, messages, 5));
    } else {
        std::cout << "# hsta rows skipped: " << why << std::endl;
    }
    std::cout << "# floors: ping-pong ratio <= 1.5, stream ratio >= 0.8" << std::endl;

    table.write();
    return 0;
}
