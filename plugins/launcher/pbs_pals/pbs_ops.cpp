#include "pbs_ops.hpp"

#include "common/ops_support.hpp"
#include "common/process_support.hpp"
#include "core/error.hpp"
#include "mpiexec_command.hpp"
#include "mpiexec_step.hpp"
#include "pbs_nodefile.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>

// The handle the framework holds; opaque to it.
struct dragon_launch {
    std::unique_ptr<dragon::launcher_pbs::MpiexecStep> step;
};

namespace dragon::launcher_pbs {

namespace {

// Above local (1), below slurm (50): a shell that shows both a Slurm allocation and a
// PBS job (one started from inside the other) gets Slurm's; -w pbs_pals picks this one.
constexpr int available_priority = 45;

constexpr char who[] = "pbs_pals launcher";
using StepOps = launcher_support::WholeStepOps<dragon_launch, who>;
using launcher_support::fitted;
using launcher_support::join;
using launcher_support::param;
using launcher_support::strings;

template <typename Body> dragon_status guarded(dragon_error *err, Body &&body)
{
    return launcher_support::guarded(err, who, std::forward<Body>(body));
}

std::string mpiexec_name(const dragon_host *host)
{
    std::string name = param(host, "mpiexec");
    return name.empty() ? "mpiexec" : name;
}

Allocation require_allocation()
{
    std::string why;
    auto a = current_allocation(why);
    if (!a)
        throw Error(DRAGON_ERR_UNAVAILABLE, std::string(who) + ": " + why);
    return *a;
}

// The program the launch runs, found, or an error naming the job and the fix.
std::string require_mpiexec(const dragon_host *host, const Allocation &a)
{
    const std::string override_line = param(host, "mpiexec_override");
    std::string program = mpiexec_program(mpiexec_name(host), override_line);
    std::string path = launcher_support::find_on_path(program);
    if (path.empty())
        throw Error(DRAGON_ERR_UNAVAILABLE,
                    std::string(who) + ": inside PBS job " + a.job_id + ", but mpiexec ('" +
                        program + "') is not found: " +
                        (override_line.empty()
                             ? "load PALS (module load cray-pals), fix PATH or set "
                               "DRAGON_LAUNCHER_PBS_PALS_MPIEXEC to its path"
                             : "fix the first word of DRAGON_LAUNCHER_PBS_PALS_MPIEXEC_OVERRIDE "
                               "or PATH"));
    // The mpiexec first on PATH may be another MPI's (Open MPI, MPICH), which takes none
    // of PALS' flags. Found by its default name, it must lie under a pals directory (as
    // /opt/cray/pals/<version>/bin/mpiexec does; Dragon checks the same); one the site
    // names through a parameter is taken as it is.
    if (override_line.empty() && param(host, "mpiexec").empty()) {
        std::error_code ec;
        std::string real = std::filesystem::canonical(path, ec).string();
        if (real.find("/pals/") == std::string::npos)
            throw Error(DRAGON_ERR_UNAVAILABLE,
                        std::string(who) + ": inside PBS job " + a.job_id +
                            ", but the mpiexec on PATH (" + path +
                            (real != path && !real.empty() ? " -> " + real : "") +
                            ") is not PALS' (not under a pals directory): load PALS (module load "
                            "cray-pals), or set DRAGON_LAUNCHER_PBS_PALS_MPIEXEC to PALS' mpiexec");
    }
    return path;
}

uint32_t given_node_cpus(const dragon_host *host)
{
    long given = std::atol(param(host, "node_cpus").c_str());
    return given > 0 ? static_cast<uint32_t>(given) : 0;
}

// What each node counts: the node_cpus parameter when given, else what PBS granted.
uint32_t node_cpus(const dragon_host *host, const Allocation &a)
{
    return given_node_cpus(host) ? given_node_cpus(host) : a.cpus_per_node();
}

const char *node_cpus_source(const dragon_host *host, const Allocation &a)
{
    return given_node_cpus(host) ? "DRAGON_LAUNCHER_PBS_PALS_NODE_CPUS"
           : a.ncpus             ? "NCPUS"
                                 : "its lines per host";
}

dragon_status node_count(const dragon_host *, uint32_t *out, dragon_error *err)
{
    return guarded(err, [&] {
        if (!out)
            throw Error(DRAGON_ERR_INVALID, std::string(who) + ": node_count needs an output");
        *out = static_cast<uint32_t>(require_allocation().hosts.size());
        return DRAGON_OK;
    });
}

dragon_status start(const dragon_host *host, const dragon_launch_request *request,
                    dragon_launch **out, dragon_error *err)
{
    return guarded(err, [&] {
        launcher_support::check_whole_step_request(request, out, who, "mpiexec");
        Allocation a = require_allocation();
        const uint32_t granted = static_cast<uint32_t>(a.hosts.size());
        const uint32_t n = request->num_nodes ? request->num_nodes : granted;
        if (n > granted)
            throw Error(DRAGON_ERR_INVALID,
                        std::string(who) + ": " + std::to_string(n) + " nodes asked, but PBS job " +
                            a.job_id + " has " + std::to_string(granted) + " (" +
                            fitted(join(a.hosts), 200) + ", from " + a.nodefile +
                            "): ask for at most " + std::to_string(granted) +
                            " with -N, or request more (qsub -l select=" + std::to_string(n) + ")");
        require_mpiexec(host, a);
        MpiexecRequest plan;
        plan.mpiexec = mpiexec_name(host);
        plan.extra_args = param(host, "mpiexec_args");
        plan.override_line = param(host, "mpiexec_override");
        plan.hosts.assign(a.hosts.begin(), a.hosts.begin() + n);
        plan.command = strings(request->argv);
        std::vector<std::string> argv = mpiexec_argv(plan);
        std::vector<std::string> env = strings(request->envp);
        // Each node's share is what PBS granted the job, not the machine's total: every node
        // counts this many CPUs, at most its affinity (PBS's cpuset where the site has one).
        // Passed in the plugin's own parameter, which dragon-node knows (no unknown-variable
        // warning).
        env.push_back("DRAGON_LAUNCHER_PBS_PALS_NODE_CPUS=" + std::to_string(node_cpus(host, a)));
        env.push_back("DRAGON_NODE_CPUS_VAR=DRAGON_LAUNCHER_PBS_PALS_NODE_CPUS");
        if (host && host->log) {
            std::string line;
            for (const auto &word : argv)
                line += (line.empty() ? "" : " ") + word;
            host->log(host->ctx, DRAGON_LOG_INFO,
                      (std::string(who) + ": starting " + std::to_string(n) +
                       " dragon-node(s) in PBS job " + a.job_id + " with " + argv[0])
                          .c_str());
            host->log(host->ctx, DRAGON_LOG_DEBUG, (std::string(who) + ": " + line).c_str());
        }
        auto launch = std::make_unique<dragon_launch>();
        launch->step = MpiexecStep::start(argv, env);
        *out = launch.release();
        return DRAGON_OK;
    });
}

dragon_status allocation(const dragon_host *host, dragon_allocation_info *out, dragon_error *err)
{
    return guarded(err, [&] {
        Allocation a = require_allocation();
        std::string program = mpiexec_program(mpiexec_name(host), param(host, "mpiexec_override"));
        std::string path = launcher_support::find_on_path(program);
        launcher_support::describe_allocation(
            out, a.hosts, std::vector<uint32_t>(a.hosts.size(), node_cpus(host, a)),
            "PBS job " + a.job_id + " (PBS_NODEFILE " + a.nodefile + ", CPUs from " +
                node_cpus_source(host, a) + std::string("); nodes start with ") +
                (path.empty() ? program + " (not found)" : path),
            who);
        return DRAGON_OK;
    });
}

} // namespace

void probe(const dragon_host *host, dragon_probe_result *out)
{
    launcher_support::probe_with(out, available_priority,
                                 [&] { require_mpiexec(host, require_allocation()); });
}

const dragon_launcher_ops ops = StepOps::table(node_count, start, allocation);

} // namespace dragon::launcher_pbs
