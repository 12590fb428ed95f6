#include "tcp_endpoint.hpp"

#include "tcp_address.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

namespace dragon::tcp {
namespace {

int64_t now_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

dragon_status fail_with(dragon_error *err, dragon_status status, const std::string &message)
{
    if (err)
        std::snprintf(err->message, sizeof err->message, "%s", message.c_str());
    return status;
}

std::string errno_text(int e)
{
    return std::strerror(e);
}

std::string node(uint32_t index)
{
    return "node " + std::to_string(index);
}

Nonce fresh_nonce()
{
    Nonce n{};
    size_t got = 0;
    while (got < n.size()) {
        ssize_t r = getrandom(n.data() + got, n.size() - got, 0);
        if (r > 0)
            got += static_cast<size_t>(r);
        else if (r < 0 && errno != EINTR)
            break; // getrandom cannot fail on Linux >= 3.17 once the pool is ready
    }
    return n;
}

// Errors that mean the peer went away (as opposed to a bug of ours).
bool is_peer_gone(int e)
{
    return e == ECONNRESET || e == EPIPE || e == ETIMEDOUT || e == EHOSTUNREACH ||
           e == ENETUNREACH || e == ECONNABORTED || e == ENOTCONN;
}

} // namespace

Endpoint::Endpoint(const dragon_host *host, const dragon_transport_config *config, const Params &p)
    : host_(host), self_(config->node_index), num_nodes_(config->num_nodes),
      secret_(static_cast<const uint8_t *>(config->job_secret),
              static_cast<const uint8_t *>(config->job_secret) + config->job_secret_len),
      want_port_(config->port), prefix_(config->network_prefix ? config->network_prefix : ""),
      cb_arg_(config->callback_arg), on_message_(config->on_message), on_peer_(config->on_peer),
      params_(p), peers_(config->num_nodes)
{
}

Endpoint::~Endpoint()
{
    for (auto &c : conns_)
        if (c->fd >= 0)
            ::close(c->fd);
    for (int fd : {listen_fd_, event_fd_, timer_fd_, epoll_fd_})
        if (fd >= 0)
            ::close(fd);
}

void Endpoint::log(dragon_log_level level, const std::string &message) const
{
    std::string line = "tcp transport, node " + std::to_string(self_) + ": " + message;
    host_->log(host_->ctx, level, line.c_str());
}

dragon_status Endpoint::open(const dragon_host *host, const dragon_transport_config *config,
                             Endpoint **out, dragon_error *err)
{
    if (!config || !out)
        return fail_with(err, DRAGON_ERR_INVALID, "tcp transport: open without a config");
    if (config->num_nodes == 0 || config->node_index >= config->num_nodes)
        return fail_with(err, DRAGON_ERR_INVALID,
                         "tcp transport: node index " + std::to_string(config->node_index) +
                             " is not below the node count " + std::to_string(config->num_nodes));
    if (!config->job_secret || config->job_secret_len < 16)
        return fail_with(err, DRAGON_ERR_INVALID,
                         "tcp transport: the job secret must be at least 16 bytes");
    if (!config->on_message || !config->on_peer)
        return fail_with(err, DRAGON_ERR_INVALID,
                         "tcp transport: message and peer callbacks "
                         "are required");
    if (host->struct_size < offsetof(dragon_host, hmac_sha256) + sizeof(void *) ||
        !host->hmac_sha256)
        return fail_with(err, DRAGON_ERR_UNAVAILABLE,
                         "tcp transport: the framework offers no hmac_sha256 service (ABI 1.1 "
                         "needed): update dragon");
    std::unique_ptr<Endpoint> ep(new Endpoint(host, config, read_params(host)));
    dragon_status s = ep->start_listening(err);
    if (s != DRAGON_OK)
        return s;
    *out = ep.release();
    return DRAGON_OK;
}

void Endpoint::setup_socket(int fd) const
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Silent loss (a node that vanished without a FIN or RST): keepalive probes every
    // second after one idle second, and unacknowledged data gives up after keepalive_s.
    int ka = std::max(1, params_.keepalive_s);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &ka, sizeof ka);
    unsigned int user_timeout_ms = static_cast<unsigned int>(ka) * 1000u;
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
    if (params_.socket_buffer > 0) {
        int size = static_cast<int>(std::min<size_t>(params_.socket_buffer, INT_MAX));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
}

