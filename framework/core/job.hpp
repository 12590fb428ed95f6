// Job identity: scopes the names of everything a job creates on a node.
#pragma once

#include <string>
#include <string_view>

namespace dragon {

// DRAGON_JOB_ID if set (validated), else a fresh_job_id('p') of the first caller;
// fixed for the process's life and inherited across fork.
const std::string &job_id();

// "<kind><pid>r<12 random hex digits>": the pid says whose job it is (dragon-cleanup
// checks it), the random part makes the names of its segments and directories
// unpredictable, so another user cannot create them first.
std::string fresh_job_id(char kind);

// The pid a job id names ("j1234r..." or "p1234r...": 1234), or 0.
long job_owner_pid(std::string_view job);

// Every segment name starts with this, so dragon-cleanup and leak checks find them all.
inline constexpr std::string_view segment_prefix = "dragon-";

// "dragon-<job>-<local>"; throws dragon::Error if `local` is empty or has '/'.
std::string segment_name(std::string_view local);

} // namespace dragon
