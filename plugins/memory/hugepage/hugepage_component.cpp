// hugepage: segments as files in a hugetlbfs mount, backed by 2 MiB pages the
// administrator reserved (vm.nr_hugepages). Fewer TLB misses for large pools.
// The component file holds only the descriptor, its parameters and its probe.
#include "fd_segment.hpp"
#include "hugepage_probe.hpp"

#include <cstdlib>

#include <dragon/memory.h>

#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

namespace {

const dragon_param_def params[] = {
    {"dir", DRAGON_PARAM_STRING, "",
     "hugetlbfs mount to keep segments in; empty: the first one of the default page size"},
};

const char *dir_param(const dragon_host *host)
{
    const char *v = host->param(host->ctx, "dir");
    return v ? v : "";
}

int open_huge(const dragon::fdseg::Backend &b, const char *name, int flags, mode_t mode)
{
    return open((b.dir + "/" + name).c_str(), flags, mode);
}

int unlink_huge(const dragon::fdseg::Backend &b, const char *name)
{
    return ::unlink((b.dir + "/" + name).c_str());
}

std::string huge_hint(const dragon::fdseg::Backend &b)
{
    dragon::hugepage::Facts f = dragon::hugepage::examine_this_machine(b.dir);
    return "HugePages_Free is " + std::to_string(f.free_pages) + " of " +
           std::to_string(f.total_pages) + " pages of " + std::to_string(b.page_size >> 20) +
           " MiB: reserve more with vm.nr_hugepages or ask for a smaller segment (a node pool's "
           "size is DRAGON_DEFAULT_SEG_SZ)";
}

// Resolved per call: the mount is found from the host's parameter.
dragon::fdseg::Backend backend(const dragon_host *host)
{
    dragon::hugepage::Facts f = dragon::hugepage::examine_this_machine(dir_param(host));
    return {"hugetlbfs", f.dir,       f.page_size ? f.page_size : (2u << 20),
            open_huge,   unlink_huge, huge_hint};
}

bool usable(const dragon_host *host, dragon_error *err, dragon::fdseg::Backend &out)
{
    out = backend(host);
    if (out.dir.empty()) {
        dragon::fdseg::set_error(
            err, "hugepage plugin cannot run here: %s",
            dragon::hugepage::examine_this_machine(dir_param(host)).problem.c_str());
        return false;
    }
    return true;
}

size_t page_size(const dragon_host *host)
{
    return backend(host).page_size;
}

dragon_status create(const dragon_host *host, const char *name, size_t size, dragon_segment *out,
                     dragon_error *err)
{
    dragon::fdseg::Backend b;
    if (!usable(host, err, b))
        return DRAGON_ERR_UNAVAILABLE;
    return dragon::fdseg::create(b, name, size, out, err);
}

dragon_status attach(const dragon_host *host, const char *name, dragon_segment *out,
                     dragon_error *err)
{
    dragon::fdseg::Backend b;
    if (!usable(host, err, b))
        return DRAGON_ERR_UNAVAILABLE;
    return dragon::fdseg::attach(b, name, out, err);
}

dragon_status detach(const dragon_host *, dragon_segment *seg, dragon_error *err)
{
    return dragon::fdseg::detach(seg, err);
}

dragon_status unlink(const dragon_host *host, const char *name, dragon_error *err)
{
    dragon::fdseg::Backend b;
    if (!usable(host, err, b))
        return DRAGON_ERR_UNAVAILABLE;
    return dragon::fdseg::unlink(b, name, err);
}

dragon_status list(const dragon_host *host, const char *prefix, void (*fn)(void *, const char *),
                   void *arg, dragon_error *err)
{
    dragon::fdseg::Backend b = backend(host);
    if (b.dir.empty())
        return DRAGON_OK; // no mount: nothing of ours can exist
    return dragon::fdseg::list(b, prefix, fn, arg, err);
}

void probe(const dragon_host *host, dragon_probe_result *out)
{
    dragon::hugepage::Facts f = dragon::hugepage::examine_this_machine(dir_param(host));
    if (f.problem.empty())
        f.problem = dragon::hugepage::pool_size_problem(
            f, dragon::hugepage::requested_pool_size(std::getenv("DRAGON_DEFAULT_SEG_SZ")));
    out->available = f.problem.empty();
    // Reserved huge pages are scarce and sized by the administrator, so automatic
    // selection prefers posix_shm; ask for this one with DRAGON_MEMORY=hugepage.
    out->priority = 5;
    std::snprintf(out->reason, sizeof out->reason, "%s", f.problem.c_str());
}

const dragon_memory_ops ops = {
    sizeof(dragon_memory_ops), page_size, create, attach, detach, unlink, list};

const dragon_plugin_descriptor descriptor = {
    DRAGON_PLUGIN_ABI_MAJOR,
    DRAGON_PLUGIN_ABI_MINOR,
    DRAGON_PLUGIN_MEMORY,
    "hugepage",
    "1.0.0",
    "huge pages (2 MiB) from a hugetlbfs mount; needs vm.nr_hugepages reserved",
    params,
    sizeof params / sizeof params[0],
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
