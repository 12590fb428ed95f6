#include "cluster.hpp"

#include "core/error.hpp"
#include "core/log.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dragon::test {
namespace {

// ---------- records over pipes: tag length, body length, tag, body ----------

bool write_all(int fd, const void *data, size_t len)
{
    const char *p = static_cast<const char *>(data);
    while (len > 0) {
        ssize_t n = ::write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

bool put_record(int fd, const std::string &tag, const std::string &body)
{
    uint32_t lens[2] = {static_cast<uint32_t>(tag.size()), static_cast<uint32_t>(body.size())};
    std::string all(reinterpret_cast<const char *>(lens), sizeof lens);
    all += tag;
    all += body;
    return write_all(fd, all.data(), all.size());
}

// Reads exactly len bytes by the deadline; false on end of stream or timeout.
bool read_exact(int fd, void *data, size_t len, int64_t deadline_ns)
{
    char *p = static_cast<char *>(data);
    while (len > 0) {
        int64_t left_ms = (deadline_ns - Deadline::now_ns()) / 1'000'000;
        if (left_ms <= 0)
            return false;
        pollfd pfd{fd, POLLIN, 0};
        int r = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
        if (r <= 0)
            continue;
        ssize_t n = ::read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

bool get_record(int fd, std::string &tag, std::string &body, int64_t deadline_ns)
{
    uint32_t lens[2];
    if (!read_exact(fd, lens, sizeof lens, deadline_ns))
        return false;
    tag.assign(lens[0], '\0');
    body.assign(lens[1], '\0');
    return read_exact(fd, tag.data(), tag.size(), deadline_ns) &&
           read_exact(fd, body.data(), body.size(), deadline_ns);
}

std::string join_addresses(const std::vector<std::string> &addresses)
{
    std::string out;
    for (const auto &a : addresses) {
        uint32_t len = static_cast<uint32_t>(a.size());
        out.append(reinterpret_cast<const char *>(&len), sizeof len);
        out += a;
    }
    return out;
}

std::vector<std::string> split_addresses(const std::string &text)
{
    std::vector<std::string> out;
    size_t at = 0;
    while (at + 4 <= text.size()) {
        uint32_t len;
        std::memcpy(&len, text.data() + at, 4);
        out.push_back(text.substr(at + 4, len));
        at += 4 + len;
    }
    return out;
}

void remove_tree(const std::string &path)
{
    DIR *d = opendir(path.c_str());
    if (d) {
        while (dirent *e = readdir(d)) {
            std::string name = e->d_name;
            if (name == "." || name == "..")
                continue;
            std::string full = path + "/" + name;
            struct stat st {};
            if (lstat(full.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(full);
            else
                unlink(full.c_str());
        }
        closedir(d);
    }
    rmdir(path.c_str());
}

std::vector<std::string> entries_of(const std::string &path)
{
    std::vector<std::string> out;
    if (DIR *d = opendir(path.c_str())) {
        while (dirent *e = readdir(d)) {
            std::string name = e->d_name;
            if (name != "." && name != "..")
                out.push_back(name);
        }
        closedir(d);
    }
    return out;
}

uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

uint64_t hash_bytes(const unsigned char *p, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < len; ++i)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return mix(h);
}

// Unique start of a payload: who sent it, to whom, which one.
constexpr size_t prefix_len = 16;

} // namespace

uint64_t payload_checksum(const void *data, size_t len)
{
    const auto *p = static_cast<const unsigned char *>(data);
    if (len < prefix_len)
        return hash_bytes(p, len);
    return mix(hash_bytes(p, prefix_len) * 31 + hash_bytes(p + prefix_len, len - prefix_len));
}

const char *mode_name(NetMode mode)
{
    return mode == NetMode::netns ? "netns" : "loopback";
}

Deadline deadline_in(std::chrono::milliseconds timeout)
{
    Deadline d(timeout);
    (void)d.remaining_ns(); // start the clock now
    return d;
}

// ====================== Node (inside a child) ======================

Node::Node(uint32_t index, uint32_t num_nodes, int to_parent, int from_parent)
    : index_(index), num_nodes_(num_nodes), to_parent_(to_parent), from_parent_(from_parent),
      started_s_(Deadline::now_ns() / 1e9), peer_states_(num_nodes, 0), table_(num_nodes)
{
}

Node::~Node()
{
    stop_progress();
}

void Node::report(const std::string &tag, const std::string &body)
{
    std::lock_guard lock(parent_mutex_);
    put_record(to_parent_, tag, body);
}

std::string Node::await(const std::string &tag, std::chrono::milliseconds timeout)
{
    int64_t deadline = Deadline::now_ns() + timeout.count() * 1'000'000;
    std::string t, body;
    while (get_record(from_parent_, t, body, deadline))
        if (t == tag)
            return body;
    throw Error(DRAGON_ERR_TIMEOUT, "node " + std::to_string(index_) + " waited in vain for '" +
                                        tag + "' from the test");
}

void Node::fail(const std::string &what)
{
    ++failures_;
    report("fail", "node " + std::to_string(index_) + ": " + what);
}

void Node::start_progress()
{
    stop_ = false;
    progress_thread_ = std::thread([this] {
        try {
            while (!stop_) {
                ep_->progress();
                ep_->wait(deadline_in(std::chrono::milliseconds(20)));
            }
        } catch (const std::exception &e) {
            fail(std::string("progress failed: ") + e.what());
        }
    });
}

void Node::stop_progress()
{
    if (!progress_thread_.joinable())
        return;
    stop_ = true;
    progress_thread_.join();
}

bool Node::wait_until(const std::function<bool()> &ready, std::chrono::milliseconds timeout)
{
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, ready);
}

std::vector<Received> Node::received()
{
    std::lock_guard lock(mutex_);
    return received_;
}

std::vector<PeerEvent> Node::events()
{
    std::lock_guard lock(mutex_);
    return events_;
}

int Node::peer_state(uint32_t peer)
{
    std::lock_guard lock(mutex_);
    return peer < peer_states_.size() ? peer_states_[peer] : 0;
}

size_t Node::count_from(uint32_t sender, int stream)
{
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto &r : received_)
        if (r.sender == sender && (stream < 0 || r.stream == static_cast<uint32_t>(stream)))
            ++n;
    return n;
}

size_t Node::placements_pending(int sender)
{
    std::lock_guard lock(mutex_);
    size_t n = 0;
    for (const auto &[id, p] : placements_)
        n += !p.done && (sender < 0 || p.header.sender == static_cast<uint32_t>(sender));
    return n;
}

void Node::on_peer(uint32_t peer, dragon_transport_peer_state state, const std::string &reason)
{
    std::lock_guard lock(mutex_);
    if (peer < peer_states_.size())
        peer_states_[peer] = state;
    table_.update(peer, state, reason);
    events_.push_back({peer, state, reason, order_++, Deadline::now_ns() / 1e9 - started_s_});
    changed_.notify_all();
}

void Node::on_message(const dragon_transport_message &m)
{
    TestHeader h{};
    if (m.header_len < sizeof h) {
        fail("a message from node " + std::to_string(m.peer) + " with a header of " +
             std::to_string(m.header_len) + " bytes (sent " + std::to_string(sizeof h) + "+)");
        return;
    }
    std::memcpy(&h, m.header, sizeof h);
    if (h.magic != test_magic || h.sender != m.peer || h.size != m.payload_len) {
        fail("a garbled message: from " + std::to_string(m.peer) + ", header says sender " +
             std::to_string(h.sender) + " size " + std::to_string(h.size) + ", payload " +
             std::to_string(m.payload_len) + " bytes");
        return;
    }
    std::unique_lock lock(mutex_);
    Received r{h.sender, h.stream, h.seq, h.size, true, false, false, order_++};
    if (m.payload || m.payload_len == 0) {
        r.verified = payload_checksum(m.payload, m.payload_len) == h.checksum;
        if (!r.verified) {
            lock.unlock();
            fail("checksum mismatch on an inline payload of " + std::to_string(h.size) +
                 " bytes from node " + std::to_string(h.sender) + " seq " + std::to_string(h.seq));
            lock.lock();
        }
        received_.push_back(r);
        changed_.notify_all();
        return;
    }
    // Large payload: place it into our own buffer (as the framework does with a pool
    // block), or discard it. The completion settles it from progress, after we return.
    r.inline_payload = false;
    received_.push_back(r);
    uint64_t id = next_placement_++;
    Placement &p = placements_[id];
    p.header = h;
    p.index = received_.size() - 1;
    if (place_large)
        p.buffer.reset(new unsigned char[m.payload_len]);
    p.completion = std::make_unique<TransportCompletion>(
        [this, id](dragon_status status, const std::string &reason) {
            settle_placement(id, status, reason);
        });
    unsigned char *dest = p.buffer.get();
    TransportCompletion &c = *p.completion;
    lock.unlock();
    ep_->receive_into(m.token, dest, dest ? m.payload_len : 0, c);
}

void Node::settle_placement(uint64_t id, dragon_status status, const std::string &reason)
{
    std::unique_lock lock(mutex_);
    Placement &p = placements_.at(id);
    p.done = true;
    std::string problem;
    if (status == DRAGON_ERR_PEER_LOST) {
        ++lost_placements_;
        received_[p.index].lost = true;
    } else if (status != DRAGON_OK) {
        problem = "a placement of " + std::to_string(p.header.size) + " bytes from node " +
                  std::to_string(p.header.sender) + " failed: " + status_name(status) + " (" +
                  reason + ")";
    } else if (p.buffer) {
        bool ok = payload_checksum(p.buffer.get(), p.header.size) == p.header.checksum;
        received_[p.index].verified = ok;
        if (!ok)
            problem = "checksum mismatch on a placed payload of " + std::to_string(p.header.size) +
                      " bytes from node " + std::to_string(p.header.sender) + " seq " +
                      std::to_string(p.header.seq);
    } else {
        received_[p.index].verified = true; // discarded on purpose
    }
    p.buffer.reset(); // the completion object itself stays: it is running this
    changed_.notify_all();
    lock.unlock();
    if (!problem.empty())
        fail(problem);
}

const unsigned char *Node::body(uint64_t size)
{
    std::lock_guard lock(bodies_mutex_);
    auto it = bodies_.find(size);
    if (it != bodies_.end())
        return it->second.data();
    std::vector<unsigned char> b(size + 1);
    uint64_t x = 0x2545f4914f6cdd1dull ^ (size * 0x9e3779b97f4a7c15ull) ^ (index_ + 1);
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(b.data() + i, &x, 8);
    }
    for (; i < size; ++i)
        b[i] = static_cast<unsigned char>(i * 131 + index_);
    return bodies_.emplace(size, std::move(b)).first->second.data();
}

dragon_status Node::start_send(uint32_t peer, uint32_t stream, uint64_t seq, uint64_t size,
                               SendSlot &slot, size_t header_len)
{
    TestHeader h{test_magic, index_, stream, 0, seq, size, 0};
    std::vector<dragon_transport_iov> iov;
    const unsigned char *b = body(size);
    if (size >= prefix_len) {
        uint32_t words[4] = {index_, peer, stream, static_cast<uint32_t>(seq)};
        std::memcpy(slot.prefix, words, prefix_len);
        iov.push_back({slot.prefix, prefix_len});
        if (size > prefix_len)
            iov.push_back({b, size - prefix_len});
        h.checksum =
            mix(hash_bytes(slot.prefix, prefix_len) * 31 + hash_bytes(b, size - prefix_len));
    } else {
        if (size > 0)
            iov.push_back({b, size});
        h.checksum = payload_checksum(b, size);
    }
    std::vector<unsigned char> header(std::max(header_len, sizeof h), 0xab);
    std::memcpy(header.data(), &h, sizeof h);
    slot.done = false;
    SendSlot *s = &slot;
    slot.completion =
        std::make_unique<TransportCompletion>([this, s](dragon_status st, const std::string &) {
            std::lock_guard lock(mutex_);
            s->status = st;
            s->done = true;
            changed_.notify_all();
        });
    return ep_->send(peer, header.data(), header_len, iov, *slot.completion);
}

std::vector<dragon_status> Node::send_stream(uint32_t peer, uint32_t stream,
                                             const std::vector<uint64_t> &sizes, size_t window,
                                             std::chrono::milliseconds timeout)
{
    Deadline deadline = deadline_in(timeout);
    std::vector<std::unique_ptr<SendSlot>> slots;
    std::vector<dragon_status> result(sizes.size(), DRAGON_ERR_TIMEOUT);
    size_t next = 0, settled = 0, sizes_left = sizes.size();
    auto in_flight = [&] {
        size_t n = 0;
        for (size_t i = settled; i < next; ++i)
            n += !slots[i]->done;
        return n;
    };
    while (settled < sizes_left && !deadline.expired()) {
        // Start what the window allows.
        while (next < sizes_left) {
            {
                std::lock_guard lock(mutex_);
                if (in_flight() >= window)
                    break;
            }
            slots.push_back(std::make_unique<SendSlot>());
            dragon_status s = start_send(peer, stream, next, sizes[next], *slots.back());
            if (s == DRAGON_ERR_AGAIN) {
                slots.pop_back();
                break;
            }
            if (s != DRAGON_OK) { // PEER_LOST: nothing taken, and nothing will be
                std::lock_guard lock(mutex_);
                slots.back()->done = true;
                slots.back()->status = s;
                for (size_t i = next + 1; i < sizes.size(); ++i)
                    result[i] = s;
                sizes_left = next + 1;
            }
            ++next;
        }
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, std::chrono::milliseconds(5));
        while (settled < next && slots[settled]->done) {
            result[settled] = slots[settled]->status;
            ++settled;
        }
    }
    // Give up on the rest: the endpoint keeps their completions until it closes.
    for (size_t i = settled; i < slots.size(); ++i) {
        std::lock_guard lock(mutex_);
        if (slots[i]->done)
            result[i] = slots[i]->status;
        else
            ep_->adopt(std::move(slots[i]->completion));
    }
    return result;
}

// ====================== Cluster (the test process) ======================

Cluster::Cluster(const std::string &plugin, NetMode mode, int nodes)
    : plugin_(plugin), mode_(mode), nodes_(nodes), secret_(make_job_secret())
{
    if (mode == NetMode::netns) {
        hosts_ = std::make_unique<NetnsHosts>(nodes);
        prefix_ = hosts_->cidr();
    } else {
        prefix_ = "127.0.0.0/8";
    }
    const char *tmp = getenv("TMPDIR");
    std::string base = std::string(tmp && *tmp ? tmp : "/tmp") + "/tc-XXXXXX";
    if (!mkdtemp(base.data()))
        throw Error(DRAGON_ERR_INTERNAL,
                    "cannot create a directory under TMPDIR: " + errno_text(errno));
    dir_ = base;
    children_.resize(static_cast<size_t>(nodes));
}

Cluster::~Cluster()
{
    int64_t soon = Deadline::now_ns() + 2'000'000'000;
    for (auto &c : children_) {
        if (c.pid > 0 && !c.reaped) {
            kill(c.pid, SIGKILL);
            reap(c, soon);
        }
        if (c.to_child >= 0)
            close(c.to_child);
        if (c.from_child >= 0)
            close(c.from_child);
    }
    remove_tree(dir_);
    hosts_.reset(); // the namespaces go last, once nothing runs in them
}

void Cluster::start(int k, NodeBody body, NodeOptions options)
{
    Child &c = children_.at(static_cast<size_t>(k));
    int down[2], up[2];
    if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0)
        throw Error(DRAGON_ERR_INTERNAL, "pipe: " + errno_text(errno));
    std::string secret = options.wrong_secret ? make_job_secret() : secret_;
    auto child_main = [&, k, body, secret, down, up]() -> int {
        prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive the test process
        close(down[1]);
        close(up[0]);
        std::string log = dir_ + "/node" + std::to_string(k) + ".log";
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) { // stdout too: libraries under a plugin (UCX) print there
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        log::set_level(DRAGON_LOG_INFO);
        setenv("TMPDIR", dir_.c_str(), 1);
        if (mode_ == NetMode::netns)
            setenv("UCX_NET_DEVICES", NetnsHosts::interface_name, 1);
        else
            setenv("UCX_NET_DEVICES", "lo", 0);
        Node node(static_cast<uint32_t>(k), static_cast<uint32_t>(nodes_), up[1], down[0]);
        try {
            TransportConfig config;
            config.node_index = static_cast<uint32_t>(k);
            config.num_nodes = static_cast<uint32_t>(nodes_);
            config.job_secret = secret;
            config.network_prefix = prefix_;
            node.ep_ = TransportPlugin::named(plugin_).open(config, node);
            node.report("addr", node.ep().address());
            if (!options.hold)
                node.addresses_ = split_addresses(node.await("addrs", std::chrono::seconds(60)));
            body(node);
        } catch (const std::exception &e) {
            node.fail(std::string("stopped by an exception: ") + e.what());
        }
        try {
            node.stop_progress();
            if (node.ep_)
                node.ep_->close(std::chrono::seconds(5));
        } catch (const std::exception &e) {
            node.fail(std::string("close failed: ") + e.what());
        }
        node.report("end");
        return node.failed() ? 1 : 0;
    };
    pid_t pid;
    if (hosts_) {
        pid = hosts_->spawn(k, child_main);
    } else {
        pid = fork();
        if (pid == 0)
            _exit(child_main());
    }
    close(down[0]);
    close(up[1]);
    if (pid < 0)
        throw Error(DRAGON_ERR_INTERNAL, "fork: " + errno_text(errno));
    c.pid = pid;
    c.to_child = down[1];
    c.from_child = up[0];
    c.held = options.hold;
}

