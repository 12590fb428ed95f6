#include "job_sweep.hpp"

#include "core/error.hpp"
#include "core/job.hpp"
#include "core/memory.hpp"

#include <cstdlib>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

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

std::vector<std::string> private_directories(const std::string &prefix)
{
    namespace fs = std::filesystem;
    const char *tmp = std::getenv("TMPDIR");
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(tmp && *tmp ? tmp : "/tmp", ec)) {
        struct stat st {};
        if (entry.path().filename().string().rfind(prefix, 0) == 0 &&
            lstat(entry.path().c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid())
            found.push_back(entry.path().string());
    }
    return found;
}

std::vector<std::string> sweep_job_directories(const std::string &job)
{
    std::vector<std::string> removed;
    for (const auto &path : private_directories(std::string(segment_prefix) + job + "-")) {
        std::error_code ec;
        if (std::filesystem::remove_all(path, ec) > 0)
            removed.push_back(path);
    }
    return removed;
}

} // namespace dragon
