#include "slurm_ops.hpp"

#include "common/ops_support.hpp"
#include "common/process_support.hpp"
#include "core/error.hpp"
#include "slurm_allocation.hpp"
#include "srun_step.hpp"

#include <sstream>
#include <string>

// The handle the framework holds; opaque to it.
struct dragon_launch {
    std::unique_ptr<dragon::launcher_slurm::SrunStep> step;
};

namespace dragon::launcher_slurm {

namespace {

// Above local (1): inside an allocation, salloc and sbatch just work.
constexpr int available_priority = 50;

using launcher_support::fitted;
using launcher_support::join;
using launcher_support::param;
using launcher_support::set_message;
using launcher_support::set_text;
using launcher_support::strings;

constexpr char who[] = "slurm launcher";
using StepOps = launcher_support::WholeStepOps<dragon_launch, who>;

template <typename Body> dragon_status guarded(dragon_error *err, Body &&body)
{
    return launcher_support::guarded(err, who, std::forward<Body>(body));
}

std::string srun_name(const dragon_host *host)
{
    std::string name = param(host, "srun");
    return name.empty() ? "srun" : name;
}

Allocation require_allocation()
{
    std::string why;
    auto a = current_allocation(why);
    if (!a)
        throw Error(DRAGON_ERR_UNAVAILABLE, "slurm launcher: " + why);
    if (a->hosts.empty())
        throw Error(DRAGON_ERR_UNAVAILABLE,
                    "slurm launcher: Slurm job " + a->job_id + " lists no nodes");
    return *a;
}

std::string require_srun(const dragon_host *host, const Allocation &a)
{
    std::string path = launcher_support::find_on_path(srun_name(host));
    if (path.empty())
        throw Error(DRAGON_ERR_UNAVAILABLE,
                    "slurm launcher: inside Slurm job " + a.job_id + ", but srun ('" +
                        srun_name(host) +
                        "') is not found: fix PATH or set DRAGON_LAUNCHER_SLURM_SRUN to its path");
    return path;
}

dragon_status node_count(const dragon_host *, uint32_t *out, dragon_error *err)
{
    return guarded(err, [&] {
        if (!out)
            throw Error(DRAGON_ERR_INVALID, "slurm launcher: node_count needs an output");
        *out = static_cast<uint32_t>(require_allocation().hosts.size());
        return DRAGON_OK;
    });
}

dragon_status start(const dragon_host *host, const dragon_launch_request *request,
                    dragon_launch **out, dragon_error *err)
{
    return guarded(err, [&] {
        launcher_support::check_whole_step_request(request, out, "slurm launcher", "srun");
        Allocation a = require_allocation();
        const uint32_t granted = static_cast<uint32_t>(a.hosts.size());
        const uint32_t n = request->num_nodes ? request->num_nodes : granted;
        if (n > granted)
            throw Error(DRAGON_ERR_INVALID,
                        "slurm launcher: " + std::to_string(n) + " nodes asked, but Slurm job " +
                            a.job_id + " has " + std::to_string(granted) + " (" +
                            fitted(join(a.hosts), 200) + "): ask for at most " +
                            std::to_string(granted) + " with -N, or allocate more (salloc -N " +
                            std::to_string(n) + ")");
        std::string srun = require_srun(host, a);
        const char *job = host && host->job_id ? host->job_id(host->ctx) : nullptr;
        const std::string step_name = std::string("dragon-") + (job ? job : "job");
        const std::string count = std::to_string(n);
        // One task per node, each a PMIx client of its slurmd (--mpi=pmix); the daemon is
        // not bound to CPUs (it sizes the node by its grant, not its binding); stdin goes to
        // node 0 only; a node's non-zero exit does not kill the others (they stop in order
        // when node 0 ends); --overlap lets the program and the user start other steps in
        // the same allocation (Slurm 20.11 and later give steps exclusive CPUs otherwise).
        // Not -u: unbuffered srun output interleaves the nodes' lines mid-line. --quiet:
        // srun's errors stay (a node that failed, named), its chatter goes (the step's
        // status on a terminal's Ctrl-C, a site without CPU binding saying so each run).
        std::vector<std::string> argv{srun,
                                      "--nodes=" + count,
                                      "--ntasks=" + count,
                                      "--overlap",
                                      "--mpi=pmix",
                                      "--cpu-bind=none",
                                      "--input=0",
                                      "--kill-on-bad-exit=0",
                                      "--export=ALL",
                                      "--quiet",
                                      "--job-name=" + step_name};
        for (auto &arg : launcher_support::words(param(host, "srun_args")))
            argv.push_back(std::move(arg));
        for (auto &arg : strings(request->argv))
            argv.push_back(std::move(arg));
        std::vector<std::string> env = strings(request->envp);
        // Each node's share is what Slurm granted the job there, not the machine's total.
        env.push_back("DRAGON_NODE_CPUS_VAR=SLURM_CPUS_ON_NODE");
        // srun forwards a signal to the step, and slurmstepd delivers it to every
        // process of the step (its process tracking): a node must not relay it again.
        env.push_back("DRAGON_NODE_SIGNALS_REACH_STEP=1");
        if (host && host->log)
            host->log(host->ctx, DRAGON_LOG_INFO,
                      ("slurm launcher: starting " + count + " dragon-node(s) in Slurm job " +
                       a.job_id + " with " + srun)
                          .c_str());
        auto launch = std::make_unique<dragon_launch>();
        launch->step = SrunStep::start(argv, env, a.job_id, step_name);
        *out = launch.release();
        return DRAGON_OK;
    });
}

dragon_status allocation(const dragon_host *host, dragon_allocation_info *out, dragon_error *err)
{
    return guarded(err, [&] {
        Allocation a = require_allocation();
        std::string srun = launcher_support::find_on_path(srun_name(host));
        launcher_support::describe_allocation(
            out, a.hosts, a.cpus,
            "Slurm job " + a.job_id +
                " (SLURM_JOB_NODELIST, SLURM_JOB_CPUS_PER_NODE); nodes start with " +
                (srun.empty() ? srun_name(host) + " (not found)" : srun),
            "slurm launcher");
        return DRAGON_OK;
    });
}

} // namespace

void probe(const dragon_host *host, dragon_probe_result *out)
{
    launcher_support::probe_with(out, available_priority,
                                 [&] { require_srun(host, require_allocation()); });
}

const dragon_launcher_ops ops = StepOps::table(node_count, start, allocation);

} // namespace dragon::launcher_slurm
