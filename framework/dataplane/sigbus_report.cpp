#include "dataplane/sigbus_report.hpp"

#include <atomic>
#include <csignal>
#include <cstring>
#include <mutex>
#include <unistd.h>

namespace dragon {
namespace {

// Read by the handler: fixed storage, no allocation, entries published atomically.
constexpr int max_watched = 64;
struct Watched {
    std::atomic<const char *> base{nullptr};
    std::atomic<size_t> size{0};
    char name[96] = {};
};
Watched watched[max_watched];
std::mutex watch_mutex;
struct sigaction previous {};
bool installed = false;

void write_all(const char *text)
{
    size_t left = std::strlen(text);
    while (left > 0) {
        ssize_t n = write(STDERR_FILENO, text, left);
        if (n <= 0)
            return;
        text += n;
        left -= static_cast<size_t>(n);
    }
}

void on_sigbus(int signum, siginfo_t *info, void *context)
{
    const char *addr = static_cast<const char *>(info ? info->si_addr : nullptr);
    for (auto &w : watched) {
        const char *base = w.base.load(std::memory_order_acquire);
        if (base && addr >= base && addr < base + w.size.load(std::memory_order_relaxed)) {
            write_all("dragon: pool ");
            write_all(w.name);
            write_all(": a page of it could not be backed (its file system is full, or the "
                      "segment was cut short): free space there (df /dev/shm) or lower "
                      "DRAGON_DEFAULT_SEG_SZ; this process ends with SIGBUS\n");
            break;
        }
    }
    // Let the signal take its course: the previous handler runs, or the default
    // action ends the process when the faulting access repeats on return.
    sigaction(SIGBUS, &previous, nullptr);
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction)
            previous.sa_sigaction(signum, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(signum);
    }
}

} // namespace

void watch_pool_mapping(const void *base, size_t size, const std::string &name)
{
    std::lock_guard<std::mutex> guard(watch_mutex);
    if (!installed) {
        struct sigaction sa {};
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, &previous) == 0)
            installed = true;
    }
    for (auto &w : watched)
        if (!w.base.load(std::memory_order_relaxed)) {
            std::strncpy(w.name, name.c_str(), sizeof w.name - 1);
            w.size.store(size, std::memory_order_relaxed);
            w.base.store(static_cast<const char *>(base), std::memory_order_release);
            return;
        }
    // More pools than slots: the extra ones die without the line, as before.
}

void unwatch_pool_mapping(const void *base)
{
    std::lock_guard<std::mutex> guard(watch_mutex);
    for (auto &w : watched)
        if (w.base.load(std::memory_order_relaxed) == base)
            w.base.store(nullptr, std::memory_order_release);
}

} // namespace dragon
