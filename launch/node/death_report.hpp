// The line a user needs when a process of the job dies of a signal nobody else
// reports: the head program (its exit code alone, 139, says little) and orphans
// the node reaps (no parent reads their status). In the shape of srun's.
#pragma once

#include <cstdint>
#include <sys/types.h>

namespace dragon::node {

// If `status` (from waitpid) is a death by signal other than `stop_signal` (the
// signal the job is being stopped with, 0 if none), logs
// "process 1234 on node 0 was killed by signal 11 (SIGSEGV: Segmentation fault)".
void report_signal_death(pid_t pid, uint32_t node, int status, int stop_signal);

} // namespace dragon::node
