// Multi-process stress: producers x consumers across fork, on every memory plugin.
#include "stress_run.hpp"

namespace dragon::test {
namespace {

class ChannelStressP : public PoolTest {};

void expect_clean(const StressResult &r)
{
    EXPECT_TRUE(r.children_ok);
    EXPECT_EQ(r.lost, 0u);
    EXPECT_EQ(r.duplicated, 0u);
    EXPECT_EQ(r.corrupt, 0u);
    EXPECT_EQ(r.out_of_order, 0u);
}

TEST_P(ChannelStressP, ThreeProducersTwoConsumers)
{
    Channel ch = Channel::create(pool, {64, 128});
    expect_clean(run_stress(*pool, ch, 3, 2, 20000));
    EXPECT_EQ(ch.size(), 0u);
    ch.destroy();
}

TEST_P(ChannelStressP, OneProducerFourConsumersTinyRing)
{
    // A two-slot ring maximises full/empty transitions and sleeping on both ends.
    Channel ch = Channel::create(pool, {2, 64});
    expect_clean(run_stress(*pool, ch, 1, 4, 10000));
    ch.destroy();
}

TEST_P(ChannelStressP, FourProducersOneConsumer)
{
    Channel ch = Channel::create(pool, {16, 256});
    expect_clean(run_stress(*pool, ch, 4, 1, 10000));
    ch.destroy();
}

DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(ChannelStressP);

} // namespace
} // namespace dragon::test
