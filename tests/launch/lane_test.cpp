// Lanes: processes' TCP connections to another node's gateway, admitted by their
// proof of the lane key before any request is read.
#include "gateway_socket.hpp"
#include "lane.hpp"

#include "core/hmac_sha256.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstdlib>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace dragon::node {
namespace {

const std::string key = lane_key("the job secret");

void put_u32(std::string &out, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        out.push_back(char((v >> (8 * i)) & 0xff));
}

// What a process sends (pymp/dragon/gateway.py does the same in Python).
std::string proof(const std::string &with_key, const std::string &hello, uint32_t node,
                  uint32_t pid)
{
    std::string signed_part = "lane" + hello.substr(4);
    put_u32(signed_part, node);
    put_u32(signed_part, pid);
    Digest mac =
        hmac_sha256(with_key.data(), with_key.size(), signed_part.data(), signed_part.size());
    std::string out = "DLP1";
    put_u32(out, node);
    put_u32(out, pid);
    out.append(reinterpret_cast<const char *>(mac.data()), mac.size());
    return out;
}

TEST(Lane, AProofWithTheKeyNamesItsProcess)
{
    std::string hello = lane_hello(), why;
    ASSERT_EQ(hello.size(), lane_hello_len);
    auto id = check_lane_proof(key, hello, proof(key, hello, 3, 4242), why);
    ASSERT_TRUE(id) << why;
    EXPECT_EQ(id->node, 3u);
    EXPECT_EQ(id->pid, 4242u);
}

TEST(Lane, AProofWithAnotherKeyOrNonceOrIdentityIsRefused)
{
    std::string hello = lane_hello(), why;
    EXPECT_FALSE(check_lane_proof(key, hello, proof(lane_key("another job"), hello, 1, 7), why));
    EXPECT_NE(why.find("wrong lane key"), std::string::npos) << why;
    EXPECT_FALSE(check_lane_proof(key, hello, proof(key, lane_hello(), 1, 7), why));
    std::string forged = proof(key, hello, 1, 7);
    forged[4] = 2; // claims another node
    EXPECT_FALSE(check_lane_proof(key, hello, forged, why));
    EXPECT_FALSE(check_lane_proof(key, hello, "GET / HTTP/1.1\r\n", why));
    EXPECT_NE(why.find("not a lane proof"), std::string::npos) << why;
}

struct LaneServer {
    std::vector<std::pair<GatewayClient *, ClientRequest>> requests;
    int closed = 0;
    uint16_t port = 0;
    std::vector<size_t> allocated;
    int released = 0;
    GatewaySocket socket{
        listen_for_lanes("127.0.0.1", port),
        key,
        [this](GatewayClient &c, ClientRequest r) { requests.emplace_back(&c, std::move(r)); },
        [this](GatewayClient &) { ++closed; },
        1000,
        [this](size_t n) {
            allocated.push_back(n);
            return std::malloc(n);
        },
        [this](void *block) {
            ++released;
            std::free(block);
        }};
    ~LaneServer()
    {
        for (auto &r : requests)
            std::free(r.second.block);
    }

    // Runs the socket's side until `done` or 2 s passed.
    template <typename Done> bool turn_until(Done done)
    {
        for (int i = 0; i < 200 && !done(); ++i) {
            auto set = socket.poll_set();
            std::vector<pollfd> fds;
            for (auto [fd, events] : set)
                fds.push_back({fd, events, 0});
            poll(fds.data(), fds.size(), 10);
            for (auto &p : fds)
                if (p.revents)
                    socket.handle(p.fd, p.revents);
        }
        return done();
    }
};

int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
    return fd;
}

std::string read_some(int fd, size_t n)
{
    std::string got;
    while (got.size() < n) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 2000) != 1)
            break;
        char buf[256];
        ssize_t k = recv(fd, buf, std::min(sizeof buf, n - got.size()), 0);
        if (k <= 0)
            break;
        got.append(buf, size_t(k));
    }
    return got;
}

std::string request_frame(uint64_t id, const std::string &payload = {})
{
    // u32 length, op, flags, u16 descriptor length, u32 node, u64 id, i64 timeout, descriptor
    std::string body;
    body.push_back(char(GatewayOp::size));
    body.push_back(0);
    body.append("\x01\x00", 2);
    put_u32(body, 0);
    for (int i = 0; i < 8; ++i)
        body.push_back(char((id >> (8 * i)) & 0xff));
    body.append(8, '\xff');
    body.push_back('d');
    body += payload;
    std::string frame;
    put_u32(frame, uint32_t(body.size()));
    return frame + body;
}

