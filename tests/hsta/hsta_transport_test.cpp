// Two hsta endpoints in two processes (fork): node 0 in the test process, node 1 in a
// child. They swap addresses over a socketpair, then talk over UCX: as UCX chooses, or
// over TCP on loopback only (UCX_TLS=tcp, UCX_NET_DEVICES=lo).
#include "core/transport.hpp"
#include "dataplane/deadline.hpp"
#include "support/netns.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using dragon::Deadline;

// FNV-1a over a buffer: enough to catch misplaced or truncated bytes.
uint64_t checksum(const void *data, size_t len)
{
    const auto *p = static_cast<const unsigned char *>(data);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; ++i)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

void fill(std::vector<unsigned char> &buf, uint64_t seed)
{
    for (size_t i = 0; i < buf.size(); ++i)
        buf[i] = static_cast<unsigned char>((i * 131 + seed * 7) >> 3);
}

struct Header {
    uint64_t seq;
    uint64_t size;
    uint64_t sum;
};

// Records what the endpoint delivers; fetches rendezvous payloads into its own buffers.
class Recorder : public dragon::TransportHandler {
public:
    explicit Recorder(uint32_t nodes) : peers(nodes) {}
    dragon::TransportEndpoint *ep = nullptr;
    dragon::PeerTable peers;
    struct Got {
        Header h{};
        std::vector<unsigned char> data;
        std::unique_ptr<dragon::TransportCompletion> placed;
        bool inline_payload = false;
    };
    std::vector<std::unique_ptr<Got>> got;
    std::vector<std::string> events;

    void on_message(const dragon_transport_message &m) override
    {
        auto g = std::make_unique<Got>();
        if (m.header_len == sizeof(Header))
            std::memcpy(&g->h, m.header, sizeof(Header));
        g->data.resize(m.payload_len);
        if (m.payload_len && m.payload) {
            g->inline_payload = true;
            std::memcpy(g->data.data(), m.payload, m.payload_len);
        } else if (m.payload_len) {
            g->placed = std::make_unique<dragon::TransportCompletion>();
            ep->receive_into(m.token, g->data.data(), g->data.size(), *g->placed);
        }
        got.push_back(std::move(g));
    }
    void on_peer(uint32_t peer, dragon_transport_peer_state state,
                 const std::string &reason) override
    {
        peers.update(peer, state, reason);
        events.push_back(std::to_string(peer) + ":" + std::to_string(state) + ":" + reason);
    }
    bool all_placed() const
    {
        for (const auto &g : got)
            if (g->placed && !g->placed->done())
                return false;
        return true;
    }
};

std::string secret_a()
{
    return std::string(32, 'a');
}

struct Side {
    std::unique_ptr<Recorder> rec;
    std::unique_ptr<dragon::TransportEndpoint> ep;
};

Side open_side(uint32_t index, const std::string &secret, const std::string &prefix = "")
{
    Side s;
    s.rec = std::make_unique<Recorder>(2);
    dragon::TransportConfig c;
    c.node_index = index;
    c.num_nodes = 2;
    c.job_secret = secret;
    c.network_prefix = prefix;
    s.ep = dragon::TransportPlugin::named("hsta").open(c, *s.rec);
    s.rec->ep = s.ep.get();
    return s;
}

void write_all(int fd, const std::string &s)
{
    uint32_t n = static_cast<uint32_t>(s.size());
    ASSERT_EQ(write(fd, &n, 4), 4);
    ASSERT_EQ(write(fd, s.data(), n), static_cast<ssize_t>(n));
}

std::string read_all(int fd)
{
    uint32_t n = 0;
    if (read(fd, &n, 4) != 4)
        return {};
    std::string s(n, '\0');
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, s.data() + got, n - got);
        if (r <= 0)
            return {};
        got += static_cast<size_t>(r);
    }
    return s;
}

using ChildBody = std::function<int(Side &, const std::string &)>;

