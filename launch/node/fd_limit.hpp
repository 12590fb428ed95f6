// The node's file-descriptor limit. dragon-node holds a connection per thread of
// every process of its node that reaches other nodes (the gateway socket) and one per
// thread of every process of other nodes that uses its channels (lanes): on a large
// job that is more than the usual soft limit of 1024. The node raises its soft limit
// to the hard one; the processes it starts get back the limit they would have had.
#pragma once

namespace dragon::node {

// Call once, before any child is started.
void raise_fd_limit();
// In a forked child before exec: only a system call, safe after fork.
void restore_fd_limit_in_child();

} // namespace dragon::node
