// Unbounded channels: sends never wait for room; what does not fit the ring
// overflows to pool blocks, in order per sender, and is freed with the channel.
#include "core/error.hpp"
#include "dataplane/channel.hpp"
#include "dataplane/holders.hpp"
#include "dataplane_fixture.hpp"

#include <cstring>
#include <string>

namespace dragon::test {
namespace {

using namespace std::chrono_literals;

class UnboundedChannel : public PoolTest {};

ChannelOptions unbounded_ring(uint32_t capacity)
{
    ChannelOptions o;
    o.capacity = capacity;
    o.slot_size = 64;
    o.unbounded = true;
    return o;
}

TEST_P(UnboundedChannel, HoldsFarMoreThanItsRingBeforeAnyReceiveInOrder)
{
    Channel ch = Channel::create(pool, unbounded_ring(16));
    constexpr int n = 100000;
    for (int i = 0; i < n; ++i)
        ch.send(&i, sizeof i, no_wait); // never waits: a full ring overflows
    EXPECT_EQ(ch.size(), size_t(n));
    EXPECT_TRUE(ch.readable());
    for (int i = 0; i < n; ++i) {
        Message m = ch.recv(1s);
        int v;
        std::memcpy(&v, m.data(), sizeof v);
        ASSERT_EQ(v, i);
    }
    EXPECT_FALSE(ch.try_recv().has_value());
    EXPECT_FALSE(ch.readable());
}

TEST_P(UnboundedChannel, LargeAndSmallMessagesOverflowTogether)
{
    Channel ch = Channel::create(pool, unbounded_ring(2));
    for (int i = 0; i < 20; ++i)
        ch.send(std::string(i % 3 == 0 ? 100000 : 30, char('a' + i)), no_wait);
    for (int i = 0; i < 20; ++i) {
        Message m = ch.recv(1s);
        ASSERT_EQ(m.size(), size_t(i % 3 == 0 ? 100000 : 30));
        EXPECT_EQ(m.str()[0], char('a' + i));
        EXPECT_EQ(m.zero_copy(), i % 3 == 0);
    }
}

TEST_P(UnboundedChannel, OverflowedMessagesAreFreedWithTheChannel)
{
    Channel::create(pool); // the holder table stays: the baseline
    uint64_t before = pool->stats().bytes_in_use;
    {
        Channel ch = Channel::create(pool, unbounded_ring(4));
        for (int i = 0; i < 1000; ++i)
            ch.send(std::string(i % 10 == 0 ? 5000 : 40, 'o'), no_wait);
    }
    EXPECT_EQ(pool->stats().bytes_in_use, before);
}

TEST_P(UnboundedChannel, EachSendersOrderIsKeptWithConcurrentSendersAndReceiver)
{
    Channel ch = Channel::create(pool, unbounded_ring(8));
    std::string desc = ch.descriptor();
    constexpr int senders = 3, per_sender = 20000;
    std::vector<pid_t> pids;
    for (int s = 0; s < senders; ++s)
        pids.push_back(fork_child([&, s] {
            Channel c = Channel::attach(desc);
            for (int i = 0; i < per_sender; ++i) {
                int msg[2] = {s, i};
                c.send(msg, sizeof msg, no_wait);
            }
            return 0;
        }));
    std::vector<int> next(senders, 0);
    for (int got = 0; got < senders * per_sender; ++got) {
        Message m = ch.recv(30s);
        int msg[2];
        std::memcpy(msg, m.data(), sizeof msg);
        ASSERT_EQ(msg[1], next[msg[0]]) << "sender " << msg[0] << " out of order";
        ++next[msg[0]];
    }
    for (int code : reap_all(pids))
        EXPECT_EQ(code, 0);
}

class TinyPool : public PoolTest {
protected:
    size_t pool_size() const override { return size_t(1) << 20; }
};

TEST_P(TinyPool, AFullPoolIsAClearErrorNotAHang)
{
    Channel ch = Channel::create(pool, unbounded_ring(4));
    std::string msg(200, 'f');
    try {
        for (int i = 0; i < 100000; ++i)
            ch.send(msg, wait_forever);
        FAIL() << "1 MiB cannot hold 100000 messages of 200 bytes";
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), DRAGON_ERR_NO_MEMORY);
        EXPECT_NE(std::string(e.what()).find("DRAGON_DEFAULT_SEG_SZ"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(ch.recv(1s).size(), 200u); // what was sent is still there
}

DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(UnboundedChannel);
DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(TinyPool);

} // namespace
} // namespace dragon::test
