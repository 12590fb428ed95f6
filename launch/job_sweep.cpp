#include "job_sweep.hpp"

#include "core/error.hpp"
#include "core/job.hpp"
#include "core/memory.hpp"

namespace dragon {

std::vector<std::string> sweep_job_segments(const std::string &job)
{
    std::vector<std::string> removed;
    std::string prefix = std::string(segment_prefix) + job + "-";
    for (const auto *p : Registry::global().plugins(DRAGON_PLUGIN_MEMORY)) {
        if (!p->available())
            continue;
        MemoryPlugin plugin(*p);
        for (const auto &name : plugin.list(prefix)) {
            try {
                plugin.unlink(name);
                removed.push_back(p->name() + ":" + name);
            } catch (const Error &) {
                // Gone already: another sweeper got there first.
            }
        }
    }
    return removed;
}

} // namespace dragon
