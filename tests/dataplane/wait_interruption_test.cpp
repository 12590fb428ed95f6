// WaitInterruption: a caller's check runs while a data-plane call sleeps (after a
// signal, and every period without one); a check that throws ends the wait with
// its exception and leaves no waiter registered; one that returns lets the wait
// go on. This is what lets Python's signal handlers interrupt Queue.get().
#include "core/error.hpp"
#include "dataplane/channel.hpp"
#include "dataplane/channel_layout.hpp"
#include "dataplane/channel_set.hpp"
#include "dataplane/pool_layout.hpp"
#include "dataplane/wait_interruption.hpp"
#include "dataplane_fixture.hpp"

#include <atomic>
#include <csignal>
#include <functional>
#include <pthread.h>
#include <thread>

namespace dragon::test {
namespace {

using namespace std::chrono_literals;

struct Interrupted {};

std::atomic<int> signals_seen{0};

void count_signal(int)
{
    signals_seen.fetch_add(1);
}

// SIGUSR1 with a handler and without SA_RESTART, as Python installs its handlers.
class SignalHandlerInstalled {
public:
    SignalHandlerInstalled()
    {
        struct sigaction sa {};
        sa.sa_handler = count_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, &previous_);
    }
    ~SignalHandlerInstalled() { sigaction(SIGUSR1, &previous_, nullptr); }

private:
    struct sigaction previous_ {};
};

// Throws once the signal handler has run; counts its calls.
class ThrowAfterSignal final : public WaitInterruption {
public:
    explicit ThrowAfterSignal(int64_t period_ns = 10'000'000'000) : WaitInterruption(period_ns) {}
    int calls = 0;

protected:
    void check() override
    {
        ++calls;
        if (signals_seen.load() > 0)
            throw Interrupted{};
    }
};

// Throws at its n-th call: a check that runs although no signal woke the sleep.
class ThrowAtCall final : public WaitInterruption {
public:
    ThrowAtCall(int64_t period_ns, int n) : WaitInterruption(period_ns), n_(n) {}
    int calls = 0;

protected:
    void check() override
    {
        if (++calls >= n_)
            throw Interrupted{};
    }

private:
    int n_;
};

// Runs `wait` in a thread under ThrowAfterSignal, signals that thread once
// `asleep` says it sleeps, and returns whether the wait ended with Interrupted.
bool interrupted_by_signal(const std::function<void()> &wait, const std::function<bool()> &asleep)
{
    SignalHandlerInstalled handler;
    signals_seen = 0;
    std::atomic<bool> ended{false};
    bool interrupted = false;
    std::thread waiter([&] {
        ThrowAfterSignal check;
        try {
            wait();
        } catch (const Interrupted &) {
            interrupted = true;
        }
        ended = true;
    });
    auto give_up = std::chrono::steady_clock::now() + 20s;
    while (!asleep() && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(20ms); // past the spinning, into the futex sleep
    pthread_kill(waiter.native_handle(), SIGUSR1);
    waiter.join();
    return interrupted && ended;
}

class WaitInterruptionTest : public PoolTest {};

TEST_P(WaitInterruptionTest, ASignalEndsAReceiveWithTheChecksExceptionAndNoWaiterLeft)
{
    Channel ch = Channel::create(pool, {4, 64});
    ChannelHeader *h = ch.header();
    EXPECT_TRUE(
        interrupted_by_signal([&] { ch.recv(30s); }, [&] { return h->recv_waiters.load() > 0; }));
    EXPECT_EQ(h->recv_waiters.load(), 0u);
    // The channel works as before.
    ch.send("after");
    EXPECT_EQ(ch.recv(1s).str(), "after");
    ch.destroy();
}

TEST_P(WaitInterruptionTest, ASignalEndsASendOnAFullChannel)
{
    Channel ch = Channel::create(pool, {2, 64});
    ch.send("a");
    ch.send("b");
    ChannelHeader *h = ch.header();
    EXPECT_TRUE(interrupted_by_signal([&] { ch.send("c", 30s); },
                                      [&] { return h->send_waiters.load() > 0; }));
    EXPECT_EQ(h->send_waiters.load(), 0u);
    EXPECT_EQ(ch.size(), 2u);
    ch.destroy();
}

TEST_P(WaitInterruptionTest, ASignalEndsASemaphoreAcquire)
{
    Channel sem = Channel::create_semaphore(pool, 0, 1);
    ChannelHeader *h = sem.header();
    EXPECT_TRUE(interrupted_by_signal([&] { sem.sem_acquire(30s); },
                                      [&] { return h->sem_waiters.load() > 0; }));
    EXPECT_EQ(h->sem_waiters.load(), 0u);
    EXPECT_TRUE(sem.sem_release());
    EXPECT_EQ(sem.sem_value(), 1u);
    sem.destroy();
}

TEST_P(WaitInterruptionTest, ASignalEndsAPoll)
{
    Channel ch = Channel::create(pool, {4, 64});
    PoolHeader *ph = pool->header();
    EXPECT_TRUE(interrupted_by_signal(
        [&] {
            ChannelSet set;
            set.add(ch);
            set.wait(30s);
        },
        [&] { return ph->poll_waiters.load() > 0; }));
    EXPECT_EQ(ph->poll_waiters.load(), 0u);
    ch.destroy();
}

TEST_P(WaitInterruptionTest, ASignalEndsAnAllocationWaitingForRoom)
{
    void *all = pool->allocate(pool->stats().largest_free, no_wait);
    PoolHeader *ph = pool->header();
    EXPECT_TRUE(interrupted_by_signal([&] { pool->allocate(4096, 30s); },
                                      [&] { return ph->alloc_waiters.load() > 0; }));
    EXPECT_EQ(ph->alloc_waiters.load(), 0u);
    pool->free(all);
}

TEST_P(WaitInterruptionTest, ACheckThatReturnsLetsTheWaitGoOn)
{
    Channel ch = Channel::create(pool, {4, 64});
    ChannelHeader *h = ch.header();
    SignalHandlerInstalled handler;
    signals_seen = 0;
    std::string got;
    int calls = 0;
    std::thread receiver([&] {
        // Runs after every signal and returns: it never throws.
        class Counting final : public WaitInterruption {
        public:
            Counting() : WaitInterruption(10'000'000'000) {}
            int calls = 0;

        protected:
            void check() override { ++calls; }
        } check;
        got = ch.recv(30s).str();
        calls = check.calls;
    });
    while (h->recv_waiters.load() == 0)
        std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(20ms);
    pthread_kill(receiver.native_handle(), SIGUSR1);
    while (signals_seen.load() == 0)
        std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(20ms);
    ch.send("still waiting");
    receiver.join();
    EXPECT_EQ(got, "still waiting");
    EXPECT_GE(calls, 1);
    ch.destroy();
}

TEST_P(WaitInterruptionTest, TheCheckAlsoRunsEveryPeriodWithoutASignal)
{
    // A signal that went to another thread wakes nobody here: the period finds it.
    Channel ch = Channel::create(pool, {4, 64});
    bool interrupted = false;
    int calls = 0;
    {
        ThrowAtCall check(5'000'000, 3);
        try {
            ch.recv(30s);
        } catch (const Interrupted &) {
            interrupted = true;
        }
        calls = check.calls;
    }
    EXPECT_TRUE(interrupted);
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(ch.header()->recv_waiters.load(), 0u);
    EXPECT_EQ(WaitInterruption::current(), nullptr);
    ch.destroy();
}

TEST_P(WaitInterruptionTest, WithoutACheckAWaitTimesOutAsBefore)
{
    Channel ch = Channel::create(pool, {4, 64});
    EXPECT_EQ(WaitInterruption::current(), nullptr);
    EXPECT_THROW(ch.recv(20ms), Error);
    ch.destroy();
}

DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(WaitInterruptionTest);

} // namespace
} // namespace dragon::test