dragon_status Endpoint::start_listening(dragon_error *err)
{
    // Which addresses to listen on and publish.
    auto interfaces = ipv4_interfaces();
    uint32_t bind_addr = INADDR_ANY;
    if (!prefix_.empty()) {
        Cidr cidr;
        std::string bad = parse_cidr(prefix_, cidr);
        if (!bad.empty())
            return fail_with(err, DRAGON_ERR_INVALID, "tcp transport: network prefix " + bad);
        for (const auto &i : interfaces)
            if (cidr.contains(i.addr) &&
                std::find(published_.begin(), published_.end(), i.addr) == published_.end())
                published_.push_back(i.addr);
        if (published_.empty())
            return fail_with(err, DRAGON_ERR_INVALID,
                             "tcp transport: no interface has an address in network prefix " +
                                 prefix_ + " (interfaces here: " + describe_interfaces(interfaces) +
                                 "): choose a prefix of one of these (--network-prefix / "
                                 "DRAGON_NETWORK_PREFIX)");
        if (published_.size() == 1)
            bind_addr = published_[0];
    } else {
        // Every non-loopback address first (what a node in another network namespace or
        // on another host can reach), loopback last (a peer on this host).
        for (const auto &i : interfaces)
            if ((i.addr >> 24) != 127 &&
                std::find(published_.begin(), published_.end(), i.addr) == published_.end())
                published_.push_back(i.addr);
        published_.push_back(INADDR_LOOPBACK);
    }

    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (epoll_fd_ < 0 || event_fd_ < 0 || timer_fd_ < 0 || listen_fd_ < 0)
        return fail_with(err, DRAGON_ERR_INTERNAL,
                         "tcp transport: cannot create its descriptors: " + errno_text(errno));
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(want_port_);
    sa.sin_addr.s_addr = htonl(bind_addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0) {
        int e = errno;
        return fail_with(err, e == EADDRINUSE ? DRAGON_ERR_EXISTS : DRAGON_ERR_PERMISSION,
                         "tcp transport: cannot listen on " + ipv4_text(bind_addr) + " port " +
                             std::to_string(want_port_) + ": " + errno_text(e) +
                             (e == EADDRINUSE ? " (another process holds it: choose another "
                                                "--port, or 0 for an ephemeral one)"
                                              : ""));
    }
    if (listen(listen_fd_, 128) != 0)
        return fail_with(err, DRAGON_ERR_INTERNAL,
                         "tcp transport: listen failed: " + errno_text(errno));
    socklen_t sl = sizeof sa;
    getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&sa), &sl);
    port_ = ntohs(sa.sin_port);

    epoll_event ev{};
    ev.events = EPOLLIN;
    for (int *fdp : {&listen_fd_, &event_fd_, &timer_fd_}) {
        ev.data.ptr = fdp;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, *fdp, &ev) != 0)
            return fail_with(err, DRAGON_ERR_INTERNAL,
                             "tcp transport: epoll_ctl failed: " + errno_text(errno));
    }
    log(DRAGON_LOG_DEBUG, "listening on port " + std::to_string(port_) + ", publishing " +
                              encode_address(port_, published_));
    return DRAGON_OK;
}

void Endpoint::query(dragon_transport_caps *caps) const
{
    dragon_transport_caps c{};
    c.struct_size = caps->struct_size;
    c.flags = DRAGON_TRANSPORT_CAP_ORDERED | DRAGON_TRANSPORT_CAP_DIRECT_PLACEMENT |
              DRAGON_TRANSPORT_CAP_PEER_FAILURE;
    c.max_message = kMaxPayload;
    c.eager_threshold = params_.eager_threshold;
    c.max_iov = kMaxIov;
    c.max_header = kMaxHeader;
    std::memcpy(caps, &c, std::min<size_t>(caps->struct_size, sizeof c));
}

dragon_status Endpoint::address(void *buf, size_t *len, dragon_error *err) const
{
    std::string a = encode_address(port_, published_);
    if (!buf || !len || *len < a.size())
        return fail_with(err, DRAGON_ERR_INVALID,
                         "tcp transport: address buffer too small (" + std::to_string(a.size()) +
                             " bytes needed)");
    std::memcpy(buf, a.data(), a.size());
    *len = a.size();
    return DRAGON_OK;
}

void Endpoint::signal()
{
    // Only a framework that armed may be asleep on the fd; otherwise it will call
    // progress() anyway (arm() says AGAIN while anything is ready).
    if (armed_ && !signaled_) {
        uint64_t one = 1;
        if (::write(event_fd_, &one, sizeof one) == sizeof one)
            signaled_ = true;
    }
}

void Endpoint::complete(dragon_transport_completion *c, dragon_status s, std::string reason)
{
    Ready r;
    r.completion = c;
    r.status = s;
    r.reason = std::move(reason);
    ready_.push_back(std::move(r));
    signal();
}

