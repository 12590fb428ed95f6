// What ends a node's processes when dragon-node itself dies (SIGKILL, a crash): a
// small process forked before any thread exists, in a process group of its own,
// that waits for EOF on a pipe only dragon-node holds the write end of. On EOF it
// kills dragon-node's process group and every process of ours that still carries
// the node's pool in its environment (DRAGON_NODE_POOL, which every process of the
// node inherits, also those that left the group), and removes the pool segment
// and the node's private directories.
// PR_SET_PDEATHSIG on the node's direct children is the fast path; this covers
// their descendants, which no parent-death signal reaches.
#pragma once

#include <string>
#include <sys/types.h>

namespace dragon::node {

class NodeWatchdog {
public:
    // Forks the watchdog. Call before any thread exists.
    NodeWatchdog();
    ~NodeWatchdog();
    NodeWatchdog(const NodeWatchdog &) = delete;
    NodeWatchdog &operator=(const NodeWatchdog &) = delete;

    // Tells the watchdog what identifies the node's processes and what to remove.
    void watch(uint32_t node_index, const std::string &memory_plugin, const std::string &pool);
    // A private directory of the node the watchdog removes if the node dies.
    void remove_with_node(const std::string &directory);
    // A POSIX shared-memory segment (by name) the watchdog removes if the node dies.
    void remove_segment_with_node(const std::string &segment);

    // The orderly end: the node ends its processes itself, so the watchdog is stopped
    // (and reaped) without acting. Idempotent.
    void release();

    pid_t pid() const { return pid_; }

private:
    void send(const std::string &line);
    pid_t pid_ = -1;
    int write_fd_ = -1;
};

// Kills (SIGKILL) every process of this user, other than the caller, whose initial
// environment holds `marker` (a NAME=VALUE entry); repeats until none is left or
// `seconds` pass. Returns how many it killed.
int kill_marked_processes(const std::string &marker, double seconds);

} // namespace dragon::node
