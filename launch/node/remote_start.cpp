#include "remote_start.hpp"

#include "fd_passing.hpp"

#include "core/error.hpp"
#include "core/log.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace dragon::node {
namespace {

constexpr size_t signed_size = 8; // multiprocessing.forkserver's SIGNED_STRUCT ('q')

int64_t load_signed(const std::string &s, size_t at)
{
    int64_t v;
    std::memcpy(&v, s.data() + at, sizeof v);
    return v;
}

void close_fd(int &fd)
{
    if (fd >= 0)
        close(fd);
    fd = -1;
}

} // namespace

RemoteStarts::RemoteStarts(std::string warm_socket, Started started, Exited exited)
    : warm_socket_(std::move(warm_socket)), started_(std::move(started)), exited_(std::move(exited))
{
}

RemoteStarts::~RemoteStarts()
{
    for (auto &[key, c] : children_) {
        if (!c.conn_done)
            close(c.conn);
        close_fd(c.parent_alive);
        close_fd(c.child_alive);
    }
}

void RemoteStarts::start(uint32_t node, uint64_t id, std::string payload)
{
    int conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, warm_socket_.c_str(), sizeof addr.sun_path - 1);
    if (conn < 0 || connect(conn, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        std::string why = "the warm server of this node is gone (" + errno_text(errno) + ")";
        if (conn >= 0)
            close(conn);
        started_(node, id, 0, why);
        return;
    }
    int parent[2], alive[2];
    if (pipe2(parent, O_CLOEXEC) != 0) {
        close(conn);
        started_(node, id, 0, "pipe failed: " + errno_text(errno));
        return;
    }
    if (pipe2(alive, O_CLOEXEC) != 0) {
        close(conn);
        close(parent[0]);
        close(parent[1]);
        started_(node, id, 0, "pipe failed: " + errno_text(errno));
        return;
    }
    // The header (payload length) with the fds the warm server expects: the child's
    // parent sentinel, a resource tracker fd (none across nodes: /dev/null takes its
    // messages), and the write end of the child's own sentinel.
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    uint64_t len = payload.size();
    const int fds[3] = {parent[0], devnull, alive[1]};
    bool sent = send_with_fds(conn, &len, sizeof len, fds);
    int err = errno;
    close(parent[0]);
    close(devnull);
    close(alive[1]);
    if (!sent) {
        close(conn);
        close(parent[1]);
        close(alive[0]);
        started_(node, id, 0, "cannot reach the warm server of this node: " + errno_text(err));
        return;
    }
    fcntl(conn, F_SETFL, fcntl(conn, F_GETFL) | O_NONBLOCK);
    Child c;
    c.node = node;
    c.id = id;
    c.conn = conn;
    c.parent_alive = parent[1];
    c.child_alive = alive[0];
    c.out = std::move(payload);
    children_[next_key_++] = std::move(c);
    handle(conn, POLLOUT);
}

std::vector<std::pair<int, short>> RemoteStarts::poll_set() const
{
    std::vector<std::pair<int, short>> set;
    for (const auto &[key, c] : children_) {
        if (!c.conn_done)
            set.emplace_back(c.conn, short(POLLIN | (c.out_sent < c.out.size() ? POLLOUT : 0)));
        else if (c.child_alive >= 0)
            set.emplace_back(c.child_alive, POLLIN);
    }
    return set;
}

void RemoteStarts::handle(int fd, short revents)
{
    for (auto &[key, c] : children_) {
        if (!c.conn_done && c.conn == fd) {
            while ((revents & POLLOUT) && c.out_sent < c.out.size()) {
                ssize_t n = send(fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0)
                    c.out_sent += size_t(n);
                else if (n < 0 && errno == EINTR)
                    continue;
                else
                    break; // EAGAIN; or the server closed it: the read below says so
            }
            if (c.out_sent == c.out.size())
                std::string().swap(c.out);
            if (revents & (POLLIN | POLLHUP | POLLERR))
                read_status(key, c);
            return;
        }
        if (c.conn_done && c.child_alive == fd) {
            // The warm server went before reporting: the child leaves its code here.
            char buf[signed_size];
            ssize_t n = read(fd, buf, sizeof buf);
            int code = n == ssize_t(signed_size) ? int(load_signed(std::string(buf, 8), 0)) : 255;
            exited_(c.node, c.id, code);
            finish(key);
            return;
        }
    }
}

void RemoteStarts::read_status(uint64_t key, Child &c)
{
    bool closed = false;
    for (;;) {
        char buf[64];
        ssize_t n = recv(c.conn, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            c.in.append(buf, size_t(n));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        // Closed (n == 0, or an error): after the exit code, or the server is gone.
        closed = !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        break;
    }
    // What arrived first, even when the close came in the same read: a child killed
    // before it read its request leaves that unread, so the server sees the
    // connection readable and closes it right after sending the exit code.
    if (c.pid == 0 && c.in.size() >= signed_size) {
        c.pid = pid_t(load_signed(c.in, 0));
        started_(c.node, c.id, c.pid, {});
    }
    if (c.in.size() >= 2 * signed_size && !c.exit_reported()) {
        exited_(c.node, c.id, int(load_signed(c.in, signed_size)));
        close_fd(c.child_alive); // reported: nothing more to watch
        if (!closed)
            shutdown(c.conn, SHUT_WR); // the warm server reaps it and closes
    }
    if (!closed)
        return;
    close(c.conn);
    c.conn_done = true;
    if (c.pid == 0)
        fail(key, "the warm server of this node closed the request without starting it");
    else if (c.exit_reported())
        finish(key);
    // else the child's sentinel (child_alive) tells the rest
}

void RemoteStarts::fail(uint64_t key, const std::string &why)
{
    Child &c = children_.at(key);
    started_(c.node, c.id, 0, why);
    finish(key);
}

void RemoteStarts::finish(uint64_t key)
{
    auto it = children_.find(key);
    if (it == children_.end())
        return;
    Child &c = it->second;
    if (c.pid)
        ended_.emplace(c.node, c.pid);
    if (!c.conn_done)
        close(c.conn);
    close_fd(c.parent_alive);
    close_fd(c.child_alive);
    children_.erase(it);
}

void RemoteStarts::parent_gone(uint32_t node, uint64_t id)
{
    for (auto &[key, c] : children_)
        if (c.node == node && c.id == id)
            close_fd(c.parent_alive);
}

void RemoteStarts::node_gone(uint32_t node)
{
    for (auto &[key, c] : children_)
        if (c.node == node)
            close_fd(c.parent_alive);
}

bool RemoteStarts::signal(uint32_t node, pid_t pid, int sig, std::string &why)
{
    for (auto &[key, c] : children_)
        if (c.node == node && c.pid == pid) {
            if (kill(pid, sig) != 0 && errno != ESRCH) {
                why = "kill(" + std::to_string(pid) + ", " + std::to_string(sig) +
                      ") failed: " + errno_text(errno);
                return false;
            }
            return true;
        }
    if (ended_.count({node, pid}))
        return true; // it has ended: nothing to signal, as for an exited child
    why = "process " + std::to_string(pid) + " was not started on this node for node " +
          std::to_string(node) + " (or has been joined)";
    return false;
}

} // namespace dragon::node