void Endpoint::peer_event(uint32_t peer, dragon_transport_peer_state state, std::string reason)
{
    Ready r;
    r.peer = peer;
    r.state = state;
    r.reason = std::move(reason);
    ready_.push_back(std::move(r));
    signal();
}

size_t Endpoint::run_ready(bool closing)
{
    // Only what is ready now: callbacks that send add more for the next round.
    size_t n = ready_.size(), ran = 0;
    for (size_t i = 0; i < n && !ready_.empty(); ++i) {
        Ready r = std::move(ready_.front());
        ready_.pop_front();
        if (r.completion) {
            r.completion->fn(r.completion, r.status, r.reason.c_str());
            ++ran;
        } else if (!closing) {
            on_peer_(cb_arg_, r.peer, r.state, r.reason.c_str());
            ++ran;
        }
    }
    return ran;
}

dragon_status Endpoint::connect(uint32_t peer, const void *address, size_t len, dragon_error *err)
{
    if (peer >= num_nodes_ || peer == self_)
        return fail_with(err, DRAGON_ERR_INVALID,
                         "tcp transport: cannot connect node " + std::to_string(self_) +
                             " to node " + std::to_string(peer) + " (job of " +
                             std::to_string(num_nodes_) + " nodes)");
    uint16_t port = 0;
    std::vector<uint32_t> addrs;
    std::string bad = decode_address(address, len, port, addrs);
    if (!bad.empty())
        return fail_with(err, DRAGON_ERR_INVALID, "tcp transport: " + bad);
    Peer &p = peers_[peer];
    // One connection per pair: the lower index dials, the higher accepts.
    if (peer < self_ || p.state != PeerState::Waiting || p.dialing)
        return DRAGON_OK;
    auto c = std::make_unique<Conn>(params_.eager_threshold);
    c->connector = true;
    c->peer = peer;
    c->addrs = std::move(addrs);
    c->port = port;
    p.dialing = c.get();
    conns_.push_back(std::move(c));
    start_dial(*conns_.back());
    return DRAGON_OK;
}

void Endpoint::start_dial(Conn &c)
{
    while (c.next_addr < c.addrs.size()) {
        uint32_t addr = c.addrs[c.next_addr++];
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            c.attempts += ipv4_text(addr) + ": " + errno_text(errno) + "; ";
            continue;
        }
        setup_socket(fd);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(c.port);
        sa.sin_addr.s_addr = htonl(addr);
        int r = ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa);
        if (r != 0 && errno != EINPROGRESS) {
            c.attempts += ipv4_text(addr) + ": " + errno_text(errno) + "; ";
            ::close(fd);
            continue;
        }
        c.fd = fd;
        c.phase = Phase::Connecting;
        c.deadline_ns = now_ns() + int64_t(params_.connect_timeout_ms) * 1'000'000;
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.ptr = &c;
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
        c.want_out = true;
        rearm_timer();
        return;
    }
    // Nothing left to try.
    std::string tried = c.attempts;
    if (tried.size() >= 2)
        tried.resize(tried.size() - 2);
    fail(c, "cannot connect to " + node(c.peer) + " at port " + std::to_string(c.port) + " (" +
                tried + ")");
}

void Endpoint::dial_next(Conn &c, const std::string &failure)
{
    uint32_t addr = c.addrs[c.next_addr - 1];
    c.attempts += ipv4_text(addr) + ": " + failure + "; ";
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    c.want_out = false;
    start_dial(c);
}

void Endpoint::on_connected(Conn &c)
{
    int so_error = 0;
    socklen_t sl = sizeof so_error;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &so_error, &sl);
    if (so_error != 0) {
        dial_next(c, errno_text(so_error));
        return;
    }
    c.phase = Phase::Handshake;
    c.deadline_ns = now_ns() + int64_t(params_.handshake_timeout_ms) * 1'000'000;
    c.hs.emplace(Handshake::Role::Connector, self_, num_nodes_, c.peer,
                 std::span<const uint8_t>(secret_), host_->hmac_sha256, fresh_nonce());
    c.ctrl = c.hs->start();
    c.ctrl_sent = 0;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = false;
    flush(c);
    rearm_timer();
}

void Endpoint::accept_all()
{
    while (true) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log(DRAGON_LOG_WARNING, "accept failed: " + errno_text(errno));
            return;
        }
        size_t unauthenticated = 0;
        for (const auto &c : conns_)
            if (c->phase == Phase::Handshake && !c->connector)
                ++unauthenticated;
        if (unauthenticated >= 2 * size_t(num_nodes_) + 16) {
            log(DRAGON_LOG_WARNING, "too many connections still in their handshake: refusing one");
            ::close(fd);
            continue;
        }
        setup_socket(fd);
        auto c = std::make_unique<Conn>(params_.eager_threshold);
        c->fd = fd;
        c->phase = Phase::Handshake;
        c->deadline_ns = now_ns() + int64_t(params_.handshake_timeout_ms) * 1'000'000;
        c->hs.emplace(Handshake::Role::Acceptor, self_, num_nodes_, 0,
                      std::span<const uint8_t>(secret_), host_->hmac_sha256, fresh_nonce());
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = c.get();
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
        conns_.push_back(std::move(c));
        rearm_timer();
    }
}

