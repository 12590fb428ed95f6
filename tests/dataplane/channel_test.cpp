// Channel: messages small and large, zero copy, timeouts, non-blocking calls, descriptors,
// destruction.
#include "dataplane/channel.hpp"
#include "dataplane_fixture.hpp"

#include "core/error.hpp"

#include <cstring>

namespace dragon::test {
namespace {

using namespace std::chrono_literals;

class ChannelBasics : public PoolTest {};

TEST_P(ChannelBasics, SmallAndLargeMessagesArriveIntactInOrder)
{
    Channel ch = Channel::create(pool, {16, 128});
    std::string empty, small = "hello", large(100000, 'x');
    for (size_t i = 0; i < large.size(); ++i)
        large[i] = char('a' + i % 23);
    ch.send(empty, 1s);
    ch.send(small, 1s);
    ch.send(large, 1s);
    EXPECT_EQ(ch.size(), 3u);
    EXPECT_EQ(ch.recv(1s).str(), empty);
    Message m = ch.recv(1s);
    EXPECT_FALSE(m.zero_copy());
    EXPECT_EQ(m.str(), small);
    Message big = ch.recv(1s);
    EXPECT_TRUE(big.zero_copy()); // handed over, not copied
    EXPECT_EQ(big.str(), large);
    ch.destroy();
}

TEST_P(ChannelBasics, ZeroCopyBlocksChangeOwnerAndAreFreed)
{
    Channel ch = Channel::create(pool);
    uint64_t before = pool->stats().bytes_in_use;
    auto *block = static_cast<char *>(pool->allocate(1 << 20));
    std::memset(block, 7, 1 << 20);
    ch.send_block(block, 1 << 20, 1s);
    {
        Message m = ch.recv(1s);
        ASSERT_TRUE(m.zero_copy());
        EXPECT_EQ(static_cast<const void *>(m.data()), block); // the very same memory
        EXPECT_EQ(m.size(), size_t(1) << 20);
    }
    EXPECT_EQ(pool->stats().bytes_in_use, before); // the Message freed it
    ch.send(std::string(5000, 'y'), 1s);
    void *kept = ch.recv(1s).release();
    ASSERT_NE(kept, nullptr);
    EXPECT_EQ(static_cast<char *>(kept)[4999], 'y');
    pool->free(kept);
    ch.destroy();
}

TEST_P(ChannelBasics, TimeoutsOnBothEnds)
{
    Channel ch = Channel::create(pool, {2, 64});
    auto start = std::chrono::steady_clock::now();
    try {
        ch.recv(50ms);
        FAIL() << "recv on an empty channel returned";
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), DRAGON_ERR_TIMEOUT);
    }
    EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
    ch.send("a", 1, 1s);
    ch.send("b", 1, 1s);
    start = std::chrono::steady_clock::now();
    try {
        ch.send("c", 1, 50ms);
        FAIL() << "send on a full channel returned";
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), DRAGON_ERR_TIMEOUT);
        EXPECT_NE(std::string(e.what()).find("full"), std::string::npos);
    }
    EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
    // A large message that times out must give its pool block back.
    uint64_t used = pool->stats().bytes_in_use;
    EXPECT_THROW(ch.send(std::string(10000, 'z'), 20ms), Error);
    EXPECT_EQ(pool->stats().bytes_in_use, used);
    ch.destroy();
}

TEST_P(ChannelBasics, NonBlockingVariants)
{
    Channel ch = Channel::create(pool, {4, 64});
    EXPECT_FALSE(ch.try_recv().has_value());
    for (int i = 0; i < 4; ++i)
        EXPECT_TRUE(ch.try_send(&i, sizeof i));
    EXPECT_FALSE(ch.try_send("x", 1));
    uint64_t used = pool->stats().bytes_in_use;
    std::string large(1000, 'l');
    EXPECT_FALSE(ch.try_send(large.data(), large.size()));
    EXPECT_EQ(pool->stats().bytes_in_use, used);
    for (int i = 0; i < 4; ++i) {
        auto m = ch.try_recv();
        ASSERT_TRUE(m.has_value());
        int v;
        std::memcpy(&v, m->data(), sizeof v);
        EXPECT_EQ(v, i);
    }
    EXPECT_FALSE(ch.try_recv().has_value());
    ch.destroy();
}

