// SleepBesideWaker: a receiver about to sleep moves to its waker's CPU only when
// the waker has the lower pid and the CPU is in its affinity, and gets its own
// mask back afterwards; note_waker records who woke and where.
#include "dataplane/waker_cpu.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <sys/wait.h>
#include <unistd.h>

namespace dragon::test {
namespace {

cpu_set_t affinity()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    EXPECT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    return set;
}

void set_affinity(const cpu_set_t &set)
{
    ASSERT_EQ(sched_setaffinity(0, sizeof set, &set), 0);
}

// A CPU of `set` other than `cpu`, or -1.
int other_cpu(const cpu_set_t &set, int cpu)
{
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (c != cpu && CPU_ISSET(c, &set))
            return c;
    return -1;
}

cpu_set_t just(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return set;
}

uint64_t waker_word(uint32_t pid, int cpu)
{
    return uint64_t(pid) << 32 | uint32_t(cpu + 1);
}

// Runs the test body on one CPU of the process's mask and restores the mask after.
class WakerCpu : public ::testing::Test {
protected:
    void SetUp() override
    {
        original_ = affinity();
        if (CPU_COUNT(&original_) < 2)
            GTEST_SKIP() << "needs two CPUs in this process's affinity";
    }
    void TearDown() override { sched_setaffinity(0, sizeof original_, &original_); }

    cpu_set_t original_;
};

TEST_F(WakerCpu, NoteWakerRecordsThisProcessAndItsCpu)
{
    int cpu = other_cpu(original_, -1);
    set_affinity(just(cpu));
    std::atomic<uint64_t> word{0};
    note_waker(word);
    EXPECT_EQ(word.load(), waker_word(uint32_t(getpid()), cpu));
}

TEST_F(WakerCpu, FollowsALowerPidWakerToItsCpuAndGetsItsMaskBack)
{
    int target = other_cpu(original_, sched_getcpu());
    std::atomic<uint64_t> word{waker_word(1, target)}; // pid 1: lower than ours
    {
        SleepBesideWaker beside(word);
        EXPECT_EQ(sched_getcpu(), target);
        cpu_set_t now = affinity();
        EXPECT_EQ(CPU_COUNT(&now), 1);
        EXPECT_TRUE(CPU_ISSET(target, &now));
    }
    cpu_set_t after = affinity();
    EXPECT_TRUE(CPU_EQUAL(&after, &original_));
}

TEST_F(WakerCpu, AHigherPidWakerOrNoWakerIsNotFollowed)
{
    int here = other_cpu(original_, -1);
    cpu_set_t only = just(here);
    int target = other_cpu(original_, here);
    cpu_set_t both = only;
    CPU_SET(target, &both);
    set_affinity(both);
    for (uint64_t value : {waker_word(UINT32_MAX, target), uint64_t{0}}) {
        std::atomic<uint64_t> word{value};
        SleepBesideWaker beside(word);
        cpu_set_t now = affinity();
        EXPECT_TRUE(CPU_EQUAL(&now, &both)) << "waker word " << value;
    }
}

TEST_F(WakerCpu, ACpuOutsideTheAffinityIsNeverUsed)
{
    int here = other_cpu(original_, -1);
    int outside = other_cpu(original_, here);
    cpu_set_t only = just(here);
    set_affinity(only);
    std::atomic<uint64_t> word{waker_word(1, outside)};
    SleepBesideWaker beside(word);
    EXPECT_EQ(sched_getcpu(), here);
    cpu_set_t now = affinity();
    EXPECT_TRUE(CPU_EQUAL(&now, &only));
}

TEST_F(WakerCpu, AWakerSleepsBesideUsOnlyOnOurCpuAndWhenItIsNoNode)
{
    int here = other_cpu(original_, -1);
    int elsewhere = other_cpu(original_, here);
    set_affinity(just(here));
    std::atomic<uint64_t> word{0};
    EXPECT_FALSE(waker_sleeps_beside(word)) << "no wake-up yet";
    note_waker(word);
    EXPECT_TRUE(waker_sleeps_beside(word));
    word = waker_word(1, elsewhere);
    EXPECT_FALSE(waker_sleeps_beside(word));

    // A node's wake-ups are marked (the mark is process-wide: in a child).
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        note_wakes_as_node();
        std::atomic<uint64_t> by_node{0};
        note_waker(by_node);
        bool marked = by_node.load() != waker_word(uint32_t(getpid()), here);
        _exit(marked && !waker_sleeps_beside(by_node) ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit code " << status;
}

} // namespace
} // namespace dragon::test
