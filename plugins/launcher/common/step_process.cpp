#include "step_process.hpp"

#include "common/process_support.hpp"
#include "core/error.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char **environ;

namespace dragon::launcher_support {
namespace {

using Clock = std::chrono::steady_clock;

// This process's environment, then `extra`; a later NAME= replaces an earlier one.
std::vector<std::string> merged_environment(const std::vector<std::string> &extra)
{
    std::vector<std::string> env;
    for (char **e = environ; e && *e; ++e)
        set_variable(env, *e);
    for (const auto &e : extra)
        set_variable(env, e);
    return env;
}

} // namespace

StepProcess::StepProcess(pid_t pid) : pid_(pid), pidfd_(open_pidfd(pid)) {}

std::unique_ptr<StepProcess> StepProcess::start(const std::vector<std::string> &argv,
                                                const std::vector<std::string> &extra_env,
                                                const std::string &who, const std::string &fix)
{
    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls.
    std::vector<std::string> env = merged_environment(extra_env);
    std::vector<char *> c_argv = c_array(argv), c_env = c_array(env);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw Error(DRAGON_ERR_INTERNAL, who + ": pipe2 failed: " + std::strerror(errno));
    OwnedFd report_read{fds[0]}, report_write{fds[1]};
    // From a terminal, the command stays in dragon's (foreground) process group, or
    // reading the terminal for node 0's stdin could not work; a Ctrl-C then reaches it
    // too. Otherwise it gets a group of its own, and only dragon's relay reaches the step.
    const bool own_group = !isatty(STDIN_FILENO);
    const pid_t frontend = getpid();
    pid_t pid = fork();
    if (pid < 0)
        throw Error(DRAGON_ERR_NO_MEMORY, who + ": fork failed: " + std::strerror(errno));
    if (pid == 0) {
        if (own_group)
            setpgid(0, 0);
        // If the frontend dies, even by SIGKILL, the command ends the step rather than
        // leave it.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != frontend)
            _exit(1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        struct sigaction act {};
        act.sa_handler = SIG_DFL;
        for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD})
            sigaction(s, &act, nullptr);
        // Should the command still end up reading a terminal from outside its foreground
        // group (dragon itself in the background), the read fails instead of stopping it,
        // and writing goes ahead even under stty tostop.
        act.sa_handler = SIG_IGN;
        sigaction(SIGTTIN, &act, nullptr);
        sigaction(SIGTTOU, &act, nullptr);
        execve(c_argv[0], c_argv.data(), c_env.data());
        report_child_failure(fds[1]);
    }
    if (own_group)
        setpgid(pid, pid);
    close(report_write.fd);
    report_write.fd = -1;
    if (int child_errno = child_failure(report_read.fd)) {
        waitpid(pid, nullptr, 0);
        throw Error(DRAGON_ERR_NOT_FOUND, who + ": cannot execute " + argv[0] + ": " +
                                              std::strerror(child_errno) + " (" + fix + ")");
    }
    return std::unique_ptr<StepProcess>(new StepProcess(pid));
}

bool StepProcess::reap(bool block)
{
    if (status_)
        return true;
    int status = 0;
    pid_t r;
    do
        r = waitpid(pid_, &status, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == pid_) {
        status_ = status;
        if (pidfd_ >= 0) {
            close(pidfd_);
            pidfd_ = -1;
        }
        return true;
    }
    return false;
}

bool StepProcess::wait_for_end(int timeout_ms)
{
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!reap(false)) {
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0)
            return false;
        pollfd p{pidfd_, POLLIN, 0};
        if (pidfd_ < 0 || poll(&p, 1, static_cast<int>(std::min<long long>(left, 50))) < 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

void StepProcess::kill(int signum)
{
    if (!reap(false))
        ::kill(pid_, signum);
}

StepProcess::Waited StepProcess::wait(int64_t timeout_ns, int &exit_code)
{
    if (reported_)
        return Waited::AllReported;
    const auto deadline = Clock::now() + std::chrono::nanoseconds(timeout_ns);
    while (!reap(false)) {
        if (timeout_ns == 0 || (timeout_ns > 0 && Clock::now() >= deadline))
            return Waited::TimedOut;
        int left_ms = timeout_ns < 0
                          ? 1000
                          : static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 deadline - Clock::now())
                                                 .count()) +
                                1;
        if (pidfd_ >= 0) {
            pollfd p{pidfd_, POLLIN, 0};
            poll(&p, 1, left_ms);
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min(left_ms, 10)));
        }
    }
    reported_ = true;
    exit_code = WIFEXITED(*status_) ? WEXITSTATUS(*status_) : -WTERMSIG(*status_);
    return Waited::Ended;
}

StepProcess::~StepProcess()
{
    if (!reap(false)) {
        ::kill(pid_, SIGKILL);
        reap(true);
    }
    if (pidfd_ >= 0)
        close(pidfd_);
}

} // namespace dragon::launcher_support
