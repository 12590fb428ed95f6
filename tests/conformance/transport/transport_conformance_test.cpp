// The contract every transport plugin must keep (dragon/transport.h), tested through the
// framework's wrapper exactly as dragon-node uses it: every endpoint in a process of its
// own, on loopback and in separate network namespaces. Instantiated for every transport
// plugin found (installed and on DRAGON_PLUGIN_PATH); what a plugin's capabilities say it
// lacks is skipped with that reason.
#include "cluster.hpp"

#include "core/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <set>
#include <sys/mman.h>

namespace {

using namespace std::chrono_literals;
using dragon::Error;
using dragon::TransportPlugin;
using dragon::test::Cluster;
using dragon::test::deadline_in;
using dragon::test::NetMode;
using dragon::test::Node;
using dragon::test::SendSlot;

struct Param {
    std::string plugin;
    NetMode mode;
};
void PrintTo(const Param &p, std::ostream *os)
{
    *os << p.plugin << "/" << dragon::test::mode_name(p.mode);
}

std::vector<Param> all_params()
{
    std::vector<Param> out;
    for (const auto *p : dragon::Registry::global().plugins(DRAGON_PLUGIN_TRANSPORT))
        for (NetMode m : {NetMode::loopback, NetMode::netns})
            out.push_back({p->name(), m});
    return out;
}

double seconds_since(int64_t start_ns)
{
    return (dragon::Deadline::now_ns() - start_ns) / 1e9;
}

// Every node reports `tag`, then waits until the test says every node has.
void barrier(Node &node, const std::string &tag)
{
    node.report(tag);
    node.await("go-" + tag, 120s);
}
void release(Cluster &cluster, const std::vector<int> &nodes, const std::string &tag,
             std::chrono::milliseconds timeout = 120s)
{
    for (int k : nodes)
        cluster.await(k, tag, timeout);
    for (int k : nodes)
        cluster.tell(k, "go-" + tag);
}

void connect_everyone(Node &node, std::chrono::milliseconds timeout = 30s)
{
    dragon::connect_all(node.ep(), node.addresses(), node.peer_table(), deadline_in(timeout));
}

// What a call threw (its status and words), or DRAGON_OK.
dragon_status status_of(const std::function<void()> &op, std::string *message = nullptr)
{
    try {
        op();
    } catch (const Error &e) {
        if (message)
            *message = e.what();
        return e.status();
    }
    return DRAGON_OK;
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// Checks what `node` received from `sender`: each stream's seqs 0..expected-1 exactly
// once, in order when the plugin promises it, every checksum right.
void check_streams(Node &node, uint32_t sender, const std::map<uint32_t, size_t> &expected,
                   bool ordered)
{
    std::map<uint32_t, std::vector<uint64_t>> seen;
    for (const auto &r : node.received())
        if (r.sender == sender) {
            seen[r.stream].push_back(r.seq);
            node.check(r.verified, "message seq " + std::to_string(r.seq) + " of " +
                                       std::to_string(r.size) + " bytes from node " +
                                       std::to_string(sender) + " failed its checksum");
        }
    for (const auto &[stream, count] : expected) {
        std::vector<uint64_t> seqs = seen[stream];
        std::string where =
            "from node " + std::to_string(sender) + " stream " + std::to_string(stream) + ": ";
        if (ordered)
            for (size_t i = 0; i < seqs.size(); ++i)
                if (!node.check(seqs[i] == i, where + "message " + std::to_string(seqs[i]) +
                                                  " arrived in place " + std::to_string(i)))
                    break;
        std::set<uint64_t> unique(seqs.begin(), seqs.end());
        node.check(unique.size() == seqs.size(),
                   where + std::to_string(seqs.size() - unique.size()) + " duplicates");
        node.check(unique.size() == count && (count == 0 || *unique.rbegin() == count - 1),
                   where + std::to_string(unique.size()) + " distinct messages of " +
                       std::to_string(count) + " sent");
    }
}

class TransportConformance : public ::testing::TestWithParam<Param> {
public:
    void SetUp() override
    {
        const auto *p = dragon::Registry::global().find(DRAGON_PLUGIN_TRANSPORT, plugin());
        if (!p || !p->available())
            GTEST_SKIP() << "transport plugin " << plugin()
                         << " unavailable: " << (p ? p->reason() : "not found");
        if (mode() == NetMode::netns) {
            std::string why = dragon::test::NetnsHosts::unavailable_reason();
            if (!why.empty())
                GTEST_SKIP() << "netns mode " << why;
        }
        caps_ = dragon::test::plugin_caps(plugin());
    }

    const std::string &plugin() const { return GetParam().plugin; }
    NetMode mode() const { return GetParam().mode; }
    bool has(uint32_t flag) const { return (caps_.flags & flag) != 0; }
    const dragon_transport_caps &caps() const { return caps_; }

    // Waits for every node and fails the test with whatever went wrong in any of them.
    void finish_public(Cluster &cluster) { finish(cluster); }
    void finish(Cluster &cluster, std::chrono::milliseconds timeout = 120s)
    {
        auto outcomes = cluster.finish(timeout);
        std::string problems = cluster.problems(outcomes);
        EXPECT_TRUE(problems.empty()) << problems;
    }

    // Every node exchanges messages of every size with every other, from several threads.
    void exchange(int nodes);

    dragon_transport_caps caps_{};
};

// Sizes every pair exchanges: the edges (0, 1), small, a page, both sides of the eager
// threshold, 1 MiB and 64 MiB.
std::vector<uint64_t> sizes_for(const dragon_transport_caps &caps, uint64_t largest)
{
    std::set<uint64_t> s = {0, 1, 100, 4096, 1u << 20, largest};
    uint64_t eager = caps.eager_threshold;
    for (uint64_t e : {eager - 1, eager, eager + 1})
        if (eager > 0 && e <= largest)
            s.insert(e);
    return {s.begin(), s.end()};
}

void TransportConformance::exchange(int nodes)
{
    const uint64_t largest = 64u << 20;
    if (caps().max_message < largest + caps().max_header)
        GTEST_SKIP() << plugin() << " carries at most " << caps().max_message
                     << " bytes per message; this test sends 64 MiB";
    const std::vector<uint64_t> big = sizes_for(caps(), largest);
    std::vector<uint64_t> small;
    for (uint64_t s : big)
        if (s <= 64 * 1024)
            small.push_back(s);
    std::vector<uint64_t> many; // 150 small messages cycling through the small sizes
    for (size_t i = 0; i < 150; ++i)
        many.push_back(small[i % small.size()]);
    const bool ordered = has(DRAGON_TRANSPORT_CAP_ORDERED);

    Cluster cluster(plugin(), mode(), nodes);
    for (int k = 0; k < nodes; ++k)
        cluster.start(k, [&](Node &node) {
            connect_everyone(node);
            node.start_progress();
            // Stream 0 carries every size once; streams 1 and 2 carry many small
            // messages; all through the one endpoint, from 3 threads per peer.
            std::vector<std::thread> senders;
            for (uint32_t peer = 0; peer < node.num_nodes(); ++peer) {
                if (peer == node.index())
                    continue;
                for (uint32_t stream = 0; stream < 3; ++stream)
                    senders.emplace_back([&, peer, stream] {
                        auto st = node.send_stream(peer, stream, stream == 0 ? big : many, 8, 120s);
                        for (size_t i = 0; i < st.size(); ++i)
                            if (!node.check(st[i] == DRAGON_OK,
                                            "send " + std::to_string(i) + " to node " +
                                                std::to_string(peer) + " stream " +
                                                std::to_string(stream) + ": " +
                                                dragon::status_name(st[i])))
                                break;
                    });
            }
            for (auto &t : senders)
                t.join();
            size_t expected = (big.size() + 2 * many.size()) * (node.num_nodes() - 1);
            auto done = deadline_in(120s);
            while (!done.expired()) {
                size_t n = node.received().size();
                if (n >= expected && node.placements_pending() == 0)
                    break;
                std::this_thread::sleep_for(5ms);
            }
            node.check(node.received().size() == expected, std::to_string(node.received().size()) +
                                                               " messages arrived of " +
                                                               std::to_string(expected));
            size_t placed = 0;
            for (const auto &r : node.received())
                placed += !r.inline_payload;
            node.report("placed", std::to_string(placed));
            for (uint32_t p = 0; p < node.num_nodes(); ++p)
                if (p != node.index())
                    check_streams(node, p, {{0, big.size()}, {1, many.size()}, {2, many.size()}},
                                  ordered);
            barrier(node, "received");
        });
    cluster.wire();
    std::vector<int> everyone;
    for (int k = 0; k < nodes; ++k)
        everyone.push_back(k);
    release(cluster, everyone, "received", 300s);
    auto outcomes = cluster.finish(60s);
    std::string problems = cluster.problems(outcomes);
    EXPECT_TRUE(problems.empty()) << problems;
    RecordProperty("placed_with_receive_into", outcomes[0].reports["placed"]);
}

TEST_P(TransportConformance, TwoNodesExchangeEverySizeFromSeveralThreads)
{
    exchange(2);
}

TEST_P(TransportConformance, FourNodesExchangeEverySizeFromSeveralThreads)
{
    exchange(4);
}

TEST_P(TransportConformance, ReceiveWithADeadlineTimesOut)
{
    Cluster cluster(plugin(), mode(), 2);
    for (int k = 0; k < 2; ++k)
        cluster.start(k, [&](Node &node) {
            connect_everyone(node);
            if (node.index() == 0) {
                int64_t t0 = dragon::Deadline::now_ns();
                bool got = node.ep().progress_until([&] { return !node.received().empty(); },
                                                    deadline_in(500ms));
                double took = seconds_since(t0);
                node.check(!got, "a message arrived, though none was sent");
                node.check(took < 5.0, "a 0.5 s receive deadline returned after " +
                                           std::to_string(took) + " s");
                t0 = dragon::Deadline::now_ns();
                node.ep().wait(deadline_in(300ms));
                took = seconds_since(t0);
                node.check(took < 5.0,
                           "a 0.3 s wait on the fd returned after " + std::to_string(took) + " s");
            }
            barrier(node, "done");
        });
    cluster.wire();
    release(cluster, {0, 1}, "done");
    finish(cluster);
}

TEST_P(TransportConformance, SendToAPeerThatStoppedReadingTimesOut)
{
    Cluster cluster(plugin(), mode(), 2);
    for (int k = 0; k < 2; ++k)
        cluster.start(k, [&](Node &node) {
            connect_everyone(node);
            barrier(node, "connected");
            if (node.index() != 0)
                return (void)node.await("never", 600s); // stopped, then killed
            node.await("stopped", 60s);
            const uint64_t size = 16u << 20;
            const unsigned char *payload = node.body(size); // lives until the node ends
            dragon::test::TestHeader h{dragon::test::test_magic, 0, 0, 0, 0, size, 0};
            dragon_transport_iov iov{payload, size};
            bool timed_out = false;
            for (int i = 0; i < 64 && !timed_out; ++i) {
                h.seq = static_cast<uint64_t>(i);
                h.checksum = dragon::test::payload_checksum(payload, size);
                std::string reason;
                int64_t t0 = dragon::Deadline::now_ns();
                dragon_status s = dragon::send_and_wait(node.ep(), 1, &h, sizeof h, {&iov, 1},
                                                        deadline_in(1s), &reason);
                double took = seconds_since(t0);
                node.check(took < 3.0,
                           "send_and_wait with a 1 s deadline took " + std::to_string(took) + " s");
                timed_out = s == DRAGON_ERR_TIMEOUT;
                if (!timed_out &&
                    !node.check(s == DRAGON_OK, std::string("a send failed: ") +
                                                    dragon::status_name(s) + " " + reason))
                    break;
            }
            node.check(timed_out, "64 sends of 16 MiB to a stopped peer never timed out");
            node.report("timed-out");
            node.await("go-close", 60s);
        });
    cluster.wire();
    cluster.await(0, "connected", 60s);
    cluster.await(1, "connected", 60s);
    cluster.signal(1, SIGSTOP);
    cluster.tell(0, "go-connected");
    cluster.tell(1, "go-connected");
    cluster.tell(0, "stopped");
    cluster.await(0, "timed-out", 300s);
    cluster.kill_now(1); // a stopped process dies of SIGKILL too
    cluster.tell(0, "go-close");
    finish(cluster);
}

// A peer that opened its endpoint but never connects (stopped before it could): every
// other node's connect_all throws by its deadline, naming that node.
void never_connects(TransportConformance &t, Cluster &cluster, bool dead)
{
    for (int k = 0; k < 3; ++k)
        cluster.start(
            k,
            [&, k](Node &node) {
                if (k == 2)
                    return (void)node.await("never", 600s);
                std::string message;
                int64_t t0 = dragon::Deadline::now_ns();
                dragon_status s = status_of([&] { connect_everyone(node, 3s); }, &message);
                double took = seconds_since(t0);
                node.check(s == DRAGON_ERR_TIMEOUT || s == DRAGON_ERR_PEER_LOST,
                           std::string("connect_all with a missing peer gave ") +
                               dragon::status_name(s) + ": " + message);
                node.check(message.find("node 2") != std::string::npos ||
                               message.find("node(s) 2") != std::string::npos,
                           "the error does not name node 2: " + message);
                node.check(took < 6.0,
                           "connect_all with a 3 s deadline took " + std::to_string(took) + " s");
                uint32_t other = 1 - node.index();
                node.check(node.peer_state(other) == DRAGON_TRANSPORT_PEER_CONNECTED,
                           "node " + std::to_string(other) + " did not connect meanwhile");
                barrier(node, "done");
            },
            {.hold = k == 2});
    cluster.wire();
    if (dead)
        cluster.kill_now(2);
    else
        cluster.signal(2, SIGSTOP);
    release(cluster, {0, 1}, "done");
    cluster.kill_now(2);
    t.finish_public(cluster);
}

TEST_P(TransportConformance, PeerThatNeverConnectsIsNamedByTheDeadline)
{
    Cluster cluster(plugin(), mode(), 3);
    never_connects(*this, cluster, false);
}

TEST_P(TransportConformance, PeerThatDiedBeforeConnectingIsNamedByTheDeadline)
{
    Cluster cluster(plugin(), mode(), 3);
    never_connects(*this, cluster, true);
}

TEST_P(TransportConformance, PeerKilledMidStreamFailsItsOperationsWithinTwoSeconds)
{
    if (!has(DRAGON_TRANSPORT_CAP_PEER_FAILURE))
        GTEST_SKIP() << plugin() << " does not detect peer failure (no CAP_PEER_FAILURE)";
    Cluster cluster(plugin(), mode(), 3);
    const std::vector<uint64_t> stream_sizes = [] {
        std::vector<uint64_t> v;
        for (int i = 0; i < 100000; ++i)
            v.push_back(i % 2 ? 4096 : 1u << 20);
        return v;
    }();
    for (int k = 0; k < 3; ++k)
        cluster.start(k, [&, k](Node &node) {
            connect_everyone(node);
            node.start_progress();
            if (k == 1) { // the victim: streams to node 0, says when node 0's data flows
                std::thread([&] { node.send_stream(0, 0, stream_sizes, 16, 600s); }).detach();
                auto until = deadline_in(60s);
                while (node.received().size() < 50 && !until.expired())
                    std::this_thread::sleep_for(2ms);
                node.report("flowing");
                node.await("never", 600s);
                return;
            }
            std::atomic<bool> streamed{false};
            std::vector<dragon_status> statuses;
            std::thread sender;
            if (k == 0)
                sender = std::thread([&] {
                    statuses = node.send_stream(1, 0, stream_sizes, 16, 600s);
                    streamed = true;
                });
            node.await("killed", 120s);
            int64_t t0 = dragon::Deadline::now_ns();
            if (k == 0) {
                auto limit = deadline_in(2000ms);
                // Node 2 starts its 1 MiB messages now too: only node 1's count here.
                while (!(streamed && node.placements_pending(1) == 0 &&
                         node.peer_state(1) == DRAGON_TRANSPORT_PEER_LOST) &&
                       !limit.expired())
                    std::this_thread::sleep_for(1ms);
                double took = seconds_since(t0);
                node.check(streamed, "sends to the killed node still pending 2 s after its death");
                node.check(node.placements_pending(1) == 0,
                           "payloads from the killed node still being placed 2 s after its death");
                node.check(node.peer_state(1) == DRAGON_TRANSPORT_PEER_LOST,
                           "no PEER_LOST for the killed node within 2 s");
                if (!streamed) { // let the sender end (at the latest when we close)
                    auto late = deadline_in(60s);
                    while (!streamed && !late.expired())
                        std::this_thread::sleep_for(5ms);
                }
                sender.join();
                size_t lost = 0, other = 0;
                for (dragon_status s : statuses) {
                    lost += s == DRAGON_ERR_PEER_LOST;
                    other += s != DRAGON_OK && s != DRAGON_ERR_PEER_LOST;
                }
                node.check(lost > 0, "no send toward the killed node failed with PEER_LOST");
                node.check(other == 0, std::to_string(other) +
                                           " sends toward the killed node ended neither OK nor "
                                           "PEER_LOST");
                node.report("settled-after", std::to_string(took));
            }
            // The survivors carry on.
            uint32_t peer = k == 0 ? 2 : 0;
            std::vector<uint64_t> sizes;
            for (int i = 0; i < 100; ++i)
                sizes.push_back(i % 10 == 0 ? 1u << 20 : 100 + i);
            auto st = node.send_stream(peer, 1, sizes, 8, 60s);
            node.check(std::count(st.begin(), st.end(), DRAGON_OK) == 100,
                       "the survivors could not exchange messages after the death of node 1");
            auto until = deadline_in(60s);
            while ((node.count_from(peer, 1) < sizes.size() || node.placements_pending() > 0) &&
                   !until.expired())
                std::this_thread::sleep_for(2ms);
            check_streams(node, peer, {{1, sizes.size()}}, has(DRAGON_TRANSPORT_CAP_ORDERED));
            barrier(node, "done");
        });
    cluster.wire();
    cluster.await(1, "flowing", 120s);
    cluster.kill_now(1);
    cluster.tell(0, "killed");
    cluster.tell(2, "killed");
    release(cluster, {0, 2}, "done");
    auto outcomes = cluster.finish(60s);
    std::string problems = cluster.problems(outcomes);
    EXPECT_TRUE(problems.empty()) << problems;
    RecordProperty("settled_after_s", outcomes[0].reports["settled-after"]);
}

// Node `impostor` has a different job secret; it connects to the two honest nodes and
// sends to them. It is refused: never CONNECTED, nothing of it delivered, the refusal
// logged by both honest nodes; the impostor sees them LOST; the honest pair still talks.
void wrong_secret(TransportConformance &t, Cluster &cluster, uint32_t impostor)
{
    std::vector<uint32_t> honest;
    for (uint32_t k = 0; k < 3; ++k)
        if (k != impostor)
            honest.push_back(k);
    for (uint32_t k = 0; k < 3; ++k)
        cluster.start(
            static_cast<int>(k),
            [&, k](Node &node) {
                for (uint32_t p = 0; p < 3; ++p)
                    if (p != node.index())
                        node.ep().connect(p, node.addresses()[p]);
                if (k == impostor) {
                    std::vector<SendSlot> slots(6);
                    for (uint32_t i = 0; i < 6; ++i) {
                        dragon_status s = node.start_send(honest[i % 2], 0, i / 2, 100, slots[i]);
                        if (s != DRAGON_OK)
                            slots[i].done = true, slots[i].status = s;
                    }
                    auto lost = [&](uint32_t p) {
                        return node.peer_state(p) == DRAGON_TRANSPORT_PEER_LOST;
                    };
                    node.ep().progress_until([&] { return lost(honest[0]) && lost(honest[1]); },
                                             deadline_in(10s));
                    for (uint32_t p : honest)
                        node.check(lost(p), "the impostor never saw node " + std::to_string(p) +
                                                " as lost (state " +
                                                std::to_string(node.peer_state(p)) + ")");
                    node.ep().close(std::chrono::seconds(2));
                    for (const auto &s : slots)
                        node.check(s.done && s.status != DRAGON_OK,
                                   "an impostor's send completed OK (or never)");
                } else {
                    uint32_t other = honest[0] == k ? honest[1] : honest[0];
                    node.ep().progress_until(
                        [&] {
                            return node.peer_state(other) == DRAGON_TRANSPORT_PEER_CONNECTED &&
                                   node.peer_state(impostor) == DRAGON_TRANSPORT_PEER_LOST;
                        },
                        deadline_in(5s));
                    node.check(node.peer_state(other) == DRAGON_TRANSPORT_PEER_CONNECTED,
                               "the two honest nodes did not connect");
                    SendSlot slot; // the honest pair still talks
                    node.start_send(other, 0, 0, 100, slot);
                    node.ep().progress_until(
                        [&] { return slot.done && node.count_from(other) > 0; }, deadline_in(10s));
                    node.check(slot.done && slot.status == DRAGON_OK && node.count_from(other) == 1,
                               "the honest nodes could not exchange a message");
                    node.check(node.count_from(impostor) == 0,
                               "a message from the impostor was delivered");
                    for (const auto &e : node.events())
                        node.check(
                            !(e.peer == impostor && e.state == DRAGON_TRANSPORT_PEER_CONNECTED),
                            "the impostor was reported CONNECTED");
                }
                barrier(node, "done");
            },
            {.wrong_secret = k == impostor});
    cluster.wire();
    release(cluster, {0, 1, 2}, "done");
    auto outcomes = cluster.finish(60s);
    std::string problems;
    for (uint32_t k : honest) {
        std::string log = lower(cluster.log_of(static_cast<int>(k)));
        bool logged = false;
        for (const char *word : {"refus", "secret", "auth", "proof", "hmac", "impostor"})
            logged |= log.find(word) != std::string::npos;
        if (!logged)
            problems += "node " + std::to_string(k) +
                        " did not log the refusal of the impostor; its log:\n" +
                        cluster.log_of(static_cast<int>(k));
    }
    for (const auto &o : outcomes)
        for (const auto &f : o.failures)
            problems += f + "\n";
    EXPECT_TRUE(problems.empty()) << problems;
    (void)t;
}

TEST_P(TransportConformance, PeerWithTheWrongSecretIsRefusedAndLogged)
{
    Cluster cluster(plugin(), mode(), 3);
    wrong_secret(*this, cluster, 0);
}

// The same with the impostor at the other end of the index range: whichever side of
// the connection it is on, its connect() still has an outcome (PEER_LOST).
TEST_P(TransportConformance, ImpostorWithTheHighestIndexIsRefusedAndSeesPeerLost)
{
    Cluster cluster(plugin(), mode(), 3);
    wrong_secret(*this, cluster, 2);
}

// Node 0 starts many sends and closes its endpoint with them in flight. Whatever
// completed OK (before or during the close) must reach node 1, which sees PEER_CLOSED
// after the last message; what was not flushed completes CANCELED.
void close_in_flight(TransportConformance &t, Cluster &cluster, std::chrono::milliseconds linger)
{
    const size_t count = 400;
    for (int k = 0; k < 2; ++k)
        cluster.start(k, [&, k](Node &node) {
            connect_everyone(node);
            node.start_progress();
            if (k == 1) {
                auto until = deadline_in(120s);
                while (node.peer_state(0) == DRAGON_TRANSPORT_PEER_CONNECTED && !until.expired())
                    std::this_thread::sleep_for(2ms);
                while (node.placements_pending() > 0 && !until.expired())
                    std::this_thread::sleep_for(2ms);
                std::string got;
                uint64_t last_message = 0;
                for (const auto &r : node.received()) {
                    if (r.lost)
                        continue; // cut off by the close: never delivered whole
                    got += std::to_string(r.seq) + ",";
                    last_message = std::max(last_message, r.order);
                    node.check(r.verified, "a message failed its checksum");
                }
                int state = node.peer_state(0);
                bool closed_after = false;
                for (const auto &e : node.events())
                    if (e.peer == 0 && e.state == DRAGON_TRANSPORT_PEER_CLOSED)
                        closed_after = e.order > last_message || node.received().empty();
                node.report("received", got);
                node.report("state", std::to_string(state));
                node.report("closed-after-last", closed_after ? "1" : "0");
                return;
            }
            static const uint64_t sizes[] = {100, 4096, 64 * 1024, 1u << 20};
            std::vector<std::unique_ptr<SendSlot>> slots;
            auto until = deadline_in(10s);
            while (slots.size() < count && !until.expired()) {
                auto slot = std::make_unique<SendSlot>();
                dragon_status s =
                    node.start_send(1, 0, slots.size(), sizes[slots.size() % 4], *slot);
                if (s == DRAGON_ERR_AGAIN) {
                    std::this_thread::sleep_for(200us);
                    continue;
                }
                node.check(s == DRAGON_OK, std::string("send: ") + dragon::status_name(s));
                slots.push_back(std::move(slot));
            }
            node.stop_progress();
            size_t acked_before = 0;
            std::string ok_before;
            for (size_t i = 0; i < slots.size(); ++i)
                if (slots[i]->done && slots[i]->status == DRAGON_OK) {
                    ++acked_before;
                    ok_before += std::to_string(i) + ",";
                }
            // A close that had to cancel may say so (TIMEOUT); the completions tell what.
            std::string why;
            dragon_status closed = status_of([&] { node.ep().close(linger); }, &why);
            node.check(closed == DRAGON_OK || closed == DRAGON_ERR_TIMEOUT,
                       std::string("close gave ") + dragon::status_name(closed) + ": " + why);
            std::string ok;
            size_t canceled = 0;
            for (size_t i = 0; i < slots.size(); ++i) {
                const SendSlot &s = *slots[i];
                if (!node.check(s.done, "send " + std::to_string(i) + " never completed by close"))
                    break;
                if (s.status == DRAGON_OK)
                    ok += std::to_string(i) + ",";
                canceled += s.status == DRAGON_ERR_CANCELED;
                node.check(s.status == DRAGON_OK || s.status == DRAGON_ERR_CANCELED ||
                               s.status == DRAGON_ERR_PEER_LOST,
                           std::string("send completed with ") + dragon::status_name(s.status));
            }
            node.report("ok", ok);
            node.report("ok-before", ok_before);
            node.report("stats", std::to_string(slots.size()) + " sent, " +
                                     std::to_string(acked_before) + " acknowledged before close, " +
                                     std::to_string(canceled) + " canceled");
        });
    cluster.wire();
    auto outcomes = cluster.finish(120s);
    std::string problems = cluster.problems(outcomes);
    auto split = [](const std::string &text) {
        std::set<uint64_t> out;
        size_t at = 0;
        while (at < text.size()) {
            size_t comma = text.find(',', at);
            out.insert(std::stoull(text.substr(at, comma - at)));
            at = comma + 1;
        }
        return out;
    };
    std::set<uint64_t> got = split(outcomes[1].reports["received"]);
    auto missing = [&](const std::string &list) {
        size_t n = 0;
        for (uint64_t s : split(list))
            n += !got.count(s);
        return n;
    };
    if (size_t n = missing(outcomes[0].reports["ok-before"]))
        problems += std::to_string(n) + " sends acknowledged (OK) before close never arrived" +
                    " (the receiver saw peer state " + outcomes[1].reports["state"] + ")\n";
    // With time to flush, what completed OK during the close must arrive too.
    if (size_t n = missing(outcomes[0].reports["ok"]); n && linger > 0ms)
        problems += std::to_string(n) + " sends that completed OK during close never arrived\n";
    std::string state = outcomes[1].reports["state"];
    if (linger > 0ms) {
        if (state != std::to_string(DRAGON_TRANSPORT_PEER_CLOSED))
            problems += "the receiver saw peer state " + state + ", not PEER_CLOSED\n";
        else if (outcomes[1].reports["closed-after-last"] != "1")
            problems += "PEER_CLOSED was reported before the last message\n";
    } else if (state != std::to_string(DRAGON_TRANSPORT_PEER_CLOSED) &&
               state != std::to_string(DRAGON_TRANSPORT_PEER_LOST)) {
        problems += "the receiver saw peer state " + state + ", neither CLOSED nor LOST\n";
    }
    EXPECT_TRUE(problems.empty()) << problems;
    ::testing::Test::RecordProperty("close_stats", outcomes[0].reports["stats"]);
    (void)t;
}

TEST_P(TransportConformance, CloseWithTrafficInFlightLosesNothingAcknowledged)
{
    Cluster cluster(plugin(), mode(), 2);
    close_in_flight(*this, cluster, 5000ms);
}

TEST_P(TransportConformance, CloseAtOnceCancelsWhatItCouldNotFlush)
{
    Cluster cluster(plugin(), mode(), 2);
    close_in_flight(*this, cluster, 0ms);
}

TEST_P(TransportConformance, DiscardingLargePayloadsKeepsTheStreamIntact)
{
    Cluster cluster(plugin(), mode(), 2);
    std::vector<uint64_t> sizes;
    for (int i = 0; i < 40; ++i)
        sizes.push_back(i % 2 ? 100 : 4u << 20);
    for (int k = 0; k < 2; ++k)
        cluster.start(k, [&, k](Node &node) {
            node.place_large = false;
            connect_everyone(node);
            node.start_progress();
            if (k == 0) {
                auto st = node.send_stream(1, 0, sizes, 4, 60s);
                node.check(std::count(st.begin(), st.end(), DRAGON_OK) == 40, "sends failed");
            } else {
                auto until = deadline_in(60s);
                while ((node.count_from(0) < sizes.size() || node.placements_pending() > 0) &&
                       !until.expired())
                    std::this_thread::sleep_for(2ms);
                check_streams(node, 0, {{0, sizes.size()}}, has(DRAGON_TRANSPORT_CAP_ORDERED));
            }
            barrier(node, "done");
        });
    cluster.wire();
    release(cluster, {0, 1}, "done");
    finish(cluster);
}

TEST_P(TransportConformance, BadInputGivesClearErrors)
{
    Cluster cluster(plugin(), mode(), 2);
    const dragon_transport_caps c = caps();
    const bool same_host = has(DRAGON_TRANSPORT_CAP_SAME_HOST_ONLY);
    const std::string name = plugin();
    for (int k = 0; k < 2; ++k)
        cluster.start(k, [&, k](Node &node) {
            connect_everyone(node);
            if (k == 0) {
                auto expect_invalid = [&](const std::string &what,
                                          const std::function<void()> &op) {
                    std::string message;
                    dragon_status s = status_of(op, &message);
                    node.check(s == DRAGON_ERR_INVALID, what + " gave " + dragon::status_name(s) +
                                                            ", not INVALID: " + message);
                    node.check(s == DRAGON_OK || message.size() > 20,
                               what + ": the error does not say why: " + message);
                };
                std::vector<std::unique_ptr<dragon::TransportCompletion>> keep;
                auto send = [&](uint32_t peer, size_t header_len, size_t pieces, size_t piece_len,
                                const void *base) {
                    std::vector<unsigned char> header(header_len, 1);
                    std::vector<dragon_transport_iov> iov(pieces, {base, piece_len});
                    keep.push_back(std::make_unique<dragon::TransportCompletion>());
                    node.ep().send(peer, header.data(), header_len, iov, *keep.back());
                };
                static const unsigned char byte[1] = {0};
                expect_invalid("a send to node 2 of 2", [&] { send(2, 8, 1, 1, byte); });
                expect_invalid("a send to node 4294967295",
                               [&] { send(UINT32_MAX, 8, 1, 1, byte); });
                expect_invalid("a header of max_header + 1 bytes",
                               [&] { send(1, c.max_header + 1, 1, 1, byte); });
                expect_invalid("max_iov + 1 payload pieces",
                               [&] { send(1, 8, c.max_iov + 1, 1, byte); });
                if (c.max_message < (1ull << 30)) {
                    size_t len = c.max_message + 1;
                    void *big = mmap(nullptr, len, PROT_READ,
                                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
                    expect_invalid("a message over max_message", [&] { send(1, 8, 1, len, big); });
                    munmap(big, len);
                }
                dragon::TransportCompletion placement;
                expect_invalid("receive_into outside a message callback",
                               [&] { node.ep().receive_into(nullptr, nullptr, 0, placement); });
                expect_invalid("connect to a node past the node count",
                               [&] { node.ep().connect(7, node.addresses()[1]); });
                if (!same_host) {
                    for (const char *prefix : {"10.255.255.0/24", "not-a-cidr"}) {
                        std::string message;
                        struct Quiet : dragon::TransportHandler {
                            void on_message(const dragon_transport_message &) override {}
                            void on_peer(uint32_t, dragon_transport_peer_state,
                                         const std::string &) override
                            {
                            }
                        } quiet;
                        dragon::TransportConfig config;
                        config.job_secret = dragon::make_job_secret();
                        config.network_prefix = prefix;
                        dragon_status s = status_of(
                            [&] { TransportPlugin::named(name).open(config, quiet); }, &message);
                        node.check(s == DRAGON_ERR_INVALID,
                                   std::string("network prefix ") + prefix + " gave " +
                                       dragon::status_name(s) + ": " + message);
                    }
                }
                // The endpoint still works.
                SendSlot slot;
                node.start_send(1, 0, 0, 100, slot);
                node.ep().progress_until([&] { return slot.done; }, deadline_in(10s));
                node.check(slot.done && slot.status == DRAGON_OK,
                           "a good send after bad ones failed");
            } else {
                node.ep().progress_until([&] { return node.received().size() == 1; },
                                         deadline_in(20s));
                node.check(node.received().size() == 1, "the good message did not arrive");
            }
            barrier(node, "done");
        });
    cluster.wire();
    release(cluster, {0, 1}, "done");
    finish(cluster);
}

INSTANTIATE_TEST_SUITE_P(AllTransportPlugins, TransportConformance,
                         ::testing::ValuesIn(all_params()), [](const auto &info) {
                             return info.param.plugin + "_" +
                                    dragon::test::mode_name(info.param.mode);
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TransportConformance);

} // namespace
