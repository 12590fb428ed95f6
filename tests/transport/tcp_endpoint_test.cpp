// The tcp transport plugin end to end on loopback: endpoints in one process (progressed
// in turn) and in forked processes (for SIGKILL), through the framework's wrapper.
#include "core/error.hpp"
#include "core/transport.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using dragon::Deadline;
using dragon::TransportCompletion;

namespace {

struct Header {
    uint32_t seq;
    uint64_t size;
    uint64_t sum;
};

uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; ++i)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed)
{
    std::vector<uint8_t> v(n);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v[i] = static_cast<uint8_t>(x);
    }
    return v;
}

struct Node : dragon::TransportHandler {
    struct Got {
        uint32_t peer = 0;
        Header hdr{};
        bool was_inline = false;
        std::vector<uint8_t> data;
        std::unique_ptr<TransportCompletion> placed;
        bool complete() const { return was_inline || (placed && placed->done()); }
    };
    Node(uint32_t index, uint32_t n, const std::string &secret, const std::string &prefix = "")
        : peers(n)
    {
        dragon::TransportConfig c;
        c.node_index = index;
        c.num_nodes = n;
        c.job_secret = secret;
        c.network_prefix = prefix;
        ep = dragon::TransportPlugin::named("tcp").open(c, *this);
    }
    void on_message(const dragon_transport_message &m) override
    {
        // A peer is reported connected before its first message, and nothing comes after
        // it is reported lost or closed.
        EXPECT_EQ(DRAGON_TRANSPORT_PEER_CONNECTED, peers.state(m.peer));
        auto g = std::make_unique<Got>();
        g->peer = m.peer;
        if (m.header_len == sizeof(Header))
            std::memcpy(&g->hdr, m.header, sizeof(Header));
        if (m.payload || m.payload_len == 0) {
            g->was_inline = true;
            auto *p = static_cast<const uint8_t *>(m.payload);
            g->data.assign(p, p + m.payload_len);
        } else if (discard_large) {
            g->placed = std::make_unique<TransportCompletion>();
            ep->receive_into(m.token, nullptr, 0, *g->placed);
        } else {
            g->data.resize(m.payload_len - truncate_by);
            g->placed = std::make_unique<TransportCompletion>();
            ep->receive_into(m.token, g->data.data(), g->data.size(), *g->placed);
        }
        got.push_back(std::move(g));
    }
    void on_peer(uint32_t peer, dragon_transport_peer_state state,
                 const std::string &reason) override
    {
        peers.update(peer, state, reason);
        events.push_back({peer, state, reason});
    }
    struct Event {
        uint32_t peer;
        dragon_transport_peer_state state;
        std::string reason;
    };
    dragon::PeerTable peers;
    std::unique_ptr<dragon::TransportEndpoint> ep;
    std::deque<std::unique_ptr<Got>> got;
    std::vector<Event> events;
    bool discard_large = false;
    size_t truncate_by = 0;
};

const std::string secret(32, 's');

// Progresses every node until `done` or the deadline.
bool progress_all(std::vector<Node *> nodes, const std::function<bool()> &done,
                  std::chrono::milliseconds limit = 20s)
{
    Deadline d(limit);
    while (!done()) {
        if (d.expired())
            return false;
        size_t n = 0;
        for (Node *node : nodes)
            n += node->ep->progress();
        if (n == 0)
            usleep(100);
    }
    return true;
}

void connect_pair(Node &a, Node &b)
{
    std::vector<std::string> addrs = {a.ep->address(), b.ep->address()};
    a.ep->connect(1, addrs[1]);
    b.ep->connect(0, addrs[0]);
    ASSERT_TRUE(progress_all({&a, &b},
                             [&] {
                                 return a.peers.state(1) == DRAGON_TRANSPORT_PEER_CONNECTED &&
                                        b.peers.state(0) == DRAGON_TRANSPORT_PEER_CONNECTED;
                             }))
        << a.peers.reason(1) << " / " << b.peers.reason(0);
}

const size_t sizes[] = {0, 1, 100, 65535, 65536, 65537, 1 << 20, 64u << 20};

} // namespace