// Starts node 1 running `scenario` (kChildren below) in a fresh image of this binary
// (UCX's global state, its async thread included, does not survive fork), with `child_secret`,
// gives it `mine` and returns its pid; `addr` gets node 1's address.
pid_t fork_peer(const std::string &scenario, const std::string &mine, std::string &addr,
                const std::string &child_secret)
{
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    if (pid == 0) {
        ::close(sv[0]);
        setenv("HSTA_CHILD_SCENARIO", scenario.c_str(), 1);
        setenv("HSTA_CHILD_FD", std::to_string(sv[1]).c_str(), 1);
        setenv("HSTA_CHILD_SECRET", child_secret.c_str(), 1);
        execl("/proc/self/exe", "hsta_transport_tests", "--gtest_filter=HstaChild.Run",
              "--gtest_brief=1", static_cast<char *>(nullptr));
        _exit(97);
    }
    ::close(sv[1]);
    addr = read_all(sv[0]);
    write_all(sv[0], mine);
    ::close(sv[0]);
    return pid;
}

int wait_child(pid_t pid, std::chrono::seconds limit)
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

bool connect_peer(Side &s, uint32_t peer, const std::string &addr)
{
    std::vector<std::string> addrs(2);
    addrs[peer] = addr;
    try {
        dragon::connect_all(*s.ep, addrs, s.rec->peers, Deadline(10s));
    } catch (const std::exception &e) {
        std::fprintf(stderr, "node %u: %s\n", s.ep->node_index(), e.what());
        return false;
    }
    return true;
}

const std::vector<size_t> kSizes = {
    0, 1, 8, 4095, 8192, 8193, 65536, 1u << 20, (16u << 20) + 3, 64u << 20};

// Sends every size to `peer`, then waits to have received as many and checks them.
bool exchange(Side &s, uint32_t peer)
{
    std::vector<std::vector<unsigned char>> bufs;
    for (size_t i = 0; i < kSizes.size(); ++i) {
        bufs.emplace_back(kSizes[i]);
        fill(bufs.back(), i + 17 * s.ep->node_index());
    }
    std::vector<std::unique_ptr<dragon::TransportCompletion>> sent;
    for (size_t i = 0; i < kSizes.size(); ++i) {
        Header h{i, kSizes[i], checksum(bufs[i].data(), bufs[i].size())};
        dragon_transport_iov iov[2];
        size_t count = 0;
        // Larger payloads go as two pieces, to cover the iovec path.
        if (kSizes[i] > 1000) {
            iov[0] = {bufs[i].data(), 1000};
            iov[1] = {bufs[i].data() + 1000, kSizes[i] - 1000};
            count = 2;
        } else if (kSizes[i]) {
            iov[0] = {bufs[i].data(), kSizes[i]};
            count = 1;
        }
        sent.push_back(std::make_unique<dragon::TransportCompletion>());
        Deadline d(10s);
        while (s.ep->send(peer, &h, sizeof h, {iov, count}, *sent.back()) == DRAGON_ERR_AGAIN &&
               !d.expired())
            s.ep->progress();
    }
    auto done = [&] {
        for (auto &c : sent)
            if (!c->done())
                return false;
        return s.rec->got.size() == kSizes.size() && s.rec->all_placed();
    };
    if (!s.ep->progress_until(done, Deadline(60s))) {
        std::fprintf(stderr, "node %u: exchange timed out (%zu of %zu received)\n",
                     s.ep->node_index(), s.rec->got.size(), kSizes.size());
        return false;
    }
    for (auto &c : sent)
        if (c->status() != DRAGON_OK) {
            std::fprintf(stderr, "send failed: %s\n", c->reason().c_str());
            return false;
        }
    for (size_t i = 0; i < s.rec->got.size(); ++i) {
        const auto &g = *s.rec->got[i];
        if (g.h.seq != i || g.h.size != g.data.size() ||
            g.h.sum != checksum(g.data.data(), g.data.size())) {
            std::fprintf(stderr, "node %u: message %zu wrong (seq %lu size %lu/%zu)\n",
                         s.ep->node_index(), i, (unsigned long)g.h.seq, (unsigned long)g.h.size,
                         g.data.size());
            return false;
        }
        if (g.placed && g.placed->status() != DRAGON_OK)
            return false;
        // The promise of eager_threshold: small payloads always arrive inline.
        if (g.data.size() && g.data.size() <= s.ep->caps().eager_threshold && !g.inline_payload)
            return false;
    }
    return true;
}

