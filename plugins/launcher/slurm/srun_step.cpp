#include "srun_step.hpp"

#include "common/process_support.hpp"
#include "core/error.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace dragon::launcher_slurm {
namespace {

using launcher_support::c_array;
using launcher_support::OwnedFd;
using launcher_support::StepProcess;

using Clock = std::chrono::steady_clock;
// After scancel --signal=KILL, srun reports the step's end within Slurm's own timeouts
// (seconds); past this it is killed and reaped all the same.
constexpr int release_wait_ms = 5000;
// A Slurm client call (squeue, scancel) normally answers in tens of milliseconds.
constexpr int client_timeout_ms = 5000;
// How long signal() looks for a step srun is still creating before it ends srun itself.
constexpr int step_lookup_ms = 2000;

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
    OwnedFd read_end{fds[0]}, write_end{fds[1]};
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

SrunStep::SrunStep(std::unique_ptr<StepProcess> srun, std::string job_id, std::string step_name)
    : srun_(std::move(srun)), job_id_(std::move(job_id)), step_name_(std::move(step_name))
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
    // From a terminal, srun stays in dragon's process group (StepProcess): a Ctrl-C then
    // reaches srun too, which prints the step's status and leaves the relay to dragon.
    auto srun = StepProcess::start(srun_argv, extra_env, "slurm launcher",
                                   "set DRAGON_LAUNCHER_SLURM_SRUN to srun's path");
    auto step = std::unique_ptr<SrunStep>(new SrunStep(std::move(srun), job_id, step_name));
    step->bin_dir_ = srun_argv[0].substr(0, srun_argv[0].rfind('/') + 1);
    return step;
}

SrunStep::Waited SrunStep::wait(int64_t timeout_ns, int &exit_code)
{
    return srun_->wait(timeout_ns, exit_code);
}

std::optional<std::string> SrunStep::find_step(int deadline_ms)
{
    if (step_)
        return step_;
    const auto begin = Clock::now();
    while (!srun_->reap(false)) {
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
    if (srun_->reap(false))
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
    srun_->kill(SIGTERM);
}

SrunStep::~SrunStep()
{
    if (!srun_->reap(false)) {
        if (auto step = find_step(500)) {
            std::string out;
            run_command({client("scancel"), "--quiet", "--signal=KILL", *step}, client_timeout_ms,
                        out);
        } else {
            srun_->kill(SIGTERM);
        }
        // Past this srun is killed and reaped all the same (~StepProcess).
        srun_->wait_for_end(release_wait_ms);
    }
}

} // namespace dragon::launcher_slurm
