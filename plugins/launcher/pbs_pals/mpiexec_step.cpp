#include "mpiexec_step.hpp"

#include <csignal>

namespace dragon::launcher_pbs {
namespace {

// After SIGTERM, mpiexec forwards it and exits once the ranks have ended; a dragon-node
// tears down within about a second. Past this, mpiexec is killed (PALS then kills the
// ranks it still has).
constexpr int release_wait_ms = 5000;

} // namespace

std::unique_ptr<MpiexecStep> MpiexecStep::start(const std::vector<std::string> &argv,
                                                const std::vector<std::string> &extra_env)
{
    return std::unique_ptr<MpiexecStep>(new MpiexecStep(launcher_support::StepProcess::start(
        argv, extra_env, "pbs_pals launcher",
        "set DRAGON_LAUNCHER_PBS_PALS_MPIEXEC to the path of PALS' mpiexec")));
}

MpiexecStep::~MpiexecStep()
{
    if (!mpiexec_->reap(false)) {
        mpiexec_->kill(SIGTERM);
        mpiexec_->wait_for_end(release_wait_ms); // then ~StepProcess kills and reaps it
    }
}

} // namespace dragon::launcher_pbs
