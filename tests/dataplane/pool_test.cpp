// Pool: allocation, handles, statistics, exhaustion and recovery, churn, sizing.
#include "dataplane/channel.hpp"
#include "dataplane/pool_size.hpp"
#include "dataplane_fixture.hpp"

#include "core/error.hpp"

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <set>
#include <sys/mman.h>

namespace dragon::test {
namespace {

using namespace std::chrono_literals;

class PoolBasics : public PoolTest {};

TEST_P(PoolBasics, AllocatesFromBytesToMostOfThePool)
{
    void *tiny = pool->allocate(3);
    ASSERT_NE(tiny, nullptr);
    std::memset(tiny, 0xab, 3);
    pool->free(tiny);
    // A whole heap-sized block: "most of the pool" is all of it when nothing else lives.
    void *big = pool->allocate(test_pool_size);
    ASSERT_NE(big, nullptr);
    EXPECT_EQ(pool->block_size(big), test_pool_size);
    EXPECT_EQ(pool->try_allocate(64), nullptr);
    pool->free(big);
    EXPECT_EQ(pool->stats().bytes_in_use, 0u);
}

TEST_P(PoolBasics, HandlesResolveInAnotherProcess)
{
    auto *p = static_cast<char *>(pool->allocate(100));
    std::strcpy(p, "written by the parent");
    uint64_t handle = pool->handle_of(p);
    EXPECT_EQ(pool->pointer_of(handle), p);
    std::string segment = pool->name(), plugin = pool->plugin_name();
    pid_t child = fork_child([&] {
        // A fresh mapping, as an unrelated process would have.
        auto cache_busting = MemoryPlugin::named(plugin).attach(segment);
        auto *base = static_cast<char *>(cache_busting.data());
        if (std::strcmp(base + handle, "written by the parent") != 0)
            return 1;
        std::strcpy(base + handle, "and the child replied");
        return 0;
    });
    EXPECT_EQ(reap(child), 0);
    EXPECT_STREQ(p, "and the child replied");
    pool->free(p);
}

TEST_P(PoolBasics, StatisticsTrackUse)
{
    PoolStats s0 = pool->stats();
    EXPECT_EQ(s0.capacity, test_pool_size);
    EXPECT_EQ(s0.bytes_in_use, 0u);
    void *a = pool->allocate(1000); // a 1 KiB block
    void *b = pool->allocate(64);
    PoolStats s1 = pool->stats();
    EXPECT_EQ(s1.bytes_in_use, 1024u + 64u);
    EXPECT_EQ(s1.allocations_live, 2u);
    EXPECT_EQ(s1.allocations_total, s0.allocations_total + 2);
    pool->free(a);
    pool->free(b);
    PoolStats s2 = pool->stats();
    EXPECT_EQ(s2.bytes_in_use, 0u);
    EXPECT_EQ(s2.high_water, 1024u + 64u);
    EXPECT_EQ(s2.largest_free, test_pool_size); // everything merged back
}

TEST_P(PoolBasics, RejectsBadFrees)
{
    void *a = pool->allocate(128);
    pool->free(a);
    EXPECT_THROW(pool->free(a), Error); // double free
    int local = 0;
    EXPECT_THROW(pool->free(&local), Error);
    EXPECT_THROW(pool->pointer_of(1), Error);
}

TEST_P(PoolBasics, AttachOfATruncatedPoolIsAClearError)
{
    // An 8 KiB copy of a real pool's start: a valid header promising far more.
    MemoryPlugin plugin = MemoryPlugin::named(GetParam());
    Segment real = plugin.attach(pool->name());
    std::string name = unique_segment_name("truncated");
    Segment copy = plugin.create(name, 8192);
    std::memcpy(copy.data(), real.data(), copy.size());
    try {
        Pool::attach(GetParam(), name);
        ADD_FAILURE() << "attaching a truncated pool succeeded";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("is truncated or damaged"), std::string::npos)
            << e.what();
    }
    copy.unlink();
}

TEST_P(PoolBasics, SegmentLargerThanTheFreeSpaceIsRefusedAtCreation)
{
    try {
        MemoryPlugin::named(GetParam()).create(unique_segment_name("huge"), size_t(1) << 50);
        ADD_FAILURE() << "a 1 PiB segment was accepted";
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), DRAGON_ERR_NO_MEMORY) << e.what();
        EXPECT_NE(std::string(e.what()).find("DRAGON_DEFAULT_SEG_SZ"), std::string::npos)
            << e.what();
    }
}

