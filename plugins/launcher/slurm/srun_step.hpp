// One job step of dragon-nodes started with srun: the srun process, its aggregate
// result, signals to the step (through scancel, since srun itself turns SIGTERM into
// an immediate kill and answers a single SIGINT with a status line), and teardown.
#pragma once

#include "common/step_process.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dragon::launcher_slurm {

// Runs argv (a Slurm client command) with stdout captured, up to `timeout_ms`; the
// child is killed past it. Returns its exit status (-1: did not end in time or could
// not run). Slurm commands can stall for seconds when munge or slurmctld misbehave,
// so every call has this deadline.
int run_command(const std::vector<std::string> &argv, int timeout_ms, std::string &out);

class SrunStep {
public:
    // fork/exec of `srun_argv` (argv[0] the full path of srun), in a process group of its
    // own unless stdin is a terminal, with this environment plus `extra_env` (later entries replace
    // earlier ones); stdin, stdout and stderr inherited. `step_name` (srun --job-name) finds the
    // step for scancel. Throws dragon::Error when srun cannot be executed.
    static std::unique_ptr<SrunStep> start(const std::vector<std::string> &srun_argv,
                                           const std::vector<std::string> &extra_env,
                                           const std::string &job_id, const std::string &step_name);
    // Ends the step if it still runs (scancel --signal=KILL, then srun itself) and reaps srun.
    ~SrunStep();
    SrunStep(const SrunStep &) = delete;
    SrunStep &operator=(const SrunStep &) = delete;

    using Waited = launcher_support::StepProcess::Waited;
    // srun's end (timeout_ns < 0: no limit; 0: poll). exit_code: srun's exit code (the
    // highest of the tasks'), or -N when srun itself was killed by signal N.
    Waited wait(int64_t timeout_ns, int &exit_code);
    // Delivers `signum` to every task of the step (scancel --signal); before the step
    // exists, ends srun instead.
    void signal(int signum);

private:
    SrunStep(std::unique_ptr<launcher_support::StepProcess> srun, std::string job_id,
             std::string step_name);
    std::optional<std::string> find_step(int deadline_ms);
    std::string client(const std::string &name) const;

    std::unique_ptr<launcher_support::StepProcess> srun_;
    std::string job_id_, step_name_;
    std::string bin_dir_;             // srun's directory with its trailing slash
    std::optional<std::string> step_; // "JOB.STEP", once seen
};

} // namespace dragon::launcher_slurm