bool Cluster::read_one(Child &c, std::string &tag, std::string &body, int64_t deadline_ns)
{
    if (c.from_child < 0 || !get_record(c.from_child, tag, body, deadline_ns))
        return false;
    if (tag == "fail")
        c.outcome.failures.push_back(body);
    else
        c.outcome.reports[tag] = body;
    return true;
}

void Cluster::wire(std::chrono::milliseconds timeout)
{
    int64_t deadline = Deadline::now_ns() + timeout.count() * 1'000'000;
    std::vector<std::string> addresses(static_cast<size_t>(nodes_));
    for (int k = 0; k < nodes_; ++k) {
        Child &c = children_[static_cast<size_t>(k)];
        if (c.pid <= 0)
            continue;
        std::string tag, body;
        while (read_one(c, tag, body, deadline) && tag != "addr") {
        }
        if (tag != "addr")
            throw Error(DRAGON_ERR_INTERNAL,
                        "node " + std::to_string(k) + " did not open its endpoint: " +
                            (c.outcome.failures.empty() ? "no report (see its log)"
                                                        : c.outcome.failures.front()) +
                            "\n" + log_of(k));
        addresses[static_cast<size_t>(k)] = c.address = body;
    }
    std::string all = join_addresses(addresses);
    for (auto &c : children_)
        if (c.pid > 0 && !c.held)
            put_record(c.to_child, "addrs", all);
}