// ---- what node 1 does in each test (run in the exec'ed child)

int child_exchange(Side &c, const std::string &peer)
{
    if (!connect_peer(c, 0, peer) || !exchange(c, 0))
        return 1;
    // Stay until node 0 closes, so nothing it sent is lost.
    c.ep->progress_until([&] { return c.rec->peers.state(0) == DRAGON_TRANSPORT_PEER_CLOSED; },
                         Deadline(20s));
    return c.rec->peers.state(0) == DRAGON_TRANSPORT_PEER_CLOSED ? 0 : 2;
}

int child_connect_then_stop(Side &c, const std::string &peer)
{
    if (!connect_peer(c, 0, peer))
        return 1;
    // Never progresses again (node 0 kills it): sends toward it stay pending.
    sleep(60);
    return 0;
}

int child_wrong_secret(Side &c, const std::string &peer)
{
    if (connect_peer(c, 0, peer))
        return 1; // must not connect
    std::fprintf(stderr, "node 1 (other secret) was told: %s\n", c.rec->peers.reason(0).c_str());
    if (c.rec->peers.state(0) != DRAGON_TRANSPORT_PEER_LOST ||
        c.rec->peers.reason(0).find("refused our proof") == std::string::npos)
        return 2;
    return c.rec->got.empty() ? 0 : 3;
}

int child_send_then_close(Side &c, const std::string &peer)
{
    if (!connect_peer(c, 0, peer))
        return 1;
    std::vector<unsigned char> buf(100000, 3);
    dragon_transport_iov iov{buf.data(), buf.size()};
    std::vector<std::unique_ptr<dragon::TransportCompletion>> sent;
    for (uint64_t i = 0; i < 200; ++i) {
        Header h{i, buf.size(), 0};
        sent.push_back(std::make_unique<dragon::TransportCompletion>());
        Deadline d(10s);
        while (c.ep->send(0, &h, sizeof h, {&iov, 1}, *sent.back()) == DRAGON_ERR_AGAIN &&
               !d.expired())
            c.ep->wait(d), c.ep->progress();
    }
    c.ep->close(5s);
    for (auto &x : sent)
        if (!x->done() || x->status() != DRAGON_OK) {
            std::fprintf(stderr, "node 1: a send ended with %s\n", x->reason().c_str());
            return 2;
        }
    return 0;
}

// In namespace mode both nodes are children; node 0 closes after the exchange.
int child_exchange_then_close(Side &c, const std::string &peer)
{
    uint32_t other = 1 - c.ep->node_index();
    if (!connect_peer(c, other, peer) || !exchange(c, other))
        return 1;
    if (c.ep->node_index() == 0)
        return 0;
    c.ep->progress_until([&] { return c.rec->peers.state(other) == DRAGON_TRANSPORT_PEER_CLOSED; },
                         Deadline(20s));
    return c.rec->peers.state(other) == DRAGON_TRANSPORT_PEER_CLOSED ? 0 : 2;
}

