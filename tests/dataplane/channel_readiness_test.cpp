// Readiness: waiting on many channels at once, and a pollable file descriptor.
#include "dataplane/channel_set.hpp"
#include "dataplane/readiness_fd.hpp"
#include "dataplane_fixture.hpp"

#include <poll.h>

namespace dragon::test {
namespace {

using namespace std::chrono_literals;

class ChannelReadiness : public PoolTest {};

TEST_P(ChannelReadiness, SetReportsWhichOfManyChannelsHaveMessages)
{
    std::vector<Channel> channels;
    ChannelSet set;
    for (int i = 0; i < 64; ++i)
        channels.push_back(Channel::create(pool, {8, 64}));
    for (auto &c : channels)
        set.add(c);
    EXPECT_TRUE(set.wait(20ms).empty());
    channels[5].send("x", 1, 1s);
    channels[42].send("y", 1, 1s);
    EXPECT_EQ(set.wait(1s), (std::vector<size_t>{5, 42}));
    channels[5].recv(1s);
    channels[42].recv(1s);

    // A sender in another process wakes a sleeping set.
    std::string desc = channels[63].descriptor();
    pid_t child = fork_child([&] {
        std::this_thread::sleep_for(100ms);
        Channel::attach(desc).send("late", 10s);
        return 0;
    });
    auto ready = set.wait(10s);
    EXPECT_EQ(ready, (std::vector<size_t>{63}));
    EXPECT_EQ(reap(child), 0);
    EXPECT_EQ(channels[63].recv(1s).str(), "late");
    for (auto &c : channels)
        c.destroy();
}

TEST_P(ChannelReadiness, SetAcrossPoolsAndDestroyedChannels)
{
    auto other = Pool::create(MemoryPlugin::named(GetParam()), unique_segment_name("dp2"), 4 << 20);
    Channel a = Channel::create(pool), b = Channel::create(other);
    ChannelSet set;
    set.add(a);
    set.add(b);
    std::thread sender([&] {
        std::this_thread::sleep_for(50ms);
        b.send("b", 1, 1s);
    });
    EXPECT_EQ(set.wait(10s), (std::vector<size_t>{1}));
    sender.join();
    b.recv(1s);
    a.destroy();
    EXPECT_EQ(set.wait(1s), (std::vector<size_t>{0})); // destroyed counts as ready
    b.destroy();
}

TEST_P(ChannelReadiness, FileDescriptorFollowsTheChannelLevel)
{
    Channel ch = Channel::create(pool);
    ReadinessFd ready(ch);
    pollfd p{ready.fd(), POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 20), 0); // empty: not readable
    std::string desc = ch.descriptor();
    pid_t child = fork_child([&] {
        std::this_thread::sleep_for(50ms);
        Channel::attach(desc).send("wake", 10s);
        return 0;
    });
    ASSERT_EQ(poll(&p, 1, 10000), 1); // a send in another process makes the fd readable
    EXPECT_EQ(ch.recv(1s).str(), "wake");
    EXPECT_EQ(reap(child), 0);
    // Drained: the fd goes quiet again (the helper thread catches up within a moment).
    bool quiet = false;
    for (int i = 0; i < 2000 && !quiet; ++i) {
        p.revents = 0;
        quiet = poll(&p, 1, 0) == 0;
        if (!quiet)
            std::this_thread::sleep_for(1ms);
    }
    EXPECT_TRUE(quiet);
    ch.send("again", 1s);
    p.revents = 0;
    EXPECT_EQ(poll(&p, 1, 10000), 1);
    ch.recv(1s);
    ch.destroy();
}

DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(ChannelReadiness);

} // namespace
} // namespace dragon::test
