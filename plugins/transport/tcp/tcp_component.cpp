/*
 * tcp: the transport every Linux host can run (priority 10; hsta, on UCX, is preferred
 * where it probes available). One TCP connection per pair of nodes, driven by epoll.
 *
 * Connections
 *   open() listens on an ephemeral port (config->port pins one). Without a network
 *   prefix it listens on every address and publishes "tcp1 PORT A1,A2,...": every
 *   non-loopback IPv4 address of the host first (what a node in another network
 *   namespace or on another host reaches), 127.0.0.1 last (a node on this host); the
 *   connector tries them in order. With config->network_prefix (an IPv4 CIDR) it
 *   listens on (and publishes) only the matching addresses, and a prefix that matches
 *   nothing fails open() with the list of interfaces and their addresses.
 *   Of each pair of nodes, the lower index connects to the higher one (connect() for
 *   a lower peer only waits for it); a second authenticated connection from the same
 *   peer is refused.
 *
 * Frames (little-endian): a 20-byte prefix
 *   u32 magic "DRGT" | u8 version 1 | u8 type | u16 header_len | u64 payload_len | u32 0
 * then the header, then the payload. Types: HELLO, CHALLENGE, PROOF, WELCOME, REFUSED
 * (handshake; no header, payload <= 128 bytes), DATA (a message: header <= 1 KiB,
 * payload <= 1 TiB), BYE (orderly close). Anything else - wrong magic or version, a
 * reserved field not zero, an unknown type, a frame not allowed in the connection's
 * state, an oversized length, a stream that ends inside a frame - closes that
 * connection with the reason logged; other connections are untouched.
 *
 * Handshake (tcp_handshake.hpp): the connector sends HELLO {from, to, num_nodes,
 * nonce}; the acceptor answers CHALLENGE {from, to, its nonce}; the connector answers
 * PROOF {HMAC-SHA-256(secret, "connector" label, both indices, both nonces)}; the
 * acceptor checks it and answers WELCOME {HMAC with the "acceptor" label} (or REFUSED
 * with the reason), which the connector checks in turn. Nonces come from getrandom,
 * the MAC from host->hmac_sha256; the secret never crosses the wire. Nothing but
 * handshake frames is accepted before WELCOME; a connection that has not finished
 * within handshake_timeout is dropped. A connector whose proof is refused (either side
 * has the wrong secret) reports the peer LOST with that reason; the acceptor logs it
 * and reports the index the connection claimed LOST if it was still waiting for it.
 *
 * Sending: the frame prefix and header are copied into the send queue entry, the
 * payload pieces are written with sendmsg (writev) straight from the caller's memory;
 * several queued messages go out in one call. At most send_queue messages wait per
 * peer (then DRAGON_ERR_AGAIN). Completions fire from progress() or close(); an
 * eventfd in the epoll set wakes a framework asleep on fd().
 * Receiving: payloads up to eager_threshold arrive inline from a staging buffer;
 * larger ones arrive with payload NULL, and receive_into() makes the rest of the
 * payload go straight from the socket into the framework's buffer.
 *
 * Failure: end of stream or a reset without a BYE reports PEER_LOST (pending sends to
 * it complete PEER_LOST first, in the same progress()); keepalive probes and
 * TCP_USER_TIMEOUT (keepalive seconds) catch a peer that vanished silently.
 * close(): flushes, sends BYE, shuts down writing and lingers (<= 0.5 s) for the
 * peer's end of stream; the peer reports PEER_CLOSED; what was not sent completes
 * CANCELED.
 *
 * Parameters (DRAGON_TRANSPORT_TCP_<NAME>): see `params` below or `dragon-info`.
 */
#include "endpoint_ops.hpp"
#include "tcp_endpoint.hpp"