// Node 0 in namespace mode: connects, leaves a rendezvous send pending, says so on the
// control socket, hears that node 1 was killed, then must see it lost within 2 s.
int child_watch_kill(Side &c, const std::string &peer)
{
    int fd = std::atoi(getenv("HSTA_CHILD_FD"));
    if (!connect_peer(c, 1, peer))
        return 1;
    std::vector<unsigned char> big(64u << 20, 7);
    dragon_transport_iov iov{big.data(), big.size()};
    dragon::TransportCompletion pending;
    Header h{0, big.size(), 0};
    if (c.ep->send(1, &h, sizeof h, {&iov, 1}, pending) != DRAGON_OK)
        return 2;
    c.ep->progress();
    write_all(fd, "connected");
    if (read_all(fd) != "killed")
        return 3;
    int64_t t0 = Deadline::now_ns();
    const char *limit = getenv("HSTA_LOSS_SECONDS");
    bool lost = c.ep->progress_until(
        [&] { return c.rec->peers.state(1) == DRAGON_TRANSPORT_PEER_LOST && pending.done(); },
        Deadline(std::chrono::seconds(limit ? std::atoi(limit) : 2)));
    std::printf("hsta (namespaces): peer reported lost %.3f s after it died or vanished: %s\n",
                (Deadline::now_ns() - t0) / 1e9, c.rec->peers.reason(1).c_str());
    return lost && pending.status() == DRAGON_ERR_PEER_LOST ? 0 : 4;
}

const std::map<std::string, ChildBody> kChildren = {
    {"exchange_then_close", child_exchange_then_close},
    {"watch_kill", child_watch_kill},
    {"exchange", child_exchange},
    {"connect_then_stop", child_connect_then_stop},
    {"wrong_secret", child_wrong_secret},
    {"send_then_close", child_send_then_close},
};

// Runs only in the child fork_peer() execs; skipped in a normal run.
TEST(HstaChild, Run)
{
    const char *scenario = getenv("HSTA_CHILD_SCENARIO");
    if (!scenario)
        GTEST_SKIP() << "runs only as node 1 of an Hsta test";
    int fd = std::atoi(getenv("HSTA_CHILD_FD"));
    int rc = 99;
    try {
        const char *index = getenv("HSTA_CHILD_INDEX");
        const char *prefix = getenv("HSTA_CHILD_PREFIX");
        Side s = open_side(index ? std::atoi(index) : 1, getenv("HSTA_CHILD_SECRET"),
                           prefix ? prefix : "");
        write_all(fd, s.ep->address());
        std::string peer = read_all(fd);
        rc = kChildren.at(scenario)(s, peer);
        s.ep->close();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "node 1: %s\n", e.what());
        rc = 98;
    }
    std::fflush(stdout);
    _exit(rc);
}

class Hsta : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override
    {
        if (!dragon::Registry::global().find(DRAGON_PLUGIN_TRANSPORT, "hsta"))
            GTEST_SKIP() << "the hsta plugin was not built (no UCX)";
        // "default": as UCX chooses; "tcp": TCP over loopback only.
        if (GetParam() == "tcp") {
            setenv("UCX_TLS", "tcp", 1);
            setenv("UCX_NET_DEVICES", "lo", 1);
        }
    }
    void TearDown() override
    {
        unsetenv("UCX_TLS");
        unsetenv("UCX_NET_DEVICES");
    }
};

TEST_P(Hsta, MessagesOfEverySizeBothWaysWithChecksums)
{
    Side s = open_side(0, secret_a());
    EXPECT_TRUE(s.ep->has(DRAGON_TRANSPORT_CAP_DIRECT_PLACEMENT));
    EXPECT_TRUE(s.ep->has(DRAGON_TRANSPORT_CAP_ORDERED));
    EXPECT_TRUE(s.ep->has(DRAGON_TRANSPORT_CAP_PEER_FAILURE));
    std::string addr;
    pid_t pid = fork_peer("exchange", s.ep->address(), addr, secret_a());
    ASSERT_TRUE(connect_peer(s, 1, addr));
    EXPECT_TRUE(exchange(s, 1));
    s.ep->close();
    EXPECT_EQ(wait_child(pid, 30s), 0);
}

