// Pool: a process SIGKILLed at any instruction leaves no lock held and no broken state.
#include "dataplane_fixture.hpp"

#include "dataplane/pool_layout.hpp"

#include <cstring>
#include <random>

namespace dragon::test {
namespace {

using namespace std::chrono_literals;

class PoolCrash : public PoolTest {};

TEST_P(PoolCrash, LockOfADeadHolderIsRecovered)
{
    pid_t child = fork_child([&] {
        pool->header()->lock.lock(Deadline(1s), "test", [] {});
        return 0; // exits holding the lock
    });
    ASSERT_EQ(reap(child), 0);
    void *p = pool->allocate(1000, 1s);
    ASSERT_NE(p, nullptr);
    pool->free(p);
    EXPECT_EQ(pool->stats().bytes_in_use, 0u);
}

TEST_P(PoolCrash, KilledAtRandomPointsOthersCarryOn)
{
    std::mt19937 rng(7);
    for (int round = 0; round < 40; ++round) {
        pid_t child = fork_child([&] {
            std::mt19937 r(getpid());
            std::vector<void *> mine;
            for (;;) {
                if (mine.size() < 8) {
                    mine.push_back(pool->allocate(1 + r() % 4096, 1s));
                } else {
                    pool->free(mine.front());
                    mine.erase(mine.begin());
                }
            }
            return 0;
        });
        std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 3000));
        kill_and_reap(child);
        // Whatever instruction it died at, the pool still serves us at once.
        void *p = pool->allocate(1 + rng() % 10000, 2s);
        ASSERT_NE(p, nullptr);
        pool->free(p);
    }
    PoolStats s = pool->stats();
    // Only the blocks the dead children held stay allocated: at most 8 of 4 KiB each per round.
    EXPECT_LE(s.bytes_in_use, 40u * 8 * 4096);
    void *big = pool->allocate(size_t(1) << 20, no_wait);
    EXPECT_NE(big, nullptr);
    pool->free(big);
}

DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(PoolCrash);

} // namespace
} // namespace dragon::test
