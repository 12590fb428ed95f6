// Job identity: scopes the names of everything a job creates on a node.
#pragma once

#include <string>
#include <string_view>

namespace dragon {

// DRAGON_JOB_ID if set (validated), else "p<pid>" of the first caller; fixed for the
// process's life and inherited across fork.
const std::string &job_id();

// Every segment name starts with this, so dragon-cleanup and leak checks find them all.
inline constexpr std::string_view segment_prefix = "dragon-";

// "dragon-<job>-<local>"; throws dragon::Error if `local` is empty or has '/'.
std::string segment_name(std::string_view local);

} // namespace dragon