TEST(TcpTransport, PublishesAReachableAddressAndCapabilities)
{
    Node a(0, 2, secret);
    std::string addr = a.ep->address();
    EXPECT_EQ(0u, addr.rfind("tcp1 ", 0)) << addr;
    EXPECT_NE(std::string::npos, addr.find("127.0.0.1")) << addr;
    EXPECT_TRUE(a.ep->has(DRAGON_TRANSPORT_CAP_ORDERED));
    EXPECT_TRUE(a.ep->has(DRAGON_TRANSPORT_CAP_DIRECT_PLACEMENT));
    EXPECT_TRUE(a.ep->has(DRAGON_TRANSPORT_CAP_PEER_FAILURE));
    EXPECT_GE(a.ep->caps().max_message, 64ull << 20);
    EXPECT_GE(a.ep->caps().max_iov, 16u);
    EXPECT_GE(a.ep->caps().max_header, unsigned(DRAGON_TRANSPORT_HEADER_MAX));
    EXPECT_TRUE(a.ep->can_cancel());
}

TEST(TcpTransport, NetworkPrefixMatchingNothingFailsOpenListingInterfaces)
{
    // 198.18.0.0/15 is reserved for benchmarking networks: no interface here has it.
    try {
        Node a(0, 2, secret, "198.18.0.0/15");
        FAIL() << "open succeeded";
    } catch (const dragon::Error &e) {
        std::string what = e.what();
        EXPECT_NE(std::string::npos, what.find("198.18.0.0/15")) << what;
        EXPECT_NE(std::string::npos, what.find("lo 127.0.0.1")) << what;
    }
    // A prefix that matches loopback works and publishes only that.
    Node b(0, 2, secret, "127.0.0.0/8");
    EXPECT_NE(std::string::npos, b.ep->address().find(" 127.0.0.1")) << b.ep->address();
}

TEST(TcpTransport, EverySizeBothWaysWithChecksumsInOrder)
{
    Node a(0, 2, secret), b(1, 2, secret);
    connect_pair(a, b);
    std::vector<std::vector<uint8_t>> payloads;
    std::deque<TransportCompletion> done;
    std::vector<Header> headers;
    uint32_t seq = 0;
    for (size_t size : sizes)
        payloads.push_back(pattern(size, seq++));
    headers.resize(payloads.size() * 2);
    for (int dir = 0; dir < 2; ++dir) {
        Node &from = dir ? b : a;
        for (size_t i = 0; i < payloads.size(); ++i) {
            Header &h = headers[dir * payloads.size() + i];
            h = {static_cast<uint32_t>(i), payloads[i].size(),
                 fnv(payloads[i].data(), payloads[i].size())};
            // Two pieces, to exercise the iovec.
            size_t half = payloads[i].size() / 2;
            dragon_transport_iov iov[2] = {{payloads[i].data(), half},
                                           {payloads[i].data() + half, payloads[i].size() - half}};
            done.emplace_back();
            ASSERT_EQ(DRAGON_OK, from.ep->send(dir ? 0 : 1, &h, sizeof h, iov, done.back()));
        }
    }
    ASSERT_TRUE(progress_all({&a, &b}, [&] {
        if (a.got.size() != payloads.size() || b.got.size() != payloads.size())
            return false;
        for (auto &c : done)
            if (!c.done())
                return false;
        for (Node *n : {&a, &b})
            for (auto &g : n->got)
                if (!g->complete())
                    return false;
        return true;
    }));
    for (auto &c : done)
        EXPECT_EQ(DRAGON_OK, c.status()) << c.reason();
    for (Node *n : {&a, &b}) {
        for (size_t i = 0; i < n->got.size(); ++i) {
            auto &g = *n->got[i];
            EXPECT_EQ(i, g.hdr.seq); // in order
            EXPECT_EQ(g.hdr.size, g.data.size());
            EXPECT_EQ(g.hdr.sum, fnv(g.data.data(), g.data.size())) << "size " << g.hdr.size;
            EXPECT_EQ(g.hdr.size <= n->ep->caps().eager_threshold, g.was_inline);
            if (g.placed) {
                EXPECT_EQ(DRAGON_OK, g.placed->status()) << g.placed->reason();
            }
        }
    }
    a.ep->close();
    ASSERT_TRUE(
        progress_all({&b}, [&] { return b.peers.state(0) == DRAGON_TRANSPORT_PEER_CLOSED; }));
}

