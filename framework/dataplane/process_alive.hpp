// Liveness of the processes that share a node's data plane.
#pragma once

#include <cstdint>

namespace dragon {

// This process's id, cached (getpid() is a system call) and refreshed in a fork child.
uint32_t current_pid();

// True only if `pid` is certainly gone: no such process, or a zombie awaiting its
// reaper. A live (even stopped or descheduled) process is never reported dead.
bool process_dead(uint32_t pid);

} // namespace dragon