void Endpoint::set_want_out(Conn &c, bool want)
{
    if (c.want_out == want || c.fd < 0)
        return;
    epoll_event ev{};
    ev.events = want ? uint32_t(EPOLLIN | EPOLLOUT) : uint32_t(EPOLLIN);
    ev.data.ptr = &c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = want;
}

void Endpoint::flush(Conn &c)
{
    if (c.phase == Phase::Dead || c.phase == Phase::Connecting)
        return;
    // Control bytes (handshake frames, BYE) first.
    while (c.ctrl_sent < c.ctrl.size()) {
        ssize_t n =
            ::send(c.fd, c.ctrl.data() + c.ctrl_sent, c.ctrl.size() - c.ctrl_sent, MSG_NOSIGNAL);
        if (n > 0) {
            c.ctrl_sent += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_want_out(c, true);
            return;
        }
        fail(c, "connection to " + node(c.peer) + " broke: " + errno_text(errno));
        return;
    }
    if (c.phase != Phase::Up) {
        set_want_out(c, false);
        return;
    }
    std::deque<SendOp> &q = peers_[c.peer].queue;
    while (!q.empty()) {
        // Gather as many queued messages as one sendmsg takes, skipping what is sent.
        iovec iov[IOV_MAX];
        int count = 0;
        size_t requested = 0;
        for (auto it = q.begin(); it != q.end() && count < IOV_MAX - 1 - int(kMaxIov); ++it) {
            uint64_t skip = it->sent;
            auto add = [&](const void *base, size_t len) {
                if (skip >= len) {
                    skip -= len;
                    return;
                }
                iov[count].iov_base = const_cast<uint8_t *>(static_cast<const uint8_t *>(base)) +
                                      static_cast<size_t>(skip);
                iov[count].iov_len = len - static_cast<size_t>(skip);
                requested += iov[count].iov_len;
                skip = 0;
                ++count;
            };
            add(it->head, it->head_len);
            for (size_t i = 0; i < it->iov_count; ++i)
                if (it->iov[i].len > 0)
                    add(it->iov[i].base, it->iov[i].len);
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = static_cast<size_t>(count);
        ssize_t n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_want_out(c, true);
                return;
            }
            fail(c, "connection to " + node(c.peer) + " broke: " + errno_text(errno));
            return;
        }
        uint64_t left = static_cast<uint64_t>(n);
        while (!q.empty()) {
            SendOp &op = q.front();
            uint64_t take = std::min(left, op.total - op.sent);
            op.sent += take;
            left -= take;
            if (op.sent < op.total)
                break;
            complete(op.completion, DRAGON_OK);
            q.pop_front();
        }
        // A short write means the socket buffer is full: wait for EPOLLOUT rather than
        // pay a sendmsg() that says EAGAIN.
        if (static_cast<size_t>(n) < requested) {
            set_want_out(c, true);
            return;
        }
    }
    // Everything accepted is on the wire: a BYE may follow.
    set_want_out(c, false);
}

