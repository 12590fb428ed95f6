// Drives the local launcher plugin the way the dragon CLI does: select it through
// the registry, then call its ops. Owns a private directory for the nodes' output
// and for TMPDIR (where the PMIx server makes its own directory), removed at the end.
#pragma once

#include <dragon/launcher.h>

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace wireup_test {

class LaunchHarness {
public:
    // Drives the launcher plugin `launcher` (it must be available: see unavailable()).
    explicit LaunchHarness(const std::string &launcher = "local");
    ~LaunchHarness();

    const dragon_launcher_ops &ops() const { return *ops_; }
    const dragon_host *host() const { return host_; }

    // Starts `nodes` wireup_test_node processes with `env` (NAME=VALUE) added.
    dragon_status start(uint32_t nodes, const std::vector<std::string> &env,
                        std::string *error = nullptr,
                        const std::vector<std::string> &argv = {WIREUP_TEST_NODE},
                        uint32_t request_size = sizeof(dragon_launch_request));
    // Waits for every node to end within `limit`; node index -> exit code. Nodes that
    // did not end in time are missing from the map.
    std::map<uint32_t, int> wait_all(std::chrono::milliseconds limit);
    void release();

    std::string result(uint32_t rank) const; // the node's rank<r>.result, "" if none
    pid_t pid(uint32_t rank) const;          // from rank<r>.pid, -1 if none
    // Waits until every rank wrote its pid file.
    bool wait_for_pids(uint32_t nodes, std::chrono::milliseconds limit) const;
    // What is left in the TMPDIR given to the launch (the server's directory must go).
    std::vector<std::string> leftovers() const;

    dragon_launch *launch() const { return launch_; }

private:
    std::filesystem::path root_, out_, tmp_;
    std::string saved_tmpdir_;
    bool had_tmpdir_ = false;
    const dragon_launcher_ops *ops_ = nullptr;
    const dragon_host *host_ = nullptr;
    dragon_launch *launch_ = nullptr;
};

// Empty when launcher plugin `name` can run here; else why not (for GTEST_SKIP).
std::string unavailable(const std::string &name);

// True when process `pid` no longer exists (reaped: not even a zombie).
bool process_gone(pid_t pid);
// True when no process is left in process group `pgid`.
bool group_gone(pid_t pgid);

} // namespace wireup_test
