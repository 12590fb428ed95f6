// Processes that parents on other nodes start here. The request carries what a
// local parent sends the warm server (environment, preparation data, the pickled
// Process); this node becomes the warm server's client in the parent's place, with
// pipes of its own for the parent-alive sentinel (closed when the parent or its
// node goes) and the child's sentinel, and forwards the child's pid, then its exit
// code, to the parent's node.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace dragon::node {

class RemoteStarts {
public:
    // started: the pid (value > 0) or an error (text); exited: the exit code.
    using Started =
        std::function<void(uint32_t node, uint64_t id, pid_t pid, const std::string &error)>;
    using Exited = std::function<void(uint32_t node, uint64_t id, int code)>;

    RemoteStarts(std::string warm_socket, Started started, Exited exited);
    ~RemoteStarts();
    RemoteStarts(const RemoteStarts &) = delete;
    RemoteStarts &operator=(const RemoteStarts &) = delete;

    void start(uint32_t node, uint64_t id, std::string payload);
    // The parent is gone: its children see parent_process() end.
    void parent_gone(uint32_t node, uint64_t id);
    void node_gone(uint32_t node);
    // Sends `sig` to a process started here for `node`; false (with why) otherwise.
    bool signal(uint32_t node, pid_t pid, int sig, std::string &why);

    std::vector<std::pair<int, short>> poll_set() const;
    void handle(int fd, short revents);

private:
    struct Child {
        uint32_t node = 0;
        uint64_t id = 0;
        int conn = -1;         // to the warm server
        int parent_alive = -1; // write end: the child's parent sentinel
        int child_alive = -1;  // read end: readable once the child is gone
        std::string out;       // the request; written up to out_sent
        size_t out_sent = 0;
        std::string in; // pid, then exit code (8 bytes each)
        pid_t pid = 0;
        bool conn_done = false;
        // Its exit code went to the parent's node: its sentinel is closed from then on.
        bool exit_reported() const { return child_alive < 0; }
    };
    void fail(uint64_t key, const std::string &why);
    void finish(uint64_t key);
    void read_status(uint64_t key, Child &c);

    std::string warm_socket_;
    Started started_;
    Exited exited_;
    // By a serial number, not by conn's fd: a child outlives its conn when the warm
    // server goes first, and the fd number is reused by the next start's conn.
    std::map<uint64_t, Child> children_;
    uint64_t next_key_ = 1;
    // (node, pid) of children that ended: a signal to one is a no-op, as a signal to a
    // child that exited and was not joined yet is with stock multiprocessing.
    std::set<std::pair<uint32_t, pid_t>> ended_;
};

} // namespace dragon::node
