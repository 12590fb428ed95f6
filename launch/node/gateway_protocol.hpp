// The gateway's two wire formats: a process and its own dragon-node (frames on a
// UNIX stream socket), and dragon-node to dragon-node (one transport message per
// request or reply). Channels of another node are reached this way: the process
// asks its node, its node asks the owner's node, which performs the operation on
// the channel in its shared memory and answers with the true outcome.
//
// Both formats are little-endian, fixed headers followed by the descriptor and the
// payload. A reply's error text travels at the front of its payload (text_len).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dragon::node {

enum class GatewayOp : uint8_t {
    send = 1,    // payload: the message; blocks while a bounded channel is full
    recv,        // reply payload: the message
    poll,        // value: 1 if a message waits (waits up to the timeout for one)
    size,        // value: messages waiting
    sem_acquire, // value: 1 taken, 0 timed out
    sem_release, // value: 1 released, 0 already at its maximum
    sem_value,   // value: the count
    attach,      // descriptor: a transit descriptor; takes a reference for the process
    detach,      // gives back what attach took (no reply)
    transit,     // reply payload: a transit descriptor the owner holds for the receiver
    destroy,     // marks the channel destroyed
    start,       // starts a process on the target node (payload: see process_start)
    signal,      // value: the signal; descriptor: the pid on the target node
    mem_read,    // memory channel: payload u64 offset, u64 length; reply payload: the bytes
    mem_write,   // memory channel: payload u64 offset, then the bytes to write there
    // As mem_read and mem_write, with the semaphore channel of the payload's front
    // (u16 length, its descriptor) taken around the access: a Value's lock and
    // read in one request. Waits (with the deadline) for the lock.
    mem_read_locked,
    mem_write_locked,
    last = mem_write_locked
};

const char *op_name(GatewayOp op);

// -- process <-> its node: frames on the gateway socket --------------------------

inline constexpr size_t frame_prefix = 4; // u32 length of the rest

// A payload that is a block of the node's pool: 16 bytes (u64 handle, u64 length)
// instead of the bytes. Large messages travel so, from and to the process, with one
// copy on each node; whoever receives such a payload owns the block.
inline constexpr uint8_t payload_is_block = 1;

// A request's fixed part (after the length prefix); its u16 descriptor length is at
// offset 2, and the descriptor follows the fixed part.
inline constexpr size_t client_request_fixed = 24;

struct ClientRequest {
    GatewayOp op{};
    uint8_t flags = 0;
    uint32_t target_node = 0;
    uint64_t id = 0;
    int64_t timeout_ns = -1; // -1: no deadline
    std::string descriptor;
    std::string payload;
    // A large payload received straight into a pool block (a lane's send), instead of
    // `payload`; whoever takes the request owns the block.
    void *block = nullptr;
    size_t block_len = 0;
};

struct GatewayReply {
    uint64_t id = 0;
    uint16_t flags = 0;
    int32_t status = 0; // a dragon_status
    int64_t value = 0;
    std::string text;    // the error, when status != DRAGON_OK
    std::string payload; // a received message, a transit descriptor
};

// Parses one request frame body (after the length prefix); nullopt with `why` set if
// it is malformed.
std::optional<ClientRequest> parse_client_request(std::string_view body, std::string &why);
// A whole reply frame, length prefix included.
// With `bytes_after`: the frame's length counts that many more payload bytes, which
// the caller sends right after it (a large message, from where it lies).
std::string encode_client_reply(const GatewayReply &reply, size_t bytes_after = 0);

// -- node <-> node: one transport message each ----------------------------------

enum class PeerKind : uint8_t {
    request = 1,  // a process of the sending node asks for an operation here
    reply,        // the answer to one of our requests
    cancel,       // the requester gave up (its process went away): drop it if pending
    process_gone, // a process of the sending node is gone: release what it held here
    exited,       // a process started for the receiving node ended (value: exit code)
    heartbeat     // nothing else to say: every message shows the sender alive
};

struct PeerHeader {
    uint32_t magic = 0x44475731; // "DGW1"
    PeerKind kind{};
    GatewayOp op{};
    uint16_t descriptor_len = 0;
    uint32_t origin_pid = 0; // the requesting process, on the sending node
    int32_t status = 0;
    uint64_t id = 0;   // the requester's id (unique within its node)
    int64_t value = 0; // timeout_ns in a request; the value in a reply
    uint32_t text_len = 0;
    uint32_t reserved = 0;
};
static_assert(sizeof(PeerHeader) == 40);

// The header plus the descriptor (at most max_descriptor bytes).
inline constexpr size_t max_descriptor = 200;
std::string encode_peer_header(const PeerHeader &header, std::string_view descriptor);
// nullopt (with `why`) if malformed.
std::optional<PeerHeader> parse_peer_header(const void *data, size_t len, std::string &descriptor,
                                            std::string &why);

} // namespace dragon::node