// The peer's HELLO (and its UCP connection) arrives before this side calls connect():
// UCP must pair both sides' endpoints into one, and the handshake must use it.
TEST_P(Hsta, PeerThatConnectsFirstIsPairedWithOurLateConnect)
{
    Side s = open_side(0, secret_a());
    std::string addr;
    pid_t pid = fork_peer("exchange", s.ep->address(), addr, secret_a());
    s.ep->progress_until([] { return false; }, Deadline(500ms));
    ASSERT_TRUE(connect_peer(s, 1, addr));
    EXPECT_TRUE(exchange(s, 1));
    s.ep->close();
    EXPECT_EQ(wait_child(pid, 30s), 0);
}

TEST_P(Hsta, KilledPeerIsLostAndItsPendingSendsFail)
{
    Side s = open_side(0, secret_a());
    std::string addr;
    pid_t pid = fork_peer("connect_then_stop", s.ep->address(), addr, secret_a());
    ASSERT_TRUE(connect_peer(s, 1, addr));
    // A rendezvous send stays pending until the peer fetches it, which it never does.
    std::vector<unsigned char> big(64u << 20, 7);
    dragon_transport_iov iov{big.data(), big.size()};
    dragon::TransportCompletion pending;
    Header h{0, big.size(), 0};
    ASSERT_EQ(s.ep->send(1, &h, sizeof h, {&iov, 1}, pending), DRAGON_OK);
    for (int i = 0; i < 20; ++i)
        s.ep->progress();
    EXPECT_FALSE(pending.done());
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int64_t t0 = Deadline::now_ns();
    // The contract: reported, and the pending send failed, within 2 s.
    bool lost = s.ep->progress_until(
        [&] { return s.rec->peers.state(1) == DRAGON_TRANSPORT_PEER_LOST && pending.done(); },
        Deadline(2s));
    double secs = (Deadline::now_ns() - t0) / 1e9;
    std::printf("hsta (%s): SIGKILLed peer reported lost after %.3f s: %s\n", GetParam().c_str(),
                secs, s.rec->peers.reason(1).c_str());
    EXPECT_TRUE(lost) << "peer state " << s.rec->peers.state(1);
    EXPECT_EQ(pending.status(), DRAGON_ERR_PEER_LOST);
    dragon::TransportCompletion after;
    EXPECT_EQ(s.ep->send(1, &h, sizeof h, {}, after), DRAGON_ERR_PEER_LOST);
    s.ep->close();
    wait_child(pid, 10s);
}

TEST_P(Hsta, WrongSecretIsRefusedBothWays)
{
    Side s = open_side(0, secret_a());
    std::string addr;
    pid_t pid = fork_peer("wrong_secret", s.ep->address(), addr, std::string(32, 'b'));
    // A message queued before the handshake must never reach a refused peer.
    dragon::TransportCompletion c;
    Header h{0, 0, 0};
    s.ep->connect(1, addr);
    ASSERT_EQ(s.ep->send(1, &h, sizeof h, {}, c), DRAGON_OK);
    s.ep->progress_until([&] { return s.rec->peers.state(1) != 0; }, Deadline(10s));
    EXPECT_EQ(s.rec->peers.state(1), DRAGON_TRANSPORT_PEER_LOST);
    EXPECT_NE(s.rec->peers.reason(1).find("refused"), std::string::npos) << s.rec->peers.reason(1);
    EXPECT_TRUE(c.done());
    EXPECT_EQ(c.status(), DRAGON_ERR_PEER_LOST);
    EXPECT_TRUE(s.rec->got.empty());
    EXPECT_EQ(wait_child(pid, 20s), 0);
    s.ep->close();
}

