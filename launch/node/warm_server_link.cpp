#include "warm_server_link.hpp"

#include "fd_passing.hpp"
#include "managed_process.hpp"
#include "program_resolution.hpp"

#include "core/error.hpp"
#include "core/job.hpp"
#include "core/log.hpp"
#include "core/text.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace dragon::node {

std::string python_package_dir()
{
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    return (self.parent_path().parent_path() / "lib" / "python3" / "site-packages").string();
}

WarmServerLink::WarmServerLink(uint32_t node_index)
    : dir_(std::string(segment_prefix) + job_id() + "-n" + std::to_string(node_index) + "-"),
      socket_path_((dir_.path() / "warm.sock").string())
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof addr.sun_path)
        throw Error(DRAGON_ERR_INVALID, "socket path " + socket_path_ +
                                            " is too long: set TMPDIR to a shorter directory");
    std::strcpy(addr.sun_path, socket_path_.c_str());
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 256) != 0)
        throw Error(DRAGON_ERR_INTERNAL,
                    "cannot listen on " + socket_path_ + ": " + errno_text(errno));
    open_control();
}

void WarmServerLink::open_control()
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        throw Error(DRAGON_ERR_INTERNAL, "socketpair failed: " + errno_text(errno));
    control_fd_ = pair[0];
    server_control_fd_ = pair[1];
    fcntl(control_fd_, F_SETFL, O_NONBLOCK);
}

WarmServerLink::~WarmServerLink()
{
    for (int fd : {listen_fd_, control_fd_, server_control_fd_})
        if (fd >= 0)
            close(fd);
}

std::vector<std::string> WarmServerLink::environment() const
{
    return {"DRAGON_WARM_SOCKET=" + socket_path_};
}

namespace {

// The head program's interpreter if it is one (dragon /usr/bin/python3 prog.py,
// or a .py PROG already resolved to DRAGON_PYTHON), else DRAGON_PYTHON / python3.
std::string interpreter_for(const std::vector<std::string> &head_command)
{
    if (!head_command.empty() &&
        fs::path(head_command.front()).filename().string().rfind("python", 0) == 0) {
        std::string head = cli::find_executable(head_command.front());
        if (!head.empty())
            return head;
    }
    return cli::find_executable(cli::python_interpreter_name());
}

} // namespace

bool WarmServerLink::start(const std::vector<std::string> &base_env, OutputForwarder &output,
                           const std::vector<std::string> &head_command)
{
    std::string package = python_package_dir();
    if (!fs::exists(fs::path(package) / "dragon" / "warm_server.py")) {
        log::debug("no dragon Python package in ", package, ": no warm server");
        return false;
    }
    std::string python = interpreter_for(head_command);
    if (python.empty()) {
        log::debug("no Python interpreter found: no warm server");
        return false;
    }
    base_env_ = base_env;
    head_command_ = head_command;
    std::vector<std::string> env = base_env;
    env.push_back("DRAGON_WARM_LISTEN_FD=" + std::to_string(listen_fd_));
    env.push_back("DRAGON_NODE_CONTROL_FD=" + std::to_string(server_control_fd_));
    // SIGINT ignored from the start: the node passes a Ctrl-C on to every process it
    // started, and one that came while the server still imported the package printed
    // a KeyboardInterrupt traceback (Python keeps an inherited SIG_IGN). Its children
    // get Python's handler back (warm_server.py).
    StartedProcess p = start_process({python, "-m", "dragon.warm_server"}, env,
                                     {listen_fd_, server_control_fd_}, {SIGINT});
    pid_ = p.pid;
    output.add(p.stdout_fd, 1, p.pid);
    output.add(p.stderr_fd, 2, p.pid);
    // The server owns these now; the node keeps only its end of the control socket.
    close(server_control_fd_);
    server_control_fd_ = -1;
    log::debug("warm server started as pid ", p.pid);
    return true;
}

void WarmServerLink::start_on_first_use(const std::vector<std::string> &base_env,
                                        const std::vector<std::string> &head_command)
{
    base_env_ = base_env;
    head_command_ = head_command;
    waiting_for_use_ = listen_fd_ >= 0;
}

void WarmServerLink::start_now(OutputForwarder &output)
{
    if (!waiting_for_use_)
        return;
    waiting_for_use_ = false;
    log::debug("a process asked for the warm server: starting it");
    start(base_env_, output, head_command_);
}

void WarmServerLink::ended(int status, OutputForwarder &output)
{
    pid_t old = pid_.value_or(0);
    pid_.reset();
    // Output pipes it handed over before it died are still queued: take them first.
    if (control_fd_ >= 0) {
        handle_control(output);
        if (control_fd_ >= 0)
            close(control_fd_);
        control_fd_ = -1;
    }
    std::string how = WIFSIGNALED(status)
                          ? "was killed by " + text::describe_signal(WTERMSIG(status))
                          : "exited with " + std::to_string(exit_code_of(status));
    bool futile = WIFEXITED(status) && WEXITSTATUS(status) == exit_no_extension;
    if (futile || restarts_ >= max_restarts) {
        // Nobody will accept on it again: refuse at once rather than queue forever.
        close(listen_fd_);
        listen_fd_ = -1;
        unlink(socket_path_.c_str());
        if (futile)
            log::error("the warm server cannot run on this interpreter (see above): Python "
                       "processes cannot start on this node");
        else
            log::error("the warm server (pid ", old, ") ", how, " after ", restarts_,
                       " restarts: Python processes can no longer start on this node");
        return;
    }
    ++restarts_;
    log::warning("the warm server (pid ", old, ") ", how,
                 ": starting a new one (the processes it started keep running)");
    try {
        open_control();
        start(base_env_, output, head_command_);
    } catch (const Error &e) {
        log::error("cannot restart the warm server: ", e.what());
    }
}

void WarmServerLink::handle_control(OutputForwarder &output)
{
    while (true) {
        char payload[128];
        std::vector<int> fds;
        ssize_t n = receive_with_fds(control_fd_, payload, sizeof payload - 1, fds);
        if (n <= 0) {
            if (n == 0) { // the warm server is gone: stop polling its socket
                close(control_fd_);
                control_fd_ = -1;
            }
            return;
        }
        payload[n] = '\0';
        long pid = 0;
        if (std::sscanf(payload, "output %ld", &pid) == 1 && fds.size() == 2) {
            for (int fd : fds)
                fcntl(fd, F_SETFL, O_NONBLOCK);
            output.add(fds[0], 1, static_cast<pid_t>(pid));
            output.add(fds[1], 2, static_cast<pid_t>(pid));
            continue;
        }
        log::warning("ignoring a malformed message from the warm server: '", payload, "'");
        for (int fd : fds)
            close(fd);
    }
}

} // namespace dragon::node
