/*
 * dirfile: a third-party Dragon memory plugin, written in plain C against the
 * installed headers only. Segments are files in a directory (a tmpfs, a DAX
 * file system, or any local disk), mapped shared.
 *
 * Parameter: DRAGON_MEMORY_DIRFILE_DIR (default /tmp).
 */
#define _GNU_SOURCE
#include <dragon/memory.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const dragon_param_def params[] = {
    {"dir", DRAGON_PARAM_STRING, "/tmp", "directory that holds the segment files"},
};

static const char *segment_dir(const dragon_host *host)
{
    const char *dir = host->param(host->ctx, "dir");
    return dir && *dir ? dir : "/tmp";
}

static dragon_status fail(dragon_error *err, int e, const char *what, const char *name)
{
    snprintf(err->message, sizeof err->message, "%s of dirfile segment %s failed: %s%s", what, name,
             strerror(e), e == ENOENT ? "; it was never created or has been destroyed" : "");
    switch (e) {
    case ENOENT: return DRAGON_ERR_NOT_FOUND;
    case EEXIST: return DRAGON_ERR_EXISTS;
    case EACCES:
    case EPERM: return DRAGON_ERR_PERMISSION;
    case ENOSPC:
    case ENOMEM: return DRAGON_ERR_NO_MEMORY;
    default: return DRAGON_ERR_INTERNAL;
    }
}

static int valid_name(const char *name, dragon_error *err)
{
    if (name && strncmp(name, "dragon-", 7) == 0 && !strchr(name, '/') &&
        strlen(name) < DRAGON_SEGMENT_NAME_MAX)
        return 1;
    snprintf(err->message, sizeof err->message,
             "segment name '%s' is invalid: it must start with 'dragon-' and have no '/'",
             name ? name : "(null)");
    return 0;
}

static void path_of(const dragon_host *host, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", segment_dir(host), name);
}

static size_t page_size(const dragon_host *host)
{
    (void)host;
    return (size_t)sysconf(_SC_PAGESIZE);
}

static dragon_status map_fd(int fd, size_t size, const char *name, dragon_segment *out,
                            dragon_error *err)
{
    void *addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED)
        return fail(err, errno, "mapping", name);
    out->addr = addr;
    out->size = size;
    out->fd = fd;
    snprintf(out->name, sizeof out->name, "%s", name);
    return DRAGON_OK;
}

static dragon_status create(const dragon_host *host, const char *name, size_t size,
                            dragon_segment *out, dragon_error *err)
{
    char path[4096];
    if (!valid_name(name, err))
        return DRAGON_ERR_INVALID;
    if (size == 0) {
        snprintf(err->message, sizeof err->message, "segment %s: size must be at least 1 byte",
                 name);
        return DRAGON_ERR_INVALID;
    }
    size_t page = page_size(host);
    size = (size + page - 1) / page * page;
    path_of(host, name, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(err, errno, "creation", name);
    if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)size) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return fail(err, e, "sizing", name);
    }
    dragon_status status = map_fd(fd, size, name, out, err);
    if (status != DRAGON_OK) {
        close(fd);
        unlink(path);
    }
    return status;
}

static dragon_status attach(const dragon_host *host, const char *name, dragon_segment *out,
                            dragon_error *err)
{
    char path[4096];
    struct stat st;
    if (!valid_name(name, err))
        return DRAGON_ERR_INVALID;
    path_of(host, name, path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errno, "attach", name);
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        int e = st.st_size <= 0 ? ENOENT : errno;
        close(fd);
        return fail(err, e, "attach", name);
    }
    dragon_status status = map_fd(fd, (size_t)st.st_size, name, out, err);
    if (status != DRAGON_OK)
        close(fd);
    return status;
}

static dragon_status detach(const dragon_host *host, dragon_segment *seg, dragon_error *err)
{
    (void)host;
    if (!seg->addr) {
        snprintf(err->message, sizeof err->message, "detach of a segment that is not attached");
        return DRAGON_ERR_INVALID;
    }
    munmap(seg->addr, seg->size);
    close(seg->fd);
    seg->addr = NULL;
    seg->fd = -1;
    return DRAGON_OK;
}

static dragon_status remove_segment(const dragon_host *host, const char *name, dragon_error *err)
{
    char path[4096];
    if (!valid_name(name, err))
        return DRAGON_ERR_INVALID;
    path_of(host, name, path, sizeof path);
    return unlink(path) == 0 ? DRAGON_OK : fail(err, errno, "removal", name);
}

static dragon_status list(const dragon_host *host, const char *prefix,
                          void (*fn)(void *, const char *), void *arg, dragon_error *err)
{
    DIR *dir = opendir(segment_dir(host));
    if (!dir)
        return fail(err, errno, "listing", segment_dir(host));
    size_t plen = prefix ? strlen(prefix) : 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (strncmp(entry->d_name, "dragon-", 7) == 0 &&
            (!prefix || strncmp(entry->d_name, prefix, plen) == 0))
            fn(arg, entry->d_name);
    closedir(dir);
    return DRAGON_OK;
}

static void probe(const dragon_host *host, dragon_probe_result *out)
{
    const char *dir = segment_dir(host);
    out->priority = 1; /* never preferred over the built-in plugins */
    out->available = access(dir, W_OK) == 0;
    if (!out->available)
        snprintf(out->reason, sizeof out->reason,
                 "DRAGON_MEMORY_DIRFILE_DIR=%s is not a writable directory (%s)", dir,
                 strerror(errno));
}

static const dragon_memory_ops ops = {
    sizeof(dragon_memory_ops), page_size, create, attach, detach, remove_segment, list};

static const dragon_plugin_descriptor descriptor = {
    .abi_major = DRAGON_PLUGIN_ABI_MAJOR,
    .abi_minor = DRAGON_PLUGIN_ABI_MINOR,
    .kind = DRAGON_PLUGIN_MEMORY,
    .name = "dirfile",
    .version = "0.1.0",
    .description = "example third-party plugin: segments as files in a directory",
    .params = params,
    .num_params = sizeof params / sizeof params[0],
    .probe = probe,
    .ops = &ops,
    .ops_size = sizeof ops,
    .interface_major = DRAGON_MEMORY_INTERFACE_MAJOR,
    .interface_minor = DRAGON_MEMORY_INTERFACE_MINOR,
};

DRAGON_PLUGIN_DEFINE(descriptor)
