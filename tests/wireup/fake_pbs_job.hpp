// A PBS job for the pbs_pals launcher's tests where no PBS exists: a node file naming
// two hosts, PBS_JOBID and PBS_NODEFILE, and PALS' mpiexec played by the stand-in
// tests/pbs/mpiexec (which serves PMIx through Open MPI's mpirun; every "host" is this
// machine).
#pragma once

#include <filesystem>
#include <string>

namespace wireup_test {

// Empty when the stand-in can run here; else why not (for GTEST_SKIP).
std::string pbs_standin_unavailable();

class FakePbsJob {
public:
    // Sets the job's variables in this process unless a real PBS job is already there
    // (PBS_JOBID set) or the stand-in cannot run. Call before the plugin registry is
    // first used: plugins are probed once.
    FakePbsJob();
    // Removes the node file and restores the variables it set.
    ~FakePbsJob();
    FakePbsJob(const FakePbsJob &) = delete;
    FakePbsJob &operator=(const FakePbsJob &) = delete;

private:
    std::filesystem::path dir_;
    bool active_ = false;
};

} // namespace wireup_test
