#include "dataplane/cpu_to_spare.hpp"

#include "dataplane/deadline.hpp"
#include "dataplane/polling_waiters.hpp"

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace dragon {
namespace {

int loadavg_fd()
{
    // Opened once per process and kept (a fork inherits it, reading it stays valid).
    static const int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    return fd;
}

long online_cpus()
{
    static const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n;
}

bool cpu_to_spare_now();

} // namespace

bool cpu_to_spare()
{
    // The answer changes on a scheduler's time scale: read it at most once a millisecond
    // per thread, so a waiter can afford to ask before it spins at all.
    thread_local int64_t asked_ns = 0;
    thread_local bool spare = true;
    int64_t now = Deadline::now_ns();
    if (now - asked_ns >= 1'000'000) {
        spare = cpu_to_spare_now();
        asked_ns = now;
    }
    return spare;
}

namespace {

bool cpu_to_spare_now()
{
    int fd = loadavg_fd();
    if (fd < 0 || online_cpus() <= 0)
        return true;
    // "0.52 0.58 0.59 3/467 12345": the fourth field is runnable/total threads.
    char text[128];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return true;
    text[n] = '\0';
    const char *field = text;
    for (int i = 0; i < 3; ++i) {
        field = std::strchr(field, ' ');
        if (!field)
            return true;
        ++field;
    }
    // Our own pollers are runnable too, but they yield to whoever needs the CPU.
    long runnable = std::strtol(field, nullptr, 10) - polling_now();
    return runnable <= online_cpus();
}

} // namespace

} // namespace dragon
