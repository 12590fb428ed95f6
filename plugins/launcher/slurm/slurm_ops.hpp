// The slurm launcher's function table (dragon_launcher_ops) and its probe.
#pragma once

#include <dragon/launcher.h>

namespace dragon::launcher_slurm {

extern const dragon_launcher_ops ops;

// Available inside an allocation (SLURM_JOB_ID and a node list) with srun found.
void probe(const dragon_host *host, dragon_probe_result *out);

} // namespace dragon::launcher_slurm
