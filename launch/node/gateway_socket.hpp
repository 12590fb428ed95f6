// The node's gateway socket (DRAGON_GATEWAY_SOCKET): where the job's processes on
// this node ask for what lives on other nodes. One UNIX stream connection per
// thread of a process (a blocked call holds only its own); requests and replies are
// length-prefixed frames (gateway_protocol.hpp); a start request carries one fd
// (SCM_RIGHTS: the write end of the parent's sentinel pipe). Non-blocking: the
// node's loop polls fds() and calls handle().
//
// The same class serves lanes (lane.hpp): TCP connections from processes of any node,
// admitted by their proof of the lane key before any frame is read.
#pragma once

#include "gateway_protocol.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace dragon::node {

struct GatewayClient {
    int fd = -1;
    pid_t pid = 0;        // from SO_PEERCRED, or (a lane) from its proof
    uint32_t node = 0;    // a lane's: the node of its process
    bool admitted = true; // a lane is not, until its proof checks
    std::string hello;    // a lane's HELLO, nonce included
    // A lane's large request whose payload is being read straight into its block.
    std::optional<ClientRequest> large;
    size_t block_got = 0; // of large->block_len
    // What waits to be written, in order: frames, and large payloads sent from where
    // they lie (kept alive by `keep` until written).
    struct Chunk {
        std::string bytes;
        std::shared_ptr<const void> keep;
        const char *data = nullptr; // with keep: `len` bytes there, not `bytes`
        size_t len = 0;
        std::string_view view() const { return data ? std::string_view(data, len) : bytes; }
    };
    std::string in;
    std::deque<Chunk> out;
    size_t out_sent = 0; // of out.front()
    std::deque<int> fds; // received with SCM_RIGHTS, not yet taken
    ~GatewayClient();
};

class GatewaySocket {
public:
    // What to do with a request; `client` stays valid until on_closed for it returns.
    using OnRequest = std::function<void(GatewayClient &client, ClientRequest request)>;
    using OnClosed = std::function<void(GatewayClient &client)>;

    GatewaySocket(const std::string &path, OnRequest on_request, OnClosed on_closed);
    // Lanes: takes `listen_fd` (listen_for_lanes()); clients prove `lane_key`. A
    // request with a payload of at least `large_min` bytes is read straight into a
    // block from `allocate` (nullptr: none free now, then it is read as any other);
    // `release` frees one whose request never completed.
    using Allocate = std::function<void *(size_t)>;
    using Release = std::function<void(void *)>;
    GatewaySocket(int listen_fd, std::string lane_key, OnRequest on_request, OnClosed on_closed,
                  size_t large_min, Allocate allocate, Release release);
    ~GatewaySocket();
    GatewaySocket(const GatewaySocket &) = delete;
    GatewaySocket &operator=(const GatewaySocket &) = delete;

    const std::string &path() const { return path_; }
    // fds to poll with the events each wants.
    std::vector<std::pair<int, short>> poll_set() const;
    // `fd` had `revents`.
    void handle(int fd, short revents);
    // Queues a frame to `client` (if it is still connected: `fd` names it). Never
    // closes the client itself (callers answer from inside loops over their own
    // records of it): a client found gone is shut down here and closed, with
    // on_closed, from handle() on the next turn.
    void send(int fd, std::string frame);
    // A frame followed by `len` bytes at `data`, which `keep` holds until written.
    void send(int fd, std::string frame, std::shared_ptr<const void> keep, const void *data,
              size_t len);

private:
    void accept_all();
    void read_from(GatewayClient &c);
    // A lane's proof, once all of it is in `c.in`; false when the lane was refused.
    bool admit(GatewayClient &c);
    // At `at` in `c.in` starts a frame of `len` bytes: if its payload is large and a
    // block is free, starts reading it into the block (taking what `c.in` has of it);
    // `at` moves past what was taken.
    // -1: not now (then the frame is read as any other), 0: started, 1: all of it was
    // here and the request was handed on.
    int start_large(GatewayClient &c, size_t &at, uint32_t len);
    // Reads into the block of `c.large`; true once the request was handed on.
    bool read_large(GatewayClient &c);
    void hand_on_large(GatewayClient &c);
    // Hands on every whole frame in `c.in`; false when the client is gone.
    bool take_frames(GatewayClient &c);
    // False when the client is gone (the write failed).
    bool flush(GatewayClient &c);
    void close_client(int fd);

    std::string path_;
    int listen_fd_ = -1;
    std::string lane_key_;               // empty: the UNIX socket
    int64_t accept_paused_until_ns_ = 0; // out of file descriptors: not polled till then
    size_t large_min_ = 0;               // 0: no payload goes into a block
    Allocate allocate_;
    Release release_;
    OnRequest on_request_;
    OnClosed on_closed_;
    std::map<int, std::unique_ptr<GatewayClient>> clients_;
};

} // namespace dragon::node
