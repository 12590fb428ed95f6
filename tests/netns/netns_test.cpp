// The simulated-hosts harness: hosts reach each other at their own addresses and
// nothing of it outlives its owner (nor a run killed before it could clean up).
#include "support/netns.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

using dragon::test::NetnsHosts;

#define SKIP_UNLESS_NETNS()                                                                        \
    do {                                                                                           \
        std::string why_ = NetnsHosts::unavailable_reason();                                       \
        if (!why_.empty())                                                                         \
            GTEST_SKIP() << why_;                                                                  \
    } while (0)

bool netns_exists(const std::string &name)
{
    return access(("/run/netns/" + name).c_str(), F_OK) == 0;
}

// Waits for `pid` with a deadline; its exit code, or -1 (killed) when late.
int wait_child(pid_t pid, int seconds = 20)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

sockaddr_in socket_address(const std::string &ip, uint16_t port)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    return a;
}

// In host 0: accept one connection on its own address and echo one byte + 1.
int echo_server(const std::string &ip, int ready_fd)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = socket_address(ip, 0);
    if (bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(s, 1) != 0)
        return 2;
    socklen_t len = sizeof a;
    getsockname(s, reinterpret_cast<sockaddr *>(&a), &len);
    uint16_t port = ntohs(a.sin_port);
    if (write(ready_fd, &port, sizeof port) != sizeof port)
        return 3;
    alarm(20); // never outlive a broken test
    int c = accept(s, nullptr, nullptr);
    unsigned char byte = 0;
    if (c < 0 || read(c, &byte, 1) != 1)
        return 4;
    byte++;
    return write(c, &byte, 1) == 1 ? 0 : 5;
}

TEST(Netns, HostsReachEachOtherAtTheirOwnAddresses)
{
    SKIP_UNLESS_NETNS();
    NetnsHosts hosts(3);
    ASSERT_EQ(hosts.size(), 3);
    EXPECT_NE(hosts.address(0), hosts.address(2));
    EXPECT_EQ(hosts.cidr().substr(0, 7), "10.200.");

    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t server = hosts.spawn(0, [&] { return echo_server(hosts.address(0), ready[1]); });
    uint16_t port = 0;
    ASSERT_EQ(read(ready[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
    close(ready[0]);
    close(ready[1]);

    // From host 2 (not the same namespace as the server): connect and get the echo.
    pid_t client = hosts.spawn(2, [&] {
        alarm(20);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a = socket_address(hosts.address(0), port);
        if (connect(s, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0)
            return 2;
        unsigned char byte = 41;
        if (write(s, &byte, 1) != 1 || read(s, &byte, 1) != 1)
            return 3;
        return byte == 42 ? 0 : 4;
    });
    EXPECT_EQ(wait_child(client), 0);
    EXPECT_EQ(wait_child(server), 0);
}

TEST(Netns, HostAddressesDoNotExistOutsideTheNamespaces)
{
    SKIP_UNLESS_NETNS();
    NetnsHosts hosts(1);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = socket_address(hosts.address(0), 0);
    EXPECT_NE(bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a), 0)
        << hosts.address(0) << " is bindable in the test's own namespace";
    close(s);
}

TEST(Netns, LoopbackIsUpInEveryHost)
{
    SKIP_UNLESS_NETNS();
    NetnsHosts hosts(2);
    pid_t child = hosts.spawn(1, [] {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a = socket_address("127.0.0.1", 0);
        if (bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(s, 1) != 0)
            return 2;
        socklen_t len = sizeof a;
        getsockname(s, reinterpret_cast<sockaddr *>(&a), &len);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        return connect(c, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0 ? 0 : 3;
    });
    EXPECT_EQ(wait_child(child), 0);
}

TEST(Netns, DestructorRemovesEveryNamespaceAndWhatRunsThere)
{
    SKIP_UNLESS_NETNS();
    std::vector<std::string> names;
    pid_t sleeper = 0;
    {
        NetnsHosts hosts(2);
        names = {hosts.name(0), hosts.name(1)};
        for (const auto &n : names)
            EXPECT_TRUE(netns_exists(n)) << n;
        sleeper = hosts.spawn(1, [] {
            pause();
            return 0;
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(50)); // let it enter
    }
    for (const auto &n : names)
        EXPECT_FALSE(netns_exists(n)) << n << " left behind";
    EXPECT_EQ(wait_child(sleeper, 5), 128 + SIGKILL) << "a process left running in a host";
}

TEST(Netns, StaleNamespacesOfADeadRunAreRemoved)
{
    SKIP_UNLESS_NETNS();
    int names_pipe[2];
    ASSERT_EQ(pipe(names_pipe), 0);
    pid_t run = fork();
    if (run == 0) {
        // A run that dies without its destructor: its namespaces stay behind.
        auto *hosts = new NetnsHosts(2);
        std::string n = hosts->name(0) + "\n" + hosts->name(1) + "\n";
        ssize_t ignored = write(names_pipe[1], n.data(), n.size());
        (void)ignored;
        _exit(0);
    }
    close(names_pipe[1]);
    ASSERT_EQ(wait_child(run), 0);
    std::string text;
    char buf[256];
    ssize_t n;
    while ((n = read(names_pipe[0], buf, sizeof buf)) > 0)
        text.append(buf, static_cast<size_t>(n));
    close(names_pipe[0]);
    std::string first = text.substr(0, text.find('\n'));
    ASSERT_FALSE(first.empty());
    ASSERT_TRUE(netns_exists(first));
    NetnsHosts::remove_stale();
    EXPECT_FALSE(netns_exists(first)) << "stale namespace " << first << " was not removed";
}

} // namespace
