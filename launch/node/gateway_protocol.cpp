#include "gateway_protocol.hpp"

#include <algorithm>
#include <cstring>

namespace dragon::node {
namespace {

// Request frame body: u8 op | u8 flags | u16 descriptor length | u32 target node |
// u64 id | i64 timeout_ns | descriptor | payload.
constexpr size_t request_fixed = client_request_fixed;
// Reply frame: u32 length | i32 status | u16 text length | u16 flags | u64 id |
// i64 value | text | payload.
constexpr size_t reply_fixed = 24;

template <typename T> T load(const char *p)
{
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

template <typename T> void append(std::string &out, T v)
{
    out.append(reinterpret_cast<const char *>(&v), sizeof v);
}

} // namespace

const char *op_name(GatewayOp op)
{
    switch (op) {
    case GatewayOp::send: return "send";
    case GatewayOp::recv: return "recv";
    case GatewayOp::poll: return "poll";
    case GatewayOp::size: return "size";
    case GatewayOp::sem_acquire: return "acquire";
    case GatewayOp::sem_release: return "release";
    case GatewayOp::sem_value: return "get_value";
    case GatewayOp::attach: return "attach";
    case GatewayOp::detach: return "detach";
    case GatewayOp::transit: return "transit";
    case GatewayOp::destroy: return "destroy";
    case GatewayOp::start: return "start";
    case GatewayOp::signal: return "signal";
    case GatewayOp::mem_read: return "memory read";
    case GatewayOp::mem_write: return "memory write";
    case GatewayOp::mem_read_locked: return "memory read under its lock";
    case GatewayOp::mem_write_locked: return "memory write under its lock";
    }
    return "unknown";
}

std::optional<ClientRequest> parse_client_request(std::string_view body, std::string &why)
{
    if (body.size() < request_fixed) {
        why = "a request of " + std::to_string(body.size()) + " bytes (the header alone is " +
              std::to_string(request_fixed) + ")";
        return std::nullopt;
    }
    const char *p = body.data();
    ClientRequest r;
    auto op = load<uint8_t>(p);
    if (op < 1 || op > uint8_t(GatewayOp::last)) {
        why = "unknown operation " + std::to_string(op);
        return std::nullopt;
    }
    r.op = GatewayOp(op);
    r.flags = load<uint8_t>(p + 1);
    auto dlen = load<uint16_t>(p + 2);
    r.target_node = load<uint32_t>(p + 4);
    r.id = load<uint64_t>(p + 8);
    r.timeout_ns = load<int64_t>(p + 16);
    if (dlen > max_descriptor || request_fixed + dlen > body.size()) {
        why = "a descriptor of " + std::to_string(dlen) + " bytes";
        return std::nullopt;
    }
    r.descriptor.assign(p + request_fixed, dlen);
    r.payload.assign(p + request_fixed + dlen, body.size() - request_fixed - dlen);
    return r;
}

std::string encode_client_reply(const GatewayReply &reply, size_t bytes_after)
{
    std::string out;
    size_t text_len = std::min<size_t>(reply.text.size(), UINT16_MAX);
    out.reserve(frame_prefix + reply_fixed + text_len + reply.payload.size());
    append<uint32_t>(out, uint32_t(reply_fixed + text_len + reply.payload.size() + bytes_after));
    append<int32_t>(out, reply.status);
    append<uint16_t>(out, uint16_t(std::min<size_t>(reply.text.size(), UINT16_MAX)));
    append<uint16_t>(out, reply.flags);
    append<uint64_t>(out, reply.id);
    append<int64_t>(out, reply.value);
    out.append(reply.text, 0, std::min<size_t>(reply.text.size(), UINT16_MAX));
    out += reply.payload;
    return out;
}

std::string encode_peer_header(const PeerHeader &header, std::string_view descriptor)
{
    PeerHeader h = header;
    h.descriptor_len = uint16_t(descriptor.size());
    std::string out(reinterpret_cast<const char *>(&h), sizeof h);
    out += descriptor;
    return out;
}

std::optional<PeerHeader> parse_peer_header(const void *data, size_t len, std::string &descriptor,
                                            std::string &why)
{
    PeerHeader h;
    if (len < sizeof h) {
        why = "a gateway header of " + std::to_string(len) + " bytes";
        return std::nullopt;
    }
    std::memcpy(&h, data, sizeof h);
    if (h.magic != PeerHeader{}.magic || h.descriptor_len > max_descriptor ||
        sizeof h + h.descriptor_len != len || uint8_t(h.op) > uint8_t(GatewayOp::last)) {
        why = "a malformed gateway header";
        return std::nullopt;
    }
    descriptor.assign(static_cast<const char *>(data) + sizeof h, h.descriptor_len);
    return h;
}

} // namespace dragon::node