dragon_status Endpoint::send(uint32_t peer, const void *header, size_t header_len,
                             const dragon_transport_iov *payload, size_t payload_count,
                             dragon_transport_completion *completion, dragon_error *err)
{
    if (peer >= num_nodes_ || peer == self_)
        return fail_with(err, DRAGON_ERR_INVALID,
                         "tcp transport: no peer " + std::to_string(peer) + " to send to (node " +
                             std::to_string(self_) + " of " + std::to_string(num_nodes_) + ")");
    if (header_len > kMaxHeader || payload_count > kMaxIov || !completion || !completion->fn ||
        (header_len > 0 && !header) || (payload_count > 0 && !payload))
        return fail_with(err, DRAGON_ERR_INVALID,
                         "tcp transport: bad send (header at most " + std::to_string(kMaxHeader) +
                             " bytes, at most " + std::to_string(kMaxIov) +
                             " payload pieces, a completion with a function)");
    uint64_t payload_len = 0;
    for (size_t i = 0; i < payload_count; ++i) {
        if (payload[i].len > 0 && !payload[i].base)
            return fail_with(err, DRAGON_ERR_INVALID, "tcp transport: a payload piece is NULL");
        payload_len += payload[i].len;
    }
    if (payload_len > kMaxPayload)
        return fail_with(err, DRAGON_ERR_INVALID, "tcp transport: payload too large");
    Peer &p = peers_[peer];
    if (p.state == PeerState::Lost || p.state == PeerState::Closed || closing_)
        return fail_with(err, DRAGON_ERR_PEER_LOST,
                         "tcp transport: " + node(peer) + " is lost or closed");
    if (p.queue.size() >= params_.send_queue)
        return fail_with(err, DRAGON_ERR_AGAIN,
                         "tcp transport: send queue to " + node(peer) + " is full");
    SendOp &op = p.queue.emplace_back();
    op.completion = completion;
    encode_prefix(op.head, FrameType::Data, static_cast<uint16_t>(header_len), payload_len);
    if (header_len)
        std::memcpy(op.head + kPrefixSize, header, header_len);
    op.head_len = kPrefixSize + header_len;
    std::copy(payload, payload + payload_count, op.iov);
    op.iov_count = payload_count;
    op.total = op.head_len + payload_len;
    // Write at once when nothing waits ahead of it; the completion still fires from
    // progress().
    if (p.state == PeerState::Up && p.conn && !p.conn->want_out)
        flush(*p.conn);
    return DRAGON_OK;
}

dragon_status Endpoint::receive_into(void *token, void *buffer, size_t len,
                                     dragon_transport_completion *completion, dragon_error *err)
{
    Conn *c = static_cast<Conn *>(token);
    if (!delivering_ || c != delivering_ || placed_ || !c->reader.awaiting_place())
        return fail_with(err, DRAGON_ERR_INVALID,
                         "tcp transport: receive_into outside the message callback of a large "
                         "message, or called twice for it");
    if (buffer && (!completion || !completion->fn))
        return fail_with(err, DRAGON_ERR_INVALID, "tcp transport: receive_into needs a completion");
    placed_ = true;
    if (!buffer) {
        if (completion && completion->fn)
            complete(completion, DRAGON_OK, "discarded");
        c->reader.place(nullptr);
        return DRAGON_OK;
    }
    uint64_t need = c->reader.large_payload_len();
    if (len < need) {
        complete(completion, DRAGON_ERR_TRUNCATED,
                 "a buffer of " + std::to_string(len) + " bytes is too small for a payload of " +
                     std::to_string(need) + " bytes: nothing placed");
        c->reader.place(nullptr);
        return DRAGON_OK;
    }
    c->rx_completion = completion;
    c->reader.place(static_cast<uint8_t *>(buffer));
    return DRAGON_OK;
}

void Endpoint::drop(Conn &c)
{
    if (c.phase == Phase::Dead)
        return;
    if (c.fd >= 0) {
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
        ::close(c.fd);
        c.fd = -1;
    }
    c.phase = Phase::Dead;
    c.deadline_ns = 0;
    for (auto &p : peers_) {
        if (p.conn == &c)
            p.conn = nullptr;
        if (p.dialing == &c)
            p.dialing = nullptr;
    }
    // Freed at the end of progress(): events of this round may still point at it.
    auto it = std::find_if(conns_.begin(), conns_.end(), [&](auto &u) { return u.get() == &c; });
    if (it != conns_.end()) {
        graveyard_.push_back(std::move(*it));
        conns_.erase(it);
    }
}

void Endpoint::fail_queue(Peer &p, dragon_status status, const std::string &reason)
{
    for (auto &op : p.queue)
        complete(op.completion, status, reason);
    p.queue.clear();
}

void Endpoint::fail(Conn &c, const std::string &reason)
{
    if (c.phase == Phase::Dead)
        return;
    // The payload being placed fails first: a framework that sees PEER_LOST may free
    // everything it keeps for that peer, so nothing of the peer may complete after it.
    if (c.rx_completion) {
        complete(c.rx_completion, DRAGON_ERR_PEER_LOST, reason);
        c.rx_completion = nullptr;
    }
    Peer &p = peers_[c.peer];
    bool owns_peer = (c.connector || c.phase == Phase::Up) && (p.conn == &c || p.dialing == &c);
    if (owns_peer) {
        log(closing_ ? DRAGON_LOG_DEBUG : DRAGON_LOG_WARNING, reason);
        p.state = PeerState::Lost;
        fail_queue(p, DRAGON_ERR_PEER_LOST, reason);
        peer_event(c.peer, DRAGON_TRANSPORT_PEER_LOST, reason);
    } else {
        log(DRAGON_LOG_WARNING, "dropped an incoming connection: " + reason);
    }
    drop(c);
}

