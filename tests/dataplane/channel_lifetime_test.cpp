// Channel lifetime: a channel is freed when the last reference in the job is gone
// (holders.hpp): dropped objects, descriptors in transit, dead processes.
#include "core/error.hpp"
#include "dataplane/channel.hpp"
#include "dataplane/channel_layout.hpp"
#include "dataplane/holders.hpp"
#include "dataplane/process_alive.hpp"
#include "dataplane_fixture.hpp"

#include <cstring>
#include <optional>
#include <string>
#include <sys/mman.h>

namespace dragon::test {
namespace {

using namespace std::chrono_literals;

class ChannelLifetime : public PoolTest {
protected:
    void SetUp() override
    {
        PoolTest::SetUp();
        if (pool)
            Channel::create(pool); // makes the holder table, which stays: the baseline
    }
    uint64_t in_use() const { return pool->stats().bytes_in_use; }

    // Forks a child that runs `body` (which writes one byte to the descriptor it is
    // given once set up, then waits), kills it and has its reaper release it.
    // The end of a kill_and_release body: says it is set up, then waits to be killed.
    static int ready_then_wait_for_the_kill(int ready)
    {
        char byte = 1;
        if (write(ready, &byte, 1) != 1)
            return 2;
        pause();
        return 0;
    }

    template <typename Body> void kill_and_release(Body &&body)
    {
        int ready[2];
        ASSERT_EQ(pipe(ready), 0);
        pid_t child = fork_child([&] { return body(ready[1]); });
        char byte = 0;
        bool up = read(ready[0], &byte, 1) == 1;
        close(ready[0]);
        close(ready[1]);
        kill(child, SIGKILL);
        waitid(P_PID, id_t(child), nullptr, WEXITED | WNOWAIT); // dead, pid still taken
        if (up)
            release_process(*pool, uint32_t(child));
        int status = 0;
        waitpid(child, &status, 0);
        ASSERT_TRUE(up) << "the child failed before it was set up";
    }
};

TEST_P(ChannelLifetime, ChannelsMadeAndDroppedInALoopAreFreed)
{
    uint64_t before = in_use();
    // 1 MiB rings in a 32 MiB pool: without freeing, the pool is full after ~31.
    for (int i = 0; i < 2000; ++i) {
        Channel ch = Channel::create(pool, {4096, 256});
        ch.send(std::string(100000, 'x'), 1s); // an undelivered block goes too
    }
    EXPECT_EQ(in_use(), before);
}

TEST_P(ChannelLifetime, AnAttachedCopyKeepsTheChannelAfterItsCreatorDropsIt)
{
    uint64_t before = in_use();
    std::optional<Channel> copy;
    {
        Channel ch = Channel::create(pool);
        copy = Channel::attach(ch.descriptor());
        ch.send("kept", 1s);
    }
    EXPECT_EQ(copy->recv(1s).str(), "kept");
    std::string desc = copy->descriptor();
    copy.reset();
    EXPECT_EQ(in_use(), before);
    // A descriptor of a freed channel never attaches, even when a new channel
    // now lives at the same offset (the serial differs).
    Channel other = Channel::create(pool);
    EXPECT_THROW(Channel::attach(desc), Error);
}

TEST_P(ChannelLifetime, ADescriptorInTransitKeepsTheChannelUntilAttached)
{
    uint64_t before = in_use();
    std::string transit;
    {
        Channel ch = Channel::create(pool);
        ch.send("in transit", 1s);
        transit = ch.transit_descriptor();
    }
    EXPECT_GT(in_use(), before); // nobody holds an object, the descriptor holds it
    pid_t child = fork_child([&] {
        Channel c = Channel::attach(transit);
        return c.recv(5s).str() == "in transit" ? 0 : 1;
    });
    EXPECT_EQ(reap(child), 0);
    // The child attached (returning the transit ref) and dropped it; its reaper
    // gives back its holder slot (and that slot's map).
    release_process(*pool, uint32_t(child));
    EXPECT_EQ(in_use(), before);
}

TEST_P(ChannelLifetime, ATransitReferenceIsReturnedOnlyOnce)
{
    Channel ch = Channel::create(pool);
    std::string transit = ch.transit_descriptor();
    {
        Channel a = Channel::attach(transit);
        Channel b = Channel::attach(transit); // a second unpickling of the same bytes
    }
    // Only the one transit reference was returned: ours still holds the channel.
    ch.send("alive", 1s);
    EXPECT_EQ(ch.recv(1s).str(), "alive");
    EXPECT_EQ(life_refs(ch.header()->life.load()), 1u);
}

TEST_P(ChannelLifetime, ReferencesOfAKilledProcessAreReleasedByItsReaper)
{
    uint64_t before = in_use();
    std::string desc;
    {
        Channel ch = Channel::create(pool);
        desc = ch.transit_descriptor(); // the child will hold it once attached
    }
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t child = fork_child([&] {
        Channel c = Channel::attach(desc);
        Channel mine = Channel::create(pool);
        std::string extra = mine.transit_descriptor(); // a transit ref it never sends
        char byte = 1;
        if (write(ready[1], &byte, 1) != 1)
            return 2;
        pause();
        return 0;
    });
    char byte = 0;
    ASSERT_EQ(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    close(ready[1]);
    EXPECT_GT(in_use(), before);
    EXPECT_EQ(holder_count(*pool), 2u); // this process and the child
    kill(child, SIGKILL);
    int status = 0;
    waitid(P_PID, id_t(child), nullptr, WEXITED | WNOWAIT); // a zombie: dead, pid still taken
    EXPECT_EQ(release_process(*pool, uint32_t(child)), 3u);
    waitpid(child, &status, 0);
    EXPECT_EQ(in_use(), before);
    EXPECT_EQ(holder_count(*pool), 1u);
    EXPECT_THROW(Channel::attach(desc), Error);
}

TEST_P(ChannelLifetime, DeadHoldersAreReleasedByASweep)
{
    uint64_t before = in_use();
    std::string desc;
    {
        Channel ch = Channel::create(pool);
        desc = ch.transit_descriptor();
    }
    pid_t child = fork_child([&] {
        new Channel(Channel::attach(desc)); // never dropped: its process just ends
        return 0;
    });
    EXPECT_EQ(reap(child), 0);
    EXPECT_GT(in_use(), before);
    EXPECT_GE(release_dead_holders(*pool), 1u);
    EXPECT_EQ(in_use(), before);
}

TEST_P(ChannelLifetime, ARemoteHolderKeepsAChannelUntilReleased)
{
    // What a dragon-node does for a process on another node: one holder per remote
    // process, guarded by the dragon-node itself.
    uint64_t before = in_use();
    HolderName remote = register_holder(*pool, remote_holder_id(3, 4242), current_pid());
    uint64_t handle;
    uint32_t serial;
    {
        Channel ch = Channel::create(pool);
        handle = pool->handle_of(ch.header());
        serial = life_serial(ch.header()->life.load());
        ASSERT_TRUE(channel_try_ref(ch.header(), serial));
        hold(*pool, remote, handle, serial, false);
    }
    EXPECT_GT(in_use(), before);
    EXPECT_TRUE(release_holder(*pool, remote));
    EXPECT_FALSE(release_holder(*pool, remote));
    EXPECT_EQ(in_use(), before);
}

TEST_P(ChannelLifetime, SemaphoreChannelsAreFreedToo)
{
    uint64_t before = in_use();
    for (int i = 0; i < 1000; ++i) {
        Channel sem = Channel::create_semaphore(pool, 1, 1);
        EXPECT_TRUE(sem.sem_acquire(1s));
        EXPECT_TRUE(sem.sem_release());
    }
    EXPECT_EQ(in_use(), before);
}

TEST_P(ChannelLifetime, ABlockAKilledSenderHadInHandIsFreedByItsReaper)
{
    uint64_t before = in_use();
    kill_and_release([&](int ready) {
        // As Channel::send: allocated with its record, killed while copying.
        BlockInHand in_hand(*pool, 1 << 20);
        void *block = pool->allocate(1 << 20, no_wait, in_hand.word());
        std::memset(block, 'x', 4096);
        return ready_then_wait_for_the_kill(ready);
    });
    EXPECT_EQ(in_use(), before); // before: the 1 MiB block stayed in use until the job ended
}

TEST_P(ChannelLifetime, ALargeMessageAKilledReceiverHeldIsFreedByItsReaper)
{
    Channel ch = Channel::create(pool, {16, 256});
    local_holder(*pool); // the parent's own holder, set up before the count
    uint64_t before = in_use();
    ch.send(std::string(1 << 20, 'x'), 1s);
    kill_and_release([&](int ready) {
        // As a Pool worker killed by terminate() while it held a large task.
        Message m = ch.recv(1s);
        if (!m.zero_copy())
            return 3;
        return ready_then_wait_for_the_kill(ready);
    });
    EXPECT_EQ(in_use(), before); // before: the 1 MiB block stayed in use until the job ended
}

TEST_P(ChannelLifetime, AReceivedBlockHandedOnIsNotFreedWithItsReceiver)
{
    Channel ch = Channel::create(pool, {16, 256});
    local_holder(*pool);
    uint64_t before = in_use();
    ch.send(std::string(1 << 20, 'x'), 1s);
    auto *handle = static_cast<uint64_t *>(
        mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(handle, MAP_FAILED);
    kill_and_release([&](int ready) {
        Message m = ch.recv(1s);
        void *block = m.release(); // its new owner frees it (here: the test)
        if (!block)
            return 3;
        *handle = pool->handle_of(block);
        return ready_then_wait_for_the_kill(ready);
    });
    EXPECT_GT(in_use(), before); // the reaper left it to its owner
    pool->free(pool->pointer_of(*handle));
    EXPECT_EQ(in_use(), before);
    munmap(handle, 4096);
}

TEST_P(ChannelLifetime, ABlockHandedOverIsTakenOverOnce)
{
    uint64_t before = in_use();
    void *block;
    std::optional<BlockRecord> record;
    {
        // As write_block for a message to another node: dragon-node takes it over.
        BlockInHand in_hand(*pool, 1 << 20);
        block = pool->allocate(1 << 20, no_wait, in_hand.word());
        record = in_hand.hand_over();
    }
    ASSERT_TRUE(record);
    uint64_t handle = pool->handle_of(block);
    EXPECT_FALSE(take_block_in_hand(*pool, *record, handle + 64)); // not the recorded block
    EXPECT_TRUE(take_block_in_hand(*pool, *record, handle));
    EXPECT_FALSE(take_block_in_hand(*pool, *record, handle)); // taken already
    EXPECT_GT(in_use(), before);
    pool->free(block); // the taker's now
    EXPECT_EQ(in_use(), before);
}

TEST_P(ChannelLifetime, ABlockHandedOverByASenderKilledBeforeTheTakeIsFreedWithIt)
{
    uint64_t before = in_use();
    // The child's record and handle, for the would-be taker.
    auto *shared = static_cast<std::pair<BlockRecord, uint64_t> *>(
        mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(shared, MAP_FAILED);
    kill_and_release([&](int ready) {
        BlockInHand in_hand(*pool, 1 << 20);
        void *block = pool->allocate(1 << 20, no_wait, in_hand.word());
        auto record = in_hand.hand_over();
        if (!record)
            return 3;
        *shared = {*record, pool->handle_of(block)};
        return ready_then_wait_for_the_kill(ready);
    });
    EXPECT_EQ(in_use(), before); // freed with the sender (before: until the job ended)
    EXPECT_FALSE(take_block_in_hand(*pool, shared->first, shared->second));
    munmap(shared, 4096);
}

TEST_P(ChannelLifetime, ABlockAKilledSenderHandedToAChannelIsTheChannels)
{
    Channel ch = Channel::create(pool, {16, 128});
    uint64_t before = in_use();
    std::string big(1 << 20, 'y');
    kill_and_release([&](int ready) {
        ch.send(big, 1s);
        return ready_then_wait_for_the_kill(ready);
    });
    EXPECT_GT(in_use(), before); // the message is the channel's, not freed with the sender
    EXPECT_EQ(ch.recv(1s).str(), big);
    EXPECT_EQ(in_use(), before);
}

DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(ChannelLifetime);

} // namespace
} // namespace dragon::test
