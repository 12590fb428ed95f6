// One hsta endpoint: a UCP context and worker of its own, one UCP endpoint per peer,
// the job-secret handshake, per-peer flow control, and the completions and peer events
// the transport contract asks for. hsta_component.cpp documents how the contract maps
// onto UCP.
#pragma once

#include "hsta_ucx_setup.hpp"
#include "hsta_wire.hpp"

#include <dragon/transport.h>

#include <cstdint>
#include <deque>
#include <list>
#include <string>
#include <vector>

#include <ucp/api/ucp.h>

namespace hsta {

constexpr size_t kMaxIov = 32;

struct Options {
    uint32_t max_outstanding = 256; // unfinished sends per peer before DRAGON_ERR_AGAIN
    size_t eager_threshold = 8192;  // payloads up to this always travel eagerly (inline)
};

class Endpoint;

// A send, a placement (receive_into) or a handshake message, alive until both its
// completion fired and UCX let go of it.
struct Op {
    enum Kind { SEND, RECV, CONTROL } kind = SEND;
    Endpoint *owner = nullptr;
    uint32_t peer = 0;
    dragon_transport_completion *completion = nullptr;
    void *request = nullptr; // UCX's request while UCX owns the op
    bool posted = false;     // handed to UCX (a SEND may wait for its peer's handshake)
    bool fired = false;      // completion called (or, for CONTROL, nothing to call)
    unsigned am_id = AM_DATA;
    uint8_t control = 0; // the ControlType of a CONTROL op
    size_t header_len = 0;
    unsigned char header[kDataPrefix + DRAGON_TRANSPORT_HEADER_MAX > kControlSize
                             ? kDataPrefix + DRAGON_TRANSPORT_HEADER_MAX
                             : kControlSize] = {};
    ucp_dt_iov_t iov[kMaxIov] = {};
    size_t iov_count = 0;
    size_t payload_len = 0;
    std::list<Op>::iterator self;
};

struct Peer {
    enum State { IDLE, HANDSHAKE, CONNECTED, LOST, CLOSED } state = IDLE;
    Endpoint *owner = nullptr;
    uint32_t index = 0;
    ucp_ep_h ep = nullptr;
    bool connect_called = false;
    bool have_their_nonce = false;
    ucp_ep_h hello_ep = nullptr; // the UCP endpoint their HELLO came on
    bool proof_sent = false;
    bool their_proof_ok = false;
    bool our_proof_accepted = false;
    bool bye_sent = false;  // close() told it
    bool bye_acked = false; // and it answered: everything before our BYE arrived
    unsigned char my_nonce[kNonceSize] = {};
    unsigned char their_nonce[kNonceSize] = {};
    uint32_t outstanding = 0; // accepted sends whose completion has not fired
    std::deque<Op *> waiting; // sends accepted before the handshake finished
};

class Endpoint {
public:
    static dragon_status open(const dragon_host *host, const dragon_transport_config *config,
                              Endpoint **out, dragon_error *err);
    void query(dragon_transport_caps *caps) const;
    dragon_status address(void *buf, size_t *len, dragon_error *err) const;
    dragon_status connect(uint32_t peer, const void *address, size_t len, dragon_error *err);
    dragon_status send(uint32_t peer, const void *header, size_t header_len,
                       const dragon_transport_iov *payload, size_t count,
                       dragon_transport_completion *completion, dragon_error *err);
    dragon_status receive_into(void *token, void *buffer, size_t len,
                               dragon_transport_completion *completion, dragon_error *err);
    dragon_status progress(size_t *events, dragon_error *err);
    int fd() const { return epoll_fd_; }
    dragon_status arm(dragon_error *err);
    dragon_status cancel(dragon_transport_completion *completion, dragon_error *err);
    // Flushes, says goodbye, cancels what remains; the function table then deletes it.
    dragon_status close(int64_t timeout_ns, dragon_error *err);
    ~Endpoint();

private:
    Endpoint() = default;
    bool init(const dragon_host *host, const dragon_transport_config *config, std::string &error);

    // UCX callbacks (static trampolines receive the Endpoint or Op through their argument).
    static ucs_status_t on_data(void *arg, const void *header, size_t header_len, void *data,
                                size_t len, const ucp_am_recv_param_t *param);
    static ucs_status_t on_control(void *arg, const void *header, size_t header_len, void *data,
                                   size_t len, const ucp_am_recv_param_t *param);
    static void on_send_done(void *request, ucs_status_t status, void *user_data);
    static void on_recv_done(void *request, ucs_status_t status, size_t len, void *user_data);
    static void on_ep_error(void *arg, ucp_ep_h ep, ucs_status_t status);

    void handle_control(const Control &c, ucp_ep_h reply_ep);
    void on_proof(Peer &p, const Control &c);
    bool from_peer_ep(const Peer &p, ucp_ep_h reply_ep) const;
    void send_control(Peer &p, ControlType type, const unsigned char *value, size_t len);
    void send_proof(Peer &p);
    void maybe_connected(Peer &p);
    dragon_status post(Op *op);
    void lose_peer(Peer &p, const std::string &reason);
    void close_ep(Peer &p);
    void finish(Op *op, dragon_status status, const char *reason);
    void release(Op *op);

    // Callbacks run at once inside progress()/close(), else wait for the next progress().
    struct Deferred {
        dragon_transport_completion *completion = nullptr; // a completion, or else
        uint32_t peer = 0;                                 // a peer event
        dragon_transport_peer_state state = DRAGON_TRANSPORT_PEER_CONNECTED;
        dragon_status status = DRAGON_OK;
        std::string reason;
    };
    void fire_completion(dragon_transport_completion *c, dragon_status s, const char *reason);
    void report_peer(uint32_t peer, dragon_transport_peer_state state, const std::string &reason);
    void run_deferred();
    void wake();
    void log(dragon_log_level level, const std::string &message) const;
    Op *new_op(Op::Kind kind, uint32_t peer);
    void progress_ucx();
    void handle_failures();

    const dragon_host *host_ = nullptr;
    dragon_transport_config config_{};
    std::string secret_;
    Options options_;
    ucp_context_h context_ = nullptr;
    ucp_worker_h worker_ = nullptr;
    std::vector<unsigned char> address_;
    size_t max_am_header_ = 0;
    int worker_fd_ = -1;
    int event_fd_ = -1;  // ours: deferred work exists
    int epoll_fd_ = -1;  // what fd() returns: worker_fd_ + event_fd_
    bool woken_ = false; // event_fd_ holds a count
    bool armed_ = false; // arm() said OK and no progress() since: someone may sleep on fd()

    std::vector<Peer> peers_;
    std::list<Op> ops_;
    std::deque<Deferred> deferred_;
    std::vector<std::pair<uint32_t, ucs_status_t>> failed_; // from on_ep_error
    bool in_callbacks_ = false; // inside progress()/close(): callbacks may run now
    // Inside connect()/send()/receive_into()/cancel() (perhaps called from a callback):
    // callbacks wait for the enclosing progress() even there.
    bool in_call_ = false;
    struct InCall {
        explicit InCall(bool &flag) : flag_(flag), was_(flag) { flag_ = true; }
        ~InCall() { flag_ = was_; }
        bool &flag_;
        bool was_;
    };
    bool dead_ = false; // close() is past its last callback
    size_t events_ = 0;
    // The message being delivered: receive_into() only accepts its token.
    void *current_token_ = nullptr;
    uint32_t current_peer_ = 0;
};

} // namespace hsta
