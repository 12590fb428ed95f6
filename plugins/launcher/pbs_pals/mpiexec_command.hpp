// The mpiexec command line that starts one dragon-node per host: PALS' own flags by
// default, or the site's whole command line (with placeholders) when it gives one.
#pragma once

#include <string>
#include <vector>

namespace dragon::launcher_pbs {

struct MpiexecRequest {
    std::string mpiexec;              // the mpiexec parameter: name on PATH or path
    std::string extra_args;           // site flags, split at white space
    std::string override_line;        // a whole command line with placeholders, or empty
    std::vector<std::string> hosts;   // one node each, in node order
    std::vector<std::string> command; // the dragon-node command line
};

// Placeholders an override may use: {nnodes}, {nodelist} (comma-separated hosts) and
// {command} (the dragon-node command, as separate words; appended when absent).
extern const char *const override_placeholders;

// The command line, argv[0] resolved to a full path. Default:
//   mpiexec --np N --ppn 1 --cpu-bind none --hosts h1,h2 --pmi=pmix --line-buffer
//           [extra args] dragon-node ...
// Throws dragon::Error when the mpiexec (or the override's first word) is not found, or
// the override is empty or names an unknown placeholder.
std::vector<std::string> mpiexec_argv(const MpiexecRequest &request);

// The program the launch will run: the override's first word, else `mpiexec` (as given).
std::string mpiexec_program(const std::string &mpiexec, const std::string &override_line);

} // namespace dragon::launcher_pbs
