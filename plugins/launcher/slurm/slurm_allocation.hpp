// What Slurm granted this job, read from the variables salloc, sbatch and srun set
// (no Slurm command is run: the probe must be cheap and never block).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dragon::launcher_slurm {

struct Allocation {
    std::string job_id;             // SLURM_JOB_ID
    std::vector<std::string> hosts; // SLURM_JOB_NODELIST, expanded, in Slurm's order
    std::vector<uint32_t> cpus;     // per host: SLURM_JOB_CPUS_PER_NODE, expanded
};

// The allocation this process runs in, or nullopt with `why` saying what is missing
// (outside salloc/sbatch, or variables that do not parse).
std::optional<Allocation> current_allocation(std::string &why);

// Slurm's host list syntax: "n[1-3,7],login01,rack[1-2]n[01-02]" -> every name, in order
// (zero padding kept). Throws dragon::Error on a malformed list.
std::vector<std::string> expand_hostlist(const std::string &list);

// SLURM_JOB_CPUS_PER_NODE syntax: "4(x2),2" -> {4, 4, 2}. Throws dragon::Error.
std::vector<uint32_t> expand_cpus_per_node(const std::string &text);

} // namespace dragon::launcher_slurm
