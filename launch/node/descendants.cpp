#include "descendants.hpp"

#include <csignal>
#include <dirent.h>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace dragon::node {
namespace {

// pid -> parent pid for every process visible in /proc.
std::map<pid_t, pid_t> parent_map()
{
    std::map<pid_t, pid_t> parents;
    DIR *proc = opendir("/proc");
    if (!proc)
        return parents;
    while (const dirent *entry = readdir(proc)) {
        char *end = nullptr;
        long pid = std::strtol(entry->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
        std::string line;
        if (!std::getline(stat, line))
            continue;
        // The command name may contain spaces and ')': the fields resume after the last ')'.
        size_t close = line.rfind(')');
        if (close == std::string::npos)
            continue;
        std::istringstream rest(line.substr(close + 1));
        char state;
        pid_t ppid;
        if (rest >> state >> ppid)
            parents[static_cast<pid_t>(pid)] = ppid;
    }
    closedir(proc);
    return parents;
}

std::vector<pid_t> &exempted()
{
    static std::vector<pid_t> pids;
    return pids;
}

bool is_exempt(pid_t pid)
{
    for (pid_t p : exempted())
        if (p == pid)
            return true;
    return false;
}

void reap_available()
{
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
}

} // namespace

void become_subreaper()
{
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

void exempt_from_descendants(pid_t pid)
{
    exempted().push_back(pid);
}

std::vector<pid_t> descendants_of(pid_t root)
{
    std::map<pid_t, pid_t> parents = parent_map();
    std::vector<pid_t> found;
    std::vector<pid_t> frontier{root};
    while (!frontier.empty()) {
        pid_t p = frontier.back();
        frontier.pop_back();
        for (const auto &[child, parent] : parents)
            if (parent == p && !is_exempt(child)) {
                found.push_back(child);
                frontier.push_back(child);
            }
    }
    return found;
}

void signal_descendants(int signum)
{
    for (pid_t pid : descendants_of(getpid()))
        kill(pid, signum);
}

int end_descendants(std::chrono::milliseconds grace)
{
    signal_descendants(SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline) {
        reap_available();
        if (descendants_of(getpid()).empty())
            return 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto remaining = descendants_of(getpid());
    for (pid_t pid : remaining)
        kill(pid, SIGKILL);
    // SIGKILL cannot be refused: reap with a bounded wait all the same.
    auto kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < kill_deadline) {
        reap_available();
        if (descendants_of(getpid()).empty())
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return static_cast<int>(remaining.size());
}

} // namespace dragon::node