TEST_P(PoolBasics, RequestThatCanNeverFitFailsAtOnce)
{
    // A channel makes the pool's holder table, which stays in its largest block for
    // good: more than half the pool can never be had again, however long one waits.
    Channel ch = Channel::create(pool);
    try {
        // Waiting could not help: the message says so at once (an exhausted pool
        // would say "exhausted ... after waiting 5000 ms" instead).
        pool->allocate(test_pool_size / 2 + 4096, std::chrono::seconds(5));
        ADD_FAILURE() << "an allocation of more than half the pool succeeded";
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), DRAGON_ERR_NO_MEMORY);
        std::string msg = e.what();
        EXPECT_NE(msg.find("can never hold"), std::string::npos) << msg;
        EXPECT_NE(msg.find("DRAGON_DEFAULT_SEG_SZ"), std::string::npos) << msg;
    }
    // Smaller requests still come (and may be waited for).
    void *half = pool->allocate(test_pool_size / 4, std::chrono::seconds(5));
    pool->free(half);
}

TEST_P(PoolBasics, ExhaustionFailsAtOnceWithoutWaiting)
{
    void *all = pool->allocate(test_pool_size);
    try {
        pool->allocate(4096, no_wait);
        FAIL() << "allocate on a full pool succeeded";
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), DRAGON_ERR_NO_MEMORY);
        std::string msg = e.what();
        EXPECT_NE(msg.find("exhausted"), std::string::npos) << msg;
        EXPECT_NE(
            msg.find(std::to_string(test_pool_size) + " of " + std::to_string(test_pool_size)),
            std::string::npos)
            << msg;
        EXPECT_NE(msg.find("DRAGON_DEFAULT_SEG_SZ"), std::string::npos) << msg;
    }
    pool->free(all);
}

TEST_P(PoolBasics, BlockingAllocateTimesOutThenRecovers)
{
    void *all = pool->allocate(test_pool_size);
    auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(pool->allocate(4096, 100ms), Error);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
    // Another process frees while we wait: the waiter wakes and succeeds.
    uint64_t handle = pool->handle_of(all);
    pid_t child = fork_child([&] {
        std::this_thread::sleep_for(50ms);
        pool->free(pool->pointer_of(handle));
        return 0;
    });
    void *p = pool->allocate(4096, 10s);
    EXPECT_NE(p, nullptr);
    EXPECT_EQ(reap(child), 0);
    pool->free(p);
    EXPECT_EQ(pool->stats().bytes_in_use, 0u);
}

TEST_P(PoolBasics, ChurnWithRandomSizesKeepsFragmentationBounded)
{
    std::mt19937_64 rng(42);
    std::vector<std::pair<void *, size_t>> live;
    size_t requested = 0;
    for (int i = 0; i < 200000; ++i) {
        if (live.empty() || (rng() % 2 == 0 && requested < test_pool_size / 4)) {
            // Mostly small, sometimes large: log-uniform from 1 B to 1 MiB.
            size_t size = size_t(1) << (rng() % 21);
            size += rng() % size;
            void *p = pool->try_allocate(size);
            ASSERT_NE(p, nullptr) << "allocation of " << size << " failed with only " << requested
                                  << " bytes requested live (fragmentation unbounded)";
            std::memset(p, int(i), std::min<size_t>(size, 64));
            live.emplace_back(p, size);
            requested += size;
        } else {
            size_t k = rng() % live.size();
            pool->free(live[k].first);
            requested -= live[k].second;
            live[k] = live.back();
            live.pop_back();
        }
        if (i % 10000 == 0) {
            // Buddy bound: blocks are under 2x their requests (plus the 64-byte minimum).
            PoolStats s = pool->stats();
            EXPECT_LE(s.bytes_in_use, 2 * requested + 64 * live.size());
        }
    }
    for (auto &[p, size] : live)
        pool->free(p);
    PoolStats s = pool->stats();
    EXPECT_EQ(s.bytes_in_use, 0u);
    EXPECT_EQ(s.largest_free, test_pool_size) << "free blocks did not merge back";
}

