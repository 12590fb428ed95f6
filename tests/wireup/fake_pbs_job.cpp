#include "fake_pbs_job.hpp"

#include "common/process_support.hpp"

#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace wireup_test {

namespace fs = std::filesystem;

namespace {

bool on_path(const std::string &program)
{
    return !dragon::launcher_support::find_on_path(program).empty();
}

constexpr const char *variables[] = {"PBS_JOBID", "PBS_NODEFILE", "NCPUS",
                                     "DRAGON_LAUNCHER_PBS_PALS_MPIEXEC"};

} // namespace

std::string pbs_standin_unavailable()
{
    if (const char *job = std::getenv("PBS_JOBID"); job && *job)
        return ""; // a real PBS job: the launcher runs as it is
    if (!on_path("mpirun"))
        return "no PBS here, and the PALS stand-in (tests/pbs/mpiexec) needs Open MPI's mpirun "
               "to serve PMIx: install openmpi-bin (ci/install-deps.sh)";
    if (!on_path("python3"))
        return "the PALS stand-in (tests/pbs/mpiexec) needs python3 on PATH";
    return "";
}

FakePbsJob::FakePbsJob()
{
    if (const char *job = std::getenv("PBS_JOBID"); job && *job)
        return;
    if (!pbs_standin_unavailable().empty())
        return;
    std::string pattern = (fs::temp_directory_path() / "fake-pbs-job-XXXXXX").string();
    if (!mkdtemp(pattern.data()))
        return;
    dir_ = pattern;
    // Two hosts, one slot each (select=2:mpiprocs=1); the stand-in only counts them.
    std::ofstream(dir_ / "nodefile") << "standin-host-a\nstandin-host-b\n";
    setenv("PBS_JOBID", "4242.standin", 1);
    setenv("PBS_NODEFILE", (dir_ / "nodefile").c_str(), 1);
    unsetenv("NCPUS");
    setenv("DRAGON_LAUNCHER_PBS_PALS_MPIEXEC", PBS_STANDIN_MPIEXEC, 1);
    active_ = true;
}

FakePbsJob::~FakePbsJob()
{
    if (!active_)
        return;
    for (const char *name : variables)
        unsetenv(name);
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

} // namespace wireup_test
