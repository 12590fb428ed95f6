// Simulated hosts on one machine, for the local launcher's separate-hosts mode and for
// tests and benchmarks that must cross a real network: K network namespaces ("hosts"), each joined
// by a veth pair to a bridge that lives in a namespace of its own, each with its own
// address 10.200.X.(k+1)/24 and its loopback up. Nothing is added to the caller's namespace: the
// addresses exist only in the namespaces, so only they (and loopback) are ever targeted.
//
// Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2's `ip`.
#pragma once

#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace dragon {

class NetnsHosts {
public:
    // Empty when namespaces can be made here; else why not ("needs root", ...), for
    // GTEST_SKIP and for the benchmark's note.
    static std::string unavailable_reason();

    // Removes namespaces of this harness left by processes that are gone (a run killed
    // before its destructor ran). Called by the constructor; safe to call any time.
    static void remove_stale();
    // The names remove_stale() would remove.
    static std::vector<std::string> stale();

    // Creates `hosts` hosts. Throws dragon::Error (naming the `ip` command and its
    // message) on failure, after removing what it had made.
    explicit NetnsHosts(int hosts);
    // Kills whatever still runs in the namespaces, then removes every one of them.
    ~NetnsHosts();
    NetnsHosts(const NetnsHosts &) = delete;
    NetnsHosts &operator=(const NetnsHosts &) = delete;

    int size() const { return static_cast<int>(hosts_.size()); }
    // Namespace name of host k (/run/netns/NAME).
    const std::string &name(int k) const { return hosts_.at(k); }
    // /run/netns/NAME of host k: what enter_network_namespace() takes.
    std::string path(int k) const;
    // Host k's address, e.g. "10.200.37.2".
    std::string address(int k) const;
    // The hosts' subnet as a CIDR, e.g. "10.200.37.0/24" (a transport's network_prefix).
    std::string cidr() const;
    // The interface name every host has on the bridge.
    static constexpr const char *interface_name = "eth0";

    // Moves the calling process into host k's network namespace. Call it in a forked,
    // single-threaded child. Throws dragon::Error.
    void enter(int k) const;

    // Forks a child that enters host k and runs `body`; the child _exits with its return
    // value (1 if it throws or cannot enter). The caller waits for it.
    pid_t spawn(int k, const std::function<int()> &body) const;

private:
    // `ip ARGS`, with `input` on its stdin (commands for -batch -); throws on failure.
    void run_ip(const std::vector<std::string> &args, const std::string &input = {});
    void remove_all() noexcept;

    std::string tag_;                // prefix of every namespace name of this object
    int subnet_ = 0;                 // X in 10.200.X.0/24
    std::string bridge_;             // the bridge's namespace
    std::vector<std::string> hosts_; // one namespace per host
    std::vector<std::string> created_;
};

// Moves the calling thread (and what it creates from now on: threads, children, sockets)
// into the network namespace at `path`. Throws dragon::Error.
void enter_network_namespace(const std::string &path);

} // namespace dragon
