// The PMIx server's gate (wireup/connection_gate.hpp) on its own: the kernel's view
// of a loopback peer, and a listener taken over, guarded and relayed. The other-user
// cases need a second user: tests/python/test_job_isolation.py.
#include "wireup/connection_gate.hpp"
#include "wireup/socket_owner.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dragon::wireup {
namespace {

// A listening socket on 127.0.0.1 (an ephemeral port), as PMIx opens one.
int loopback_listener(sockaddr_in &addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        listen(fd, 16) != 0 || getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
        return -1;
    return fd;
}

int connect_to(const sockaddr_in &addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

uint64_t inode_of(int fd)
{
    struct stat st {};
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

bool readable_within(int fd, int ms)
{
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1;
}

// Writes all of `data` while reading everything `from` sends into `got` (so neither
// side's buffers fill up), until `want` bytes arrived.
bool exchange(int to, const std::string &data, int from, std::string &got, size_t want)
{
    size_t sent = 0;
    char buf[65536];
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while ((sent < data.size() || got.size() < want) && std::chrono::steady_clock::now() < until) {
        pollfd p[2] = {{to, static_cast<short>(sent < data.size() ? POLLOUT : 0), 0},
                       {from, POLLIN, 0}};
        if (poll(p, 2, 1000) < 0)
            return false;
        if (p[0].revents & POLLOUT) {
            ssize_t n = send(to, data.data() + sent, data.size() - sent, MSG_DONTWAIT);
            if (n > 0)
                sent += static_cast<size_t>(n);
        }
        if (p[1].revents & POLLIN) {
            ssize_t n = recv(from, buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0)
                return false;
            got.append(buf, static_cast<size_t>(n));
        }
    }
    return sent == data.size() && got.size() == want;
}

std::string pattern(size_t size, int seed)
{
    std::string s(size, '\0');
    for (size_t i = 0; i < size; ++i)
        s[i] = static_cast<char>((i * 131 + static_cast<size_t>(seed)) & 0xff);
    return s;
}

class ConnectionGateTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        const char *tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/gate-test-XXXXXX";
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        ASSERT_NE(mkdtemp(buf.data()), nullptr);
        dir = buf.data();
        listener = loopback_listener(addr);
        ASSERT_GE(listener, 0);
    }
    void TearDown() override
    {
        gate.reset();
        if (listener >= 0)
            close(listener);
        std::filesystem::remove_all(dir);
    }
    void take_over()
    {
        gate =
            std::make_unique<ConnectionGate>(listener, dir / "gate", [this](const std::string &w) {
                std::lock_guard lock(mutex);
                warnings.push_back(w);
            });
    }

    std::filesystem::path dir;
    sockaddr_in addr{};
    int listener = -1; // after take_over(): the Unix listener the gate feeds
    std::unique_ptr<ConnectionGate> gate;
    std::mutex mutex;
    std::vector<std::string> warnings;
};

TEST(SocketOwner, TheKernelNamesALoopbackPeersUidAndSocket)
{
    sockaddr_in addr{};
    int l = loopback_listener(addr);
    ASSERT_GE(l, 0);
    int client = connect_to(addr);
    ASSERT_GE(client, 0);
    int server = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(server, 0);
    auto peer = peer_socket(server);
    ASSERT_TRUE(peer.has_value());
    EXPECT_EQ(peer->uid, geteuid());
    EXPECT_EQ(peer->inode, inode_of(client));
    EXPECT_TRUE(process_holds_socket(getpid(), peer->inode));
    EXPECT_FALSE(process_holds_socket(getpid(), inode_of(server) + 1000000));
    bool listed = false;
    for (const auto &[fd, inode] : listening_tcp_sockets())
        listed = listed || (fd == l && inode == inode_of(l));
    EXPECT_TRUE(listed);
    for (int fd : {client, server, l})
        close(fd);
}

TEST_F(ConnectionGateTest, AnAdmittedProcessIsRelayedBothWays)
{
    take_over();
    gate->admit(getpid());
    int client = connect_to(addr);
    ASSERT_GE(client, 0);
    // What used to be the TCP listener's descriptor now hands out the relayed side.
    ASSERT_TRUE(readable_within(listener, 5000));
    int relayed = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (relayed >= 0) {
        // The take-over's own wake-up connection comes first: it is closed at once.
        char byte;
        if (readable_within(relayed, 100) && recv(relayed, &byte, 1, MSG_DONTWAIT) == 0) {
            close(relayed);
            ASSERT_TRUE(readable_within(listener, 5000));
            relayed = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        }
    }
    ASSERT_GE(relayed, 0);
    // 3 MiB each way at once: more than the relay buffers, so it must apply backpressure.
    std::string up = pattern(3 << 20, 1), down = pattern(3 << 20, 2), got_up, got_down;
    ASSERT_TRUE(exchange(client, up, relayed, got_up, up.size()));
    ASSERT_TRUE(exchange(relayed, down, client, got_down, down.size()));
    EXPECT_EQ(got_up, up);
    EXPECT_EQ(got_down, down);
    // An end of file passes through.
    shutdown(client, SHUT_WR);
    ASSERT_TRUE(readable_within(relayed, 5000));
    char byte;
    EXPECT_EQ(recv(relayed, &byte, 1, 0), 0);
    close(relayed);
    close(client);
    EXPECT_EQ(gate->refused(), 0u);
}

TEST_F(ConnectionGateTest, AProcessNotAdmittedNeverReachesTheServer)
{
    take_over();
    gate->admit(getpid() + 100000); // somebody else
    int client = connect_to(addr);  // our uid, but not held by an admitted process
    ASSERT_GE(client, 0);
    // Nothing arrives at the server side but the take-over's wake-up (end of file).
    while (readable_within(listener, 300)) {
        int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        ASSERT_GE(fd, 0);
        char byte;
        EXPECT_TRUE(readable_within(fd, 1000));
        EXPECT_EQ(recv(fd, &byte, 1, MSG_DONTWAIT), 0) << "a stranger's connection got through";
        close(fd);
    }
    EXPECT_EQ(gate->refused(), 0u); // it waits for the launcher to admit it, up to 10 s
    close(client);
}

} // namespace
} // namespace dragon::wireup
