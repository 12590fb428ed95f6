// What PBS granted this job, read from PBS_JOBID and the file PBS_NODEFILE names (no
// PBS command is run: the probe must be cheap and never block).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dragon::launcher_pbs {

struct Allocation {
    std::string job_id;             // PBS_JOBID
    std::string nodefile;           // PBS_NODEFILE
    std::vector<std::string> hosts; // the nodefile's hosts, each once, in first-seen order
    std::vector<uint32_t> slots;    // per host: its lines in the nodefile (PBS's mpiprocs)
    uint32_t ncpus = 0;             // NCPUS (the chunk's ncpus PBS sets for the job), 0: unset
    // CPUs each node counts: NCPUS when PBS set it, else the fewest slots of any host (one
    // value, since every node reads the same variable); never more than a node's affinity.
    uint32_t cpus_per_node() const;
};

struct NodefileHosts {
    std::vector<std::string> hosts;
    std::vector<uint32_t> slots;
};

// A PBS_NODEFILE's text: one host name a line, repeated once per MPI slot; white space
// around a name and empty lines are ignored. Throws dragon::Error (naming `path`) on a
// line that holds more than one word.
NodefileHosts parse_nodefile(const std::string &text, const std::string &path);

// The job this process runs in, or nullopt with `why` saying what is missing (outside a
// PBS job, a nodefile that cannot be read or lists no host).
std::optional<Allocation> current_allocation(std::string &why);

} // namespace dragon::launcher_pbs