TEST_P(Hsta, PeerThatStopsReadingMakesSendsWait)
{
    Side s = open_side(0, secret_a());
    std::string addr;
    pid_t pid = fork_peer("connect_then_stop", s.ep->address(), addr, secret_a());
    ASSERT_TRUE(connect_peer(s, 1, addr));
    std::vector<unsigned char> buf(4096, 1);
    dragon_transport_iov iov{buf.data(), buf.size()};
    Header h{0, buf.size(), 0};
    std::vector<std::unique_ptr<dragon::TransportCompletion>> sent;
    bool again = false;
    // 4 KiB eager sends fill socket or shared-memory buffers, then UCX's pending queue:
    // the bound must stop them long before 100000 (400 MiB).
    for (int i = 0; i < 100000 && !again; ++i) {
        auto c = std::make_unique<dragon::TransportCompletion>();
        dragon_status st = s.ep->send(1, &h, sizeof h, {&iov, 1}, *c);
        again = st == DRAGON_ERR_AGAIN;
        ASSERT_TRUE(st == DRAGON_OK || again) << st;
        if (st == DRAGON_OK)
            sent.push_back(std::move(c));
        s.ep->progress();
    }
    EXPECT_TRUE(again);
    size_t pending = 0;
    for (auto &c : sent)
        pending += c->done() ? 0 : 1;
    std::printf("hsta (%s): DRAGON_ERR_AGAIN after %zu sends (%zu pending) to a peer that "
                "stopped reading\n",
                GetParam().c_str(), sent.size(), pending);
    kill(pid, SIGKILL);
    wait_child(pid, 10s);
    s.ep->progress_until([&] { return s.rec->peers.state(1) == DRAGON_TRANSPORT_PEER_LOST; },
                         Deadline(5s));
    EXPECT_EQ(s.rec->peers.state(1), DRAGON_TRANSPORT_PEER_LOST);
    s.ep->close();
    for (auto &c : sent)
        EXPECT_TRUE(c->done());
}

TEST_P(Hsta, CloseDeliversEverythingThenPeerClosed)
{
    Side s = open_side(0, secret_a());
    std::string addr;
    pid_t pid = fork_peer("send_then_close", s.ep->address(), addr, secret_a());
    s.ep->connect(1, addr); // it may connect, send everything and close in one go
    s.ep->progress_until(
        [&] {
            return s.rec->peers.state(1) == DRAGON_TRANSPORT_PEER_CLOSED && s.rec->all_placed();
        },
        Deadline(20s));
    EXPECT_EQ(s.rec->peers.state(1), DRAGON_TRANSPORT_PEER_CLOSED);
    ASSERT_EQ(s.rec->got.size(), 200u);
    for (uint64_t i = 0; i < 200; ++i)
        EXPECT_EQ(s.rec->got[i]->h.seq, i);
    EXPECT_EQ(wait_child(pid, 20s), 0);
    dragon::TransportCompletion c;
    Header h{0, 0, 0};
    EXPECT_EQ(s.ep->send(1, &h, sizeof h, {}, c), DRAGON_ERR_PEER_LOST);
    s.ep->close();
}

// With peer-failure handling, UCX 1.13's shared-memory transports carry no active
// messages: a configuration with nothing else must fail at open, saying so.
TEST(HstaSetup, SharedMemoryOnlyIsRefusedWithTheReason)
{
    if (!dragon::Registry::global().find(DRAGON_PLUGIN_TRANSPORT, "hsta"))
        GTEST_SKIP() << "the hsta plugin was not built (no UCX)";
    setenv("UCX_TLS", "sm", 1);
    Recorder rec(2);
    dragon::TransportConfig c;
    c.job_secret = secret_a();
    c.num_nodes = 2;
    try {
        dragon::TransportPlugin::named("hsta").open(c, rec);
        ADD_FAILURE() << "opened with UCX_TLS=sm";
    } catch (const std::exception &e) {
        EXPECT_NE(std::string(e.what()).find("no network transport"), std::string::npos)
            << e.what();
    }
    unsetenv("UCX_TLS");
}

