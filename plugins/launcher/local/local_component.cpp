// local: starts N dragon-node processes on this machine as N simulated nodes, all
// clients of one PMIx server the plugin hosts. Always available, lowest priority:
// a workload manager's launcher ranks higher inside an allocation.
// The component file holds only the descriptor, its parameters and its probe.
#include "local_ops.hpp"

#include <dragon/launcher.h>

namespace {

const dragon_param_def params[] = {
    {"nodes", DRAGON_PARAM_INT, "1",
     "simulated nodes to start on this machine when the launch does not say how many"},
    {"netns", DRAGON_PARAM_BOOL, "0",
     "run each simulated node in its own network namespace, with its own address and host "
     "name, so nodes talk over distinct addresses as on a cluster (needs root)"},
    {"own_cpus", DRAGON_PARAM_BOOL, "1",
     "with netns: each simulated node runs on CPUs of its own, a slice of this machine's, as "
     "a separate host would (one each, in turn, with more nodes than CPUs); 0: all share them"},
};

void probe(const dragon_host *, dragon_probe_result *out)
{
    out->available = 1; // fork and a private PMIx server work anywhere
    out->priority = 1;
}

const dragon_plugin_descriptor descriptor = {
    DRAGON_PLUGIN_ABI_MAJOR,
    DRAGON_PLUGIN_ABI_MINOR,
    DRAGON_PLUGIN_LAUNCHER,
    "local",
    "1.0.0",
    "N simulated nodes on this machine (fork/exec), under a PMIx server the plugin hosts",
    params,
    sizeof params / sizeof params[0],
    probe,
    &dragon::launcher_local::ops,
    sizeof dragon::launcher_local::ops,
    DRAGON_LAUNCHER_INTERFACE_MAJOR,
    DRAGON_LAUNCHER_INTERFACE_MINOR,
    0,
    {},
};

} // namespace

DRAGON_PLUGIN_DEFINE(descriptor)
