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
// Decided from the processes themselves, never from a variable: a job is alive while
// one of its daemons (dragon-node, its watchdog) runs, or the process its id names
// ("j<pid>r...": its frontend, a `dragon`; "p<pid>r...": a program using the data
// plane on its own). Unknown for an id of another form (set by hand).
Liveness job_liveness(const std::string &job, const JobRemains &remains);

} // namespace dragon::cleanup
