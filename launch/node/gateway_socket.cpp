#include "gateway_socket.hpp"

#include "fd_passing.hpp"
#include "lane.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "dataplane/deadline.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <utility>

namespace dragon::node {
namespace {
// A frame larger than this is a broken client (the largest message a channel
// carries is far below it).
constexpr uint32_t max_frame = 1u << 31;
constexpr size_t max_fds_per_client = 16;
// How long accepting pauses when the node is out of file descriptors.
constexpr int64_t accept_pause_ns = 100'000'000;

// A large payload is read in steps of at most this (see read_large).
constexpr size_t large_read_unit = 1 << 18;
} // namespace

GatewayClient::~GatewayClient()
{
    for (int fd : fds)
        close(fd);
    if (fd >= 0)
        close(fd);
}

GatewaySocket::GatewaySocket(const std::string &path, OnRequest on_request, OnClosed on_closed)
    : path_(path), on_request_(std::move(on_request)), on_closed_(std::move(on_closed))
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path)
        throw Error(DRAGON_ERR_INVALID, "socket path " + path_ + " is too long for a UNIX socket");
    std::strcpy(addr.sun_path, path_.c_str());
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 512) != 0)
        throw Error(DRAGON_ERR_INTERNAL, "cannot listen on " + path_ + ": " + errno_text(errno));
}

GatewaySocket::GatewaySocket(int listen_fd, std::string lane_key, OnRequest on_request,
                             OnClosed on_closed, size_t large_min, Allocate allocate,
                             Release release)
    : listen_fd_(listen_fd), lane_key_(std::move(lane_key)), large_min_(large_min),
      allocate_(std::move(allocate)), release_(std::move(release)),
      on_request_(std::move(on_request)), on_closed_(std::move(on_closed))
{
}

GatewaySocket::~GatewaySocket()
{
    for (auto &[fd, c] : clients_)
        if (c->large)
            release_(c->large->block);
    clients_.clear();
    if (listen_fd_ >= 0)
        close(listen_fd_);
    if (!path_.empty())
        unlink(path_.c_str());
}

std::vector<std::pair<int, short>> GatewaySocket::poll_set() const
{
    std::vector<std::pair<int, short>> set;
    if (Deadline::now_ns() >= accept_paused_until_ns_)
        set.emplace_back(listen_fd_, POLLIN);
    for (const auto &[fd, c] : clients_)
        set.emplace_back(fd, short(POLLIN | (c->out.empty() ? 0 : POLLOUT)));
    return set;
}

void GatewaySocket::handle(int fd, short revents)
{
    if (fd == listen_fd_) {
        accept_all();
        return;
    }
    auto it = clients_.find(fd);
    if (it == clients_.end())
        return;
    if ((revents & POLLOUT) && !flush(*it->second)) {
        close_client(fd);
        return;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR))
        read_from(*it->second);
}

void GatewaySocket::accept_all()
{
    for (;;) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            // The connection waits in the backlog, the listening socket stays readable:
            // look again in a while, not at every turn of the loop.
            if (!accept_paused_until_ns_)
                log::warning("gateway: out of file descriptors (", errno_text(errno),
                             "): new connections wait; raise the limit (ulimit -n)");
            accept_paused_until_ns_ = Deadline::now_ns() + accept_pause_ns;
            return;
        }
        if (fd < 0)
            return;
        accept_paused_until_ns_ = 0;
        auto c = std::make_unique<GatewayClient>();
        c->fd = fd;
        if (lane_key_.empty()) {
            ucred cred{};
            socklen_t len = sizeof cred;
            if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
                c->pid = cred.pid;
            clients_[fd] = std::move(c);
            continue;
        }
        int one = 1; // answers are small and awaited: no Nagle delay
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->admitted = false;
        c->hello = lane_hello();
        clients_[fd] = std::move(c);
        send(fd, clients_[fd]->hello);
    }
}

void GatewaySocket::read_from(GatewayClient &c)
{
    const int fd = c.fd;
    for (;;) {
        if (c.large) {
            if (!read_large(c) || !clients_.count(fd))
                return; // the rest is still on its way, or the client is gone
            continue;
        }
        char buf[65536];
        std::vector<int> fds;
        ssize_t n =
            receive_with_fds(fd, buf, sizeof buf, fds,
                             max_fds_per_client - std::min(c.fds.size(), max_fds_per_client));
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        c.fds.insert(c.fds.end(), fds.begin(), fds.end());
        if (n <= 0) {
            close_client(fd);
            return;
        }
        c.in.append(buf, size_t(n));
        if (!c.admitted && !admit(c))
            return;
        if (!take_frames(c))
            return;
        if (size_t(n) < sizeof buf && !c.large)
            return;
    }
}

bool GatewaySocket::take_frames(GatewayClient &c)
{
    const int fd = c.fd;
    size_t at = 0;
    while (c.in.size() - at >= frame_prefix) {
        uint32_t len;
        std::memcpy(&len, c.in.data() + at, sizeof len);
        if (len > max_frame) {
            log::warning("gateway: process ", c.pid, " sent a frame of ", len,
                         " bytes; connection closed");
            close_client(fd);
            return false;
        }
        if (large_min_ && len >= client_request_fixed + large_min_) {
            int started = start_large(c, at, len);
            if (started == 0)
                break; // the rest of its payload is read straight into the block
            if (started == 1) {
                if (!clients_.count(fd))
                    return false;
                continue;
            }
        }
        if (c.in.size() - at - frame_prefix < len)
            break;
        std::string why;
        auto request =
            parse_client_request(std::string_view(c.in).substr(at + frame_prefix, len), why);
        at += frame_prefix + len;
        if (!request) {
            log::warning("gateway: process ", c.pid, " sent ", why, "; connection closed");
            close_client(fd);
            return false;
        }
        on_request_(c, std::move(*request));
        if (!clients_.count(fd))
            return false;
    }
    c.in.erase(0, at);
    return true;
}