TEST(HstaSetup, NetworkPrefixChoosesTheInterfaceOrNamesThem)
{
    if (!dragon::Registry::global().find(DRAGON_PLUGIN_TRANSPORT, "hsta"))
        GTEST_SKIP() << "the hsta plugin was not built (no UCX)";
    Recorder rec(2);
    dragon::TransportConfig c;
    c.job_secret = secret_a();
    c.num_nodes = 2;
    c.network_prefix = "127.0.0.0/8";
    EXPECT_NO_THROW(dragon::TransportPlugin::named("hsta").open(c, rec));
    for (const char *bad : {"10.254.254.0/24", "not-a-cidr", "127.0.0.1/40"}) {
        c.network_prefix = bad;
        try {
            dragon::TransportPlugin::named("hsta").open(c, rec);
            ADD_FAILURE() << "opened with network prefix " << bad;
        } catch (const std::exception &e) {
            EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
            if (std::string(bad) == "10.254.254.0/24") { // names what there is
                EXPECT_NE(std::string(e.what()).find("lo 127.0.0.1"), std::string::npos)
                    << e.what();
            }
        }
    }
}

// Three endpoints in this one process, each driven by a thread of its own (the contract
// allows it: endpoints share nothing), all connected to each other: every pair exchanges
// messages up to 1 MiB with checksums, in order.
TEST(HstaThreads, EndpointsOfOneProcessOnSeparateThreads)
{
    if (!dragon::Registry::global().find(DRAGON_PLUGIN_TRANSPORT, "hsta"))
        GTEST_SKIP() << "the hsta plugin was not built (no UCX)";
    constexpr uint32_t n = 3;
    const std::vector<size_t> sizes = {0, 100, 8192, 100000, 1u << 20};
    struct Node {
        std::unique_ptr<Recorder> rec;
        std::unique_ptr<dragon::TransportEndpoint> ep;
        bool ok = false;
    };
    std::vector<Node> nodes(n);
    std::vector<std::string> addrs(n);
    for (uint32_t k = 0; k < n; ++k) {
        nodes[k].rec = std::make_unique<Recorder>(n);
        dragon::TransportConfig c;
        c.node_index = k;
        c.num_nodes = n;
        c.job_secret = secret_a();
        nodes[k].ep = dragon::TransportPlugin::named("hsta").open(c, *nodes[k].rec);
        nodes[k].rec->ep = nodes[k].ep.get();
        addrs[k] = nodes[k].ep->address();
    }
    auto run = [&](uint32_t k) {
        Node &me = nodes[k];
        try {
            dragon::connect_all(*me.ep, addrs, me.rec->peers, Deadline(20s));
        } catch (const std::exception &e) {
            std::fprintf(stderr, "node %u: %s\n", k, e.what());
            return;
        }
        std::vector<std::vector<unsigned char>> bufs;
        std::vector<std::unique_ptr<dragon::TransportCompletion>> sent;
        for (uint32_t peer = 0; peer < n; ++peer) {
            if (peer == k)
                continue;
            for (size_t i = 0; i < sizes.size(); ++i) {
                bufs.emplace_back(sizes[i]);
                fill(bufs.back(), i + 31 * k);
                Header h{i, sizes[i], checksum(bufs.back().data(), sizes[i])};
                dragon_transport_iov iov{bufs.back().data(), sizes[i]};
                sent.push_back(std::make_unique<dragon::TransportCompletion>());
                Deadline d(10s);
                while (me.ep->send(peer, &h, sizeof h, {&iov, sizes[i] ? 1u : 0u}, *sent.back()) ==
                           DRAGON_ERR_AGAIN &&
                       !d.expired())
                    me.ep->progress();
            }
        }
        const size_t expected = (n - 1) * sizes.size();
        me.ep->progress_until(
            [&] {
                for (auto &c : sent)
                    if (!c->done())
                        return false;
                return me.rec->got.size() == expected && me.rec->all_placed();
            },
            Deadline(30s));
        bool good = me.rec->got.size() == expected;
        for (auto &c : sent)
            good = good && c->done() && c->status() == DRAGON_OK;
        for (const auto &g : me.rec->got)
            good = good && g->h.size == g->data.size() &&
                   g->h.sum == checksum(g->data.data(), g->data.size()) &&
                   (!g->placed || g->placed->status() == DRAGON_OK);
        me.ok = good;
    };
    std::vector<std::thread> threads;
    for (uint32_t k = 0; k < n; ++k)
        threads.emplace_back(run, k);
    for (auto &t : threads)
        t.join();
    for (uint32_t k = 0; k < n; ++k)
        EXPECT_TRUE(nodes[k].ok) << "node " << k;
    // Closing one by one: the others see PEER_CLOSED while they close in turn.
    for (uint32_t k = 0; k < n; ++k)
        nodes[k].ep->close();
}

