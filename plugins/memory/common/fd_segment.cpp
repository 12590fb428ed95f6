#include "fd_segment.hpp"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace dragon::fdseg {
namespace {

constexpr const char name_prefix[] = "dragon-";

bool name_ok(const char *name, dragon_error *err)
{
    if (!name || std::strncmp(name, name_prefix, sizeof name_prefix - 1) != 0 ||
        std::strlen(name) >= DRAGON_SEGMENT_NAME_MAX || std::strchr(name, '/')) {
        set_error(err,
                  "segment name '%s' is invalid: it must start with 'dragon-', have no '/', "
                  "and be shorter than %d bytes",
                  name ? name : "(null)", DRAGON_SEGMENT_NAME_MAX);
        return false;
    }
    return true;
}

dragon_status status_of(int e)
{
    switch (e) {
    case ENOENT: return DRAGON_ERR_NOT_FOUND;
    case EEXIST: return DRAGON_ERR_EXISTS;
    case EACCES:
    case EPERM: return DRAGON_ERR_PERMISSION;
    case ENOMEM:
    case ENOSPC:
    case EFBIG: return DRAGON_ERR_NO_MEMORY;
    case EINVAL: return DRAGON_ERR_INVALID;
    default: return DRAGON_ERR_INTERNAL;
    }
}

dragon_status fail(const Backend &b, int e, const char *action, const char *name, dragon_error *err)
{
    dragon_status status = status_of(e);
    std::string hint;
    if (status == DRAGON_ERR_NO_MEMORY && b.no_memory_hint)
        hint = "; " + b.no_memory_hint(b);
    else if (status == DRAGON_ERR_NOT_FOUND)
        hint = "; it was never created or has been destroyed";
    set_error(err, "%s of %s segment %s failed: %s%s", action, b.what, name, std::strerror(e),
              hint.c_str());
    return status;
}

dragon_status map(const Backend &b, int fd, size_t size, const char *name, dragon_segment *out,
                  dragon_error *err)
{
    void *addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED)
        return fail(b, errno, "mapping", name, err);
    out->addr = addr;
    out->size = size;
    out->fd = fd;
    std::snprintf(out->name, sizeof out->name, "%s", name);
    out->plugin_data = 0;
    return DRAGON_OK;
}

} // namespace

void set_error(dragon_error *err, const char *format, ...)
{
    if (!err)
        return;
    va_list args;
    va_start(args, format);
    std::vsnprintf(err->message, sizeof err->message, format, args);
    va_end(args);
}

dragon_status create(const Backend &b, const char *name, size_t size, dragon_segment *out,
                     dragon_error *err) noexcept
{
    if (!name_ok(name, err))
        return DRAGON_ERR_INVALID;
    if (size == 0) {
        set_error(err, "segment %s: size must be at least 1 byte", name);
        return DRAGON_ERR_INVALID;
    }
    size_t rounded = (size + b.page_size - 1) / b.page_size * b.page_size;
    int fd = b.open(b, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(b, errno, "creation", name, err);
    // Pages are taken on first touch: a segment larger than the free space would be
    // accepted now and end its users with SIGBUS later. Refuse it while we can say why.
    struct statvfs fs {};
    // (f_blocks 0: a file system without a size limit, which reports no free count.)
    if (fstatvfs(fd, &fs) == 0 && fs.f_frsize > 0 && fs.f_blocks > 0 &&
        rounded / fs.f_frsize > static_cast<size_t>(fs.f_bavail)) {
        close(fd);
        b.unlink(b, name);
        set_error(err,
                  "creation of %s segment %s failed: %zu bytes asked, but %s has only %zu bytes "
                  "free; ask for less (a node pool's size is DRAGON_DEFAULT_SEG_SZ)",
                  b.what, name, rounded, b.dir.c_str(),
                  static_cast<size_t>(fs.f_bavail) * static_cast<size_t>(fs.f_frsize));
        return DRAGON_ERR_NO_MEMORY;
    }
    // The umask may have narrowed the mode; make it exactly owner read/write.
    if (fchmod(fd, 0600) != 0 || ftruncate(fd, static_cast<off_t>(rounded)) != 0) {
        int e = errno;
        close(fd);
        b.unlink(b, name);
        return fail(b, e, "sizing", name, err);
    }
    dragon_status status = map(b, fd, rounded, name, out, err);
    if (status != DRAGON_OK) {
        // Lose nothing: a segment we could not map must not linger.
        close(fd);
        b.unlink(b, name);
    }
    return status;
}

dragon_status attach(const Backend &b, const char *name, dragon_segment *out,
                     dragon_error *err) noexcept
{
    if (!name_ok(name, err))
        return DRAGON_ERR_INVALID;
    int fd = b.open(b, name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return fail(b, errno, "attach", name, err);
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(b, e, "attach", name, err);
    }
    if (st.st_size <= 0) {
        close(fd);
        set_error(err, "attach of %s segment %s failed: it has no size yet (still being created?)",
                  b.what, name);
        return DRAGON_ERR_NOT_FOUND;
    }
    dragon_status status = map(b, fd, static_cast<size_t>(st.st_size), name, out, err);
    if (status != DRAGON_OK)
        close(fd);
    return status;
}

dragon_status detach(dragon_segment *seg, dragon_error *err) noexcept
{
    if (!seg || !seg->addr) {
        set_error(err, "detach of a segment that is not attached");
        return DRAGON_ERR_INVALID;
    }
    munmap(seg->addr, seg->size);
    if (seg->fd >= 0)
        close(seg->fd);
    seg->addr = nullptr;
    seg->fd = -1;
    return DRAGON_OK;
}

dragon_status unlink(const Backend &b, const char *name, dragon_error *err) noexcept
{
    if (!name_ok(name, err))
        return DRAGON_ERR_INVALID;
    if (b.unlink(b, name) != 0)
        return fail(b, errno, "removal", name, err);
    return DRAGON_OK;
}

dragon_status list(const Backend &b, const char *prefix, void (*fn)(void *, const char *),
                   void *arg, dragon_error *err) noexcept
{
    DIR *dir = opendir(b.dir.c_str());
    if (!dir) {
        set_error(err, "cannot list %s segments in %s: %s", b.what, b.dir.c_str(),
                  std::strerror(errno));
        return status_of(errno);
    }
    size_t plen = prefix ? std::strlen(prefix) : 0;
    const uid_t self = geteuid();
    while (const dirent *entry = readdir(dir)) {
        struct stat st {};
        // Only our own: another user may create any name in a shared directory.
        if (std::strncmp(entry->d_name, name_prefix, sizeof name_prefix - 1) == 0 &&
            (!prefix || std::strncmp(entry->d_name, prefix, plen) == 0) &&
            fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == self)
            fn(arg, entry->d_name);
    }
    closedir(dir);
    return DRAGON_OK;
}

} // namespace dragon::fdseg