void Endpoint::promote(Conn &c)
{
    uint32_t peer = c.hs->peer();
    Peer &p = peers_[peer];
    if (!c.connector) {
        if (p.state != PeerState::Waiting || p.conn) {
            log(DRAGON_LOG_WARNING,
                "refused a second connection from " + node(peer) + " (one is enough)");
            drop(c);
            return;
        }
        c.peer = peer;
    }
    c.phase = Phase::Up;
    c.deadline_ns = 0;
    c.hs.reset();
    c.reader.set_authenticated();
    p.state = PeerState::Up;
    p.conn = &c;
    p.dialing = nullptr;
    log(DRAGON_LOG_DEBUG, "connected to " + node(peer) + " (both proved the job secret)");
    peer_event(peer, DRAGON_TRANSPORT_PEER_CONNECTED, "connected and authenticated");
    flush(c);
    rearm_timer();
}

void Endpoint::handle_handshake(Conn &c, const RxEvent &ev)
{
    Handshake::Step step = c.hs->on_frame(ev.info, ev.payload);
    if (!step.reply.empty()) {
        if (c.ctrl_sent == c.ctrl.size()) {
            c.ctrl.clear();
            c.ctrl_sent = 0;
        }
        c.ctrl.insert(c.ctrl.end(), step.reply.begin(), step.reply.end());
    }
    switch (step.status) {
    case Handshake::Status::Continue: flush(c); return;
    case Handshake::Status::Done: promote(c); return;
    case Handshake::Status::Failed: break;
    }
    // Tell the peer why (best effort), then close.
    if (c.ctrl_sent < c.ctrl.size())
        (void)::send(c.fd, c.ctrl.data() + c.ctrl_sent, c.ctrl.size() - c.ctrl_sent,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(c.fd, SHUT_WR);
    if (c.connector) {
        fail(c, step.reason);
        return;
    }
    // An acceptor cannot tell a node of this job with the wrong secret from an impostor
    // claiming its index; once a connection that claimed a peer we still wait for fails
    // the proof, that peer is reported lost (a job whose nodes disagree on the secret
    // cannot run anyway), so that every connect() has an outcome on both sides.
    Peer &p = peers_[c.hs->peer()];
    if (c.hs->peer_known() && p.state == PeerState::Waiting && !p.conn) {
        uint32_t peer = c.hs->peer();
        log(DRAGON_LOG_WARNING, "refused a connection: " + step.reason);
        p.state = PeerState::Lost;
        fail_queue(p, DRAGON_ERR_PEER_LOST, step.reason);
        peer_event(peer, DRAGON_TRANSPORT_PEER_LOST, step.reason);
        drop(c);
        return;
    }
    fail(c, "refused: " + step.reason);
}

void Endpoint::on_bye(Conn &c)
{
    Peer &p = peers_[c.peer];
    c.bye_received = true;
    std::string reason = node(c.peer) + " closed its endpoint in order";
    log(DRAGON_LOG_DEBUG, reason);
    p.state = PeerState::Closed;
    fail_queue(p, DRAGON_ERR_PEER_LOST, reason);
    peer_event(c.peer, DRAGON_TRANSPORT_PEER_CLOSED, reason);
    drop(c);
}

bool Endpoint::handle_rx(Conn &c, size_t *events)
{
    while (c.phase != Phase::Dead) {
        RxEvent ev = c.reader.next();
        // What is ready (a CONNECTED event above all) is reported before a message that
        // came after it.
        if ((ev.kind == RxKind::Frame || ev.kind == RxKind::LargeStart) && !ready_.empty() &&
            c.reader.authenticated() && !closing_) {
            size_t ran = run_ready(false);
            if (events)
                *events += ran;
            if (c.phase == Phase::Dead)
                return false;
        }
        switch (ev.kind) {
        case RxKind::None: return true;
        case RxKind::Error: {
            std::string who = c.phase == Phase::Up || c.connector ? node(c.peer) : "a peer";
            fail(c, "bad frame from " + who + ": " + ev.error + "; connection closed");
            return false;
        }
        case RxKind::Frame:
            if (!c.reader.authenticated()) {
                handle_handshake(c, ev);
            } else if (ev.info.type == static_cast<uint8_t>(FrameType::Bye)) {
                on_bye(c);
            } else if (!closing_) {
                dragon_transport_message m{};
                m.peer = c.peer;
                m.header = ev.header;
                m.header_len = ev.info.header_len;
                m.payload = ev.payload;
                m.payload_len = static_cast<size_t>(ev.info.payload_len);
                on_message_(cb_arg_, &m);
                if (events)
                    ++*events;
            }
            break;
        case RxKind::LargeStart:
            if (closing_) {
                c.reader.place(nullptr);
                break;
            }
            {
                dragon_transport_message m{};
                m.peer = c.peer;
                m.header = ev.header;
                m.header_len = ev.info.header_len;
                m.payload = nullptr;
                m.payload_len = static_cast<size_t>(ev.info.payload_len);
                m.token = &c;
                delivering_ = &c;
                placed_ = false;
                on_message_(cb_arg_, &m);
                delivering_ = nullptr;
                if (events)
                    ++*events;
            }
            if (c.reader.awaiting_place())
                c.reader.place(nullptr); // not fetched: discarded
            break;
        case RxKind::LargeDone:
            if (c.rx_completion) {
                complete(c.rx_completion, DRAGON_OK);
                c.rx_completion = nullptr;
            }
            break;
        }
    }
    return false;
}

void Endpoint::on_readable(Conn &c, size_t *events)
{
    for (int round = 0;; ++round) {
        if (!handle_rx(c, events))
            return;
        // Bounded so that one busy peer does not starve the others; level-triggered
        // epoll reports the rest.
        if (round == 64)
            return;
        std::span<uint8_t> w = c.reader.read_window();
        if (w.empty())
            return;
        ssize_t n = ::recv(c.fd, w.data(), w.size(), 0);
        if (n > 0) {
            c.reader.commit(static_cast<size_t>(n));
            // A short read drained the socket: handle what came and stop, rather than
            // pay a recv() that says EAGAIN (level-triggered epoll reports more).
            if (static_cast<size_t>(n) < w.size()) {
                handle_rx(c, events);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        std::string who = c.connector || c.phase == Phase::Up ? node(c.peer) : "a peer";
        std::string why;
        if (n < 0 && !is_peer_gone(errno))
            why = "reading from " + who + " failed: " + errno_text(errno);
        else if (c.phase != Phase::Up)
            why = who + " closed the connection during the handshake (it refused our proof "
                        "of the job secret, or is not a node of this job)";
        else if (!c.reader.at_frame_boundary())
            why = who + " closed the connection in the middle of a frame (truncated frame; " +
                  (n < 0 ? errno_text(errno) : std::string("end of stream")) + ")";
        else
            why = who + " went away without closing its endpoint (" +
                  (n < 0 ? errno_text(errno) : std::string("end of stream")) +
                  "): its process died or was killed";
        fail(c, why);
        return;
    }
}

void Endpoint::check_deadlines()
{
    int64_t now = now_ns();
    std::vector<Conn *> expired;
    for (auto &c : conns_)
        if (c->deadline_ns != 0 && now >= c->deadline_ns)
            expired.push_back(c.get());
    for (Conn *c : expired) {
        if (c->phase == Phase::Connecting)
            dial_next(*c, "no answer within " + std::to_string(params_.connect_timeout_ms) +
                              " ms (connect_timeout)");
        else if (c->connector)
            fail(*c, node(c->peer) + " did not finish the handshake within " +
                         std::to_string(params_.handshake_timeout_ms) + " ms");
        else
            fail(*c, "a connection did not finish its handshake within " +
                         std::to_string(params_.handshake_timeout_ms) + " ms");
    }
    rearm_timer();
}

void Endpoint::rearm_timer()
{
    int64_t earliest = 0;
    for (auto &c : conns_)
        if (c->deadline_ns != 0 && (earliest == 0 || c->deadline_ns < earliest))
            earliest = c->deadline_ns;
    if (earliest == timer_at_)
        return;
    timer_at_ = earliest;
    itimerspec its{};
    if (earliest != 0) {
        its.it_value.tv_sec = earliest / 1'000'000'000;
        its.it_value.tv_nsec = earliest % 1'000'000'000;
    }
    timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
}

void Endpoint::poll_once(int timeout_ms, size_t *events)
{
    epoll_event evs[64];
    int n = epoll_wait(epoll_fd_, evs, 64, timeout_ms);
    for (int i = 0; i < n; ++i) {
        void *tag = evs[i].data.ptr;
        uint32_t what = evs[i].events;
        if (tag == &listen_fd_) {
            accept_all();
        } else if (tag == &event_fd_) {
            uint64_t v;
            (void)!::read(event_fd_, &v, sizeof v);
            signaled_ = false;
        } else if (tag == &timer_fd_) {
            uint64_t v;
            (void)!::read(timer_fd_, &v, sizeof v);
            timer_at_ = -1; // fired: set it again
            check_deadlines();
        } else {
            Conn &c = *static_cast<Conn *>(tag);
            if (c.phase == Phase::Dead)
                continue;
            if (c.phase == Phase::Connecting) {
                on_connected(c);
                continue;
            }
            if (what & EPOLLOUT)
                flush(c);
            if (c.phase != Phase::Dead && (what & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(c, events);
        }
    }
    check_deadlines();
}

dragon_status Endpoint::progress(size_t *events, dragon_error *)
{
    armed_ = false;
    size_t ran = 0;
    // What is ready (typically the completion of a send written at once) is reported
    // without a system call; the caller comes back since progress() did something, and
    // the sockets are looked at then.
    if (!ready_.empty())
        ran = run_ready(false);
    if (ran == 0) {
        poll_once(0, &ran);
        ran += run_ready(false);
    }
    graveyard_.clear();
    if (events)
        *events = ran;
    return DRAGON_OK;
}

dragon_status Endpoint::arm(dragon_error *)
{
    if (!ready_.empty())
        return DRAGON_ERR_AGAIN;
    armed_ = true;
    return DRAGON_OK;
}

dragon_status Endpoint::cancel(dragon_transport_completion *completion, dragon_error *err)
{
    for (auto &p : peers_) {
        for (auto it = p.queue.begin(); it != p.queue.end(); ++it) {
            if (it->completion != completion)
                continue;
            if (it->sent > 0)
                return fail_with(err, DRAGON_ERR_AGAIN,
                                 "tcp transport: the send is already on the wire");
            p.queue.erase(it);
            complete(completion, DRAGON_ERR_CANCELED, "canceled before it was sent");
            return DRAGON_OK;
        }
    }
    // Completed but not yet reported: a canceled one is no longer pending.
    for (const auto &r : ready_)
        if (r.completion == completion && r.status != DRAGON_ERR_CANCELED)
            return fail_with(err, DRAGON_ERR_AGAIN, "tcp transport: the send has completed");
    return fail_with(err, DRAGON_ERR_NOT_FOUND, "tcp transport: no such pending send");
}

dragon_status Endpoint::close(int64_t timeout_ns, dragon_error *)
{
    closing_ = true;
    const int64_t start = now_ns();
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : start + timeout_ns;
    auto wait_until = [&](int64_t until, const auto &busy) {
        while (busy()) {
            int64_t now = now_ns();
            if (now >= until)
                return;
            int64_t ms = std::clamp<int64_t>((until - now) / 1'000'000, 1, 100);
            poll_once(static_cast<int>(ms), nullptr);
            run_ready(true);
        }
    };
    // 1. Flush what was accepted to live peers (and to peers still being dialed).
    wait_until(deadline, [&] {
        for (auto &p : peers_)
            if (!p.queue.empty() &&
                (p.state == PeerState::Up || (p.state == PeerState::Waiting && p.dialing)))
                return true;
        return false;
    });
    // 2. Tell every peer we are done (BYE after the last frame), stop writing, and
    // linger briefly for the peer's end of stream, so that nothing unread turns our
    // close into a reset that could destroy what the peer has not read yet.
    for (auto &p : peers_) {
        if (p.state != PeerState::Up || !p.conn || !p.queue.empty())
            continue;
        Conn &c = *p.conn;
        std::vector<uint8_t> bye = encode_frame(FrameType::Bye, {}, {});
        if (c.ctrl_sent == c.ctrl.size()) {
            c.ctrl.clear();
            c.ctrl_sent = 0;
        }
        c.ctrl.insert(c.ctrl.end(), bye.begin(), bye.end());
        c.bye_sent = true;
        flush(c);
    }
    const int64_t linger = std::min<int64_t>(deadline, now_ns() + 500'000'000);
    wait_until(linger, [&] {
        bool busy = false;
        for (auto &c : conns_) {
            if (c->phase != Phase::Up || !c->bye_sent)
                continue;
            if (c->ctrl_sent == c->ctrl.size() && !c->want_out) {
                if (!c->eof)
                    ::shutdown(c->fd, SHUT_WR);
                c->eof = true; // marks "write side shut"
            }
            busy = true; // until the peer's BYE or end of stream drops the connection
        }
        return busy;
    });
    // 3. Whatever is left could not be delivered.
    for (auto &p : peers_)
        fail_queue(p, DRAGON_ERR_CANCELED, "the endpoint closed before this was sent");
    while (!conns_.empty()) {
        Conn &c = *conns_.back();
        if (c.rx_completion) {
            complete(c.rx_completion, DRAGON_ERR_CANCELED,
                     "the endpoint closed before the payload arrived");
            c.rx_completion = nullptr;
        }
        drop(c);
    }
    while (!ready_.empty())
        run_ready(true);
    graveyard_.clear();
    return DRAGON_OK;
}

} // namespace dragon::tcp
