// Who is at the other end of a loopback TCP connection, from the kernel's own
// tables (not from anything the peer says about itself): the peer socket's owner
// uid and inode from /proc/net/tcp, and whether a given process holds that socket.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace dragon::wireup {

struct PeerSocket {
    uid_t uid;      // the effective uid of the process that created the peer's socket
    uint64_t inode; // the peer socket's inode, as /proc/<pid>/fd shows it: socket:[inode]
};

// The peer's socket of connected IPv4 TCP socket `fd` when the peer is in this
// network namespace (always so for a loopback connection); nullopt when it is not
// found (the peer already closed, or is on another host).
std::optional<PeerSocket> peer_socket(int fd);

// True if process `pid` has the socket `inode` open (the caller must be allowed to
// read /proc/<pid>/fd: the same user, or root).
bool process_holds_socket(pid_t pid, uint64_t inode);

// The processes of user `uid` that have socket `inode` open (a full scan of /proc:
// for the rare connection that does not come from a process we know).
std::vector<pid_t> processes_holding_socket(uint64_t inode, uid_t uid);

// The parent of `pid` (0 when it is gone).
pid_t parent_of(pid_t pid);

} // namespace dragon::wireup
