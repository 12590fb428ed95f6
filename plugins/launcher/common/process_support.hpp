// What every launcher plugin needs to start its node processes: finding a program
// on PATH, exec's arrays and environment, a child's exec failure reported back, and a
// pidfd to watch a child by. Header-only, as plugins link no framework library.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <string>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

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

// A file descriptor closed when it goes out of scope.
struct OwnedFd {
    int fd = -1;
    ~OwnedFd()
    {
        if (fd >= 0)
            close(fd);
    }
};

// `strings` as a NULL-terminated array for exec (pointing into `strings`).
inline std::vector<char *> c_array(const std::vector<std::string> &strings)
{
    std::vector<char *> out;
    for (const auto &s : strings)
        out.push_back(const_cast<char *>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

// Sets NAME=VALUE `entry` in `env`, replacing an earlier NAME=.
inline void set_variable(std::vector<std::string> &env, const std::string &entry)
{
    std::string name = entry.substr(0, entry.find('=')) + "=";
    for (auto &e : env)
        if (e.compare(0, name.size(), name) == 0) {
            e = entry;
            return;
        }
    env.push_back(entry);
}

// In a forked child whose exec (or a step before it) failed: sends errno to the parent
// through the report pipe's write end (O_CLOEXEC, so a successful exec closes it) and
// ends the child. Async-signal-safe.
[[noreturn]] inline void report_child_failure(int report_fd)
{
    int err = errno;
    ssize_t ignored = write(report_fd, &err, sizeof err);
    (void)ignored;
    _exit(127);
}

// In the parent, once it closed its copy of the write end: the errno the child
// reported, or 0 when the pipe closed without one (the exec succeeded).
inline int child_failure(int report_read_fd)
{
    int child_errno = 0;
    ssize_t got;
    do
        got = read(report_read_fd, &child_errno, sizeof child_errno);
    while (got < 0 && errno == EINTR);
    return got == static_cast<ssize_t>(sizeof child_errno) ? child_errno : 0;
}

} // namespace dragon::launcher_support