TEST_P(ChannelBasics, BackPressureBlocksTheSenderUntilARecv)
{
    Channel ch = Channel::create(pool, {2, 64});
    ch.send("1", 1, 1s);
    ch.send("2", 1, 1s);
    std::string desc = ch.descriptor();
    pid_t child = fork_child([&] {
        std::this_thread::sleep_for(100ms);
        Channel c = Channel::attach(desc);
        return c.recv(5s).str() == "1" ? 0 : 1;
    });
    auto start = std::chrono::steady_clock::now();
    ch.send("3", 1, 10s); // waits for the child's receive
    EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
    EXPECT_EQ(reap(child), 0);
    EXPECT_EQ(ch.recv(1s).str(), "2");
    EXPECT_EQ(ch.recv(1s).str(), "3");
    ch.destroy();
}

TEST_P(ChannelBasics, DescriptorAttachesFromAnotherProcess)
{
    // One channel each way: a channel is a single queue, not a duplex pipe.
    Channel to_child = Channel::create(pool), to_parent = Channel::create(pool);
    std::string desc = to_child.descriptor(), reply_desc = to_parent.descriptor();
    EXPECT_NE(desc.find(GetParam()), std::string::npos);
    EXPECT_NE(desc.find(pool->name()), std::string::npos);
    pid_t child = fork_child([&] {
        Channel in = Channel::attach(desc), out = Channel::attach(reply_desc);
        std::string got = in.recv(10s).str();
        out.send("echo:" + got, 10s);
        out.send(std::string(200000, 'q'), 10s);
        return 0;
    });
    to_child.send("ping", 1s);
    EXPECT_EQ(to_parent.recv(10s).str(), "echo:ping");
    EXPECT_EQ(to_parent.recv(10s).size(), 200000u);
    EXPECT_EQ(reap(child), 0);
    EXPECT_THROW(Channel::attach("dragon-channel:nope"), Error);
    EXPECT_THROW(Channel::attach("garbage"), Error);
    to_child.destroy();
    to_parent.destroy();
}

TEST_P(ChannelBasics, DestroyWakesEveryWaiterWithAnError)
{
    Channel ch = Channel::create(pool, {2, 64});
    Channel full = Channel::create(pool, {2, 64});
    full.send("a", 1, 1s);
    full.send("b", 1, 1s);
    std::string desc = ch.descriptor(), full_desc = full.descriptor();
    std::vector<pid_t> kids;
    for (int i = 0; i < 2; ++i)
        kids.push_back(fork_child([&] {
            Channel c = Channel::attach(desc);
            try {
                c.recv(30s);
            } catch (const Error &e) {
                return e.status() == DRAGON_ERR_UNAVAILABLE ? 0 : 1;
            }
            return 2;
        }));
    kids.push_back(fork_child([&] {
        Channel c = Channel::attach(full_desc);
        try {
            c.send("c", 1, 30s);
        } catch (const Error &e) {
            return e.status() == DRAGON_ERR_UNAVAILABLE ? 0 : 1;
        }
        return 2;
    }));
    std::thread local_waiter([&] { EXPECT_THROW(ch.recv(30s), Error); });
    std::this_thread::sleep_for(200ms); // let everyone fall asleep
    auto start = std::chrono::steady_clock::now();
    ch.destroy();
    full.destroy();
    local_waiter.join();
    for (int code : reap_all(kids, 10s))
        EXPECT_EQ(code, 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_THROW(ch.send("x", 1, 1s), Error);
}

TEST_P(ChannelBasics, DestroyedChannelMemoryReturnsToThePool)
{
    Channel::create(pool); // the pool's holder table is made at the first channel and stays
    uint64_t before = pool->stats().bytes_in_use;
    {
        Channel ch = Channel::create(pool);
        ch.send(std::string(50000, 'u'), 1s); // an undelivered block
        ch.destroy();
    }
    EXPECT_EQ(pool->stats().bytes_in_use, before);
}

DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(ChannelBasics);

} // namespace
} // namespace dragon::test
