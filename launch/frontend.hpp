// The dragon frontend: selects plugins, starts the job's dragon-nodes through the
// launcher, relays signals, waits with deadlines, and returns the head program's
// exit code after making sure nothing of the job is left.
#pragma once

#include "frontend_options.hpp"

namespace dragon::cli {

// Exit code for `dragon`: the head program's (128+N if killed by signal N), 130/143
// after SIGINT/SIGTERM, 1 on a runtime failure.
int run_frontend(const FrontendOptions &options, const std::vector<std::string> &command);

} // namespace dragon::cli
