#include "connection_gate.hpp"

#include "core/error.hpp"
#include "socket_owner.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace dragon::wireup {

namespace {

using Clock = std::chrono::steady_clock;

// How long a connection of our uid may wait for the launcher to admit the process
// it comes from (fork returns to the launcher long before the child's PMIx_Init, so
// this is only a bound for a process that is not ours at all).
constexpr std::chrono::seconds admit_grace{10};
constexpr std::chrono::milliseconds recheck_every{5};
// Each direction of a relayed connection buffers this much (PMIx's messages during
// a fence are a few KiB per node).
constexpr size_t relay_buffer = 256 * 1024;

std::string errno_text(int e)
{
    return std::strerror(e);
}

sockaddr_un unix_address(const std::string &path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), std::min(path.size() + 1, sizeof addr.sun_path));
    return addr;
}

// A connection to `addr` that is given up at once (a blocking connect to a local
// listener completes without waiting for an accept). Returns the descriptor or -1.
int connect_to(const sockaddr *addr, socklen_t len, int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, addr, len) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

void set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// One direction of a relay: bytes read from one side, not yet written to the other.
struct Pipe {
    std::vector<char> data = std::vector<char>(relay_buffer);
    size_t begin = 0, end = 0;
    bool eof = false;       // the source said it sends no more
    bool shut_down = false; // and we passed that on

    bool empty() const { return begin == end; }
    bool room() const { return end < data.size(); }
};

struct Relay;

// What an epoll entry points at: one side of a relay.
struct Side {
    Relay *relay;
    int fd;
    uint32_t events = 0; // registered interest
    bool gone = false;   // hung up both ways, out of the epoll set
};

// An admitted client's TCP connection and our connection to PMIx's Unix listener.
struct Relay {
    Side client, server;
    Pipe up, down; // up: client -> PMIx, down: PMIx -> client
    bool broken = false;

    bool done() const
    {
        return broken || (up.shut_down && down.shut_down) || (client.gone && up.shut_down) ||
               (server.gone && down.shut_down);
    }
};

} // namespace

struct ConnectionGate::State {
    int tcp_listener = -1; // ours now: PMIx's descriptor number holds the Unix listener
    std::string unix_path;
    int epoll = -1, stop = -1;
    Warn warn;
    std::mutex mutex;
    std::set<pid_t> admitted; // guarded by mutex
    std::atomic<unsigned> refused{0};
    int own_probe = -1; // our own connection that woke PMIx's listener thread
    uint64_t own_probe_inode = 0;
    struct Waiting {
        int fd;
        Clock::time_point until;
    };
    std::vector<Waiting> waiting;
    std::list<Relay> relays;
    std::thread thread;

    ~State();
    void run();
    void accept_all();
    void judge_waiting();
    // Admit, refuse, or (same uid, not yet admitted) wait: true when it is decided.
    // The first and the last look also search every process of the uid for a
    // descendant of an admitted one (a scan of /proc: not on every recheck).
    bool judge(int fd, bool first, bool last_chance);
    void refuse(int fd, const std::string &why);
    void pass(int fd);
    void on_event(Side &side, uint32_t events);
    void update(Relay &r);
    void update(Side &side, uint32_t wanted);
};

std::vector<std::pair<int, ino_t>> listening_tcp_sockets()
{
    std::vector<std::pair<int, ino_t>> found;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return found;
    std::vector<int> fds;
    while (dirent *e = readdir(d))
        if (e->d_name[0] != '.')
            fds.push_back(std::atoi(e->d_name));
    closedir(d);
    for (int fd : fds) {
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
            continue;
        int listening = 0, type = 0;
        socklen_t len = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
            continue;
        len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
            continue;
        sockaddr_storage ss{};
        socklen_t sl = sizeof ss;
        if (getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &sl) != 0)
            continue;
        if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
            found.emplace_back(fd, st.st_ino);
    }
    return found;
}

