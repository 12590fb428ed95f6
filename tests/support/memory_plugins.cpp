#include "support/memory_plugins.hpp"

#include "core/job.hpp"

#include <atomic>
#include <unistd.h>

namespace dragon::test {

std::vector<std::string> memory_plugin_names()
{
    std::vector<std::string> names;
    for (const auto *p : Registry::global().plugins(DRAGON_PLUGIN_MEMORY))
        names.push_back(p->name());
    return names;
}

std::string unique_segment_name(const std::string &tag)
{
    static std::atomic<int> counter{0};
    // The pid keeps names of forked children apart; the counter, calls within one process.
    return segment_name(tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
}

} // namespace dragon::test