TEST(TcpTransport, SendsBeforeTheConnectionWaitForItAndFollowTheConnectedEvent)
{
    Node a(0, 2, secret), b(1, 2, secret);
    std::deque<TransportCompletion> done;
    std::vector<uint8_t> p = pattern(100, 5);
    dragon_transport_iov iov{p.data(), p.size()};
    // Both directions, before either side called connect().
    for (uint32_t i = 0; i < 5; ++i) {
        Header h{i, p.size(), fnv(p.data(), p.size())};
        done.emplace_back();
        ASSERT_EQ(DRAGON_OK, a.ep->send(1, &h, sizeof h, {&iov, 1}, done.back()));
        done.emplace_back();
        ASSERT_EQ(DRAGON_OK, b.ep->send(0, &h, sizeof h, {&iov, 1}, done.back()));
    }
    a.ep->connect(1, b.ep->address());
    b.ep->connect(0, a.ep->address());
    // on_message checks that the peer was reported connected first.
    ASSERT_TRUE(progress_all({&a, &b}, [&] { return a.got.size() == 5 && b.got.size() == 5; }));
    for (auto &c : done)
        EXPECT_EQ(DRAGON_OK, c.status());
    for (uint32_t i = 0; i < 5; ++i) {
        EXPECT_EQ(i, a.got[i]->hdr.seq);
        EXPECT_EQ(i, b.got[i]->hdr.seq);
    }
}

TEST(TcpTransport, TruncatedAndDiscardedLargePayloadsLeaveTheConnectionUsable)
{
    Node a(0, 2, secret), b(1, 2, secret);
    connect_pair(a, b);
    auto big = pattern(1 << 20, 7);
    auto small = pattern(10, 8);
    std::deque<TransportCompletion> done;
    auto send = [&](const std::vector<uint8_t> &p, uint32_t seq) {
        Header h{seq, p.size(), fnv(p.data(), p.size())};
        dragon_transport_iov iov{p.data(), p.size()};
        done.emplace_back();
        ASSERT_EQ(DRAGON_OK, a.ep->send(1, &h, sizeof h, {&iov, 1}, done.back()));
    };
    b.truncate_by = 1;
    send(big, 0);
    send(small, 1);
    ASSERT_TRUE(progress_all({&a, &b}, [&] { return b.got.size() == 2 && b.got[0]->complete(); }));
    EXPECT_EQ(DRAGON_ERR_TRUNCATED, b.got[0]->placed->status());
    EXPECT_EQ(small, b.got[1]->data);
    b.truncate_by = 0;
    b.discard_large = true;
    send(big, 2);
    send(small, 3);
    ASSERT_TRUE(progress_all({&a, &b}, [&] { return b.got.size() == 4 && b.got[2]->complete(); }));
    EXPECT_EQ(small, b.got[3]->data);
    b.discard_large = false;
    send(big, 4);
    ASSERT_TRUE(progress_all({&a, &b}, [&] { return b.got.size() == 5 && b.got[4]->complete(); }));
    EXPECT_EQ(big, b.got[4]->data);
}

TEST(TcpTransport, WrongSecretIsRefusedEitherWay)
{
    const std::string wrong(32, 'w');
    // Whichever side has the wrong secret, the acceptor (node 1) refuses the proof, and
    // the connector (node 0) reports the peer lost because its proof was refused.
    for (bool connector_wrong : {true, false}) {
        Node a(0, 2, connector_wrong ? wrong : secret), b(1, 2, connector_wrong ? secret : wrong);
        a.ep->connect(1, b.ep->address());
        b.ep->connect(0, a.ep->address());
        ASSERT_TRUE(progress_all({&a, &b}, [&] { return a.peers.state(1) != 0; }));
        EXPECT_EQ(DRAGON_TRANSPORT_PEER_LOST, a.peers.state(1));
        EXPECT_NE(std::string::npos, a.peers.reason(1).find("refused our proof"))
            << a.peers.reason(1);
        // The acceptor refused the proof of a connection claiming node 0: node 0 is lost
        // on that side too (never connected).
        ASSERT_TRUE(progress_all({&a, &b}, [&] { return b.peers.state(0) != 0; }));
        EXPECT_EQ(DRAGON_TRANSPORT_PEER_LOST, b.peers.state(0));
        EXPECT_NE(std::string::npos, b.peers.reason(0).find("node 0 failed to prove"))
            << b.peers.reason(0);
        TransportCompletion c;
        EXPECT_EQ(DRAGON_ERR_PEER_LOST, a.ep->send(1, "x", 1, {}, c));
    }
}

