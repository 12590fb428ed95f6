// What every launcher's function table needs at the C boundary: no exception may cross
// it (guarded), texts go into fixed-size fields, parameters come from the host.
// Header-only, as plugins link no framework library.
#pragma once

#include "common/step_process.hpp"
#include "core/error.hpp"

#include <dragon/launcher.h>

#include <cstdio>
#include <exception>
#include <new>
#include <sstream>
#include <string>
#include <vector>

namespace dragon::launcher_support {

inline void set_text(char *dst, size_t size, const std::string &text)
{
    std::snprintf(dst, size, "%s", text.c_str());
}

inline void set_message(dragon_error *err, const std::string &text)
{
    if (err)
        set_text(err->message, sizeof err->message, text);
}

// body()'s status, or the status and message of what it threw; `who` ("slurm launcher")
// names the plugin where the exception carries no message of its own.
template <typename Body> dragon_status guarded(dragon_error *err, const char *who, Body &&body)
{
    try {
        return body();
    } catch (const Error &e) {
        set_message(err, e.what());
        return e.status();
    } catch (const std::bad_alloc &) {
        set_message(err, std::string(who) + ": out of memory");
        return DRAGON_ERR_NO_MEMORY;
    } catch (const std::exception &e) {
        set_message(err, e.what());
        return DRAGON_ERR_INTERNAL;
    } catch (...) {
        set_message(err, std::string(who) + ": unexpected failure");
        return DRAGON_ERR_INTERNAL;
    }
}

// The plugin parameter `name` as the host resolved it ("" when unset).
inline std::string param(const dragon_host *host, const char *name)
{
    const char *v = host && host->param ? host->param(host->ctx, name) : nullptr;
    return v ? v : "";
}

// A NULL-terminated list of C strings (argv, envp).
inline std::vector<std::string> strings(const char *const *list)
{
    std::vector<std::string> out;
    for (; list && *list; ++list)
        out.emplace_back(*list);
    return out;
}

inline std::string join(const std::vector<std::string> &items)
{
    std::string out;
    for (const auto &i : items)
        out += (out.empty() ? "" : ",") + i;
    return out;
}

// `text` cut to fit `size` bytes with its NUL, ending in "..." when cut.
inline std::string fitted(const std::string &text, size_t size)
{
    if (text.size() < size)
        return text;
    return text.substr(0, size - 4) + "...";
}

// `text` split at white space (no quoting): a site's extra flags.
inline std::vector<std::string> words(const std::string &text)
{
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string word; in >> word;)
        out.push_back(word);
    return out;
}

// The probe of a launcher that runs inside a workload manager's job: available at
// `priority` when `check` returns, else unavailable with what it threw as the reason.
template <typename Check> void probe_with(dragon_probe_result *out, int priority, Check &&check)
{
    try {
        check();
        out->available = 1;
        out->priority = priority;
    } catch (const std::exception &e) {
        out->available = 0;
        set_text(out->reason, sizeof out->reason, e.what());
    }
}

// start()'s checks for a launcher whose command reports one result for the whole step
// (srun, mpiexec): a request and a command line, from a frontend that takes such a result.
inline void check_whole_step_request(const dragon_launch_request *request, dragon_launch **out,
                                     const std::string &who, const std::string &command)
{
    if (!request || !out || request->struct_size < DRAGON_LAUNCH_REQUEST_1_0_SIZE)
        throw Error(DRAGON_ERR_INVALID, who + ": start needs a launch request");
    if (!request->argv || !request->argv[0] || !*request->argv[0])
        throw Error(DRAGON_ERR_INVALID,
                    who + ": the launch request has no dragon-node command line");
    // The command reports one result for the whole step, never one per node: a frontend
    // that cannot take that must not be handed per-node results made up.
    if (request->struct_size < sizeof(dragon_launch_request) ||
        !(request->flags & DRAGON_LAUNCH_FLAG_WHOLE_STEP_RESULT))
        throw Error(DRAGON_ERR_UNAVAILABLE,
                    who +
                        ": this dragon predates launcher interface 1.1 and expects one result "
                        "per node, which " +
                        command + " cannot give: use a Dragon as new as the plugin");
}

// wait()'s answer from the step command's wait: DRAGON_LAUNCH_WHOLE_STEP once it ended.
inline dragon_status whole_step_wait(StepProcess::Waited waited, uint32_t *node, dragon_error *err,
                                     const std::string &who)
{
    switch (waited) {
    case StepProcess::Waited::Ended: *node = DRAGON_LAUNCH_WHOLE_STEP; return DRAGON_OK;
    case StepProcess::Waited::TimedOut:
        set_message(err, who + ": the step did not end within the time given");
        return DRAGON_ERR_TIMEOUT;
    case StepProcess::Waited::AllReported:
        set_message(err, who + ": the step's end has already been reported");
        return DRAGON_ERR_NOT_FOUND;
    }
    return DRAGON_ERR_INTERNAL;
}

// wait, signal and release of a launcher whose handle (`Launch`, its dragon_launch) holds
// the step command as `step`, with wait(timeout_ns, exit_code) and signal(signum).
template <typename Launch, const char *Who> struct WholeStepOps {
    static dragon_status wait(Launch *launch, int64_t timeout_ns, uint32_t *node, int *exit_code,
                              dragon_error *err)
    {
        return guarded(err, Who, [&] {
            if (!launch || !node || !exit_code)
                throw Error(DRAGON_ERR_INVALID,
                            std::string(Who) + ": wait needs a launch and outputs");
            return whole_step_wait(launch->step->wait(timeout_ns, *exit_code), node, err, Who);
        });
    }
    static dragon_status signal(Launch *launch, int signum, dragon_error *err)
    {
        return guarded(err, Who, [&] {
            if (!launch)
                throw Error(DRAGON_ERR_INVALID, std::string(Who) + ": signal needs a launch");
            launch->step->signal(signum);
            return DRAGON_OK;
        });
    }
    static void release(Launch *launch)
    {
        try {
            delete launch; // ends the step if it still runs, and reaps its command
        } catch (...) {
        }
    }
    // The launcher's table: its own node_count, start and allocation, and these.
    static constexpr dragon_launcher_ops table(decltype(dragon_launcher_ops::node_count) node_count,
                                               decltype(dragon_launcher_ops::start) start,
                                               decltype(dragon_launcher_ops::allocation) allocation)
    {
        return {sizeof(dragon_launcher_ops), node_count, start, wait, signal, release, allocation};
    }
};

// allocation()'s output: hosts and CPU counts in node order, and where they came from.
inline void describe_allocation(dragon_allocation_info *out, const std::vector<std::string> &hosts,
                                const std::vector<uint32_t> &cpus, const std::string &source,
                                const std::string &who)
{
    if (!out || out->struct_size < sizeof(dragon_allocation_info))
        throw Error(DRAGON_ERR_INVALID, who + ": allocation needs an output");
    out->num_nodes = static_cast<uint32_t>(hosts.size());
    set_text(out->hosts, sizeof out->hosts, fitted(join(hosts), sizeof out->hosts));
    std::vector<std::string> counts;
    for (uint32_t c : cpus)
        counts.push_back(std::to_string(c));
    set_text(out->cpus_per_node, sizeof out->cpus_per_node,
             fitted(join(counts), sizeof out->cpus_per_node));
    set_text(out->source, sizeof out->source, source);
}

} // namespace dragon::launcher_support