void Cluster::tell(int k, const std::string &tag, const std::string &body)
{
    put_record(children_.at(static_cast<size_t>(k)).to_child, tag, body);
}

std::string Cluster::await(int k, const std::string &tag, std::chrono::milliseconds timeout)
{
    Child &c = children_.at(static_cast<size_t>(k));
    int64_t deadline = Deadline::now_ns() + timeout.count() * 1'000'000;
    std::string t, body;
    while (read_one(c, t, body, deadline))
        if (t == tag)
            return body;
    std::string why;
    for (const auto &f : c.outcome.failures)
        why += "\n  " + f;
    throw Error(DRAGON_ERR_TIMEOUT, "node " + std::to_string(k) + " never reported '" + tag + "'" +
                                        why + "\n" + log_of(k));
}

void Cluster::signal(int k, int signo)
{
    kill(children_.at(static_cast<size_t>(k)).pid, signo);
}

void Cluster::kill_now(int k)
{
    Child &c = children_.at(static_cast<size_t>(k));
    c.killed = true;
    kill(c.pid, SIGKILL);
    reap(c, Deadline::now_ns() + 5'000'000'000);
}

void Cluster::reap(Child &c, int64_t deadline_ns)
{
    int status = 0;
    while (!c.reaped) {
        pid_t r = waitpid(c.pid, &status, WNOHANG);
        if (r == c.pid || (r < 0 && errno == ECHILD)) {
            c.reaped = true;
            c.outcome.exit_code = r < 0               ? -1
                                  : WIFEXITED(status) ? WEXITSTATUS(status)
                                                      : 128 + WTERMSIG(status);
            break;
        }
        if (Deadline::now_ns() > deadline_ns) {
            c.outcome.late = true;
            kill(c.pid, SIGKILL);
            deadline_ns = Deadline::now_ns() + 5'000'000'000;
        }
        usleep(2000);
    }
}

std::vector<ChildOutcome> Cluster::finish(std::chrono::milliseconds timeout)
{
    int64_t deadline = Deadline::now_ns() + timeout.count() * 1'000'000;
    std::vector<ChildOutcome> out;
    for (auto &c : children_) {
        if (c.pid <= 0) {
            out.emplace_back();
            continue;
        }
        // Everything it says until it ends (end of stream), then its exit status.
        std::string tag, body;
        while (!c.killed && read_one(c, tag, body, deadline)) {
        }
        reap(c, deadline);
        out.push_back(c.outcome);
    }
    return out;
}

std::string Cluster::log_of(int k) const
{
    std::ifstream in(dir_ + "/node" + std::to_string(k) + ".log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string Cluster::problems(const std::vector<ChildOutcome> &outcomes) const
{
    std::string out;
    bool any_killed = false;
    for (size_t k = 0; k < outcomes.size(); ++k) {
        const Child &c = children_[k];
        any_killed |= c.killed;
        if (c.pid <= 0 || c.killed)
            continue;
        const ChildOutcome &o = outcomes[k];
        std::string mine;
        for (const auto &f : o.failures)
            mine += "  " + f + "\n";
        if (o.late)
            mine += "  did not end by the deadline (killed)\n";
        else if (o.exit_code != 0 && o.failures.empty())
            mine += "  exited with " + std::to_string(o.exit_code) + "\n";
        if (!mine.empty()) {
            std::string log = log_of(static_cast<int>(k));
            // A sanitizer's report is shown from its first line; else the log's tail.
            size_t report =
                std::min(log.find("ERROR: AddressSanitizer"), log.find("runtime error"));
            if (report != std::string::npos)
                log = log.substr(
                    log.rfind('\n', report) == std::string::npos ? 0 : log.rfind('\n', report) + 1,
                    8000);
            else if (log.size() > 3000)
                log = "..." + log.substr(log.size() - 3000);
            out += "node " + std::to_string(k) + ":\n" + mine + "  its log:\n" + log + "\n";
        }
    }
    // A killed node cannot clean up (its plugin's files stay for dragon-cleanup); the
    // others must leave nothing but their logs.
    if (!any_killed)
        for (const auto &e : entries_of(dir_))
            if (e.rfind("node", 0) != 0 || e.find(".log") == std::string::npos)
                out += "left behind in TMPDIR by a node that closed its endpoint: " + e + "\n";
    return out;
}

} // namespace dragon::test

namespace dragon::test {

dragon_transport_caps plugin_caps(const std::string &plugin)
{
    static std::map<std::string, dragon_transport_caps> known;
    if (auto it = known.find(plugin); it != known.end())
        return it->second;
    int up[2];
    if (pipe2(up, O_CLOEXEC) != 0)
        throw Error(DRAGON_ERR_INTERNAL, "pipe: " + errno_text(errno));
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(up[0]);
        struct Quiet : TransportHandler {
            void on_message(const dragon_transport_message &) override {}
            void on_peer(uint32_t, dragon_transport_peer_state, const std::string &) override {}
        } quiet;
        std::string tag = "caps", body;
        try {
            TransportConfig config;
            config.job_secret = make_job_secret();
            config.network_prefix = "127.0.0.0/8";
            auto ep = TransportPlugin::named(plugin).open(config, quiet);
            body.assign(reinterpret_cast<const char *>(&ep->caps()), sizeof(dragon_transport_caps));
            ep->close();
        } catch (const std::exception &e) {
            tag = "fail";
            body = e.what();
        }
        put_record(up[1], tag, body);
        _exit(0);
    }
    close(up[1]);
    std::string tag, body;
    bool got = get_record(up[0], tag, body, Deadline::now_ns() + 30'000'000'000);
    close(up[0]);
    int status;
    if (!got)
        kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (!got || tag != "caps" || body.size() != sizeof(dragon_transport_caps))
        throw Error(DRAGON_ERR_INTERNAL, "cannot open an endpoint of transport " + plugin + ": " +
                                             (got ? body : std::string("no answer in 30 s")));
    dragon_transport_caps caps;
    std::memcpy(&caps, body.data(), sizeof caps);
    known[plugin] = caps;
    return caps;
}

} // namespace dragon::test
