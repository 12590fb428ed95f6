// A workload manager's launch command (srun, mpiexec) run as the frontend's child: it
// starts every node and reports one result for the whole step when they have ended.
// Shared by the launchers that go through such a command; what differs between them
// (how a signal reaches the nodes, how the step is ended) stays in each launcher.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dragon::launcher_support {

class StepProcess {
public:
    // fork/exec of `argv` (argv[0] the full path), in a process group of its own unless
    // stdin is a terminal (reading it for node 0 needs the terminal's foreground group),
    // with this environment plus `extra_env` (a later NAME= replaces an earlier one);
    // stdin, stdout and stderr inherited; it gets SIGTERM should the frontend die.
    // Throws dragon::Error naming `who` and `fix` when the command cannot be executed.
    static std::unique_ptr<StepProcess> start(const std::vector<std::string> &argv,
                                              const std::vector<std::string> &extra_env,
                                              const std::string &who, const std::string &fix);
    // Kills the command (SIGKILL) if it still runs, and reaps it.
    ~StepProcess();
    StepProcess(const StepProcess &) = delete;
    StepProcess &operator=(const StepProcess &) = delete;

    pid_t pid() const { return pid_; }
    // True once the command has ended (reaped; block: wait for it).
    bool reap(bool block);
    // Waits up to `timeout_ms` for the end; true when it has ended.
    bool wait_for_end(int timeout_ms);
    // Sends `signum` to the command itself unless it has ended.
    void kill(int signum);

    enum class Waited { Ended, TimedOut, AllReported };
    // The command's end (timeout_ns < 0: no limit; 0: poll), reported once. exit_code: its
    // exit code, or -N when it was killed by signal N.
    Waited wait(int64_t timeout_ns, int &exit_code);

private:
    explicit StepProcess(pid_t pid);

    pid_t pid_;
    int pidfd_ = -1;
    std::optional<int> status_; // waitpid status once reaped
    bool reported_ = false;
};

} // namespace dragon::launcher_support
