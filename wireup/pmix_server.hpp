// The PMIx server the local launcher hosts: one server whose clients are all the
// job's ranks (rank = node index), so OpenPMIx completes every fence internally and
// the host never has to move data between servers. Only processes the launcher
// started and admit()ted reach it (connection_gate.hpp says why and how).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

namespace dragon::wireup {

class PrivateTmpdir;
class ConnectionGate;

// A client's PMIx_Abort: the launch must end.
struct AbortReport {
    uint32_t rank;
    int status;
    std::string message;
};

class PmixServer {
public:
    // Called on PMIx's progress thread; must be quick and thread-safe.
    using AbortHandler = std::function<void(const AbortReport &)>;
    // Told of every connection refused (a stranger's); called on the gate's thread.
    using WarningHandler = std::function<void(const std::string &)>;

    // PMIx_server_init in a fresh private directory, then registers namespace `nspace`
    // with `num_ranks` ranks on this host and every rank as a client. Only one server
    // may exist per process at a time (a PMIx limit). Throws dragon::Error.
    PmixServer(const std::string &nspace, uint32_t num_ranks, AbortHandler on_abort,
               std::chrono::milliseconds deadline, WarningHandler on_warning = {});
    // Deregisters, finalizes and removes the private directory.
    ~PmixServer();
    PmixServer(const PmixServer &) = delete;
    PmixServer &operator=(const PmixServer &) = delete;

    // Lets connections from process `pid` (one the launcher started) through.
    void admit(pid_t pid);
    // Connections refused so far.
    unsigned refused() const;

    // NAME=VALUE entries a rank's process needs to find this server (PMIx_server_setup_fork).
    std::vector<std::string> client_environment(uint32_t rank) const;

    const std::string &nspace() const { return nspace_; }
    uint32_t size() const { return size_; }
    const std::filesystem::path &tmpdir() const;
    uint32_t connected() const { return connected_.load(); }
    uint32_t finalized() const { return finalized_.load(); }

private:
    struct Module; // the PMIx callbacks
    void register_job(std::chrono::steady_clock::time_point until);
    void shutdown() noexcept;

    std::string nspace_;
    uint32_t size_;
    AbortHandler on_abort_;
    std::unique_ptr<PrivateTmpdir> tmpdir_;
    std::unique_ptr<ConnectionGate> gate_;
    bool initialized_ = false;
    bool nspace_registered_ = false;
    uint32_t clients_registered_ = 0;
    std::vector<std::vector<std::string>> environments_;
    std::atomic<uint32_t> connected_{0}, finalized_{0};
};

} // namespace dragon::wireup