TEST(Lane, AnAdmittedProcessIsServedAsItsNodeAndPid)
{
    LaneServer server;
    int fd = connect_to(server.port);
    std::string hello;
    ASSERT_TRUE(server.turn_until([&] { return server.socket.poll_set().size() == 2; }));
    hello = read_some(fd, lane_hello_len);
    ASSERT_EQ(hello.size(), lane_hello_len);
    std::string p = proof(key, hello, 1, 99) + request_frame(5); // the request right behind
    ASSERT_EQ(send(fd, p.data(), p.size(), 0), ssize_t(p.size()));
    ASSERT_TRUE(server.turn_until([&] { return !server.requests.empty(); }));
    EXPECT_EQ(read_some(fd, 1), std::string(1, lane_admitted));
    EXPECT_EQ(server.requests[0].first->node, 1u);
    EXPECT_EQ(server.requests[0].first->pid, 99);
    EXPECT_EQ(server.requests[0].second.id, 5u);
    EXPECT_EQ(server.requests[0].second.descriptor, "d");
    close(fd);
    EXPECT_TRUE(server.turn_until([&] { return server.closed == 1; }));
}

TEST(Lane, AConnectionWithoutTheKeyIsRefusedAndNothingItSentIsRead)
{
    LaneServer server;
    int fd = connect_to(server.port);
    ASSERT_TRUE(server.turn_until([&] { return server.socket.poll_set().size() == 2; }));
    std::string hello = read_some(fd, lane_hello_len);
    std::string p = proof(lane_key("guess"), hello, 1, 99) + request_frame(5);
    ASSERT_EQ(send(fd, p.data(), p.size(), 0), ssize_t(p.size()));
    ASSERT_TRUE(server.turn_until([&] { return server.closed == 1; }));
    EXPECT_TRUE(server.requests.empty());
    EXPECT_EQ(read_some(fd, 2), std::string(1, lane_refused)); // then end of file
    close(fd);
}

// Admitted, with its proof's 'Y' read: the connection to send requests on.
int admitted_lane(LaneServer &server)
{
    int fd = connect_to(server.port);
    EXPECT_TRUE(server.turn_until([&] { return server.socket.poll_set().size() == 2; }));
    std::string hello = read_some(fd, lane_hello_len);
    std::string p = proof(key, hello, 1, 99);
    EXPECT_EQ(send(fd, p.data(), p.size(), 0), ssize_t(p.size()));
    EXPECT_TRUE(server.turn_until([&] {
        pollfd p{fd, POLLIN, 0};
        return poll(&p, 1, 0) == 1;
    }));
    EXPECT_EQ(read_some(fd, 1), std::string(1, lane_admitted));
    return fd;
}

TEST(Lane, ALargePayloadIsReadStraightIntoABlockAndFramesAroundItStayWhole)
{
    LaneServer server;
    int fd = admitted_lane(server);
    std::string big(3 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i)
        big[i] = char(i * 7 + i / 4096);
    std::string all = request_frame(1, "small") + request_frame(2, big) + request_frame(3, "x");
    std::thread writer(
        [&] { EXPECT_EQ(send(fd, all.data(), all.size(), 0), ssize_t(all.size())); });
    EXPECT_TRUE(server.turn_until([&] { return server.requests.size() == 3; }));
    writer.join();
    ASSERT_EQ(server.requests.size(), 3u);
    EXPECT_EQ(server.requests[0].second.payload, "small");
    EXPECT_EQ(server.requests[0].second.block, nullptr);
    const ClientRequest &large = server.requests[1].second;
    EXPECT_EQ(large.id, 2u);
    EXPECT_EQ(large.descriptor, "d");
    EXPECT_TRUE(large.payload.empty());
    ASSERT_NE(large.block, nullptr);
    ASSERT_EQ(large.block_len, big.size());
    EXPECT_EQ(std::string(static_cast<const char *>(large.block), large.block_len), big);
    EXPECT_EQ(server.allocated, std::vector<size_t>{big.size()});
    EXPECT_EQ(server.requests[2].second.payload, "x");
    EXPECT_EQ(server.released, 0);
    close(fd);
}

TEST(Lane, AProcessGoneInTheMiddleOfALargePayloadLeavesNoBlock)
{
    LaneServer server;
    int fd = admitted_lane(server);
    std::string frame = request_frame(1, std::string(1 << 20, 'z'));
    frame.resize(frame.size() / 2);
    ASSERT_EQ(send(fd, frame.data(), frame.size(), 0), ssize_t(frame.size()));
    EXPECT_TRUE(server.turn_until([&] { return !server.allocated.empty(); }));
    close(fd);
    EXPECT_TRUE(server.turn_until([&] { return server.closed == 1; }));
    EXPECT_TRUE(server.requests.empty());
    EXPECT_EQ(server.released, 1);
}

} // namespace
} // namespace dragon::node
