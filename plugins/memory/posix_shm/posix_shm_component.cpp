// posix_shm: segments from shm_open(3) (files in /dev/shm on Linux).
// The component file holds only the descriptor, its parameters and its probe.
#include "fd_segment.hpp"

#include <dragon/memory.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace {

int open_shm(const dragon::fdseg::Backend &, const char *name, int flags, mode_t mode)
{
    char path[DRAGON_SEGMENT_NAME_MAX + 1];
    std::snprintf(path, sizeof path, "/%s", name);
    return shm_open(path, flags, mode);
}

int unlink_shm(const dragon::fdseg::Backend &, const char *name)
{
    char path[DRAGON_SEGMENT_NAME_MAX + 1];
    std::snprintf(path, sizeof path, "/%s", name);
    return shm_unlink(path);
}

std::string shm_hint(const dragon::fdseg::Backend &b)
{
    struct statvfs vfs {};
    if (statvfs(b.dir.c_str(), &vfs) != 0)
        return "/dev/shm is full";
    unsigned long long free_bytes = 1ULL * vfs.f_bavail * vfs.f_frsize;
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "%s has %llu MiB free: free space there or lower DRAGON_DEFAULT_SEG_SZ",
                  b.dir.c_str(), free_bytes >> 20);
    return buf;
}

const dragon::fdseg::Backend &backend()
{
    static const dragon::fdseg::Backend b{"POSIX shared memory",
                                          "/dev/shm",
                                          static_cast<size_t>(sysconf(_SC_PAGESIZE)),
                                          open_shm,
                                          unlink_shm,
                                          shm_hint};
    return b;
}

size_t page_size(const dragon_host *)
{
    return backend().page_size;
}

dragon_status create(const dragon_host *, const char *name, size_t size, dragon_segment *out,
                     dragon_error *err)
{
    return dragon::fdseg::create(backend(), name, size, out, err);
}

dragon_status attach(const dragon_host *, const char *name, dragon_segment *out, dragon_error *err)
{
    return dragon::fdseg::attach(backend(), name, out, err);
}

dragon_status detach(const dragon_host *, dragon_segment *seg, dragon_error *err)
{
    return dragon::fdseg::detach(seg, err);
}

dragon_status unlink(const dragon_host *, const char *name, dragon_error *err)
{
    return dragon::fdseg::unlink(backend(), name, err);
}

dragon_status list(const dragon_host *, const char *prefix, void (*fn)(void *, const char *),
                   void *arg, dragon_error *err)
{
    return dragon::fdseg::list(backend(), prefix, fn, arg, err);
}

void probe(const dragon_host *, dragon_probe_result *out)
{
    // shm_open works wherever /dev/shm is a writable tmpfs.
    if (access("/dev/shm", W_OK) != 0) {
        out->available = 0;
        std::snprintf(out->reason, sizeof out->reason,
                      "/dev/shm is not writable (%s): POSIX shared memory needs a tmpfs there",
                      std::strerror(errno));
        return;
    }
    out->available = 1;
    out->priority = 10;
}

const dragon_memory_ops ops = {
    sizeof(dragon_memory_ops), page_size, create, attach, detach, unlink, list};

const dragon_plugin_descriptor descriptor = {
    DRAGON_PLUGIN_ABI_MAJOR,
    DRAGON_PLUGIN_ABI_MINOR,
    DRAGON_PLUGIN_MEMORY,
    "posix_shm",
    "1.0.0",
    "POSIX shared memory (shm_open in /dev/shm), 4 KiB pages",
    nullptr,
    0,
    probe,
    &ops,
    sizeof ops,
    DRAGON_MEMORY_INTERFACE_MAJOR,
    DRAGON_MEMORY_INTERFACE_MINOR,
    0,
    {},
};

} // namespace

DRAGON_PLUGIN_DEFINE(descriptor)
