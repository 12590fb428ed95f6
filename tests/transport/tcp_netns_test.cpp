// The tcp transport between two simulated hosts (network namespaces with their own
// addresses on a bridge): the published address list must let a peer in another
// namespace connect, with and without a network prefix, and a SIGKILLed host's peer
// must be reported lost. Skipped with the reason when namespaces cannot be made.
#include "core/transport.hpp"
#include "support/netns.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;
using dragon::Deadline;
using dragon::TransportCompletion;
using dragon::test::NetnsHosts;

namespace {

const std::string secret(32, 'n');

struct Receiver : dragon::TransportHandler {
    explicit Receiver(uint32_t n) : peers(n) {}
    void on_message(const dragon_transport_message &m) override
    {
        auto &buf = got.emplace_back(m.payload_len);
        if (m.payload || m.payload_len == 0) {
            if (m.payload_len)
                std::memcpy(buf.data(), m.payload, m.payload_len);
        } else {
            ep->receive_into(m.token, buf.data(), buf.size(), placed.emplace_back());
        }
    }
    void on_peer(uint32_t peer, dragon_transport_peer_state state,
                 const std::string &reason) override
    {
        peers.update(peer, state, reason);
    }
    dragon::PeerTable peers;
    dragon::TransportEndpoint *ep = nullptr;
    std::deque<std::vector<uint8_t>> got;
    std::deque<TransportCompletion> placed;
};

void write_string(int fd, const std::string &s)
{
    uint32_t len = static_cast<uint32_t>(s.size());
    if (write(fd, &len, 4) != 4 || write(fd, s.data(), len) != ssize_t(len))
        throw std::runtime_error("pipe write failed");
}

std::string read_string(int fd)
{
    uint32_t len = 0;
    if (read(fd, &len, 4) != 4)
        throw std::runtime_error("pipe read failed");
    std::string s(len, '\0');
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, s.data() + got, len - got);
        if (n <= 0)
            throw std::runtime_error("pipe read failed");
        got += static_cast<size_t>(n);
    }
    return s;
}

std::vector<uint8_t> payload(size_t n, uint8_t seed)
{
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<uint8_t>(i * 31 + seed);
    return v;
}

// One host's side: open, publish through the parent, connect, exchange, close.
// `kill_me` (node 1 only): stop after connecting and wait to be killed.
int host_body(uint32_t index, const std::string &prefix, int to_parent, int from_parent,
              bool kill_me)
{
    try {
        Receiver r(2);
        dragon::TransportConfig c;
        c.node_index = index;
        c.num_nodes = 2;
        c.job_secret = secret;
        c.network_prefix = prefix;
        auto ep = dragon::TransportPlugin::named("tcp").open(c, r);
        r.ep = ep.get();
        write_string(to_parent, ep->address());
        std::vector<std::string> addrs = {read_string(from_parent), read_string(from_parent)};
        dragon::connect_all(*ep, addrs, r.peers, Deadline(20s));
        uint32_t other = 1 - index;
        if (kill_me) {
            char ready = 1;
            (void)!write(to_parent, &ready, 1);
            while (true)
                ep->progress_until([] { return false; }, Deadline(1s));
        }
        const size_t sizes[] = {0, 1000, 1 << 20, 16u << 20};
        std::vector<std::vector<uint8_t>> sent;
        for (size_t s : sizes)
            sent.push_back(payload(s, static_cast<uint8_t>(index)));
        for (auto &p : sent) {
            dragon_transport_iov iov{p.data(), p.size()};
            std::string why;
            if (dragon::send_and_wait(*ep, other, "d", 1, {&iov, 1}, Deadline(20s), &why) !=
                DRAGON_OK) {
                std::fprintf(stderr, "node %u: send failed: %s\n", index, why.c_str());
                return 2;
            }
        }
        bool all = ep->progress_until(
            [&] {
                if (r.got.size() < sent.size())
                    return false;
                for (auto &p : r.placed)
                    if (!p.done())
                        return false;
                return true;
            },
            Deadline(20s));
        if (!all) {
            std::fprintf(stderr, "node %u: received %zu of %zu\n", index, r.got.size(),
                         sent.size());
            return 3;
        }
        for (size_t i = 0; i < sent.size(); ++i)
            if (r.got[i] != payload(sizes[i], static_cast<uint8_t>(other))) {
                std::fprintf(stderr, "node %u: message %zu differs\n", index, i);
                return 4;
            }
        ep->close(2s);
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "node %u: %s\n", index, e.what());
        return 1;
    }
}

