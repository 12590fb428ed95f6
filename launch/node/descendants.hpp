// Finding and ending every process below this one. dragon-node is a child
// subreaper (PR_SET_CHILD_SUBREAPER), so orphans of the job stay below it.
#pragma once

#include <chrono>
#include <sys/types.h>
#include <vector>

namespace dragon::node {

// Become the subreaper of everything started below this process.
void become_subreaper();

// Leaves `pid` (a helper of the node, not a process of the job) out of what the
// functions below find, signal and end.
void exempt_from_descendants(pid_t pid);

// Every live descendant of `root`, from /proc, but the exempted ones.
std::vector<pid_t> descendants_of(pid_t root);

// Sends `signum` to every descendant of this process.
void signal_descendants(int signum);

// SIGTERM to every descendant, waits up to `grace` reaping them, then SIGKILLs and reaps what
// remains. Returns how many had to be killed.
int end_descendants(std::chrono::milliseconds grace);

} // namespace dragon::node
