// What Dragon jobs of this user have on this node: their segments (on every memory
// plugin) and their processes (found by DRAGON_JOB_ID in their environment).
#pragma once

#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace dragon::cleanup {

struct JobRemains {
    std::vector<std::string> segments; // "plugin:name"
    std::vector<pid_t> processes;
    std::vector<std::string> directories; // private dirs in $TMPDIR: "dragon-<job>-..."
};

// Job id -> what it has here. Only this user's processes and segments.
std::map<std::string, JobRemains> scan_jobs();

// The job id in a segment name "dragon-<job>-<rest>", or "" if it has none.
std::string job_of_segment(const std::string &name);

enum class Liveness { Alive, Dead, Unknown };
// Job ids Dragon makes ("j<pid>", "p<pid>") name the process that owns the job.
Liveness job_liveness(const std::string &job);

} // namespace dragon::cleanup
