#include "support/leak_check.hpp"

#include "core/job.hpp"
#include "core/memory.hpp"

namespace dragon::test {

std::vector<std::string> leftover_segments()
{
    std::vector<std::string> leftovers;
    std::string prefix = std::string(segment_prefix) + job_id() + "-";
    for (const auto *p : Registry::global().plugins(DRAGON_PLUGIN_MEMORY)) {
        if (!p->available())
            continue;
        for (const auto &name : MemoryPlugin(*p).list(prefix))
            leftovers.push_back(p->name() + ":" + name);
    }
    return leftovers;
}

void LeakCheck::TearDown()
{
    std::vector<std::string> leftovers = leftover_segments();
    for (const auto &l : leftovers)
        ADD_FAILURE() << "segment left behind: " << l;
    // Remove them so one failure does not cascade into the next run.
    for (const auto &l : leftovers) {
        auto colon = l.find(':');
        try {
            MemoryPlugin::named(l.substr(0, colon)).unlink(l.substr(colon + 1));
        } catch (...) {
        }
    }
}

} // namespace dragon::test
