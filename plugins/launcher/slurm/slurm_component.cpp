// slurm: one dragon-node per node of a Slurm allocation, started with srun (one task per
// node) and wired up through the PMIx server each slurmd hosts (--mpi=pmix). Available
// inside salloc and sbatch, with a priority above local. The component file holds only
// the descriptor and its parameters.
#include "slurm_ops.hpp"

#include <dragon/launcher.h>

namespace {

const dragon_param_def params[] = {
    {"srun", DRAGON_PARAM_STRING, "srun",
     "the srun to start the nodes with (name on PATH, or path)"},
    {"srun_args", DRAGON_PARAM_STRING, "",
     "extra srun options for this site, split at white space (e.g. --ntasks-per-node=1, "
     "--partition=x); added after Dragon's own, so they can override them"},
};

const dragon_plugin_descriptor descriptor = {
    DRAGON_PLUGIN_ABI_MAJOR,
    DRAGON_PLUGIN_ABI_MINOR,
    DRAGON_PLUGIN_LAUNCHER,
    "slurm",
    "1.0.0",
    "one dragon-node per node of the Slurm allocation, started with srun --mpi=pmix",
    params,
    sizeof params / sizeof params[0],
    dragon::launcher_slurm::probe,
    &dragon::launcher_slurm::ops,
    sizeof dragon::launcher_slurm::ops,
    DRAGON_LAUNCHER_INTERFACE_MAJOR,
    DRAGON_LAUNCHER_INTERFACE_MINOR,
    0,
    {},
};

} // namespace

DRAGON_PLUGIN_DEFINE(descriptor)
