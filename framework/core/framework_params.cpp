#include "core/framework_params.hpp"

namespace dragon {

void register_framework_params(ParamRegistry &params)
{
    struct Entry {
        const char *env;
        dragon_param_type type;
        const char *default_value;
        const char *help;
    };
    static constexpr Entry entries[] = {
        {"DRAGON_PLUGIN_PATH", DRAGON_PARAM_STRING, "",
         "colon-separated directories (or files) searched for plugins before the installed ones"},
        {"DRAGON_DEBUG", DRAGON_PARAM_STRING, "", "any non-empty value turns on debug logging"},
        {"DRAGON_LAUNCHER", DRAGON_PARAM_STRING, "",
         "launcher plugin: a name, an ordered list (a,b) or an exclusion (^a); empty: automatic"},
        {"DRAGON_TRANSPORT_AGENT", DRAGON_PARAM_STRING, "",
         "transport plugin: a name, an ordered list (hsta,tcp) or an exclusion (^hsta)"},
        {"DRAGON_MEMORY", DRAGON_PARAM_STRING, "",
         "memory plugin: a name, an ordered list (hugepage,posix_shm) or an exclusion (^hugepage)"},
        {"DRAGON_DEFAULT_SEG_SZ", DRAGON_PARAM_SIZE, "4G",
         "default size in bytes of a node's memory pool (suffixes K, M, G, T)"},
        {"DRAGON_PYTHON", DRAGON_PARAM_STRING, "python3",
         "interpreter that runs a .py PROG (a name on PATH or a path)"},
        {"DRAGON_LOG_LEVEL", DRAGON_PARAM_STRING, "",
         "set by dragon for the job's processes: the job's log level (-l), for the Python side"},
        // Read by the Python package (pymp/dragon/placement.py, waits.py): listed so that
        // setting them draws no "is set but Dragon does not read it" warning.
        {"DRAGON_PLACEMENT", DRAGON_PARAM_STRING, "roundrobin",
         "where each new process goes with several nodes: roundrobin, block or local"},
        {"DRAGON_STUCK_WAIT_WARNING", DRAGON_PARAM_STRING, "10",
         "seconds after which a get()/recv() on a queue or pipe nobody else holds says so once "
         "(0: never)"},
        {"DRAGON_PATCH_MP", DRAGON_PARAM_STRING, "",
         "set (not 0/false/no/off): `import dragon` makes 'dragon' the default start method"},
        {"DRAGON_LANES", DRAGON_PARAM_BOOL, "on",
         "on: a process reaches another node's channels over its own TCP connection to that "
         "node's dragon-node (a lane); off: always through its own node and the transport"},
        {"DRAGON_SHORT_SLICES", DRAGON_PARAM_BOOL, "on",
         "on: dragon-node and the job's processes, while they sleep in a wait on busy cores, "
         "ask for a short time slice (Linux 6.12 or later), so that their wake-ups preempt "
         "CPU-bound neighbours; off: the kernel's default slices"},
        {"DRAGON_LANE_ADDRESSES", DRAGON_PARAM_STRING, "",
         "set by dragon-node for the job's processes: where each node's lanes listen"},
        {"DRAGON_LANE_KEY", DRAGON_PARAM_STRING, "",
         "set by dragon-node for the job's processes: what they prove on a lane (derived "
         "from the job secret, which they never see)"},
        {"DRAGON_NODE_INDEX", DRAGON_PARAM_STRING, "", "set by the launcher: this node's index"},
        {"DRAGON_NUM_NODES", DRAGON_PARAM_STRING, "", "set by the launcher: the job's node count"},
        {"DRAGON_JOB_CPUS", DRAGON_PARAM_STRING, "",
         "set by dragon-node: the CPUs the job may use (cpu_count() under 'dragon')"},
        {"DRAGON_NODE_POOL", DRAGON_PARAM_STRING, "",
         "set by dragon-node: the segment name of this node's memory pool"},
        {"DRAGON_POLLING_TABLE", DRAGON_PARAM_STRING, "",
         "set by dragon-node: the segment in which the machine's waiters that poll count "
         "themselves"},
        {"DRAGON_FRONTEND_PID", DRAGON_PARAM_STRING, "",
         "set by dragon: process id of the job's frontend (dragon-cleanup uses it)"},
        {"DRAGON_TRANSPORT_PORT", DRAGON_PARAM_INT, "0",
         "fixed transport port (dragon --port); 0: ephemeral, published through PMIx"},
        {"DRAGON_NETWORK_PREFIX", DRAGON_PARAM_STRING, "",
         "use only interfaces with an address in this CIDR (dragon --network-prefix)"},
        {"DRAGON_NODE_CPUS", DRAGON_PARAM_STRING, "",
         "set by a launcher that runs several nodes on one machine: the CPUs this node counts "
         "as its own (its share of the machine's)"},
        {"DRAGON_NODE_CPUS_VAR", DRAGON_PARAM_STRING, "",
         "set by a workload manager's launcher: the variable holding each node's CPU grant "
         "(slurm: SLURM_CPUS_ON_NODE); a node counts that many, at most its affinity's"},
        {"DRAGON_NODE_SIGNALS_REACH_STEP", DRAGON_PARAM_STRING, "",
         "set by a workload manager's launcher (slurm: 1): a signal a dragon-node gets from "
         "its parent, the step daemon, reached every process of the step, so the node does "
         "not relay it"},
        {"DRAGON_NODE_NETNS", DRAGON_PARAM_STRING, "",
         "set by the local launcher in separate-hosts mode: the network namespace a "
         "dragon-node enters once it has reached the launcher's PMIx server"},
        {"DRAGON_JOB_SECRET", DRAGON_PARAM_STRING, "",
         "set by dragon for its dragon-nodes only (never seen by the job's processes): the "
         "secret nodes prove to each other"},
        {"DRAGON_JOB_ID", DRAGON_PARAM_STRING, "",
         "job identifier scoping segment names; set by dragon, empty: derived from the process id"},
    };
    for (const auto &e : entries)
        params.add(e.env, "framework", e.env, e.type, e.default_value, e.help);
}

} // namespace dragon
