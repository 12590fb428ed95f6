#include "srun_step.hpp"

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

namespace dragon::launcher_slurm {
namespace {

using Clock = std::chrono::steady_clock;
// After scancel --signal=KILL, srun reports the step's end within Slurm's own timeouts
// (seconds); past this it is killed and reaped all the same.
constexpr int release_wait_ms = 5000;
// A Slurm client call (squeue, scancel) normally answers in tens of milliseconds.
constexpr int client_timeout_ms = 5000;
// How long signal() looks for a step srun is still creating before it ends srun itself.
constexpr int step_lookup_ms = 2000;

struct Fd {
    int fd = -1;
    ~Fd()
    {
        if (fd >= 0)
            close(fd);
    }
};

std::vector<char *> c_array(const std::vector<std::string> &strings)
{
    std::vector<char *> out;
    for (const auto &s : strings)
        out.push_back(const_cast<char *>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

// This process's environment, then `extra`; a later NAME= replaces an earlier one.
std::vector<std::string> merged_environment(const std::vector<std::string> &extra)
{
    std::vector<std::string> env;
    auto put = [&](const std::string &entry) {
        std::string name = entry.substr(0, entry.find('=') + 1);
        for (auto &e : env)
            if (e.compare(0, name.size(), name) == 0) {
                e = entry;
                return;
            }
        env.push_back(entry);
    };
    for (char **e = environ; e && *e; ++e)
        put(*e);
    for (const auto &e : extra)
        put(e);
    return env;
}

int elapsed_ms(Clock::time_point since)
{
    return static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
}

} // namespace

int run_command(const std::vector<std::string> &argv, int timeout_ms, std::string &out)
{
    out.clear();
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    Fd read_end{fds[0]}, write_end{fds[1]};
    std::vector<char *> c_argv = c_array(argv);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        execvp(c_argv[0], c_argv.data());
        _exit(127);
    }
    close(write_end.fd);
    write_end.fd = -1;
    const auto begin = Clock::now();
    char buf[4096];
    while (true) {
        int left = timeout_ms - elapsed_ms(begin);
        pollfd p{read_end.fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
            return -1;
        }
        ssize_t got = read(read_end.fd, buf, sizeof buf);
        if (got > 0)
            out.append(buf, static_cast<size_t>(got));
        else if (got == 0 || errno != EINTR)
            break;
    }
    int status = 0;
    while (true) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 || elapsed_ms(begin) > timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

SrunStep::SrunStep(pid_t pid, std::string job_id, std::string step_name)
    : pid_(pid), pidfd_(launcher_support::open_pidfd(pid)), job_id_(std::move(job_id)),
      step_name_(std::move(step_name))
{
}

std::string SrunStep::client(const std::string &name) const
{
    // squeue and scancel from srun's own installation, when srun was given by path.
    std::string candidate = bin_dir_ + name;
    return !bin_dir_.empty() && access(candidate.c_str(), X_OK) == 0 ? candidate : name;
}

std::unique_ptr<SrunStep> SrunStep::start(const std::vector<std::string> &srun_argv,
                                          const std::vector<std::string> &extra_env,
                                          const std::string &job_id, const std::string &step_name)
{
    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls.
    std::vector<std::string> env = merged_environment(extra_env);
    std::vector<char *> c_argv = c_array(srun_argv), c_env = c_array(env);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw Error(DRAGON_ERR_INTERNAL,
                    std::string("slurm launcher: pipe2 failed: ") + std::strerror(errno));
    Fd report_read{fds[0]}, report_write{fds[1]};
    // From a terminal, srun stays in dragon's (foreground) process group, or reading the
    // terminal for node 0's stdin could not work; a Ctrl-C then reaches srun too, which
    // prints the step's status and leaves the relay to dragon. Otherwise srun gets a group
    // of its own, and only dragon's relay (scancel) reaches the step.
    const bool own_group = !isatty(STDIN_FILENO);
    const pid_t frontend = getpid();
    pid_t pid = fork();
    if (pid < 0)
        throw Error(DRAGON_ERR_NO_MEMORY,
                    std::string("slurm launcher: fork failed: ") + std::strerror(errno));
    if (pid == 0) {
        if (own_group)
            setpgid(0, 0);
        // If the frontend dies, even by SIGKILL, srun ends the step rather than leave it.
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
        // Should srun still end up reading a terminal from outside its foreground group
        // (dragon itself in the background), the read fails instead of stopping srun, and
        // writing goes ahead even under stty tostop.
        act.sa_handler = SIG_IGN;
        sigaction(SIGTTIN, &act, nullptr);
        sigaction(SIGTTOU, &act, nullptr);
        execve(c_argv[0], c_argv.data(), c_env.data());
        int err = errno;
        ssize_t ignored = write(fds[1], &err, sizeof err);
        (void)ignored;
        _exit(127);
    }
    if (own_group)
        setpgid(pid, pid);
    close(report_write.fd);
    report_write.fd = -1;
    int child_errno = 0;
    ssize_t got;
    do
        got = read(report_read.fd, &child_errno, sizeof child_errno);
    while (got < 0 && errno == EINTR);
    if (got == static_cast<ssize_t>(sizeof child_errno)) {
        waitpid(pid, nullptr, 0);
        throw Error(DRAGON_ERR_NOT_FOUND, "slurm launcher: cannot execute " + srun_argv[0] + ": " +
                                              std::strerror(child_errno) +
                                              " (set DRAGON_LAUNCHER_SLURM_SRUN to srun's path)");
    }
    auto step = std::unique_ptr<SrunStep>(new SrunStep(pid, job_id, step_name));
    step->bin_dir_ = srun_argv[0].substr(0, srun_argv[0].rfind('/') + 1);
    return step;
}

bool SrunStep::reap(bool block)
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

SrunStep::Waited SrunStep::wait(int64_t timeout_ns, int &exit_code)
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

std::optional<std::string> SrunStep::find_step(int deadline_ms)
{
    if (step_)
        return step_;
    const auto begin = Clock::now();
    while (!reap(false)) {
        std::string out;
        int left = deadline_ms - elapsed_ms(begin);
        if (run_command(
                {client("squeue"), "--noheader", "--steps", "--jobs=" + job_id_, "--format=%i %j"},
                std::max(left, 100), out) == 0) {
            size_t begin_line = 0;
            while (begin_line < out.size()) {
                size_t end = out.find('\n', begin_line);
                if (end == std::string::npos)
                    end = out.size();
                std::string line = out.substr(begin_line, end - begin_line);
                size_t space = line.find(' ');
                if (space != std::string::npos && line.substr(space + 1) == step_name_)
                    return step_ = line.substr(0, space);
                begin_line = end + 1;
            }
        }
        if (elapsed_ms(begin) >= deadline_ms)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
}

void SrunStep::signal(int signum)
{
    if (reap(false))
        return;
    if (auto step = find_step(step_lookup_ms)) {
        std::string out;
        const char *name = sigabbrev_np(signum);
        std::string sig = name ? name : std::to_string(signum);
        if (run_command({client("scancel"), "--quiet", "--signal=" + sig, *step}, client_timeout_ms,
                        out) == 0)
            return;
    }
    // No step to signal (srun is still creating it, or Slurm does not answer): srun
    // turns SIGTERM into the end of whatever it has started.
    if (!reap(false))
        kill(pid_, SIGTERM);
}

SrunStep::~SrunStep()
{
    if (!reap(false)) {
        if (auto step = find_step(500)) {
            std::string out;
            run_command({client("scancel"), "--quiet", "--signal=KILL", *step}, client_timeout_ms,
                        out);
        } else {
            kill(pid_, SIGTERM);
        }
        const auto begin = Clock::now();
        while (!reap(false) && elapsed_ms(begin) < release_wait_ms) {
            pollfd p{pidfd_, POLLIN, 0};
            if (pidfd_ < 0 || poll(&p, 1, 50) < 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (!reap(false)) {
            kill(pid_, SIGKILL);
            reap(true);
        }
    }
    if (pidfd_ >= 0)
        close(pidfd_);
}

} // namespace dragon::launcher_slurm
