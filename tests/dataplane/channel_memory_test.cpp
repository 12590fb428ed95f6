// Memory channels (Value/Array's memory): zeroed bytes shared in place by every
// process that attaches the descriptor, bounds-checked copies, and the memory back
// in the pool when the last reference goes.
#include "dataplane/channel.hpp"
#include "dataplane_fixture.hpp"

#include "core/error.hpp"

#include <cstring>
#include <string>

namespace dragon::test {
namespace {

using namespace std::chrono_literals;

class MemoryChannel : public PoolTest {};

TEST_P(MemoryChannel, IsZeroedAlignedAndSharedInPlaceWithAnotherProcess)
{
    Channel mem = Channel::create_memory(pool, 1000);
    ASSERT_TRUE(mem.is_memory());
    EXPECT_FALSE(mem.is_semaphore());
    EXPECT_EQ(mem.memory_size(), 1000u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(mem.memory()) % 64, 0u);
    for (size_t i = 0; i < 1000; ++i)
        ASSERT_EQ(mem.memory()[i], std::byte{0}) << "byte " << i;
    std::string desc = mem.descriptor();
    pid_t child = fork_child([&] {
        Channel mine = Channel::attach(desc);
        const char text[] = "written by the child";
        mine.write_memory(100, text, sizeof text);
        return mine.memory()[0] == std::byte{7} ? 0 : 1;
    });
    mem.memory()[0] = std::byte{7};
    EXPECT_EQ(reap(child, 20s), 0);
    char back[32] = {};
    mem.read_memory(100, back, 21);
    EXPECT_STREQ(back, "written by the child");
}

TEST_P(MemoryChannel, AccessesOutsideItsBytesAndOtherChannelsAreRefused)
{
    Channel mem = Channel::create_memory(pool, 16);
    char buf[32] = {};
    EXPECT_NO_THROW(mem.read_memory(0, buf, 16));
    EXPECT_NO_THROW(mem.read_memory(16, buf, 0));
    EXPECT_THROW(mem.read_memory(1, buf, 16), Error);
    EXPECT_THROW(mem.write_memory(17, buf, 0), Error);
    EXPECT_THROW(mem.write_memory(SIZE_MAX, buf, 2), Error); // no wrap-around
    EXPECT_THROW(Channel::create_memory(pool, 0), Error);
    Channel ch = Channel::create(pool, {4, 64});
    EXPECT_FALSE(ch.is_memory());
    EXPECT_EQ(ch.memory(), nullptr);
    try {
        ch.read_memory(0, buf, 1);
        FAIL() << "a message channel has no memory";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("not a memory channel"), std::string::npos);
    }
    EXPECT_THROW(Channel::create_memory(pool, test_pool_size * 2), Error); // names the fix
}

TEST_P(MemoryChannel, ItsMemoryReturnsToThePoolWithTheLastReference)
{
    Channel::create(pool); // makes the holder table, which stays: the baseline
    uint64_t before = pool->stats().bytes_in_use;
    for (int i = 0; i < 2000; ++i) { // 2000 x 64 KiB: far more than the pool holds
        Channel mem = Channel::create_memory(pool, 64 << 10);
        Channel other = Channel::attach(mem.descriptor());
        other.memory()[(64 << 10) - 1] = std::byte{1};
    }
    EXPECT_EQ(pool->stats().bytes_in_use, before);
}

DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(MemoryChannel);

} // namespace
} // namespace dragon::test
