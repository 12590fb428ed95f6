// pbs_pals: one dragon-node per host of a PBS job, started with PALS' mpiexec (one rank
// per host) and wired up through the PMIx server PALS serves (--pmi=pmix). Available
// inside a PBS job (qsub script, qsub -I), with a priority above local and below slurm.
// The component file holds only the descriptor and its parameters.
#include "pbs_ops.hpp"

#include <dragon/launcher.h>

namespace {

const dragon_param_def params[] = {
    {"mpiexec", DRAGON_PARAM_STRING, "",
     "PALS' mpiexec to start the nodes with (name on PATH, or path); empty: the mpiexec on "
     "PATH, if it is PALS' (under a pals directory)"},
    {"mpiexec_args", DRAGON_PARAM_STRING, "",
     "extra mpiexec options for this site, split at white space (e.g. --depth=8, --env X=1); "
     "added after Dragon's own"},
    {"mpiexec_override", DRAGON_PARAM_STRING, "",
     "the whole mpiexec command line instead of Dragon's, split at white space; {nnodes} and "
     "{nodelist} are replaced by the node count and the comma-separated hosts, {command} by "
     "the dragon-node command (appended when absent)"},
    {"node_cpus", DRAGON_PARAM_INT, "0",
     "CPUs each node counts as its own, at most its affinity; 0: PBS's NCPUS, else the fewest "
     "lines any host has in PBS_NODEFILE (the launcher passes the value to its nodes here)"},
};

const dragon_plugin_descriptor descriptor = {
    DRAGON_PLUGIN_ABI_MAJOR,
    DRAGON_PLUGIN_ABI_MINOR,
    DRAGON_PLUGIN_LAUNCHER,
    "pbs_pals",
    "1.0.0",
    "one dragon-node per host of the PBS job, started with PALS' mpiexec --pmi=pmix",
    params,
    sizeof params / sizeof params[0],
    dragon::launcher_pbs::probe,
    &dragon::launcher_pbs::ops,
    sizeof dragon::launcher_pbs::ops,
    DRAGON_LAUNCHER_INTERFACE_MAJOR,
    DRAGON_LAUNCHER_INTERFACE_MINOR,
    0,
    {},
};

} // namespace

DRAGON_PLUGIN_DEFINE(descriptor)