int wait_exit(pid_t pid, std::chrono::seconds limit = 60s)
{
    Deadline d(limit);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (d.expired()) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(10000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Pipes {
    int up[2][2], down[2][2];
    Pipes()
    {
        for (int k = 0; k < 2; ++k)
            if (pipe(up[k]) != 0 || pipe(down[k]) != 0)
                throw std::runtime_error("pipe");
    }
    ~Pipes()
    {
        for (int k = 0; k < 2; ++k)
            for (int e = 0; e < 2; ++e) {
                ::close(up[k][e]);
                ::close(down[k][e]);
            }
    }
};

} // namespace

class TcpNetns : public ::testing::TestWithParam<bool> {};

TEST_P(TcpNetns, TwoHostsExchangeAcrossNamespaces)
{
    std::string why = NetnsHosts::unavailable_reason();
    if (!why.empty())
        GTEST_SKIP() << why;
    NetnsHosts hosts(2);
    const std::string prefix = GetParam() ? hosts.cidr() : "";
    Pipes p;
    pid_t pids[2];
    for (int k = 0; k < 2; ++k)
        pids[k] = hosts.spawn(k, [&, k] {
            return host_body(static_cast<uint32_t>(k), prefix, p.up[k][1], p.down[k][0], false);
        });
    std::string addrs[2] = {read_string(p.up[0][0]), read_string(p.up[1][0])};
    for (int k = 0; k < 2; ++k) {
        // The host's own bridge address comes first; loopback only without a prefix.
        EXPECT_NE(std::string::npos, addrs[k].find(" " + hosts.address(k))) << addrs[k];
        EXPECT_EQ(prefix.empty(), addrs[k].find("127.0.0.1") != std::string::npos) << addrs[k];
        for (int j = 0; j < 2; ++j)
            write_string(p.down[k][1], addrs[j]);
    }
    EXPECT_EQ(0, wait_exit(pids[0]));
    EXPECT_EQ(0, wait_exit(pids[1]));
}

INSTANTIATE_TEST_SUITE_P(Prefix, TcpNetns, ::testing::Values(false, true),
                         [](const auto &info) { return info.param ? "WithPrefix" : "NoPrefix"; });

TEST(TcpNetnsFailure, KilledHostIsLostWithinTwoSeconds)
{
    std::string why = NetnsHosts::unavailable_reason();
    if (!why.empty())
        GTEST_SKIP() << why;
    NetnsHosts hosts(2);
    Pipes p;
    int result[2];
    ASSERT_EQ(0, pipe(result));
    // Host 0 connects, then measures how long after host 1 is killed it hears of it.
    pid_t watcher = hosts.spawn(0, [&] {
        try {
            Receiver r(2);
            dragon::TransportConfig c;
            c.node_index = 0;
            c.num_nodes = 2;
            c.job_secret = secret;
            auto ep = dragon::TransportPlugin::named("tcp").open(c, r);
            write_string(p.up[0][1], ep->address());
            std::vector<std::string> addrs = {read_string(p.down[0][0]), read_string(p.down[0][0])};
            dragon::connect_all(*ep, addrs, r.peers, Deadline(20s));
            char go = 0;
            (void)!read(p.down[0][0], &go, 1); // the parent killed host 1
            auto t0 = std::chrono::steady_clock::now();
            ep->progress_until([&] { return r.peers.state(1) == DRAGON_TRANSPORT_PEER_LOST; },
                               Deadline(10s));
            int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - t0)
                             .count();
            if (r.peers.state(1) != DRAGON_TRANSPORT_PEER_LOST)
                ms = -1;
            (void)!write(result[1], &ms, sizeof ms);
            return 0;
        } catch (const std::exception &e) {
            std::fprintf(stderr, "host 0: %s\n", e.what());
            return 1;
        }
    });
    pid_t victim = hosts.spawn(
        1, [&] { return host_body(1, "", p.up[1][1], p.down[1][0], /*kill_me=*/true); });
    std::string addrs[2] = {read_string(p.up[0][0]), read_string(p.up[1][0])};
    for (int k = 0; k < 2; ++k)
        for (int j = 0; j < 2; ++j)
            write_string(p.down[k][1], addrs[j]);
    char ready = 0;
    ASSERT_EQ(1, read(p.up[1][0], &ready, 1));
    kill(victim, SIGKILL);
    char go = 1;
    ASSERT_EQ(1, write(p.down[0][1], &go, 1));
    int64_t ms = -2;
    ASSERT_EQ(ssize_t(sizeof ms), read(result[0], &ms, sizeof ms));
    EXPECT_GE(ms, 0) << "the killed host was never reported lost";
    EXPECT_LT(ms, 2000);
    EXPECT_EQ(0, wait_exit(watcher));
    wait_exit(victim);
    ::close(result[0]);
    ::close(result[1]);
}
