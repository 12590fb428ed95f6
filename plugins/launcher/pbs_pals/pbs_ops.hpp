// The pbs_pals launcher's function table (dragon_launcher_ops) and its probe.
#pragma once

#include <dragon/launcher.h>

namespace dragon::launcher_pbs {

extern const dragon_launcher_ops ops;

// Available inside a PBS job (PBS_JOBID and a readable PBS_NODEFILE) with mpiexec found.
void probe(const dragon_host *host, dragon_probe_result *out);

} // namespace dragon::launcher_pbs
