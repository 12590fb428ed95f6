// Short slices while asleep: asked for only on busy cores, given back afterwards
// with the thread's nice intact; dragon-node's lifelong short slice and its
// children's default. Skipped on kernels without custom slices (before 6.12).
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

TEST(WakeSlice, ANodeKeepsItsShortSliceAndItsChildrenGetTheDefault)
{
    if (!kernel_has_custom_slices())
        GTEST_SKIP() << "this kernel has no custom time slices (Linux 6.12 or later)";
    uint64_t standard = slice_now();
    pid_t node = fork();
    ASSERT_GE(node, 0);
    if (node == 0) {
        keep_short_slice();
        int code = 1;
        // A thread created afterwards inherits the short slice (the node's threads).
        std::thread([&] {
            if (slice_now() != short_slice_ns) {
                code = 2;
                return;
            }
            {
                ShortSliceAsleep asleep(/*cpu_spare=*/false); // short already: left alone
            }
            if (slice_now() != short_slice_ns) {
                code = 3;
                return;
            }
            restore_default_slice(); // what a child of the node does before exec
            code = slice_now() == standard ? 0 : 4;
        }).join();
        _exit(code);
    }
    int status = 0;
    ASSERT_EQ(waitpid(node, &status, 0), node);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit code " << status;
}

} // namespace
} // namespace dragon::test
