// The node's pool watch, with the kernel waiting for the loop (io_uring, Linux 6.7)
// and with its thread: after watch_from(stamp) its fd turns readable at the next
// change in the pool (a send by another process) or at once if a change came after
// the stamp, and stays quiet while nothing changes.
#include "pool_watch.hpp"

#include "../dataplane/dataplane_fixture.hpp"
#include "dataplane/channel.hpp"
#include "dataplane/pool_layout.hpp"

#include <poll.h>

namespace dragon::test {
namespace {

using namespace std::chrono_literals;
using node::PoolWatch;

bool readable(int fd, int timeout_ms)
{
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

class PoolWatchTest : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override
    {
        DRAGON_SKIP_UNLESS_AVAILABLE("posix_shm");
        pool = Pool::create(MemoryPlugin::named("posix_shm"), unique_segment_name("watch"),
                            test_pool_size);
        watch = std::make_unique<PoolWatch>(pool, /*kernel_wait=*/GetParam());
        if (GetParam() && !watch->kernel_waits())
            GTEST_SKIP() << "this kernel cannot wait on a futex in io_uring (Linux 6.7 or later)";
    }
    void TearDown() override
    {
        watch.reset();
        pool.reset();
    }

    std::shared_ptr<Pool> pool;
    std::unique_ptr<PoolWatch> watch;
};

TEST_P(PoolWatchTest, ASendInAnotherProcessMakesItReadable)
{
    Channel channel = Channel::create(pool);
    std::string desc = channel.descriptor();
    for (int round = 0; round < 3; ++round) {
        uint32_t stamp = watch->stamp();
        watch->watch_from(stamp);
        EXPECT_FALSE(readable(watch->fd(), 50)) << "round " << round;
        pid_t child = fork_child([&] {
            Channel::attach(desc).send("change", 10s);
            return 0;
        });
        EXPECT_TRUE(readable(watch->fd(), 10'000)) << "round " << round;
        EXPECT_EQ(reap(child), 0);
        watch->drain();
        EXPECT_EQ(channel.recv(1s).str(), "change");
    }
    watch->idle();
    EXPECT_EQ(pool->header()->poll_waiters.load(), 0u);
}

TEST_P(PoolWatchTest, AChangeAfterTheStampIsNotMissed)
{
    Channel channel = Channel::create(pool);
    uint32_t stamp = watch->stamp();
    channel.send("before the watch", 1s);
    watch->watch_from(stamp);
    EXPECT_TRUE(readable(watch->fd(), 10'000));
    watch->drain();
    watch->idle();
}

INSTANTIATE_TEST_SUITE_P(Waits, PoolWatchTest, ::testing::Values(true, false),
                         [](const auto &info) { return info.param ? "kernel" : "thread"; });

} // namespace
} // namespace dragon::test