int GatewaySocket::start_large(GatewayClient &c, size_t &at, uint32_t len)
{
    const size_t body = at + frame_prefix;
    if (c.in.size() < body + client_request_fixed)
        return -1;
    uint16_t dlen;
    std::memcpy(&dlen, c.in.data() + body + 2, sizeof dlen);
    const size_t head = client_request_fixed + dlen;
    if (head > len || c.in.size() < body + head)
        return -1; // malformed (the ordinary parse says so), or not all here yet
    std::string why;
    auto request = parse_client_request(std::string_view(c.in).substr(body, head), why);
    if (!request)
        return -1;
    const size_t payload_len = len - head;
    void *block = allocate_(payload_len);
    if (!block)
        return -1; // no room in the pool now: read as any other frame
    const size_t have = std::min(payload_len, c.in.size() - body - head);
    std::memcpy(block, c.in.data() + body + head, have);
    at = body + head + have;
    request->block = block;
    request->block_len = payload_len;
    c.large = std::move(*request);
    c.block_got = have;
    if (have < payload_len)
        return 0;
    hand_on_large(c);
    return 1;
}

bool GatewaySocket::read_large(GatewayClient &c)
{
    const size_t want = c.large->block_len;
    while (c.block_got < want) {
        ssize_t n = recv(c.fd, static_cast<char *>(c.large->block) + c.block_got,
                         want - c.block_got, MSG_DONTWAIT);
        if (n > 0) {
            c.block_got += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            // Wake the loop for a good part of the rest, not for every segment: a
            // wake-up per 64 KiB was most of what a 64 MiB message cost.
            int lowat = int(std::min<size_t>(want - c.block_got, large_read_unit));
            setsockopt(c.fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
            return false;
        }
        close_client(c.fd); // gone mid-message: close_client frees the block
        return false;
    }
    hand_on_large(c);
    return true;
}

void GatewaySocket::hand_on_large(GatewayClient &c)
{
    int one = 1; // frames again: readable at their first byte
    setsockopt(c.fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    ClientRequest request = std::move(*c.large);
    c.large.reset();
    c.block_got = 0;
    on_request_(c, std::move(request));
}

bool GatewaySocket::admit(GatewayClient &c)
{
    if (c.in.size() < lane_proof_len)
        return false; // the rest of the proof is on its way
    std::string why;
    auto id =
        check_lane_proof(lane_key_, c.hello, std::string_view(c.in).substr(0, lane_proof_len), why);
    if (!id) {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        getpeername(c.fd, reinterpret_cast<sockaddr *>(&peer), &len);
        char ip[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        log::warning("lanes: refused a connection from ", ip, ":", ntohs(peer.sin_port), ": ", why);
        ::send(c.fd, &lane_refused, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        close_client(c.fd);
        return false;
    }
    c.in.erase(0, lane_proof_len);
    c.pid = pid_t(id->pid);
    c.node = id->node;
    c.admitted = true;
    send(c.fd, std::string(1, lane_admitted));
    return true;
}

void GatewaySocket::send(int fd, std::string frame)
{
    send(fd, std::move(frame), nullptr, nullptr, 0);
}

void GatewaySocket::send(int fd, std::string frame, std::shared_ptr<const void> keep,
                         const void *data, size_t len)
{
    auto it = clients_.find(fd);
    if (it == clients_.end())
        return;
    GatewayClient &c = *it->second;
    // Small frames behind one another go out in one write.
    if (!c.out.empty() && !c.out.back().data)
        c.out.back().bytes += frame;
    else
        c.out.push_back({std::move(frame), nullptr, nullptr, 0});
    if (len)
        c.out.push_back({{}, std::move(keep), static_cast<const char *>(data), len});
    if (!flush(c)) {
        // Closing here would run on_closed inside the caller's loop over its records
        // of this client (a reply erased twice crashed dragon-node): the socket reads
        // end-of-file on the next turn instead, and handle() closes it.
        c.out.clear();
        c.out_sent = 0;
        shutdown(c.fd, SHUT_RDWR);
    }
}

bool GatewaySocket::flush(GatewayClient &c)
{
    // Written from an offset: erasing the front of a large reply at every partial
    // write would copy it over and over.
    while (!c.out.empty()) {
        std::string_view chunk = c.out.front().view();
        if (c.out_sent == chunk.size()) {
            c.out.pop_front();
            c.out_sent = 0;
            continue;
        }
        ssize_t n = ::send(c.fd, chunk.data() + c.out_sent, chunk.size() - c.out_sent,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.out_sent += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        return false;
    }
    return true;
}

void GatewaySocket::close_client(int fd)
{
    auto it = clients_.find(fd);
    if (it == clients_.end())
        return;
    std::unique_ptr<GatewayClient> c = std::move(it->second);
    clients_.erase(it);
    if (c->large)
        release_(c->large->block);
    on_closed_(*c);
}

} // namespace dragon::node
