#include "slurm_ops.hpp"

#include "common/process_support.hpp"
#include "core/error.hpp"
#include "slurm_allocation.hpp"
#include "srun_step.hpp"

#include <cstdio>
#include <new>
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

void set_text(char *dst, size_t size, const std::string &text)
{
    std::snprintf(dst, size, "%s", text.c_str());
}

void set_message(dragon_error *err, const std::string &text)
{
    if (err)
        set_text(err->message, sizeof err->message, text);
}

template <typename Body> dragon_status guarded(dragon_error *err, Body &&body)
{
    try {
        return body();
    } catch (const Error &e) {
        set_message(err, e.what());
        return e.status();
    } catch (const std::bad_alloc &) {
        set_message(err, "slurm launcher: out of memory");
        return DRAGON_ERR_NO_MEMORY;
    } catch (const std::exception &e) {
        set_message(err, e.what());
        return DRAGON_ERR_INTERNAL;
    } catch (...) {
        set_message(err, "slurm launcher: unexpected failure");
        return DRAGON_ERR_INTERNAL;
    }
}

std::string param(const dragon_host *host, const char *name)
{
    const char *v = host && host->param ? host->param(host->ctx, name) : nullptr;
    return v ? v : "";
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

// DRAGON_LAUNCHER_SLURM_SRUN_ARGS: split at white space (no quoting).
std::vector<std::string> site_arguments(const dragon_host *host)
{
    std::istringstream in(param(host, "srun_args"));
    std::vector<std::string> out;
    for (std::string word; in >> word;)
        out.push_back(word);
    return out;
}

std::vector<std::string> strings(const char *const *list)
{
    std::vector<std::string> out;
    for (; list && *list; ++list)
        out.emplace_back(*list);
    return out;
}

std::string join(const std::vector<std::string> &items)
{
    std::string out;
    for (const auto &i : items)
        out += (out.empty() ? "" : ",") + i;
    return out;
}

// `text` cut to fit `size` bytes with its NUL, ending in "..." when cut.
std::string fitted(const std::string &text, size_t size)
{
    if (text.size() < size)
        return text;
    return text.substr(0, size - 4) + "...";
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
        if (!request || !out || request->struct_size < DRAGON_LAUNCH_REQUEST_1_0_SIZE)
            throw Error(DRAGON_ERR_INVALID, "slurm launcher: start needs a launch request");
        if (!request->argv || !request->argv[0] || !*request->argv[0])
            throw Error(DRAGON_ERR_INVALID,
                        "slurm launcher: the launch request has no dragon-node command line");
        // srun reports one result for the whole step, never one per node: a frontend
        // that cannot take that must not be handed per-node results made up.
        if (request->struct_size < sizeof(dragon_launch_request) ||
            !(request->flags & DRAGON_LAUNCH_FLAG_WHOLE_STEP_RESULT))
            throw Error(DRAGON_ERR_UNAVAILABLE,
                        "slurm launcher: this dragon predates launcher interface 1.1 and "
                        "expects one result per node, which srun cannot give: use a Dragon "
                        "as new as the plugin");
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
        for (auto &arg : site_arguments(host))
            argv.push_back(std::move(arg));
        for (auto &arg : strings(request->argv))
            argv.push_back(std::move(arg));
        std::vector<std::string> env = strings(request->envp);
        // Each node's share is what Slurm granted the job there, not the machine's total.
        env.push_back("DRAGON_NODE_CPUS_VAR=SLURM_CPUS_ON_NODE");
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

dragon_status wait(dragon_launch *launch, int64_t timeout_ns, uint32_t *node, int *exit_code,
                   dragon_error *err)
{
    return guarded(err, [&] {
        if (!launch || !node || !exit_code)
            throw Error(DRAGON_ERR_INVALID, "slurm launcher: wait needs a launch and outputs");
        switch (launch->step->wait(timeout_ns, *exit_code)) {
        case SrunStep::Waited::Ended: *node = DRAGON_LAUNCH_WHOLE_STEP; return DRAGON_OK;
        case SrunStep::Waited::TimedOut:
            set_message(err, "slurm launcher: the step did not end within the time given");
            return DRAGON_ERR_TIMEOUT;
        case SrunStep::Waited::AllReported:
            set_message(err, "slurm launcher: the step's end has already been reported");
            return DRAGON_ERR_NOT_FOUND;
        }
        return DRAGON_ERR_INTERNAL;
    });
}

dragon_status signal(dragon_launch *launch, int signum, dragon_error *err)
{
    return guarded(err, [&] {
        if (!launch)
            throw Error(DRAGON_ERR_INVALID, "slurm launcher: signal needs a launch");
        launch->step->signal(signum);
        return DRAGON_OK;
    });
}

void release(dragon_launch *launch)
{
    try {
        delete launch; // ends the step if it still runs, and reaps srun
    } catch (...) {
    }
}

dragon_status allocation(const dragon_host *host, dragon_allocation_info *out, dragon_error *err)
{
    return guarded(err, [&] {
        if (!out || out->struct_size < sizeof(dragon_allocation_info))
            throw Error(DRAGON_ERR_INVALID, "slurm launcher: allocation needs an output");
        Allocation a = require_allocation();
        out->num_nodes = static_cast<uint32_t>(a.hosts.size());
        set_text(out->hosts, sizeof out->hosts, fitted(join(a.hosts), sizeof out->hosts));
        std::vector<std::string> cpus;
        for (uint32_t c : a.cpus)
            cpus.push_back(std::to_string(c));
        set_text(out->cpus_per_node, sizeof out->cpus_per_node,
                 fitted(join(cpus), sizeof out->cpus_per_node));
        std::string srun = launcher_support::find_on_path(srun_name(host));
        set_text(out->source, sizeof out->source,
                 "Slurm job " + a.job_id +
                     " (SLURM_JOB_NODELIST, SLURM_JOB_CPUS_PER_NODE); nodes start with " +
                     (srun.empty() ? srun_name(host) + " (not found)" : srun));
        return DRAGON_OK;
    });
}

} // namespace

void probe(const dragon_host *host, dragon_probe_result *out)
{
    try {
        Allocation a = require_allocation();
        require_srun(host, a);
        out->available = 1;
        out->priority = available_priority;
    } catch (const std::exception &e) {
        out->available = 0;
        set_text(out->reason, sizeof out->reason, e.what());
    }
}

const dragon_launcher_ops ops = {
    sizeof(dragon_launcher_ops), node_count, start, wait, signal, release, allocation};

} // namespace dragon::launcher_slurm