namespace {

uint16_t port_of(const std::string &address)
{
    return static_cast<uint16_t>(std::stoi(address.substr(5, address.find(' ', 5) - 5)));
}

int raw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(0, ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa));
    return fd;
}

} // namespace

TEST(TcpTransport, BadStreamsAndSilentConnectionsDoNotDisturbOthers)
{
    Node a(0, 2, secret), b(1, 2, secret);
    connect_pair(a, b);
    uint16_t port = port_of(b.ep->address());
    // Garbage, a data frame before any handshake, and a connection that never speaks.
    int garbage = raw_connect(port);
    ASSERT_EQ(9, ::send(garbage, "GET / xyz", 9, 0));
    int early = raw_connect(port);
    uint8_t prefix[20] = {'D', 'R', 'G', 'T', 1, 6};
    ASSERT_EQ(20, ::send(early, prefix, 20, 0));
    int silent = raw_connect(port);
    // Traffic between a and b carries on meanwhile.
    auto p = pattern(1000, 1);
    for (uint32_t i = 0; i < 50; ++i) {
        Header h{i, p.size(), fnv(p.data(), p.size())};
        dragon_transport_iov iov{p.data(), p.size()};
        dragon::send_and_wait(*a.ep, 1, &h, sizeof h, {&iov, 1}, Deadline(10s));
        ASSERT_TRUE(progress_all({&a, &b}, [&] { return b.got.size() == i + 1; }));
    }
    // The bad ones are closed by b: reading them ends.
    for (int fd : {garbage, early}) {
        char buf[256];
        ASSERT_TRUE(progress_all({&a, &b}, [&] {
            ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            return n == 0 || (n < 0 && errno != EAGAIN);
        }));
    }
    // The silent one is dropped after the handshake timeout (default 5 s).
    char buf[16];
    ASSERT_TRUE(progress_all(
        {&a, &b},
        [&] {
            ssize_t n = ::recv(silent, buf, sizeof buf, MSG_DONTWAIT);
            return n == 0 || (n < 0 && errno != EAGAIN);
        },
        15s));
    for (int fd : {garbage, early, silent})
        ::close(fd);
    EXPECT_EQ(DRAGON_TRANSPORT_PEER_CONNECTED, a.peers.state(1));
    EXPECT_EQ(DRAGON_TRANSPORT_PEER_CONNECTED, b.peers.state(0));
}

TEST(TcpTransport, QueueLimitCancelAndCloseCancelWhatWasNotSent)
{
    Node a(0, 2, secret);
    std::vector<uint8_t> p(10);
    dragon_transport_iov iov{p.data(), p.size()};
    // Peer 1 never connects: sends wait in the queue (default 1024 deep).
    std::deque<TransportCompletion> done;
    dragon_status s = DRAGON_OK;
    size_t accepted = 0;
    while (s == DRAGON_OK && accepted < 100000) {
        done.emplace_back();
        s = a.ep->send(1, "h", 1, {&iov, 1}, done.back());
        if (s == DRAGON_OK)
            ++accepted;
    }
    EXPECT_EQ(DRAGON_ERR_AGAIN, s);
    done.pop_back();
    EXPECT_EQ(1024u, accepted);
    EXPECT_EQ(DRAGON_OK, a.ep->cancel(done[5]));
    EXPECT_EQ(DRAGON_ERR_NOT_FOUND, a.ep->cancel(done[5]));
    EXPECT_FALSE(done[5].done()); // fires from progress, never inside cancel
    a.ep->progress();
    EXPECT_TRUE(done[5].done());
    EXPECT_EQ(DRAGON_ERR_CANCELED, done[5].status());
    a.ep->close(std::chrono::milliseconds(100));
    for (auto &c : done) {
        EXPECT_TRUE(c.done());
        EXPECT_EQ(DRAGON_ERR_CANCELED, c.status());
    }
}

