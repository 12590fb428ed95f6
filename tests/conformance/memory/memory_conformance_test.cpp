// The contract every memory plugin must keep (dragon/memory.h), tested through the
// framework exactly as the runtime uses it. Parameterized over every memory plugin found.
#include "support/memory_plugins.hpp"

#include "core/error.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using dragon::MemoryPlugin;
using dragon::Segment;

class MemoryConformance : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override { DRAGON_SKIP_UNLESS_AVAILABLE(GetParam()); }
    MemoryPlugin plugin() const { return MemoryPlugin::named(GetParam()); }

    // Creates a segment that is removed when the test ends, whatever happens.
    Segment create(size_t size)
    {
        Segment s = plugin().create(dragon::test::unique_segment_name("conf"), size);
        names_.push_back(s.name());
        return s;
    }

    void TearDown() override
    {
        for (const auto &n : names_) {
            try {
                plugin().unlink(n);
            } catch (const dragon::Error &) {
                // already removed by the test
            }
        }
    }

    dragon_status status_of(const std::function<void()> &op, std::string *message = nullptr)
    {
        try {
            op();
        } catch (const dragon::Error &e) {
            if (message)
                *message = e.what();
            return e.status();
        }
        return DRAGON_OK;
    }

    std::vector<std::string> names_;
};

// Runs `child` in a forked process; returns its exit code (128+signal if killed), with a deadline.
int run_in_child(const std::function<int()> &child)
{
    pid_t pid = fork();
    if (pid == 0) {
        int rc = 99;
        try {
            rc = child();
        } catch (...) {
        }
        _exit(rc);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(1000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_P(MemoryConformance, CreateGivesZeroedPageAlignedMapping)
{
    size_t page = plugin().page_size();
    ASSERT_GT(page, 0u);
    ASSERT_EQ(page & (page - 1), 0u) << "page size must be a power of two";
    Segment s = create(page * 2 + 1);
    ASSERT_TRUE(s.valid());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(s.data()) % page, 0u);
    EXPECT_EQ(s.size(), page * 3) << "size rounds up to whole pages";
    const auto *bytes = static_cast<const unsigned char *>(s.data());
    for (size_t i = 0; i < s.size(); i += 997)
        ASSERT_EQ(bytes[i], 0) << "at offset " << i;
    std::memset(s.data(), 0xab, s.size()); // the whole mapping is writable
}

TEST_P(MemoryConformance, SmallestSizeIsOnePage)
{
    Segment s = create(1);
    EXPECT_EQ(s.size(), plugin().page_size());
}

TEST_P(MemoryConformance, ZeroSizeIsRefused)
{
    std::string message;
    EXPECT_EQ(status_of([&] { create(0); }, &message), DRAGON_ERR_INVALID);
    EXPECT_NE(message.find("size"), std::string::npos) << message;
}

TEST_P(MemoryConformance, AnotherProcessAttachesAndSharesData)
{
    Segment s = create(1 << 20);
    std::string name = s.name();
    auto *shared = static_cast<volatile uint64_t *>(s.data());
    shared[0] = 0x1234;
    int rc = run_in_child([&] {
        Segment mine = plugin().attach(name);
        auto *p = static_cast<volatile uint64_t *>(mine.data());
        if (mine.size() != (1u << 20) && mine.size() < (1u << 20))
            return 2;
        if (p[0] != 0x1234)
            return 3;
        p[1] = 0x5678;                     // near the start
        p[(mine.size() / 8) - 1] = 0x9abc; // and at the very end
        return 0;
    });
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(shared[1], 0x5678u);
    EXPECT_EQ(shared[(s.size() / 8) - 1], 0x9abcu);
}

TEST_P(MemoryConformance, AttachReportsCreatorsSize)
{
    Segment s = create(3 * plugin().page_size());
    Segment a = plugin().attach(s.name());
    EXPECT_EQ(a.size(), s.size());
    EXPECT_NE(a.data(), s.data()); // a second, independent mapping
}

TEST_P(MemoryConformance, AttachAfterDestroyIsAClearError)
{
    std::string name;
    {
        Segment s = create(4096);
        name = s.name();
        s.unlink();
    }
    std::string message;
    EXPECT_EQ(status_of([&] { plugin().attach(name); }, &message), DRAGON_ERR_NOT_FOUND);
    EXPECT_NE(message.find(name), std::string::npos) << message;
    EXPECT_NE(message.find("never created or has been destroyed"), std::string::npos) << message;
}

TEST_P(MemoryConformance, MappingSurvivesUnlinkUntilDetach)
{
    Segment s = create(4096);
    static_cast<char *>(s.data())[0] = 'x';
    s.unlink();
    EXPECT_EQ(static_cast<char *>(s.data())[0], 'x');
    EXPECT_EQ(status_of([&] { plugin().unlink(s.name()); }), DRAGON_ERR_NOT_FOUND);
}

TEST_P(MemoryConformance, NameCollisionFailsAndKeepsTheOriginal)
{
    Segment s = create(4096);
    static_cast<char *>(s.data())[0] = 'k';
    std::string message;
    EXPECT_EQ(status_of([&] { plugin().create(s.name(), 8192); }, &message), DRAGON_ERR_EXISTS);
    EXPECT_NE(message.find(s.name()), std::string::npos) << message;
    Segment again = plugin().attach(s.name());
    EXPECT_EQ(again.size(), s.size()) << "the failed create must not resize the original";
    EXPECT_EQ(static_cast<char *>(again.data())[0], 'k');
}

TEST_P(MemoryConformance, SegmentsAreOwnerOnly)
{
    Segment s = create(4096);
    ASSERT_GE(s.fd(), 0) << "plugins in this tree keep their descriptor";
    struct stat st {};
    ASSERT_EQ(fstat(s.fd(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_uid, getuid());
}

TEST_P(MemoryConformance, NamesMustBeDragonScoped)
{
    for (const char *bad : {"not-dragon", "dragon-a/b", ""}) {
        std::string message;
        EXPECT_EQ(status_of([&] { plugin().create(bad, 4096); }, &message), DRAGON_ERR_INVALID)
            << bad;
    }
}

TEST_P(MemoryConformance, ListFindsOwnSegmentsUntilRemoved)
{
    Segment s = create(4096);
    std::string prefix = s.name();
    auto listed = plugin().list(prefix);
    EXPECT_EQ(listed, std::vector<std::string>{s.name()});
    s.unlink();
    EXPECT_TRUE(plugin().list(prefix).empty());
}

TEST_P(MemoryConformance, LargeSegment)
{
    // 64 MiB: large enough to span many huge pages, small enough for a CI reservation.
    Segment s = create(64u << 20);
    auto *bytes = static_cast<unsigned char *>(s.data());
    for (size_t i = 0; i < s.size(); i += 1 << 20)
        bytes[i] = static_cast<unsigned char>(i >> 20);
    for (size_t i = 0; i < s.size(); i += 1 << 20)
        ASSERT_EQ(bytes[i], static_cast<unsigned char>(i >> 20));
}

INSTANTIATE_TEST_SUITE_P(AllMemoryPlugins, MemoryConformance,
                         ::testing::ValuesIn(dragon::test::memory_plugin_names()),
                         [](const auto &info) { return info.param; });

} // namespace
