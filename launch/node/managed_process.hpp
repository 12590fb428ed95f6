// Starting a process whose stdout and stderr come back through pipes.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace dragon::node {

struct StartedProcess {
    pid_t pid = -1;
    int stdout_fd = -1; // non-blocking read ends
    int stderr_fd = -1;
};

// fork + execvp `argv` with `extra_env` added; stdin is inherited, and so are the
// `inherited_fds` (every other descriptor of ours is close-on-exec). The
// `ignored_signals` start ignored (SIG_IGN survives exec); every other signal has its
// default. Throws dragon::Error if the program cannot be executed (the child reports
// its exec failure through a pipe).
StartedProcess start_process(const std::vector<std::string> &argv,
                             const std::vector<std::string> &extra_env,
                             const std::vector<int> &inherited_fds = {},
                             const std::vector<int> &ignored_signals = {});

// Exit code in the shell's convention: the status, or 128+N when killed by signal N.
int exit_code_of(int wait_status);

} // namespace dragon::node
