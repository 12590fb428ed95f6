// The raw-socket baselines of transport_bench: what two processes get from plain TCP
// sockets (TCP_NODELAY, blocking calls) on the same addresses the transports use.
#pragma once

#include <cstdint>
#include <string>

namespace dragon::bench {

// Server side, in one process: listens on `address` (port 0: ephemeral), writes the port
// it got to `port_fd`, then echoes `iterations` 8-byte messages. Returns 0 on success.
int raw_tcp_echo_server(const std::string &address, int port_fd, int iterations);
// Client side: one-way latency in microseconds (round trip / 2, averaged), < 0 on failure.
double raw_tcp_pingpong_client(const std::string &address, uint16_t port, int iterations);

// Stream: the server reads `messages` x `size` bytes into one buffer, then answers one
// byte; the client measures from its first byte to that answer. MiB/s, < 0 on failure.
int raw_tcp_sink_server(const std::string &address, int port_fd, uint64_t size, int messages);
double raw_tcp_stream_client(const std::string &address, uint16_t port, uint64_t size,
                             int messages);

} // namespace dragon::bench
