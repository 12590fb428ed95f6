// Short slices while asleep: asked for only on busy cores, given back afterwards
// with the thread's nice intact. Skipped on kernels without custom slices (before
// 6.12).
#include "dataplane/wake_slice.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace dragon::test {
namespace {

uint64_t slice_now()
{
    SchedAttr attr{};
    EXPECT_EQ(syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0), 0);
    return attr.sched_runtime;
}

bool kernel_has_custom_slices()
{
    return slice_now() != 0; // before 6.12 a fair task reports no slice
}

int own_nice()
{
    return getpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)));
}

TEST(WakeSlice, AsleepOnBusyCoresTheSliceIsShortThenTheDefaultAgain)
{
    if (!kernel_has_custom_slices())
        GTEST_SKIP() << "this kernel has no custom time slices (Linux 6.12 or later)";
    std::thread([] {
        uint64_t before = slice_now();
        ASSERT_GT(before, short_slice_ns);
        {
            ShortSliceAsleep asleep(/*cpu_spare=*/false);
            EXPECT_EQ(slice_now(), short_slice_ns);
        }
        EXPECT_EQ(slice_now(), before);
    }).join();
}

TEST(WakeSlice, WithACpuToSpareNothingIsAsked)
{
    if (!kernel_has_custom_slices())
        GTEST_SKIP() << "this kernel has no custom time slices (Linux 6.12 or later)";
    std::thread([] {
        uint64_t before = slice_now();
        ShortSliceAsleep asleep(/*cpu_spare=*/true);
        EXPECT_EQ(slice_now(), before);
    }).join();
}

TEST(WakeSlice, TheThreadsNiceStays)
{
    if (!kernel_has_custom_slices())
        GTEST_SKIP() << "this kernel has no custom time slices (Linux 6.12 or later)";
    std::thread([] {
        ASSERT_EQ(setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), 5), 0);
        {
            ShortSliceAsleep asleep(/*cpu_spare=*/false);
            EXPECT_EQ(slice_now(), short_slice_ns);
            EXPECT_EQ(own_nice(), 5);
        }
        EXPECT_EQ(own_nice(), 5);
    }).join();
}

} // namespace
} // namespace dragon::test
