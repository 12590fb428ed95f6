// The gate in front of the local launcher's PMIx server: only processes the launch
// started reach it.
//
// OpenPMIx 4.2 listens on loopback TCP, where any local user can connect, and it
// trusts the uid a client *says* it has (a preloaded geteuid() is enough to be taken
// for the job's owner). Worse, it does not survive refusing someone: its error path
// after a failed credential check releases the rank's record twice (the launch then
// hung in PMIx_server_finalize), and it reads a new connection's greeting with a
// blocking recv on its only progress thread (a connection that never speaks stalls
// everything). So no stranger may reach PMIx at all. The gate takes PMIx's listening
// socket over: it puts a Unix-domain listener (in the server's private 0700
// directory) under the same descriptor number, so PMIx's listener thread accepts only
// what the gate hands it, and accepts on the TCP socket itself. A connection is let
// through only when the kernel's socket table says its peer socket belongs to our
// uid and is open in a process the launch started (admit()) or one of their
// descendants (a program a node runs inherits its PMIx variables); it is then relayed
// byte for byte to PMIx. Anything else is closed at once (another uid) or after a
// grace for the launcher to admit a process it has just forked.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dragon::wireup {

class ConnectionGate {
public:
    using Warn = std::function<void(const std::string &)>;

    // Takes over listening TCP socket `pmix_listener` (a descriptor PMIx's listener
    // thread uses), binding the Unix socket for PMIx at `unix_path`. `warn` is told of
    // every refused connection (from the gate's thread). Throws dragon::Error.
    ConnectionGate(int pmix_listener, const std::filesystem::path &unix_path, Warn warn);
    // Stops the gate's thread and closes every connection it relays.
    ~ConnectionGate();
    ConnectionGate(const ConnectionGate &) = delete;
    ConnectionGate &operator=(const ConnectionGate &) = delete;

    // Connections from sockets process `pid` holds may pass from now on.
    void admit(pid_t pid);
    // Connections refused so far.
    unsigned refused() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

// The listening IPv4/IPv6 TCP sockets among this process's descriptors, as
// (descriptor, socket inode) pairs: to find the one PMIx_server_init opened.
std::vector<std::pair<int, ino_t>> listening_tcp_sockets();

} // namespace dragon::wireup
