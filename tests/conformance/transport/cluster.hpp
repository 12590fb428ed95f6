// A job of transport endpoints for the conformance suite: every endpoint lives in a
// forked process of its own (so it can be SIGSTOPped, SIGKILLed and put in a network
// namespace); the test process only coordinates, over a pipe pair per child. Every
// child is waited for with a deadline and killed if late; the namespaces and the
// per-test directory are removed whatever happens.
#pragma once

#include "support/netns.hpp"

#include "core/transport.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dragon::test {

enum class NetMode { loopback, netns };
const char *mode_name(NetMode mode);

// Deadline that starts counting now (dragon::Deadline starts at its first use).
Deadline deadline_in(std::chrono::milliseconds timeout);

// ---------- the child side ----------

// The header every test message carries first (the rest of the header, if longer, is
// filler). The payload's checksum covers all of it.
struct TestHeader {
    uint32_t magic;
    uint32_t sender;
    uint32_t stream; // the sending thread
    uint32_t reserved;
    uint64_t seq;  // per (sender, destination, stream), from 0
    uint64_t size; // payload bytes
    uint64_t checksum;
};
inline constexpr uint32_t test_magic = 0x7e57da7a;

// One message as its receiver saw it, in on_message order.
struct Received {
    uint32_t sender, stream;
    uint64_t seq, size;
    bool inline_payload; // arrived in the callback (else placed with receive_into)
    bool verified;       // checksum matched (placed: once the placement completed)
    bool lost = false;   // its placement failed with PEER_LOST: never delivered whole
    uint64_t order;      // position among messages and peer events
};

struct PeerEvent {
    uint32_t peer;
    int state;
    std::string reason;
    uint64_t order;
    double at_s; // seconds since the node started
};

// Sends that a test wants to watch, one slot per message.
struct SendSlot {
    std::unique_ptr<TransportCompletion> completion;
    unsigned char prefix[16];
    dragon_status status = DRAGON_OK;
    bool done = false;
};

class Node : public TransportHandler {
public:
    Node(uint32_t index, uint32_t num_nodes, int to_parent, int from_parent);
    ~Node() override;

    uint32_t index() const { return index_; }
    uint32_t num_nodes() const { return num_nodes_; }
    TransportEndpoint &ep() { return *ep_; }
    const std::vector<std::string> &addresses() const { return addresses_; }

    // --- talking with the test process ---
    void report(const std::string &tag, const std::string &body = "");
    // Waits for a record with `tag` from the test process; its body. Throws on timeout.
    std::string await(const std::string &tag, std::chrono::milliseconds timeout);
    // Records a failure (sent to the test process, which fails the test).
    void fail(const std::string &what);
    bool check(bool ok, const std::string &what)
    {
        if (!ok)
            fail(what);
        return ok;
    }
    bool failed() const { return failures_ > 0; }

    // --- progress ---
    // A thread that runs progress() and waits on the fd until stop_progress(): the
    // callbacks then run there, and other threads only send.
    void start_progress();
    void stop_progress();
    // Waits (with the progress thread running) until `ready` holds, checked under the
    // node's lock whenever something arrives. False on timeout.
    bool wait_until(const std::function<bool()> &ready, std::chrono::milliseconds timeout);

    // --- what arrived ---
    std::vector<Received> received();
    std::vector<PeerEvent> events();
    int peer_state(uint32_t peer);
    // Received messages from `sender` (optionally one stream) so far.
    size_t count_from(uint32_t sender, int stream = -1);
    // Number of placements (receive_into) still under way, of payloads from `sender`
    // (-1: from anyone).
    size_t placements_pending(int sender = -1);

    // --- sending ---
    // Sends `sizes.size()` messages to `peer` as `stream` (seq 0..), keeping at most
    // `window` in flight, retrying AGAIN; needs the progress thread. Returns each send's
    // final status (DRAGON_ERR_TIMEOUT for those not completed by the deadline, which then
    // stay adopted: keep the payloads alive until close).
    std::vector<dragon_status> send_stream(uint32_t peer, uint32_t stream,
                                           const std::vector<uint64_t> &sizes, size_t window,
                                           std::chrono::milliseconds timeout);
    // Starts one send (no waiting) into `slot`; the status of send() itself.
    dragon_status start_send(uint32_t peer, uint32_t stream, uint64_t seq, uint64_t size,
                             SendSlot &slot, size_t header_len = sizeof(TestHeader));
    // A payload body of `size` bytes, shared by every message of that size (read-only).
    const unsigned char *body(uint64_t size);

    // TransportHandler
    void on_message(const dragon_transport_message &message) override;
    void on_peer(uint32_t peer, dragon_transport_peer_state state,
                 const std::string &reason) override;

