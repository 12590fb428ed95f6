// Lanes: a process's own TCP connection to another node's dragon-node, for the
// channel operations (send, receive, poll, the semaphore and memory operations) it
// asks of that node. A lane skips the process's own dragon-node, which otherwise
// relays each request and each answer over the transport: one process fewer to wake
// on each side of every remote operation. Requests and answers are the gateway
// socket's frames (gateway_protocol.hpp); a large message is read from the socket
// straight into a pool block of the owner node, and a large answer is written from
// where it lies. Everything else (attach, start, signal) still goes through the
// process's own node. Lanes are TCP whatever the transport plugin: on a fabric where
// the transport is much faster than the kernel's TCP, DRAGON_LANES=off keeps every
// operation on the transport.
//
// Admission: on accept the node sends HELLO ("DLN1", a fresh 16-byte nonce); the
// process answers PROOF ("DLP1", u32 node, u32 pid, HMAC-SHA-256(lane key, "lane" |
// nonce | node | pid)) and the node answers one byte, 'Y' (admitted) or 'N' (then it
// closes). The lane key is derived from the job secret (lane_key()), so a process
// that holds it can reach channels and nothing else; the job secret itself, which
// the transports prove, never reaches the job's processes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dragon::node {

inline constexpr size_t lane_hello_len = 4 + 16;
inline constexpr size_t lane_proof_len = 4 + 4 + 4 + 32;
inline constexpr char lane_admitted = 'Y', lane_refused = 'N';

// The key processes prove on lanes: HMAC-SHA-256(job secret, "dragon lane key"), raw.
std::string lane_key(const std::string &job_secret);

// HELLO with a fresh nonce; the nonce is the bytes after the magic.
std::string lane_hello();

struct LaneIdentity {
    uint32_t node = 0;
    uint32_t pid = 0;
};

// The identity a PROOF (lane_proof_len bytes) claims, if its MAC is right for `key`
// and the nonce of `hello`; nullopt with `why` set otherwise.
std::optional<LaneIdentity> check_lane_proof(const std::string &key, std::string_view hello,
                                             std::string_view proof, std::string &why);

// A TCP socket listening on `ip` (IPv4, any free port), non-blocking and
// close-on-exec; `port` gets its port. Throws dragon::Error with the reason.
int listen_for_lanes(const std::string &ip, uint16_t &port);

} // namespace dragon::node
