// The node's gateway: how the job's processes reach channels and start processes
// on other nodes. A process's request (gateway_socket.hpp) is forwarded over the
// transport to the owner node, whose gateway performs it (channel_service.hpp,
// remote_start.hpp) and answers; the answer goes back to the process. Outcomes
// are true: a timeout, a destroyed channel, a lost node each come back as that
// error; a node that is lost fails every request waiting on it at once.
//
// Single-threaded: everything runs in the node's event loop (poll_set/handle, and
// the transport's callbacks inside its progress()).
#pragma once

#include "channel_service.hpp"
#include "gateway_socket.hpp"
#include "pool_watch.hpp"
#include "remote_start.hpp"

#include "core/transport.hpp"

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dragon::node {

// Where this node's lanes (lane.hpp) listen, and what every process is told of all.
struct LaneSetup {
    int listen_fd = -1;    // listen_for_lanes(); the gateway owns it
    std::string key;       // lane_key(job secret)
    std::string addresses; // "ip:port" of every node's lanes, by node index, comma-separated
};

class Gateway {
public:
    // `describe(node)` names a node in errors ("node 1 (host-n1)").
    Gateway(uint32_t self, uint32_t num_nodes, std::shared_ptr<Pool> pool,
            TransportEndpoint &endpoint, const std::string &socket_path,
            const std::string &warm_socket, std::function<std::string(uint32_t)> describe,
            LaneSetup lanes);
    ~Gateway();

    // NAME=VALUE entries the node's processes get.
    std::vector<std::string> environment() const;

    std::vector<std::pair<int, short>> poll_set() const;
    void handle(int fd, short revents);
    // Work to do before sleeping (sends to retry); and how long the loop may sleep.
    bool busy() const { return !unsent_.empty(); }
    std::optional<int64_t> next_deadline_in() const;
    // Retries what waits on the pool and past-deadline entries; call every loop turn.
    void tick();

    // The node is ending: from now on nothing is sent, and what the transport still
    // completes (its close fires every pending completion) only marks it done. Call
    // before closing the transport, and destroy the gateway after: the transport
    // holds the completions this owns until then.
    void stop() { stopping_ = true; }

    // From the transport (inside progress()).
    void on_message(const dragon_transport_message &message);
    void on_peer_lost(uint32_t node, const std::string &reason);

    // Peers that went silent (nothing from them, heartbeats included, for
    // silence_limit_ns), with the reason: lost, as the transport's own peer-failure
    // event would say. The caller passes each to on_peer_lost, which ends the reports.
    // Transport-independent: hsta over TCP does not see a host that vanished.
    std::vector<std::pair<uint32_t, std::string>> take_silent_peers();
    static constexpr int64_t heartbeat_period_ns = 1'000'000'000;
    static constexpr int64_t silence_limit_ns = 6'000'000'000;

private:
    struct Forwarded {
        int client_fd;
        uint64_t client_id;
        uint32_t node;
        GatewayOp op;
        int sentinel = -1; // start: the parent's sentinel pipe, closed at exit
    };
    struct Outgoing {
        uint32_t node;
        std::string header;
        Payload payload;
        std::string prefix; // sent before the payload (a reply's error text)
        std::unique_ptr<TransportCompletion> completion;
        bool on_wire = false;
        std::function<void(dragon_status, const std::string &)> failed;
    };
    struct Placement { // a large payload being placed by the transport
        PeerHeader header;
        std::string descriptor;
        uint32_t from;
        Payload payload;
        std::unique_ptr<TransportCompletion> completion;
        bool done = false;
    };

    struct LaneRequest {
        int client_fd;
        uint64_t client_id;
        uint32_t node;
    };
    // Ids of requests that came on a lane: apart from those other nodes forward.
    static constexpr uint64_t lane_id_bit = uint64_t(1) << 63;
    // A lane's message at least this large is read from the socket straight into a
    // pool block, which the channel then takes (one copy on this node).
    static constexpr size_t lane_large_min = 1 << 16;

    void on_lane_request(GatewayClient &client, ClientRequest request);
    void on_lane_closed(GatewayClient &client);
    void answer_lane(const GatewayReply &reply, Payload payload);
    // Owns `payload` (its block freed) until the last copy of the pointer goes.
    std::shared_ptr<const void> keep_until_written(Payload payload);
    void on_client_request(GatewayClient &client, ClientRequest request);
    void on_client_closed(GatewayClient &client);
    void forward(GatewayClient &client, ClientRequest request);
    void reply_to_client(int fd, uint64_t id, int32_t status, int64_t value, std::string text,
                         std::string payload = {}, uint16_t flags = 0);
    // Frees the pool block a payload owns (a large message that did not go on).
    void drop_block(Payload &payload);
    // The block a process named (handle, length) into `payload`; why not, if not.
    std::string take_block(const std::string &encoded, Payload &payload);
    void send_peer(uint32_t node, const PeerHeader &header, const std::string &descriptor,
                   Payload payload, std::string prefix = {},
                   std::function<void(dragon_status, const std::string &)> failed = {});
    void pump();
    void deliver(uint32_t from, const PeerHeader &h, const std::string &descriptor,
                 Payload payload);
    void on_reply(uint32_t from, const PeerHeader &h, Payload payload);
    void answer_request(uint32_t node, const GatewayReply &reply, Payload payload);
    void release_dead_holders();
    void send_heartbeats();

    uint32_t self_, num_nodes_;
    std::shared_ptr<Pool> pool_;
    TransportEndpoint &endpoint_;
    std::function<std::string(uint32_t)> describe_;
    std::vector<bool> lost_;
    std::vector<std::string> lost_reason_;
    ChannelService service_;
    PoolWatch watch_;
    RemoteStarts starts_;
    GatewaySocket socket_;
    GatewaySocket lanes_;
    std::string lane_addresses_, lane_key_;
    std::map<uint64_t, LaneRequest> lane_requests_;
    uint64_t next_lane_id_ = lane_id_bit | 1;
    uint64_t next_id_ = 1;
    std::map<uint64_t, Forwarded> forwarded_;
    std::list<Outgoing> unsent_, in_flight_;
    std::list<Placement> placements_;
    // Processes of this node that attached channels elsewhere: when one is dead,
    // every other node gives back what it held for it.
    std::set<uint32_t> holders_;
    int64_t next_holder_check_ns_ = 0;
    std::vector<int64_t> last_heard_ns_;
    int64_t next_heartbeat_ns_ = 0;
    bool stopping_ = false;
};

} // namespace dragon::node