    // Peer states for connect_all (fed by on_peer; read it only while no other thread
    // runs progress).
    const PeerTable &peer_table() const { return table_; }

    // Set by the harness.
    std::unique_ptr<TransportEndpoint> ep_;
    std::vector<std::string> addresses_;
    // Messages to accept from the callback as placed (receive_into) even when small:
    // false means a large payload is discarded instead (tests of discarding).
    bool place_large = true;

private:
    struct Placement {
        std::unique_ptr<unsigned char[]> buffer; // NULL: discarded
        std::unique_ptr<TransportCompletion> completion;
        TestHeader header{};
        size_t index = 0; // into received_
        bool done = false;
    };
    void settle_placement(uint64_t id, dragon_status status, const std::string &reason);

    uint32_t index_, num_nodes_;
    int to_parent_, from_parent_;
    int failures_ = 0;
    double started_s_;

    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Received> received_;
    std::vector<PeerEvent> events_;
    std::vector<int> peer_states_;
    PeerTable table_;
    uint64_t order_ = 0;
    std::map<uint64_t, Placement> placements_;
    uint64_t next_placement_ = 0;
    size_t lost_placements_ = 0;
    std::map<uint64_t, std::vector<unsigned char>> bodies_;
    std::mutex bodies_mutex_;

    std::thread progress_thread_;
    std::atomic<bool> stop_{false};
    std::mutex parent_mutex_;
};

// The body a child runs once its endpoint is open and every address is known.
using NodeBody = std::function<void(Node &)>;

struct NodeOptions {
    bool wrong_secret = false; // an impostor: a different job secret
    // Do not hand out the addresses; the body runs without them (a node that never
    // connects is simply never given the go).
    bool hold = false;
};

// ---------- the test side ----------

struct ChildOutcome {
    int exit_code = -1; // 128+signal when killed
    bool late = false;  // killed by the harness at its deadline
    std::vector<std::string> failures;
    std::map<std::string, std::string> reports; // last body per tag
};

class Cluster {
public:
    Cluster(const std::string &plugin, NetMode mode, int nodes);
    ~Cluster();
    Cluster(const Cluster &) = delete;
    Cluster &operator=(const Cluster &) = delete;

    int size() const { return nodes_; }
    const std::string &network_prefix() const { return prefix_; }

    // Forks node k: it enters its host, sends its stderr (the host log) to a file, opens
    // its endpoint and reports the address.
    void start(int k, NodeBody body, NodeOptions options = {});
    // Gathers every started node's address and hands the list to every node not held.
    // Throws dragon::Error naming the node that failed to open.
    void wire(std::chrono::milliseconds timeout = std::chrono::seconds(30));

    void tell(int k, const std::string &tag, const std::string &body = "");
    // Waits for node k to report `tag`; its body. Failure reports met on the way are kept.
    // Throws dragon::Error on timeout or if node k ended first.
    std::string await(int k, const std::string &tag, std::chrono::milliseconds timeout);

    void signal(int k, int signo);
    // SIGKILL and reap node k now (it is expected dead from here on).
    void kill_now(int k);

    // Waits for every node to end (killing the late ones), and gathers what they said.
    std::vector<ChildOutcome> finish(std::chrono::milliseconds timeout = std::chrono::seconds(60));
    // The host log (stderr) node k wrote.
    std::string log_of(int k) const;
    // A failure message for every node that failed, was late or exited badly (killed
    // nodes excepted), with the tail of its log; empty when all is well. Also checks
    // that the nodes left nothing in the test's directory.
    std::string problems(const std::vector<ChildOutcome> &outcomes) const;

private:
    struct Child {
        pid_t pid = -1;
        int to_child = -1, from_child = -1;
        bool killed = false, reaped = false, held = false;
        std::string address;
        ChildOutcome outcome;
    };
    bool read_one(Child &c, std::string &tag, std::string &body, int64_t deadline_ns);
    void reap(Child &c, int64_t deadline_ns);

    std::string plugin_;
    NetMode mode_;
    int nodes_;
    std::string secret_, prefix_, dir_;
    std::unique_ptr<NetnsHosts> hosts_;
    std::vector<Child> children_;
};

// Checksum of a payload (a 64-bit hash, 8 bytes at a time).
uint64_t payload_checksum(const void *data, size_t len);

} // namespace dragon::test

namespace dragon::test {

// The capabilities of a plugin's endpoint, learned once per plugin from a short-lived
// child (the test process itself never opens an endpoint). Throws dragon::Error.
dragon_transport_caps plugin_caps(const std::string &plugin);

} // namespace dragon::test