TEST(TcpTransport, CloseFlushesThenPeerSeesClosed)
{
    Node a(0, 2, secret), b(1, 2, secret);
    connect_pair(a, b);
    auto p = pattern(300000, 3);
    std::deque<TransportCompletion> done;
    for (uint32_t i = 0; i < 10; ++i) {
        Header h{i, p.size(), fnv(p.data(), p.size())};
        dragon_transport_iov iov{p.data(), p.size()};
        done.emplace_back();
        ASSERT_EQ(DRAGON_OK, b.ep->send(0, &h, sizeof h, {&iov, 1}, done.back()));
    }
    // b's close must flush while a reads: run a's progress on another thread.
    std::atomic<bool> stop{false};
    std::thread reader([&] {
        while (!stop)
            a.ep->progress();
    });
    b.ep->close(5s);
    ASSERT_TRUE(progress_all({}, [&] { return a.peers.state(1) == DRAGON_TRANSPORT_PEER_CLOSED; }));
    stop = true;
    reader.join();
    for (auto &c : done)
        EXPECT_EQ(DRAGON_OK, c.status()) << c.reason();
    ASSERT_EQ(10u, a.got.size());
    for (auto &g : a.got) {
        ASSERT_TRUE(g->complete());
        EXPECT_EQ(g->hdr.sum, fnv(g->data.data(), g->data.size()));
    }
    // Sends to a closed peer fail at once.
    TransportCompletion c;
    EXPECT_EQ(DRAGON_ERR_PEER_LOST, a.ep->send(1, "x", 1, {}, c));
}

TEST(TcpTransport, SigkilledPeerIsLostWithinTwoSecondsAndPendingSendsFail)
{
    int to_child[2], to_parent[2];
    ASSERT_EQ(0, pipe(to_child));
    ASSERT_EQ(0, pipe(to_parent));
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int rc = 1;
        try {
            Node b(1, 2, secret);
            std::string mine = b.ep->address();
            uint32_t len = static_cast<uint32_t>(mine.size());
            (void)!write(to_parent[1], &len, 4);
            (void)!write(to_parent[1], mine.data(), len);
            // Receive forever (until killed), slowly enough that the sender's queue fills.
            Deadline d(30s);
            while (!d.expired()) {
                b.ep->progress();
                usleep(2000);
            }
            rc = 0;
        } catch (...) {
        }
        _exit(rc);
    }
    uint32_t len = 0;
    ASSERT_EQ(4, read(to_parent[0], &len, 4));
    std::string theirs(len, '\0');
    ASSERT_EQ(ssize_t(len), read(to_parent[0], theirs.data(), len));
    Node a(0, 2, secret);
    a.ep->connect(1, theirs);
    ASSERT_TRUE(
        progress_all({&a}, [&] { return a.peers.state(1) == DRAGON_TRANSPORT_PEER_CONNECTED; }));
    // Stream large messages; kill the peer once the first has gone out.
    auto p = pattern(16u << 20, 9);
    std::deque<TransportCompletion> done;
    for (int i = 0; i < 8; ++i) {
        dragon_transport_iov iov{p.data(), p.size()};
        done.emplace_back();
        ASSERT_EQ(DRAGON_OK, a.ep->send(1, "m", 1, {&iov, 1}, done.back()));
    }
    ASSERT_TRUE(progress_all({&a}, [&] { return done.front().done(); }));
    auto killed_at = std::chrono::steady_clock::now();
    kill(pid, SIGKILL);
    ASSERT_TRUE(progress_all(
        {&a}, [&] { return a.peers.state(1) == DRAGON_TRANSPORT_PEER_LOST; }, 10s));
    auto took = std::chrono::steady_clock::now() - killed_at;
    EXPECT_LT(took, 2s);
    // Every pending send has completed by the progress call that reported the loss.
    for (auto &c : done)
        EXPECT_TRUE(c.done());
    EXPECT_EQ(DRAGON_ERR_PEER_LOST, done.back().status());
    EXPECT_NE(std::string::npos, a.peers.reason(1).find("node 1")) << a.peers.reason(1);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status));
    for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]})
        close(fd);
}
