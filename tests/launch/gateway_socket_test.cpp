// The gateway's UNIX socket towards the node's processes.
#include "gateway_socket.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace dragon::node {
namespace {

std::string socket_path()
{
    const char *tmp = std::getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/dragon-test-gw-" + std::to_string(getpid()) +
           ".sock";
}

int connect_to(const std::string &path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// The gateway answers a process from inside loops over its records of that process;
// a send that found the process gone closed it right there, and on_closed erased
// the record the loop still held (a reply erased twice crashed dragon-node).
TEST(GatewaySocket, ASendToAGoneProcessClosesItOnTheNextTurnNotInsideTheSend)
{
    int closed = 0;
    GatewaySocket gateway(
        socket_path(), [](GatewayClient &, ClientRequest) {}, [&](GatewayClient &) { ++closed; });
    int process = connect_to(gateway.path());
    ASSERT_GE(process, 0);
    gateway.handle(gateway.poll_set().at(0).first, POLLIN); // accepts it
    ASSERT_EQ(gateway.poll_set().size(), 2u);
    int fd = gateway.poll_set().at(1).first;
    close(process); // the process is gone

    gateway.send(fd, std::string(4096, 'x'));
    EXPECT_EQ(closed, 0) << "closed inside send()";

    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 2000), 1) << "the connection never turned readable";
    gateway.handle(fd, p.revents);
    EXPECT_EQ(closed, 1);
    EXPECT_EQ(gateway.poll_set().size(), 1u);
    gateway.send(fd, "late"); // a record that outlived the client: nothing happens
    EXPECT_EQ(closed, 1);
}

// Out of file descriptors, accept() fails and the connection stays in the backlog:
// the listening socket stays readable, and polling it at once again spun the loop.
TEST(GatewaySocket, OutOfFileDescriptorsPausesAcceptingInsteadOfSpinning)
{
#if defined(__SANITIZE_ADDRESS__)
    // The sanitizers' runtime opens a pipe to check a pointer (UBSan's vptr check in
    // the warning this logs): with no descriptor left it reports a false error.
    GTEST_SKIP() << "needs every descriptor gone, which the sanitizers' runtime cannot bear";
#endif
    int closed = 0;
    GatewaySocket gateway(
        socket_path(), [](GatewayClient &, ClientRequest) {}, [&](GatewayClient &) { ++closed; });
    const int listen_fd = gateway.poll_set().at(0).first;
    int process = connect_to(gateway.path());
    ASSERT_GE(process, 0);
    rlimit old{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(lowest_free, 0);
    close(lowest_free);
    rlimit none = old;
    none.rlim_cur = rlim_t(lowest_free); // no new descriptor fits
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &none), 0);
    gateway.handle(listen_fd, POLLIN);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    EXPECT_TRUE(gateway.poll_set().empty()) << "the listening socket is polled again at once";

    usleep(150'000); // the pause is over: the waiting connection is taken
    ASSERT_EQ(gateway.poll_set().size(), 1u);
    gateway.handle(listen_fd, POLLIN);
    EXPECT_EQ(gateway.poll_set().size(), 2u);
    close(process);
}

} // namespace
} // namespace dragon::node
