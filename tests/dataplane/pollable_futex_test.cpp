// A futex wait an event loop polls: its fd turns readable when another process
// wakes the word, or at once when the word no longer holds the expected value, and
// stays quiet otherwise. Skipped before Linux 6.7 (no FUTEX_WAIT in io_uring).
#include "dataplane/futex.hpp"
#include "dataplane/pollable_futex.hpp"
#include "dataplane_fixture.hpp"

#include <poll.h>
#include <sys/mman.h>

namespace dragon::test {
namespace {

bool readable(int fd, int timeout_ms)
{
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

class PollableFutexTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        futex = PollableFutex::open();
        if (!futex)
            GTEST_SKIP() << "this kernel cannot wait on a futex in io_uring (Linux 6.7 or later)";
        // Shared, as the pool's words are: the waker is another process.
        void *page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ASSERT_NE(page, MAP_FAILED);
        word = new (page) std::atomic<uint32_t>(7);
    }
    void TearDown() override
    {
        futex.reset();
        if (word)
            munmap(word, 4096);
    }

    std::unique_ptr<PollableFutex> futex;
    std::atomic<uint32_t> *word = nullptr;
};

TEST_F(PollableFutexTest, AWakeFromAnotherProcessMakesItReadable)
{
    ASSERT_TRUE(futex->arm(word, 7));
    EXPECT_FALSE(readable(futex->fd(), 50));
    pid_t child = fork_child([&] {
        word->store(8);
        futex::wake_all(word);
        return 0;
    });
    EXPECT_TRUE(readable(futex->fd(), 10'000));
    EXPECT_EQ(reap(child), 0);
    futex->drain();
    EXPECT_FALSE(readable(futex->fd(), 0));
}

TEST_F(PollableFutexTest, AWordThatNoLongerHoldsTheValueMakesItReadableAtOnce)
{
    ASSERT_TRUE(futex->arm(word, 6));
    EXPECT_TRUE(readable(futex->fd(), 10'000));
}

TEST_F(PollableFutexTest, AfterDrainOnlyTheNextWakeMakesItReadable)
{
    ASSERT_TRUE(futex->arm(word, 6));
    ASSERT_TRUE(readable(futex->fd(), 10'000));
    futex->drain();
    ASSERT_TRUE(futex->arm(word, 7));
    EXPECT_FALSE(readable(futex->fd(), 50));
    futex::wake_all(word); // a wake with the value unchanged still ends the wait
    EXPECT_TRUE(readable(futex->fd(), 10'000));
}

TEST_F(PollableFutexTest, ArmingAgainKeepsTheWaitInFlight)
{
    ASSERT_TRUE(futex->arm(word, 7));
    ASSERT_TRUE(futex->arm(word, 7)); // no second wait: one wake, one completion
    futex::wake_all(word);
    ASSERT_TRUE(readable(futex->fd(), 10'000));
    futex->drain();
    EXPECT_FALSE(readable(futex->fd(), 0));
}

} // namespace
} // namespace dragon::test
