#include "dataplane/process_alive.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <unistd.h>

namespace dragon {
namespace {

uint32_t cached_pid = 0;

void refresh_pid()
{
    cached_pid = uint32_t(getpid());
}

struct PidCache {
    PidCache()
    {
        refresh_pid();
        pthread_atfork(nullptr, nullptr, refresh_pid);
    }
};

} // namespace

uint32_t current_pid()
{
    static PidCache cache;
    return cached_pid;
}

bool process_dead(uint32_t pid)
{
    if (pid == 0 || pid == current_pid())
        return false;
    if (kill(pid_t(pid), 0) != 0)
        return errno == ESRCH;
    // Still in the process table: dead only if a zombie (state 'Z' in /proc/<pid>/stat).
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
    FILE *f = std::fopen(path, "re");
    if (!f)
        return false;
    char buf[512];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // "pid (comm) S ...": the state follows the last ')', since comm may hold ')'.
    const char *close = nullptr;
    for (const char *p = buf; *p; ++p)
        if (*p == ')')
            close = p;
    return close && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X');
}

} // namespace dragon
