// Shared test scaffolding: a pool per test on the plugin under test, and fork helpers
// that always end: children _exit, parents reap with a deadline and SIGKILL stragglers.
#pragma once

#include "core/memory.hpp"
#include "dataplane/pool.hpp"
#include "support/memory_plugins.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <functional>
#include <gtest/gtest.h>
#include <memory>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace dragon::test {

inline constexpr size_t test_pool_size = size_t(32) << 20;

class PoolTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override
    {
        DRAGON_SKIP_UNLESS_AVAILABLE(GetParam());
        pool =
            Pool::create(MemoryPlugin::named(GetParam()), unique_segment_name("dp"), pool_size());
    }
    void TearDown() override { pool.reset(); } // the creator's last reference removes it
    virtual size_t pool_size() const { return test_pool_size; }

    std::shared_ptr<Pool> pool;
};

// Runs `body` in a child; its return value is the exit code; an exception is 99.
inline pid_t fork_child(const std::function<int()> &body)
{
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        int code = 98;
        try {
            code = body();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "child %d: %s\n", getpid(), e.what());
            code = 99;
        } catch (...) {
            code = 99;
        }
        _exit(code);
    }
    return pid;
}

// Exit code of `pid`, waiting at most `timeout`; SIGKILLs and returns -1 if it
// overran, or 128+signal if it was killed.
inline int reap(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(60))
{
    auto end = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0)
            return -2;
        if (std::chrono::steady_clock::now() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

inline void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
}

// Reaps every child, each within the overall deadline; returns their exit codes.
inline std::vector<int> reap_all(const std::vector<pid_t> &pids,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(120))
{
    std::vector<int> codes;
    auto end = std::chrono::steady_clock::now() + timeout;
    for (pid_t p : pids) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            end - std::chrono::steady_clock::now());
        codes.push_back(reap(p, std::max(left, std::chrono::milliseconds(1))));
    }
    return codes;
}

#define DRAGON_INSTANTIATE_FOR_MEMORY_PLUGINS(suite)                                               \
    INSTANTIATE_TEST_SUITE_P(MemoryPlugins, suite,                                                 \
                             ::testing::ValuesIn(::dragon::test::memory_plugin_names()),           \
                             [](const auto &info) { return info.param; })

} // namespace dragon::test