#include <dragon/transport.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace dragon::tcp {
namespace {

const dragon_param_def params[] = {
    {"eager_threshold", DRAGON_PARAM_SIZE, "64K",
     "payloads up to this size arrive inline; larger ones go straight into the receiver's buffer"},
    {"connect_timeout", DRAGON_PARAM_INT, "5000",
     "milliseconds to wait for a TCP connect to one published address before trying the next"},
    {"handshake_timeout", DRAGON_PARAM_INT, "5000",
     "milliseconds a new connection has to prove the job secret before it is dropped"},
    {"keepalive", DRAGON_PARAM_INT, "5",
     "seconds after which a silent peer (no ACKs, no keepalive answers) is reported lost"},
    {"send_queue", DRAGON_PARAM_INT, "1024",
     "messages that may wait per peer before send() says DRAGON_ERR_AGAIN"},
    {"socket_buffer", DRAGON_PARAM_SIZE, "0",
     "SO_SNDBUF/SO_RCVBUF in bytes; 0 keeps the kernel's autotuning"},
};

long long int_param(const dragon_host *host, const char *name, long long fallback)
{
    const char *v = host->param ? host->param(host->ctx, name) : nullptr;
    if (!v || !*v)
        return fallback;
    char *end = nullptr;
    long long n = std::strtoll(v, &end, 10);
    return end && *end == '\0' ? n : fallback;
}

unsigned long long size_param(const dragon_host *host, const char *name,
                              unsigned long long fallback)
{
    const char *v = host->param ? host->param(host->ctx, name) : nullptr;
    if (!v || !*v)
        return fallback;
    char *end = nullptr;
    unsigned long long n = std::strtoull(v, &end, 10);
    if (!end)
        return fallback;
    switch (*end) {
    case 'T':
    case 't': n <<= 10; [[fallthrough]];
    case 'G':
    case 'g': n <<= 10; [[fallthrough]];
    case 'M':
    case 'm': n <<= 10; [[fallthrough]];
    case 'K':
    case 'k':
        n <<= 10;
        ++end;
        break;
    default: break;
    }
    return *end == '\0' ? n : fallback;
}

} // namespace

Params read_params(const dragon_host *host)
{
    Params p;
    // The eager threshold bounds the staging buffer (twice this); cap it at 16 MiB.
    p.eager_threshold = static_cast<size_t>(std::min<unsigned long long>(
        size_param(host, "eager_threshold", p.eager_threshold), 16ull << 20));
    p.connect_timeout_ms = static_cast<int>(std::clamp<long long>(
        int_param(host, "connect_timeout", p.connect_timeout_ms), 1, 3600000));
    p.handshake_timeout_ms = static_cast<int>(std::clamp<long long>(
        int_param(host, "handshake_timeout", p.handshake_timeout_ms), 1, 3600000));
    p.keepalive_s = static_cast<int>(
        std::clamp<long long>(int_param(host, "keepalive", p.keepalive_s), 1, 3600));
    p.send_queue = static_cast<size_t>(std::clamp<long long>(
        int_param(host, "send_queue", static_cast<long long>(p.send_queue)), 1, 1 << 20));
    p.socket_buffer = static_cast<size_t>(size_param(host, "socket_buffer", 0));
    return p;
}

namespace {

void probe(const dragon_host *, dragon_probe_result *out)
{
    // TCP sockets and epoll exist on every Linux host this builds for.
    out->available = 1;
    out->priority = 10;
}

const dragon_transport_ops &ops = dragon::transport::EndpointOps<Endpoint>::table;

const dragon_plugin_descriptor descriptor = {
    DRAGON_PLUGIN_ABI_MAJOR,
    DRAGON_PLUGIN_ABI_MINOR,
    DRAGON_PLUGIN_TRANSPORT,
    "tcp",
    "1.0.0",
    "TCP sockets with epoll: one authenticated connection per pair of nodes",
    params,
    sizeof params / sizeof params[0],
    probe,
    &ops,
    sizeof ops,
    DRAGON_TRANSPORT_INTERFACE_MAJOR,
    DRAGON_TRANSPORT_INTERFACE_MINOR,
    0,
    {},
};

} // namespace
} // namespace dragon::tcp

DRAGON_PLUGIN_DEFINE(dragon::tcp::descriptor)
