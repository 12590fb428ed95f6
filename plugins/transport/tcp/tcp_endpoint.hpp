// One tcp transport endpoint: the listening socket, one connection per peer, the
// send queues and the epoll loop behind dragon_transport_ops. The wire format and the
// handshake live in tcp_wire / tcp_handshake (no sockets there).
#pragma once

#include "tcp_handshake.hpp"
#include "tcp_wire.hpp"

#include <dragon/transport.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dragon::tcp {

// Values of the plugin's parameters (see tcp_component.cpp).
struct Params {
    size_t eager_threshold = 64 * 1024;
    int connect_timeout_ms = 5000;
    int handshake_timeout_ms = 5000;
    int keepalive_s = 5;
    size_t send_queue = 1024;
    size_t socket_buffer = 0; // 0: the kernel's autotuning
};

constexpr size_t kMaxIov = 64;

// Reads the plugin's parameters through host->param (tcp_component.cpp).
Params read_params(const dragon_host *host);

class Endpoint {
public:
    static dragon_status open(const dragon_host *host, const dragon_transport_config *config,
                              Endpoint **out, dragon_error *err);
    ~Endpoint();

    void query(dragon_transport_caps *caps) const;
    dragon_status address(void *buf, size_t *len, dragon_error *err) const;
    dragon_status connect(uint32_t peer, const void *address, size_t len, dragon_error *err);
    dragon_status send(uint32_t peer, const void *header, size_t header_len,
                       const dragon_transport_iov *payload, size_t payload_count,
                       dragon_transport_completion *completion, dragon_error *err);
    dragon_status receive_into(void *token, void *buffer, size_t len,
                               dragon_transport_completion *completion, dragon_error *err);
    dragon_status progress(size_t *events, dragon_error *err);
    int fd() const { return epoll_fd_; }
    dragon_status arm(dragon_error *err);
    dragon_status close(int64_t timeout_ns, dragon_error *err);
    dragon_status cancel(dragon_transport_completion *completion, dragon_error *err);

private:
    struct SendOp {
        dragon_transport_completion *completion = nullptr;
        uint8_t head[kPrefixSize + kMaxHeader];
        size_t head_len = 0;
        dragon_transport_iov iov[kMaxIov];
        size_t iov_count = 0;
        uint64_t total = 0, sent = 0;
    };
    enum class Phase { Connecting, Handshake, Up, Dead };
    struct Conn {
        explicit Conn(size_t eager) : reader(eager) {}
        int fd = -1;
        Phase phase = Phase::Connecting;
        bool connector = false;
        uint32_t peer = 0; // known for a connector; for an acceptor once promoted
        std::optional<Handshake> hs;
        FrameReader reader;
        std::vector<uint8_t> ctrl; // handshake frames or BYE, written before queued sends
        size_t ctrl_sent = 0;
        bool want_out = false;
        bool bye_sent = false, bye_received = false;
        bool eof = false;        // while closing: our write side is shut
        int64_t deadline_ns = 0; // connect or handshake deadline; 0: none
        // A connector's remaining addresses and what went wrong with the ones tried.
        std::vector<uint32_t> addrs;
        size_t next_addr = 0;
        uint16_t port = 0;
        std::string attempts;
        // The large payload being placed by receive_into.
        dragon_transport_completion *rx_completion = nullptr;
    };
    enum class PeerState { Waiting, Up, Lost, Closed };
    struct Peer {
        PeerState state = PeerState::Waiting;
        Conn *conn = nullptr; // the connection carrying this peer's traffic, once Up
        Conn *dialing = nullptr;
        std::deque<SendOp> queue;
    };
    struct Ready {
        dragon_transport_completion *completion = nullptr; // else a peer event
        dragon_status status = DRAGON_OK;
        uint32_t peer = 0;
        dragon_transport_peer_state state = DRAGON_TRANSPORT_PEER_CONNECTED;
        std::string reason;
    };

    Endpoint(const dragon_host *host, const dragon_transport_config *config, const Params &p);
    dragon_status start_listening(dragon_error *err);
    void log(dragon_log_level level, const std::string &message) const;
    void signal();
    void complete(dragon_transport_completion *c, dragon_status s, std::string reason = {});
    void peer_event(uint32_t peer, dragon_transport_peer_state state, std::string reason);
    size_t run_ready(bool closing);

    void poll_once(int timeout_ms, size_t *events);
    void accept_all();
    void start_dial(Conn &c);
    void dial_next(Conn &c, const std::string &failure);
    void on_connected(Conn &c);
    void on_readable(Conn &c, size_t *events);
    bool handle_rx(Conn &c, size_t *events);
    void handle_handshake(Conn &c, const RxEvent &ev);
    void promote(Conn &c);
    void on_bye(Conn &c);
    void flush(Conn &c);
    void set_want_out(Conn &c, bool want);
    void check_deadlines();
    void rearm_timer();
    void fail(Conn &c, const std::string &reason);
    void fail_queue(Peer &p, dragon_status status, const std::string &reason);
    void drop(Conn &c);
    void setup_socket(int fd) const;

    const dragon_host *host_;
    uint32_t self_, num_nodes_;
    std::vector<uint8_t> secret_;
    uint16_t want_port_;
    std::string prefix_;
    void *cb_arg_;
    dragon_transport_message_fn on_message_;
    dragon_transport_peer_fn on_peer_;
    Params params_;

    int epoll_fd_ = -1, listen_fd_ = -1, event_fd_ = -1, timer_fd_ = -1;
    uint16_t port_ = 0;
    std::vector<uint32_t> published_;
    std::vector<Peer> peers_;
    std::vector<std::unique_ptr<Conn>> conns_;
    std::vector<std::unique_ptr<Conn>> graveyard_; // freed at the end of progress()
    std::deque<Ready> ready_;
    bool armed_ = false, signaled_ = false, closing_ = false;
    Conn *delivering_ = nullptr; // the connection whose large message is in the callback
    bool placed_ = false;
    int64_t timer_at_ = 0;
};

} // namespace dragon::tcp
