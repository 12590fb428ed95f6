// Segments backed by a file descriptor in a directory-like namespace
// (shm_open's /dev/shm, a hugetlbfs mount): the mechanics both memory plugins share.
#pragma once

#include <dragon/memory.h>

#include <string>

namespace dragon::fdseg {

// How a backend opens and removes names; `dir` is where list() finds them.
struct Backend {
    const char *what; // "POSIX shared memory", "hugetlbfs"
    std::string dir;
    size_t page_size;
    int (*open)(const Backend &self, const char *name, int flags, mode_t mode);
    int (*unlink)(const Backend &self, const char *name);
    // Extra hint appended to an out-of-memory error ("reserve more pages ...").
    std::string (*no_memory_hint)(const Backend &self);
};

void set_error(dragon_error *err, const char *format, ...) __attribute__((format(printf, 2, 3)));

dragon_status create(const Backend &b, const char *name, size_t size, dragon_segment *out,
                     dragon_error *err) noexcept;
dragon_status attach(const Backend &b, const char *name, dragon_segment *out,
                     dragon_error *err) noexcept;
dragon_status detach(dragon_segment *seg, dragon_error *err) noexcept;
dragon_status unlink(const Backend &b, const char *name, dragon_error *err) noexcept;
dragon_status list(const Backend &b, const char *prefix, void (*fn)(void *, const char *),
                   void *arg, dragon_error *err) noexcept;

} // namespace dragon::fdseg
