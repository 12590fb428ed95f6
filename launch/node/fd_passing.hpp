// File descriptors over a UNIX socket (SCM_RIGHTS), for the node's links to its
// processes: the warm server's control socket, the gateway socket, and the requests
// this node makes of its own warm server for processes of other nodes.
#pragma once

#include <cstddef>
#include <span>
#include <sys/types.h>
#include <vector>

namespace dragon::node {

// The most fds one message carries here.
inline constexpr size_t max_fds_per_message = 16;

// One recvmsg of up to `len` bytes into `buf`; the fds that came with them are
// appended to `fds` (close-on-exec), at most `max_fds` of them: the rest are closed.
// Returns recvmsg's result, errno as it left it.
ssize_t receive_with_fds(int socket, void *buf, size_t len, std::vector<int> &fds,
                         size_t max_fds = max_fds_per_message);

// One sendmsg of `len` bytes with `fds` attached (at most max_fds_per_message); true
// if all of it went.
bool send_with_fds(int socket, const void *data, size_t len, std::span<const int> fds);

} // namespace dragon::node
