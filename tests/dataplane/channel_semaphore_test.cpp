// Semaphore channels: counting, bounds, timeouts, mutual exclusion across processes,
// waiters woken by release and by destroy, and attachment by descriptor.
#include "dataplane/channel.hpp"
#include "dataplane_fixture.hpp"

#include "core/error.hpp"

#include <atomic>
#include <thread>

namespace dragon::test {
namespace {

using namespace std::chrono_literals;

class SemaphoreChannel : public PoolTest {};

TEST_P(SemaphoreChannel, CountsDownToZeroThenTimesOut)
{
    Channel sem = Channel::create_semaphore(pool, 2, 5);
    EXPECT_TRUE(sem.is_semaphore());
    EXPECT_EQ(sem.sem_max(), 5u);
    EXPECT_TRUE(sem.sem_acquire(no_wait));
    EXPECT_TRUE(sem.sem_acquire(1s));
    EXPECT_EQ(sem.sem_value(), 0u);
    EXPECT_FALSE(sem.sem_acquire(no_wait));
    auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(sem.sem_acquire(50ms));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
    sem.destroy();
}

TEST_P(SemaphoreChannel, ReleaseStopsAtTheMaximum)
{
    Channel sem = Channel::create_semaphore(pool, 0, 2);
    EXPECT_TRUE(sem.sem_release());
    EXPECT_TRUE(sem.sem_release());
    EXPECT_FALSE(sem.sem_release()); // bounded: nothing changes
    EXPECT_EQ(sem.sem_value(), 2u);
    sem.destroy();
}

TEST_P(SemaphoreChannel, InvalidValuesAndMessageChannelsAreRefused)
{
    EXPECT_THROW(Channel::create_semaphore(pool, 3, 2), Error);
    EXPECT_THROW(Channel::create_semaphore(pool, 0, 0), Error);
    Channel ch = Channel::create(pool, {4, 64});
    EXPECT_FALSE(ch.is_semaphore());
    EXPECT_THROW(ch.sem_acquire(no_wait), Error);
    EXPECT_THROW(ch.sem_release(), Error);
    ch.destroy();
}

TEST_P(SemaphoreChannel, ReleaseWakesAWaiterInAnotherProcess)
{
    Channel sem = Channel::create_semaphore(pool, 0, 1);
    std::string desc = sem.descriptor();
    pid_t child = fork_child([&] {
        Channel mine = Channel::attach(desc);
        return mine.sem_acquire(10s) ? 0 : 1;
    });
    std::this_thread::sleep_for(100ms); // let it fall asleep on the futex
    EXPECT_TRUE(sem.sem_release());
    EXPECT_EQ(reap(child, 20s), 0);
    EXPECT_EQ(sem.sem_value(), 0u);
    sem.destroy();
}

TEST_P(SemaphoreChannel, LockGivesMutualExclusionAcrossProcesses)
{
    // Each process increments a plain counter under the lock; any overlap loses updates.
    Channel lock = Channel::create_semaphore(pool, 1, 1);
    auto *counter = static_cast<uint64_t *>(pool->allocate(sizeof(uint64_t)));
    *counter = 0;
    constexpr int procs = 4, rounds = 200000; // long enough to overlap
    std::vector<pid_t> pids;
    for (int p = 0; p < procs; ++p)
        pids.push_back(fork_child([&] {
            for (int i = 0; i < rounds; ++i) {
                if (!lock.sem_acquire(30s))
                    return 2;
                uint64_t v = *const_cast<volatile uint64_t *>(counter);
                *const_cast<volatile uint64_t *>(counter) = v + 1;
                if (!lock.sem_release())
                    return 3;
            }
            return 0;
        }));
    for (int code : reap_all(pids))
        EXPECT_EQ(code, 0);
    EXPECT_EQ(*counter, uint64_t(procs) * rounds);
    EXPECT_EQ(lock.sem_value(), 1u);
    pool->free(counter);
    lock.destroy();
}

TEST_P(SemaphoreChannel, DestroyWakesWaitersWithAnError)
{
    Channel sem = Channel::create_semaphore(pool, 0, 1);
    std::string desc = sem.descriptor();
    pid_t child = fork_child([&] {
        Channel mine = Channel::attach(desc);
        try {
            mine.sem_acquire(30s);
        } catch (const Error &e) {
            return e.status() == DRAGON_ERR_UNAVAILABLE ? 0 : 4;
        }
        return 5;
    });
    std::this_thread::sleep_for(100ms);
    auto start = std::chrono::steady_clock::now();
    sem.destroy();
    EXPECT_EQ(reap(child, 20s), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(SemaphoreChannel);

} // namespace
} // namespace dragon::test
