// Removing whatever segments a job left on this node, on every memory plugin.
#pragma once

#include <string>
#include <vector>

namespace dragon {

// Unlinks every segment whose name starts with "dragon-<job>-" on each available memory
// plugin; returns what it removed, as "plugin:name".
std::vector<std::string> sweep_job_segments(const std::string &job);

// Directories in $TMPDIR (else /tmp) owned by this user whose name starts with `prefix`
// ("dragon-" for every job's, "dragon-<job>-" for one job's), as paths.
std::vector<std::string> private_directories(const std::string &prefix);

// Removes the job's private directories in $TMPDIR ("dragon-<job>-*") that killed nodes
// could not remove themselves; returns their paths.
std::vector<std::string> sweep_job_directories(const std::string &job);

} // namespace dragon
