#include "busy_neighbours.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dragon::bench {

BusyNeighbours::BusyNeighbours(int n)
{
    for (int i = 0; i < n; ++i) {
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            volatile uint64_t x = 0;
            for (;;)
                x = x + 1;
        }
        if (pid < 0)
            throw std::runtime_error(std::string("cannot fork a CPU-bound neighbour: ") +
                                     std::strerror(errno) + "; lower --busy");
        pids_.push_back(pid);
    }
}

BusyNeighbours::~BusyNeighbours()
{
    for (pid_t pid : pids_)
        kill(pid, SIGKILL);
    for (pid_t pid : pids_)
        waitpid(pid, nullptr, 0);
}

} // namespace dragon::bench
