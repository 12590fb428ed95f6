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

    // As start(), but only once a process connects to the socket: a node whose
    // processes start nothing pays no interpreter (on a machine that simulates many
    // nodes, the warm servers of all of them would compete with the head program for
    // the CPUs while it starts). Until then, poll wake_fd() and call start_now() when
    // it is readable.
    void start_on_first_use(const std::vector<std::string> &base_env,
                            const std::vector<std::string> &head_command);
    // The listening socket while a start on first use waits, else -1.
    int wake_fd() const { return waiting_for_use_ ? listen_fd_ : -1; }
    void start_now(OutputForwarder &output);

    // The control socket to poll, or -1.
    int control_fd() const { return control_fd_; }
    // Takes every pending control message (registers children's output with `output`).
    void handle_control(OutputForwarder &output);

    std::optional<pid_t> pid() const { return pid_; }
    const std::string &socket_path() const { return socket_path_; }
    // The private directory its socket lives in.
    std::string directory() const { return dir_.path().string(); }

    // The warm server ended (`status` from waitpid) while the node runs: starts a new
    // one on the same listening socket, so later starts work and requests already
    // queued are served; the children it had started keep running (this node reaps
    // them). After max_restarts it stops listening: every later start fails at once
    // with a clear error instead of waiting for a server that will not come.
    void ended(int status, OutputForwarder &output);

    static constexpr int max_restarts = 3;
    // The warm server's exit code when the dragon package has no extension for its
    // interpreter (warm_server.py said which ones it has): starting it again is futile.
    static constexpr int exit_no_extension = 78;

private:
    void open_control();

    wireup::PrivateTmpdir dir_; // removed with the socket in it when the link goes
    std::string socket_path_;
    int listen_fd_ = -1, control_fd_ = -1, server_control_fd_ = -1;
    std::optional<pid_t> pid_;
    std::vector<std::string> base_env_, head_command_;
    int restarts_ = 0;
    bool waiting_for_use_ = false;
};

// <dir of this executable>/../lib/python3/site-packages: where the dragon package lives.
std::string python_package_dir();

} // namespace dragon::node
