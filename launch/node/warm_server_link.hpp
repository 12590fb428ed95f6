// The node's warm Python interpreter (dragon.warm_server): started once per node
// with `dragon` already imported, it forks the job's Python processes so they
// start in milliseconds instead of a cold interpreter start each.
//
// Its links to this node: a listening UNIX socket (DRAGON_WARM_SOCKET) where
// Python processes ask for children, and a SOCK_SEQPACKET control socket on which
// it hands the node each child's stdout/stderr pipes ("output <pid>" + 2 fds),
// so that output is forwarded and labelled per process like the head's.
#pragma once

#include "output_forwarder.hpp"

#include "wireup/private_tmpdir.hpp"

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace dragon::node {

class WarmServerLink {
public:
    // Prepares the sockets in a private directory; starts nothing yet.
    explicit WarmServerLink(uint32_t node_index);
    ~WarmServerLink();
    WarmServerLink(const WarmServerLink &) = delete;
    WarmServerLink &operator=(const WarmServerLink &) = delete;

    // NAME=VALUE entries every process of the node gets.
    std::vector<std::string> environment() const;

    // Starts the warm server if the dragon Python package is installed beside us and an
    // interpreter is found; its own output goes to `output`. Returns whether it started.
    // `head_command` is the job's program: when it is a Python interpreter, the warm
    // server runs on that same interpreter, so children match their parent's Python.
    bool start(const std::vector<std::string> &base_env, OutputForwarder &output,
               const std::vector<std::string> &head_command);

    // The control socket to poll, or -1.
    int control_fd() const { return control_fd_; }
    // Takes every pending control message (registers children's output with `output`).
    void handle_control(OutputForwarder &output);

    std::optional<pid_t> pid() const { return pid_; }

private:
    wireup::PrivateTmpdir dir_; // removed with the socket in it when the link goes
    std::string socket_path_;
    int listen_fd_ = -1, control_fd_ = -1, server_control_fd_ = -1;
    std::optional<pid_t> pid_;
};

// <dir of this executable>/../lib/python3/site-packages: where the dragon package lives.
std::string python_package_dir();

} // namespace dragon::node
