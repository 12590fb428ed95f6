#include "death_report.hpp"

#include "core/log.hpp"
#include "core/text.hpp"

#include <sys/wait.h>

namespace dragon::node {

void report_signal_death(pid_t pid, uint32_t node, int status, int stop_signal)
{
    if (!WIFSIGNALED(status) || WTERMSIG(status) == stop_signal)
        return;
    log::error("process ", pid, " on node ", node, " was killed by ",
               text::describe_signal(WTERMSIG(status)), WCOREDUMP(status) ? " (core dumped)" : "");
}

} // namespace dragon::node