ConnectionGate::ConnectionGate(int pmix_listener, const std::filesystem::path &unix_path, Warn warn)
    : state_(std::make_unique<State>())
{
    State &s = *state_;
    s.warn = std::move(warn);
    s.unix_path = unix_path.string();
    sockaddr_un addr = unix_address(s.unix_path);
    if (s.unix_path.size() >= sizeof addr.sun_path)
        throw Error(DRAGON_ERR_INVALID, "PMIx server: the path " + s.unix_path +
                                            " is too long for a Unix socket: point TMPDIR at a "
                                            "shorter directory");
    // Blocking, as PMIx's listener thread calls accept() only when select() said a
    // connection is there (on a non-blocking socket it gives up for good on EAGAIN).
    int unix_listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (unix_listener < 0)
        throw Error(DRAGON_ERR_INTERNAL, "PMIx server: socket(AF_UNIX): " + errno_text(errno));
    if (bind(unix_listener, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        listen(unix_listener, SOMAXCONN) != 0) {
        int e = errno;
        close(unix_listener);
        throw Error(DRAGON_ERR_INTERNAL,
                    "PMIx server: listening on " + s.unix_path + ": " + errno_text(e));
    }
    sockaddr_storage tcp_addr{};
    socklen_t tcp_len = sizeof tcp_addr;
    getsockname(pmix_listener, reinterpret_cast<sockaddr *>(&tcp_addr), &tcp_len);
    s.tcp_listener = fcntl(pmix_listener, F_DUPFD_CLOEXEC, 0);
    s.epoll = epoll_create1(EPOLL_CLOEXEC);
    s.stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s.tcp_listener < 0 || s.epoll < 0 || s.stop < 0 ||
        dup3(unix_listener, pmix_listener, O_CLOEXEC) < 0) {
        int e = errno;
        close(unix_listener);
        throw Error(DRAGON_ERR_INTERNAL,
                    "PMIx server: taking over its listening socket: " + errno_text(e));
    }
    close(unix_listener); // PMIx's descriptor number holds it now
    // PMIx's listener thread may be in select() on the TCP socket right now: select()
    // looks the number up again on every wake-up, but it is woken only by the socket it
    // started on. A connection to each gets it to the Unix socket at once (else the
    // first node would wait out its 2 s timeout): the Unix one is accepted by PMIx,
    // which reads end-of-file from it and drops it; the TCP one the gate drops.
    if (int wake = connect_to(reinterpret_cast<sockaddr *>(&addr), sizeof addr, AF_UNIX); wake >= 0)
        close(wake);
    s.own_probe = connect_to(reinterpret_cast<sockaddr *>(&tcp_addr), tcp_len, tcp_addr.ss_family);
    struct stat probe {};
    if (s.own_probe >= 0 && fstat(s.own_probe, &probe) == 0)
        s.own_probe_inode = probe.st_ino;
    set_nonblocking(s.tcp_listener);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr; // the listener
    epoll_ctl(s.epoll, EPOLL_CTL_ADD, s.tcp_listener, &ev);
    ev.data.ptr = &s.stop;
    epoll_ctl(s.epoll, EPOLL_CTL_ADD, s.stop, &ev);
    s.thread = std::thread([&s] { s.run(); });
}

ConnectionGate::~ConnectionGate() = default;

ConnectionGate::State::~State()
{
    if (thread.joinable()) {
        uint64_t one = 1;
        (void)!write(stop, &one, sizeof one);
        thread.join();
    }
    for (auto &w : waiting)
        close(w.fd);
    for (auto &r : relays) {
        close(r.client.fd);
        close(r.server.fd);
    }
    for (int fd : {tcp_listener, epoll, stop, own_probe})
        if (fd >= 0)
            close(fd);
}

void ConnectionGate::admit(pid_t pid)
{
    std::lock_guard lock(state_->mutex);
    state_->admitted.insert(pid);
}

unsigned ConnectionGate::refused() const
{
    return state_->refused.load();
}

void ConnectionGate::State::run()
{
    std::vector<epoll_event> events(64);
    for (;;) {
        int timeout = waiting.empty() ? -1 : static_cast<int>(recheck_every.count());
        int n = epoll_wait(epoll, events.data(), static_cast<int>(events.size()), timeout);
        if (n < 0 && errno != EINTR)
            return;
        for (int i = 0; i < n; ++i) {
            void *what = events[i].data.ptr;
            if (what == &stop)
                return;
            if (what == nullptr)
                accept_all();
            else
                on_event(*static_cast<Side *>(what), events[i].events);
        }
        relays.remove_if([this](Relay &r) {
            bool done = r.done();
            if (done) {
                epoll_ctl(epoll, EPOLL_CTL_DEL, r.client.fd, nullptr);
                epoll_ctl(epoll, EPOLL_CTL_DEL, r.server.fd, nullptr);
                close(r.client.fd);
                close(r.server.fd);
            }
            return done;
        });
        judge_waiting();
    }
}

