#include "raw_tcp_baseline.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace dragon::bench {
namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in socket_address(const std::string &ip, uint16_t port)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    return a;
}

bool full_io(int fd, void *data, size_t len, bool writing)
{
    char *p = static_cast<char *>(data);
    while (len > 0) {
        ssize_t n = writing ? ::send(fd, p, len, MSG_NOSIGNAL) : ::recv(fd, p, len, 0);
        if (n <= 0)
            return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

void no_delay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Listens, reports the port, accepts one connection; -1 on failure.
int accept_one(const std::string &address, int port_fd)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = socket_address(address, 0);
    if (bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(s, 1) != 0)
        return -1;
    socklen_t len = sizeof a;
    getsockname(s, reinterpret_cast<sockaddr *>(&a), &len);
    uint16_t port = ntohs(a.sin_port);
    if (write(port_fd, &port, sizeof port) != sizeof port)
        return -1;
    int c = accept(s, nullptr, nullptr);
    close(s);
    if (c >= 0)
        no_delay(c);
    return c;
}

int connect_to(const std::string &address, uint16_t port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = socket_address(address, port);
    if (connect(s, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        close(s);
        return -1;
    }
    no_delay(s);
    return s;
}

} // namespace

int raw_tcp_echo_server(const std::string &address, int port_fd, int iterations)
{
    int c = accept_one(address, port_fd);
    if (c < 0)
        return 1;
    char buf[8];
    for (int i = 0; i < iterations; ++i)
        if (!full_io(c, buf, sizeof buf, false) || !full_io(c, buf, sizeof buf, true))
            return 2;
    close(c);
    return 0;
}

double raw_tcp_pingpong_client(const std::string &address, uint16_t port, int iterations)
{
    int s = connect_to(address, port);
    if (s < 0)
        return -1;
    char buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int warmup = iterations / 10;
    Clock::time_point start;
    for (int i = 0; i < iterations; ++i) {
        if (i == warmup)
            start = Clock::now();
        if (!full_io(s, buf, sizeof buf, true) || !full_io(s, buf, sizeof buf, false))
            return -1;
    }
    double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    close(s);
    return us / (iterations - warmup) / 2;
}

int raw_tcp_sink_server(const std::string &address, int port_fd, uint64_t size, int messages)
{
    int c = accept_one(address, port_fd);
    if (c < 0)
        return 1;
    std::unique_ptr<char[]> buf(new char[size]);
    for (int i = 0; i < messages; ++i)
        if (!full_io(c, buf.get(), size, false))
            return 2;
    char ack = 1;
    full_io(c, &ack, 1, true);
    close(c);
    return 0;
}

double raw_tcp_stream_client(const std::string &address, uint16_t port, uint64_t size, int messages)
{
    int s = connect_to(address, port);
    if (s < 0)
        return -1;
    std::unique_ptr<char[]> buf(new char[size]);
    std::memset(buf.get(), 7, size);
    auto start = Clock::now();
    for (int i = 0; i < messages; ++i)
        if (!full_io(s, buf.get(), size, true))
            return -1;
    char ack;
    if (!full_io(s, &ack, 1, false))
        return -1;
    double s_elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    close(s);
    return static_cast<double>(size) * messages / s_elapsed / (1 << 20);
}

} // namespace dragon::bench