// ---- two hosts in two network namespaces: both nodes are exec'ed children, each in its
// host, choosing the veth through the network prefix.

class HstaNetns : public ::testing::Test {
protected:
    void SetUp() override
    {
        if (!dragon::Registry::global().find(DRAGON_PLUGIN_TRANSPORT, "hsta"))
            GTEST_SKIP() << "the hsta plugin was not built (no UCX)";
        std::string why = dragon::test::NetnsHosts::unavailable_reason();
        if (!why.empty())
            GTEST_SKIP() << why;
        hosts_ = std::make_unique<dragon::test::NetnsHosts>(2);
    }

    // Starts node k in host k running `scenario`; `fd` is the test's end of its socket.
    pid_t start(int k, const std::string &scenario, int &fd)
    {
        int sv[2];
        EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        const std::string prefix = hosts_->cidr();
        pid_t pid = hosts_->spawn(k, [&] {
            ::close(sv[0]);
            setenv("HSTA_CHILD_SCENARIO", scenario.c_str(), 1);
            setenv("HSTA_CHILD_FD", std::to_string(sv[1]).c_str(), 1);
            setenv("HSTA_CHILD_SECRET", secret_a().c_str(), 1);
            setenv("HSTA_CHILD_INDEX", std::to_string(k).c_str(), 1);
            setenv("HSTA_CHILD_PREFIX", prefix.c_str(), 1);
            execl("/proc/self/exe", "hsta_transport_tests", "--gtest_filter=HstaChild.Run",
                  "--gtest_brief=1", static_cast<char *>(nullptr));
            return 97;
        });
        ::close(sv[1]);
        fd = sv[0];
        return pid;
    }

    // Hands each node the other's address.
    void swap_addresses(int fd0, int fd1)
    {
        std::string a0 = read_all(fd0), a1 = read_all(fd1);
        ASSERT_FALSE(a0.empty());
        ASSERT_FALSE(a1.empty());
        write_all(fd0, a1);
        write_all(fd1, a0);
    }

    std::unique_ptr<dragon::test::NetnsHosts> hosts_;
};

TEST_F(HstaNetns, MessagesOfEverySizeBetweenTwoHosts)
{
    int fd0, fd1;
    pid_t p0 = start(0, "exchange_then_close", fd0);
    pid_t p1 = start(1, "exchange_then_close", fd1);
    swap_addresses(fd0, fd1);
    EXPECT_EQ(wait_child(p0, 60s), 0);
    EXPECT_EQ(wait_child(p1, 60s), 0);
    ::close(fd0);
    ::close(fd1);
}

TEST_F(HstaNetns, KilledHostIsLostWithinTwoSeconds)
{
    int fd0, fd1;
    pid_t p0 = start(0, "watch_kill", fd0);
    pid_t p1 = start(1, "connect_then_stop", fd1);
    swap_addresses(fd0, fd1);
    EXPECT_EQ(read_all(fd0), "connected");
    kill(p1, SIGKILL);
    wait_child(p1, 10s);
    write_all(fd0, "killed");
    EXPECT_EQ(wait_child(p0, 20s), 0);
    ::close(fd0);
    ::close(fd1);
}

INSTANTIATE_TEST_SUITE_P(Transports, Hsta, ::testing::Values("default", "tcp"),
                         [](const auto &info) { return info.param; });

} // namespace