void ConnectionGate::State::accept_all()
{
    for (;;) {
        int fd = accept4(tcp_listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return; // EAGAIN: no more; anything else: the next event says again
        if (!judge(fd, true, false))
            waiting.push_back({fd, Clock::now() + admit_grace});
    }
}

void ConnectionGate::State::judge_waiting()
{
    auto now = Clock::now();
    std::erase_if(waiting, [&](const Waiting &w) { return judge(w.fd, false, now >= w.until); });
}

bool ConnectionGate::State::judge(int fd, bool first, bool last_chance)
{
    auto peer = peer_socket(fd);
    if (!peer) {
        refuse(fd, "whose peer socket is not on this host's loopback (or already closed)");
        return true;
    }
    if (own_probe >= 0 && peer->inode == own_probe_inode) {
        close(fd);
        close(own_probe);
        own_probe = -1;
        return true;
    }
    if (peer->uid != geteuid()) {
        refuse(fd, "from uid " + std::to_string(peer->uid) + ", not this job's owner");
        return true;
    }
    std::vector<pid_t> ours;
    {
        std::lock_guard lock(mutex);
        ours.assign(admitted.begin(), admitted.end());
    }
    for (pid_t pid : ours) {
        if (process_holds_socket(pid, peer->inode)) {
            pass(fd);
            return true;
        }
    }
    // A process a node started (it inherited the node's PMIx variables) is the job's too.
    std::vector<pid_t> holders;
    if (first || last_chance)
        holders = processes_holding_socket(peer->inode, peer->uid);
    for (pid_t holder : holders) {
        for (pid_t p = parent_of(holder), hops = 0; p > 1 && hops < 64; p = parent_of(p), ++hops) {
            if (std::find(ours.begin(), ours.end(), p) != ours.end()) {
                pass(fd);
                return true;
            }
        }
    }
    if (last_chance) {
        refuse(fd, "from a process of this user that this launch did not start");
        return true;
    }
    return false;
}

void ConnectionGate::State::refuse(int fd, const std::string &why)
{
    close(fd);
    refused++;
    if (warn) {
        try {
            warn("PMIx server: refused a connection " + why);
        } catch (...) {
        }
    }
}

void ConnectionGate::State::pass(int fd)
{
    sockaddr_un addr = unix_address(unix_path);
    int server = connect_to(reinterpret_cast<sockaddr *>(&addr), sizeof addr, AF_UNIX);
    if (server < 0) {
        refuse(fd, "of this job: connecting it to PMIx failed: " + errno_text(errno));
        return;
    }
    set_nonblocking(server);
    Relay &r = relays.emplace_back();
    r.client = Side{&r, fd};
    r.server = Side{&r, server};
    for (Side *side : {&r.client, &r.server}) {
        epoll_event ev{};
        ev.events = side->events = EPOLLIN;
        ev.data.ptr = side;
        epoll_ctl(epoll, EPOLL_CTL_ADD, side->fd, &ev);
    }
}

void ConnectionGate::State::on_event(Side &side, uint32_t events)
{
    Relay &r = *side.relay;
    Pipe &in = &side == &r.client ? r.up : r.down; // what this side sends
    if (events & EPOLLERR) {
        r.broken = true;
        return;
    }
    while (!in.eof && in.room()) {
        ssize_t got = read(side.fd, in.data.data() + in.end, in.data.size() - in.end);
        if (got > 0) {
            in.end += static_cast<size_t>(got);
        } else if (got == 0) {
            in.eof = true;
        } else {
            if (errno != EAGAIN && errno != EINTR)
                r.broken = true;
            break;
        }
    }
    if ((events & EPOLLHUP) && in.eof && !side.gone) {
        // Closed both ways: nothing more to read from it or to write to it (and
        // epoll would report the hang-up again and again).
        side.gone = true;
        epoll_ctl(epoll, EPOLL_CTL_DEL, side.fd, nullptr);
    }
    update(r);
}

// Writes what each direction has, passes an end-of-file on once its bytes are out,
// and sets each side's interest: readable while there is room, writable while there
// is something for it.
void ConnectionGate::State::update(Relay &r)
{
    for (Pipe *p : {&r.up, &r.down}) {
        Side &dest = p == &r.up ? r.server : r.client;
        if (dest.gone) // nobody to give it to
            p->begin = p->end = 0;
        while (!p->empty() && !r.broken) {
            ssize_t put = send(dest.fd, p->data.data() + p->begin, p->end - p->begin, MSG_NOSIGNAL);
            if (put > 0) {
                p->begin += static_cast<size_t>(put);
            } else {
                if (put < 0 && errno != EAGAIN && errno != EINTR)
                    r.broken = true;
                break;
            }
        }
        if (p->empty())
            p->begin = p->end = 0;
        if (p->eof && p->empty() && !p->shut_down) {
            if (!dest.gone)
                shutdown(dest.fd, SHUT_WR);
            p->shut_down = true;
        }
    }
    if (r.broken)
        return;
    auto interest = [](const Pipe &from, const Pipe &to) {
        uint32_t wanted = 0;
        if (!from.eof && from.room())
            wanted |= EPOLLIN;
        if (!to.empty())
            wanted |= EPOLLOUT;
        return wanted;
    };
    if (!r.client.gone)
        update(r.client, interest(r.up, r.down));
    if (!r.server.gone)
        update(r.server, interest(r.down, r.up));
}

void ConnectionGate::State::update(Side &side, uint32_t wanted)
{
    if (wanted == side.events)
        return;
    epoll_event ev{};
    ev.events = side.events = wanted;
    ev.data.ptr = &side;
    epoll_ctl(epoll, EPOLL_CTL_MOD, side.fd, &ev);
}

} // namespace dragon::wireup
