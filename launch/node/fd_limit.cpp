#include "fd_limit.hpp"

#include <sys/resource.h>

namespace dragon::node {
namespace {

rlimit original{};
bool raised = false;

} // namespace

void raise_fd_limit()
{
    if (getrlimit(RLIMIT_NOFILE, &original) != 0 || original.rlim_cur >= original.rlim_max)
        return;
    rlimit higher = original;
    higher.rlim_cur = original.rlim_max;
    raised = setrlimit(RLIMIT_NOFILE, &higher) == 0;
}

void restore_fd_limit_in_child()
{
    if (raised)
        setrlimit(RLIMIT_NOFILE, &original);
}

} // namespace dragon::node
