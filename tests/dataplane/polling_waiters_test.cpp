// The polling table: an entry counts while it lives and until its time passes (a
// poller killed mid-poll is forgotten), and the machine's table is one for every
// process that opens it by name.
#include "dataplane/polling_waiters.hpp"

#include "core/job.hpp"
#include "dataplane/deadline.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace dragon::test {
namespace {

constexpr int64_t ms = 1'000'000;

TEST(PollingWaiters, AnEntryCountsWhileItLives)
{
    int before = polling_now();
    {
        PollingEntry entry(Deadline::now_ns() + 1000 * ms);
        EXPECT_EQ(polling_now(), before + 1);
    }
    EXPECT_EQ(polling_now(), before);
}

TEST(PollingWaiters, AnEntryPastItsTimeNoLongerCounts)
{
    int before = polling_now();
    PollingEntry entry(Deadline::now_ns() + 20 * ms);
    EXPECT_EQ(polling_now(), before + 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(polling_now(), before);
}

TEST(PollingWaiters, EntriesOfSeveralThreadsAddUp)
{
    int before = polling_now();
    std::atomic<int> taken{0};
    std::atomic<bool> done{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i)
        threads.emplace_back([&] {
            PollingEntry entry(Deadline::now_ns() + 5000 * ms);
            ++taken;
            while (!done)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
        });
    while (taken < 3)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // Three threads hash to three slots or probe on: none is lost at this load.
    EXPECT_EQ(polling_now(), before + 3);
    done = true;
    for (auto &t : threads)
        t.join();
    EXPECT_EQ(polling_now(), before);
}

TEST(PollingWaiters, TheMachineTableIsSharedByNameAndForgetsAKilledPoller)
{
    const std::string name = segment_name("polling-test");
    ASSERT_TRUE(count_polling_in_machine_table(name, true));
    int before = polling_now();
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // Opens the table by its name, as a process of the job does, and dies
        // polling: its entry is never cleared.
        if (!count_polling_in_machine_table(name, false))
            _exit(2);
        new PollingEntry(Deadline::now_ns() + 200 * ms);
        char c = 'x';
        _exit(write(ready[1], &c, 1) == 1 ? 0 : 3);
    }
    close(ready[1]);
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    close(ready[0]);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_EQ(polling_now(), before + 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    EXPECT_EQ(polling_now(), before);

    remove_machine_polling_table(name);
    EXPECT_FALSE(count_polling_in_machine_table(name, false)) << "removed, not created again";
    EXPECT_EQ(access(("/dev/shm/" + name).c_str(), F_OK), -1);
}

} // namespace
} // namespace dragon::test
