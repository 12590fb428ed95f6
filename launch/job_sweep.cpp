#include "job_sweep.hpp"

#include "core/error.hpp"
#include "core/job.hpp"
#include "core/memory.hpp"

#include <cstdlib>
#include <filesystem>

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

std::vector<std::string> sweep_job_directories(const std::string &job)
{
    namespace fs = std::filesystem;
    std::vector<std::string> removed;
    const char *tmp = std::getenv("TMPDIR");
    std::string prefix = std::string(segment_prefix) + job + "-";
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(tmp && *tmp ? tmp : "/tmp", ec)) {
        if (entry.path().filename().string().rfind(prefix, 0) != 0 || !entry.is_directory(ec))
            continue;
        if (fs::remove_all(entry.path(), ec) > 0)
            removed.push_back(entry.path().string());
    }
    return removed;
}

} // namespace dragon
