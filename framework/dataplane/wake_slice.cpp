#include "dataplane/wake_slice.hpp"

#include "core/text.hpp"

#include <atomic>
#include <cstdlib>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace dragon {
namespace {

bool wanted()
{
    const char *value = std::getenv("DRAGON_SHORT_SLICES");
    return !value || !*value || text::parse_bool(value).value_or(true);
}

// False when DRAGON_SHORT_SLICES is off, or once the kernel refused (older than
// 6.12, seccomp): not asked again.
std::atomic<bool> slices_work{wanted()};
// The first change is read back: a kernel before 6.12 accepts the slice for
// SCHED_OTHER without a word and ignores it.
std::atomic<bool> checked{false};

// The calling thread's attributes, or false.
bool current_attributes(SchedAttr &attr)
{
    attr = SchedAttr{};
    return syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) == 0;
}

// Changes only the slice: nice and the policy stay as they are.
bool set_slice(SchedAttr attr, uint64_t ns)
{
    attr.size = sizeof attr;
    attr.sched_flags = 0;
    attr.sched_runtime = ns;
    return syscall(SYS_sched_setattr, 0, &attr, 0) == 0;
}

// Whether the calling thread's own slice is short already (its own choice): read once.
bool short_already()
{
    thread_local const bool already = [] {
        SchedAttr attr;
        return current_attributes(attr) && attr.sched_runtime != 0 &&
               attr.sched_runtime <= short_slice_ns;
    }();
    return already;
}

} // namespace

ShortSliceAsleep::ShortSliceAsleep(bool cpu_spare)
{
    if (cpu_spare || !slices_work.load(std::memory_order_relaxed) || short_already())
        return;
    if (!current_attributes(attr_) || attr_.sched_policy != SCHED_OTHER)
        return; // SCHED_BATCH, IDLE or real-time: the user's choice stays
    SchedAttr now;
    if (!set_slice(attr_, short_slice_ns) ||
        (!checked.exchange(true) &&
         (!current_attributes(now) || now.sched_runtime != short_slice_ns))) {
        slices_work.store(false, std::memory_order_relaxed);
        set_slice(attr_, 0);
        return;
    }
    changed_ = true;
}

ShortSliceAsleep::~ShortSliceAsleep()
{
    if (changed_)
        set_slice(attr_, 0);
}

} // namespace dragon