TEST_P(PoolBasics, ConcurrentProcessesAllocateAndFree)
{
    std::vector<pid_t> kids;
    for (int k = 0; k < 3; ++k)
        kids.push_back(fork_child([&, k] {
            std::mt19937 rng(k);
            std::vector<std::pair<unsigned char *, size_t>> mine;
            for (int i = 0; i < 20000; ++i) {
                if (mine.size() < 50 && rng() % 2) {
                    size_t size = 1 + rng() % 5000;
                    auto *p = static_cast<unsigned char *>(pool->allocate(size, 5s));
                    std::memset(p, k + 1, size);
                    mine.emplace_back(p, size);
                } else if (!mine.empty()) {
                    auto [p, size] = mine.back();
                    mine.pop_back();
                    for (size_t j = 0; j < size; ++j)
                        if (p[j] != k + 1)
                            return 2; // someone else was handed our block
                    pool->free(p);
                }
            }
            for (auto &[p, size] : mine)
                pool->free(p);
            return 0;
        }));
    for (int code : reap_all(kids))
        EXPECT_EQ(code, 0);
    EXPECT_EQ(pool->stats().bytes_in_use, 0u);
    EXPECT_EQ(pool->stats().largest_free, test_pool_size);
}

DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(PoolBasics);

// ---- DRAGON_DEFAULT_SEG_SZ --------------------------------------------------------------------

class ScopedEnv {
public:
    ScopedEnv(const char *name, const char *value) : name_(name)
    {
        if (const char *old = std::getenv(name))
            old_ = old;
        setenv(name, value, 1);
    }
    ~ScopedEnv()
    {
        if (old_)
            setenv(name_, old_->c_str(), 1);
        else
            unsetenv(name_);
    }

private:
    const char *name_;
    std::optional<std::string> old_;
};

TEST(PoolSize, DefaultAndSuffixes)
{
    {
        ScopedEnv env("DRAGON_DEFAULT_SEG_SZ", "");
        EXPECT_EQ(default_pool_size(), size_t(4) << 30);
    }
    ScopedEnv env("DRAGON_DEFAULT_SEG_SZ", "64M");
    EXPECT_EQ(default_pool_size(), size_t(64) << 20);
}

TEST(PoolSize, MalformedOrTooSmallNamesTheVariable)
{
    for (const char *bad : {"lots", "12Q", "4096"}) {
        ScopedEnv env("DRAGON_DEFAULT_SEG_SZ", bad);
        try {
            default_pool_size();
            FAIL() << bad << " was accepted";
        } catch (const Error &e) {
            EXPECT_NE(std::string(e.what()).find("DRAGON_DEFAULT_SEG_SZ"), std::string::npos)
                << e.what();
        }
    }
}

} // namespace
} // namespace dragon::test

namespace dragon::test {

TEST(PoolSigbus, APageThatCannotBeBackedIsNamedBeforeTheProcessEnds)
{
    // A pool whose file shrinks under it (as when its file system fills up): the
    // touching process still dies of SIGBUS, but says which pool and what to change.
    std::string name = unique_segment_name("sigbus");
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        dup2(out[1], STDERR_FILENO);
        auto pool = Pool::create(MemoryPlugin::named("posix_shm"), name, size_t(8) << 20);
        auto *p = static_cast<volatile char *>(pool->allocate(size_t(1) << 20));
        int fd = shm_open(("/" + name).c_str(), O_RDWR, 0);
        if (fd < 0 || ftruncate(fd, 0) != 0)
            _exit(3);
        p[4096] = 1; // beyond the file's end now
        _exit(4);
    }
    close(out[1]);
    std::string said;
    char buf[512];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0)
        said.append(buf, static_cast<size_t>(n));
    close(out[0]);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    MemoryPlugin::named("posix_shm").unlink(name);
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer's SIGBUS handler, which ours chains to, reports and exits.
    EXPECT_TRUE(WIFSIGNALED(status) || WEXITSTATUS(status) != 0) << said;
#else
    ASSERT_TRUE(WIFSIGNALED(status)) << "exit " << WEXITSTATUS(status) << ": " << said;
    EXPECT_EQ(WTERMSIG(status), SIGBUS);
#endif
    EXPECT_NE(said.find("dragon: pool " + name + ": a page of it could not be backed"),
              std::string::npos)
        << said;
    EXPECT_NE(said.find("DRAGON_DEFAULT_SEG_SZ"), std::string::npos) << said;
}

} // namespace dragon::test
