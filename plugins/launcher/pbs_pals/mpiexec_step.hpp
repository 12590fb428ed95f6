// One launch of dragon-nodes through PALS' mpiexec: it forwards the signals it gets to
// every rank (so a signal to the step is a signal to mpiexec) and exits with one result
// for the whole application once every rank has ended.
#pragma once

#include "common/step_process.hpp"

#include <memory>
#include <string>
#include <vector>

namespace dragon::launcher_pbs {

class MpiexecStep {
public:
    // Starts `argv` (argv[0] the full path of mpiexec) with this environment plus `extra_env`.
    // Throws dragon::Error when it cannot be executed.
    static std::unique_ptr<MpiexecStep> start(const std::vector<std::string> &argv,
                                              const std::vector<std::string> &extra_env);
    // Ends the launch if it still runs: SIGTERM to mpiexec (which ends the ranks), then,
    // past a grace period, SIGKILL; reaps mpiexec.
    ~MpiexecStep();

    using Waited = launcher_support::StepProcess::Waited;
    // mpiexec's end (timeout_ns < 0: no limit; 0: poll): its exit code (the highest of the
    // ranks'), or -N when mpiexec itself was killed by signal N.
    Waited wait(int64_t timeout_ns, int &exit_code)
    {
        return mpiexec_->wait(timeout_ns, exit_code);
    }
    // Delivers `signum` to every rank, through mpiexec.
    void signal(int signum) { mpiexec_->kill(signum); }

private:
    explicit MpiexecStep(std::unique_ptr<launcher_support::StepProcess> mpiexec)
        : mpiexec_(std::move(mpiexec))
    {
    }
    std::unique_ptr<launcher_support::StepProcess> mpiexec_;
};

} // namespace dragon::launcher_pbs
