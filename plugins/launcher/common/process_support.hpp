// What every launcher plugin needs to start its node processes: finding a program
// on PATH and a pidfd to watch a child by. Header-only, as plugins link no framework
// library.
#pragma once

#include <cstdlib>
#include <string>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace dragon::launcher_support {

// Full path of `program` (searched on PATH when it has no '/'; an empty PATH entry is
// the current directory), or empty when it is not found or not executable.
inline std::string find_on_path(const std::string &program)
{
    if (program.empty())
        return {};
    if (program.find('/') != std::string::npos)
        return access(program.c_str(), X_OK) == 0 ? program : std::string();
    const char *path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    for (size_t begin = 0; begin <= dirs.size();) {
        size_t end = dirs.find(':', begin);
        if (end == std::string::npos)
            end = dirs.size();
        std::string dir = dirs.substr(begin, end - begin);
        std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
        if (access(candidate.c_str(), X_OK) == 0)
            return candidate;
        begin = end + 1;
    }
    return {};
}

// A pidfd for `pid` (readable when it exits), or -1 where the kernel has none.
inline int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    return -1;
#endif
}

} // namespace dragon::launcher_support
