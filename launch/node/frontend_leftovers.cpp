#include "frontend_leftovers.hpp"

#include "core/job.hpp"
#include "core/log.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace dragon::node {
namespace {

// Gone, or a zombie its parent has not reaped yet (a killed frontend is one until then).
bool process_gone(pid_t pid)
{
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return true;
    size_t close = line.rfind(')');
    return close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z';
}

} // namespace

void remove_dead_frontends_directory()
{
    const char *dir = std::getenv("PMIX_SERVER_TMPDIR");
    const char *frontend = std::getenv("DRAGON_FRONTEND_PID");
    if (!dir || !*dir || !frontend || !*frontend)
        return;
    fs::path path(dir);
    std::string ours = std::string(segment_prefix) + job_id() + "-pmix-";
    struct stat st {};
    if (path.filename().string().rfind(ours, 0) != 0 || lstat(dir, &st) != 0 ||
        !S_ISDIR(st.st_mode) || st.st_uid != getuid())
        return;
    pid_t pid = static_cast<pid_t>(std::strtol(frontend, nullptr, 10));
    if (pid <= 0 || !process_gone(pid))
        return;
    std::error_code ec;
    if (fs::remove_all(path, ec) > 0)
        log::debug("removed ", dir, ", which the killed frontend left behind");
}

} // namespace dragon::node
