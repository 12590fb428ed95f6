#include "lane.hpp"

#include "core/error.hpp"
#include "core/hmac_sha256.hpp"
#include "core/random_bytes.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace dragon::node {
namespace {

constexpr char hello_magic[4] = {'D', 'L', 'N', '1'};
constexpr char proof_magic[4] = {'D', 'L', 'P', '1'};

void put_u32(std::string &out, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        out.push_back(char((v >> (8 * i)) & 0xff));
}

uint32_t get_u32(std::string_view in, size_t at)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        v |= uint32_t(static_cast<unsigned char>(in[at + i])) << (8 * i);
    return v;
}

} // namespace

std::string lane_key(const std::string &job_secret)
{
    static constexpr char label[] = "dragon lane key";
    Digest d = hmac_sha256(job_secret.data(), job_secret.size(), label, sizeof label - 1);
    return std::string(reinterpret_cast<const char *>(d.data()), d.size());
}

std::string lane_hello()
{
    return std::string(hello_magic, sizeof hello_magic) + random_bytes(16);
}

std::optional<LaneIdentity> check_lane_proof(const std::string &key, std::string_view hello,
                                             std::string_view proof, std::string &why)
{
    if (proof.size() != lane_proof_len || std::memcmp(proof.data(), proof_magic, 4) != 0) {
        why = "not a lane proof (a program that is not a dragon process?)";
        return std::nullopt;
    }
    LaneIdentity id{get_u32(proof, 4), get_u32(proof, 8)};
    std::string signed_part = "lane";
    signed_part.append(hello.substr(sizeof hello_magic));
    put_u32(signed_part, id.node);
    put_u32(signed_part, id.pid);
    Digest mac = hmac_sha256(key.data(), key.size(), signed_part.data(), signed_part.size());
    if (!digests_equal(mac.data(), reinterpret_cast<const unsigned char *>(proof.data()) + 12,
                       mac.size())) {
        why = "a wrong lane key (not a process of this job)";
        return std::nullopt;
    }
    return id;
}

int listen_for_lanes(const std::string &ip, uint16_t &port)
{
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1)
        throw Error(DRAGON_ERR_INVALID, "lanes: '" + ip + "' is not an IPv4 address");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        listen(fd, 512) != 0 || getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        throw Error(DRAGON_ERR_INTERNAL,
                    "lanes: cannot listen on " + ip + ": " + errno_text(e) +
                        " (this node's address, which other nodes' processes must reach)");
    }
    port = ntohs(addr.sin_port);
    return fd;
}

} // namespace dragon::node
