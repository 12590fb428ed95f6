#include "local_ops.hpp"

#include "common/ops_support.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "local_launch.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

// The handle the framework holds; opaque to it.
struct dragon_launch {
    std::unique_ptr<dragon::launcher_local::LocalLaunch> impl;
};

namespace dragon::launcher_local {

namespace {

// Most nodes one machine can sensibly simulate; a guard against typos like --nodes 40000.
constexpr uint32_t max_nodes = 1024;

using launcher_support::set_message;

// Runs `body`; no exception crosses into C.
template <typename Body> dragon_status guarded(dragon_error *err, Body &&body)
{
    return launcher_support::guarded(err, "local launcher", std::forward<Body>(body));
}

uint32_t configured_nodes(const dragon_host *host)
{
    const char *text = host && host->param ? host->param(host->ctx, "nodes") : nullptr;
    std::string value = text ? text : "1";
    char *end = nullptr;
    long n = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end || n < 1 || n > static_cast<long>(max_nodes))
        throw Error(DRAGON_ERR_INVALID, "local launcher: DRAGON_LAUNCHER_LOCAL_NODES='" + value +
                                            "' is not a node count: give 1.." +
                                            std::to_string(max_nodes));
    return static_cast<uint32_t>(n);
}

// A boolean parameter of ours, in any spelling the framework accepts for one.
bool bool_param(const dragon_host *host, const char *name, bool fallback)
{
    const char *value = host && host->param ? host->param(host->ctx, name) : nullptr;
    return value ? text::parse_bool(value).value_or(fallback) : fallback;
}

// DRAGON_LAUNCHER_LOCAL_OWN_CPUS (with NETNS): every simulated node its own CPUs.
bool own_cpus(const dragon_host *host)
{
    return bool_param(host, "own_cpus", true);
}

// DRAGON_LAUNCHER_LOCAL_NETNS: every simulated node its own network namespace and host
// name. Needs root; asking for it without is an error, never a silent fallback.
bool separate_hosts(const dragon_host *host)
{
    bool on = bool_param(host, "netns", false);
    if (on) {
        const std::string value = host->param(host->ctx, "netns");
        std::string why = NetnsHosts::unavailable_reason();
        if (!why.empty())
            throw Error(DRAGON_ERR_UNAVAILABLE,
                        "local launcher: DRAGON_LAUNCHER_LOCAL_NETNS=" + value +
                            " asks for a network namespace per node, which " + why +
                            "; unset it to run the nodes on this host's loopback");
    }
    return on;
}

std::vector<std::string> strings(const char *const *list)
{
    std::vector<std::string> out;
    for (; list && *list; ++list)
        out.emplace_back(*list);
    return out;
}

dragon_status node_count(const dragon_host *host, uint32_t *out, dragon_error *err)
{
    return guarded(err, [&] {
        if (!out)
            throw Error(DRAGON_ERR_INVALID, "local launcher: node_count needs an output");
        *out = configured_nodes(host);
        return DRAGON_OK;
    });
}

dragon_status start(const dragon_host *host, const dragon_launch_request *request,
                    dragon_launch **out, dragon_error *err)
{
    return guarded(err, [&] {
        // A 1.0 frontend's request (no flags) is as good: local reports every node.
        if (!request || !out || request->struct_size < DRAGON_LAUNCH_REQUEST_1_0_SIZE)
            throw Error(DRAGON_ERR_INVALID,
                        "local launcher: start needs a launch request of this ABI and an output");
        if (!request->argv || !request->argv[0] || !*request->argv[0])
            throw Error(DRAGON_ERR_INVALID,
                        "local launcher: the launch request has no dragon-node command line");
        uint32_t n = request->num_nodes ? request->num_nodes : configured_nodes(host);
        if (n > max_nodes)
            throw Error(DRAGON_ERR_INVALID, "local launcher: " + std::to_string(n) +
                                                " nodes asked; at most " +
                                                std::to_string(max_nodes) + " on one machine");
        auto launch = std::make_unique<dragon_launch>();
        launch->impl = LocalLaunch::start(host, strings(request->argv), strings(request->envp), n,
                                          separate_hosts(host), own_cpus(host));
        *out = launch.release();
        return DRAGON_OK;
    });
}

dragon_status wait(dragon_launch *launch, int64_t timeout_ns, uint32_t *node, int *exit_code,
                   dragon_error *err)
{
    return guarded(err, [&] {
        if (!launch || !node || !exit_code)
            throw Error(DRAGON_ERR_INVALID, "local launcher: wait needs a launch and outputs");
        switch (launch->impl->wait_next(timeout_ns, *node, *exit_code)) {
        case LocalLaunch::Waited::Ended: return DRAGON_OK;
        case LocalLaunch::Waited::TimedOut:
            set_message(err, "local launcher: no node ended within the time given");
            return DRAGON_ERR_TIMEOUT;
        case LocalLaunch::Waited::AllReported:
            set_message(err, "local launcher: every node has already been reported");
            return DRAGON_ERR_NOT_FOUND;
        }
        return DRAGON_ERR_INTERNAL;
    });
}

dragon_status signal(dragon_launch *launch, int signum, dragon_error *err)
{
    return guarded(err, [&] {
        if (!launch)
            throw Error(DRAGON_ERR_INVALID, "local launcher: signal needs a launch");
        launch->impl->signal_all(signum);
        return DRAGON_OK;
    });
}

void release(dragon_launch *launch)
{
    try {
        delete launch; // kills and reaps what still runs, then stops the server
    } catch (...) {
        // A destructor that throws would end the process; nothing useful to do here.
    }
}

dragon_status allocation(const dragon_host *host, dragon_allocation_info *out, dragon_error *err)
{
    return guarded(err, [&] {
        if (!out || out->struct_size < sizeof(dragon_allocation_info))
            throw Error(DRAGON_ERR_INVALID, "local launcher: allocation needs an output");
        const uint32_t n = configured_nodes(host);
        out->num_nodes = n;
        char name[256] = {};
        gethostname(name, sizeof name - 1);
        std::snprintf(out->hosts, sizeof out->hosts, "%s", name);
        std::string cpus;
        for (uint32_t i = 0; i < n && cpus.size() + 24 < sizeof out->cpus_per_node; ++i)
            cpus += (i ? "," : "") + std::to_string(cpu_share(i, n));
        std::snprintf(out->cpus_per_node, sizeof out->cpus_per_node, "%s", cpus.c_str());
        std::snprintf(out->source, sizeof out->source,
                      "%u simulated node(s) on this host (DRAGON_LAUNCHER_LOCAL_NODES or -N), "
                      "sharing its CPUs",
                      n);
        return DRAGON_OK;
    });
}

} // namespace

const dragon_launcher_ops ops = {
    sizeof(dragon_launcher_ops), node_count, start, wait, signal, release, allocation};

} // namespace dragon::launcher_local
