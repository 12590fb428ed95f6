// Channel: a participant SIGKILLed in the middle of an operation; the others carry on.
#include "dataplane/channel_layout.hpp"
#include "dataplane/pool_layout.hpp"
#include "stress_run.hpp"

#include <random>

namespace dragon::test {
namespace {

using namespace std::chrono_literals;

class ChannelCrash : public PoolTest {};

SlotHeader *slot_at(Channel &ch, uint32_t index)
{
    ChannelHeader *h = ch.header();
    return reinterpret_cast<SlotHeader *>(reinterpret_cast<std::byte *>(h + 1) +
                                          size_t(index) * h->slot_size);
}

TEST_P(ChannelCrash, ProducerDiedAfterClaimingASlot)
{
    Channel ch = Channel::create(pool, {4, 64});
    // The child stops exactly between claiming slot 0 and publishing it.
    pid_t child = fork_child([&] {
        uint64_t free0 = slot_state(0, slot_free, 0);
        slot_at(ch, 0)->state.compare_exchange_strong(free0, slot_state(0, slot_claimed, getpid()));
        ch.header()->enqueue_pos.store(1);
        return 0;
    });
    ASSERT_EQ(reap(child), 0);
    ch.send("after", 5, 1s);
    EXPECT_EQ(ch.recv(5s).str(), "after"); // the dead claim is skipped, not waited on
    ch.destroy();
}

TEST_P(ChannelCrash, ConsumerDiedWhileTakingASlot)
{
    Channel ch = Channel::create(pool, {2, 64});
    ch.send("0", 1, 1s);
    ch.send("1", 1, 1s);
    pid_t child = fork_child([&] {
        uint64_t full0 = slot_state(0, slot_full, 0);
        slot_at(ch, 0)->state.compare_exchange_strong(full0, slot_state(0, slot_taking, getpid()));
        ch.header()->dequeue_pos.store(1);
        return 0;
    });
    ASSERT_EQ(reap(child), 0);
    EXPECT_EQ(ch.recv(1s).str(), "1");
    ch.send("2", 1, 5s); // needs slot 0, which the dead consumer held
    ch.send("3", 1, 5s);
    EXPECT_EQ(ch.recv(1s).str(), "2");
    EXPECT_EQ(ch.recv(1s).str(), "3");
    ch.destroy();
}

TEST_P(ChannelCrash, ParticipantsKilledAtRandomPointsOthersCarryOn)
{
    Channel ch = Channel::create(pool, {8, 128});
    std::string desc = ch.descriptor();
    std::mt19937 rng(11);
    for (int round = 0; round < 15; ++round) {
        pid_t producer = fork_child([&] {
            Channel c = Channel::attach(desc);
            for (uint32_t seq = 0;; ++seq)
                c.send(make_stress_message(foreign_sender_base + round, seq), 10s);
            return 0;
        });
        pid_t consumer = fork_child([&] {
            Channel c = Channel::attach(desc);
            for (;;)
                c.recv(10s);
            return 0;
        });
        std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 5000));
        kill_and_reap(rng() % 2 ? producer : consumer);
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
        kill_and_reap(producer);
        kill_and_reap(consumer);
    }
    // Survivors: a full checked exchange on the very same channel and pool.
    StressResult r = run_stress(*pool, ch, 2, 2, 5000);
    EXPECT_TRUE(r.children_ok);
    EXPECT_EQ(r.lost, 0u);
    EXPECT_EQ(r.duplicated, 0u);
    EXPECT_EQ(r.corrupt, 0u);
    EXPECT_EQ(r.out_of_order, 0u);
    void *p = pool->allocate(1 << 20, 1s);
    EXPECT_NE(p, nullptr);
    pool->free(p);
    ch.destroy();
}

DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(ChannelCrash);

} // namespace
} // namespace dragon::test
