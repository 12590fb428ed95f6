// libFuzzer target for the tcp transport's socket-free layer: the frame reader (any
// chunking, placing or discarding large payloads), the handshake state machine on both
// sides driven through the reader as the endpoint drives it, and the address parsers.
// Built and run by ci/fuzz.sh; the seed corpus is beside this file.
//
// Input: byte 0 picks the mode (and flags), bytes 1-2 the chunk pattern, the rest is
// the byte stream as it would arrive from a socket.
#include "tcp_address.hpp"
#include "tcp_handshake.hpp"
#include "tcp_wire.hpp"

#include "core/hmac_sha256.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

using namespace dragon::tcp;

namespace {

const uint8_t secret[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                            17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

// Large payloads at most this big are placed into a buffer (and checked); larger ones
// are discarded, as the endpoint does when the framework passes no buffer.
constexpr uint64_t kPlaceLimit = 1 << 20;

struct Run {
    FrameReader reader{4096}; // a small eager threshold reaches the large path cheaply
    std::optional<Handshake> hs;
    std::vector<uint8_t> target;
    bool place_large = true;
    size_t frames = 0;

    // Returns false once the stream must be closed.
    bool drain()
    {
        while (true) {
            RxEvent ev = reader.next();
            switch (ev.kind) {
            case RxKind::None: return true;
            case RxKind::Error:
                if (ev.error.empty())
                    __builtin_trap(); // every refusal carries a reason
                return false;
            case RxKind::Frame:
                if (ev.info.header_len > kMaxHeader)
                    __builtin_trap();
                if (!reader.authenticated()) {
                    if (!hs)
                        return false;
                    auto step = hs->on_frame(ev.info, ev.payload);
                    if (step.status == Handshake::Status::Failed) {
                        if (step.reason.empty())
                            __builtin_trap();
                        return false;
                    }
                    if (step.status == Handshake::Status::Done)
                        reader.set_authenticated();
                } else {
                    // Touch every byte the reader says is there (ASan checks the bounds).
                    volatile uint8_t sum = 0;
                    for (size_t i = 0; i < ev.info.header_len; ++i)
                        sum = static_cast<uint8_t>(sum + ev.header[i]);
                    for (size_t i = 0; i < ev.info.payload_len; ++i)
                        sum = static_cast<uint8_t>(sum + ev.payload[i]);
                    if (ev.info.type == static_cast<uint8_t>(FrameType::Bye))
                        return false;
                }
                ++frames;
                break;
            case RxKind::LargeStart:
                if (!reader.authenticated() || ev.info.payload_len <= reader.eager_threshold())
                    __builtin_trap();
                if (place_large && ev.info.payload_len <= kPlaceLimit) {
                    target.assign(ev.info.payload_len, 0);
                    reader.place(target.data());
                } else {
                    reader.place(nullptr);
                }
                break;
            case RxKind::LargeDone: ++frames; break;
            }
        }
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const uint8_t mode = data[0];
    const size_t chunk_a = 1 + data[1], chunk_b = 1 + size_t(data[2]) * 97;
    data += 3;
    size -= 3;

    if ((mode & 3) == 3) {
        // Address and CIDR parsers.
        std::string text(reinterpret_cast<const char *>(data), size);
        Cidr c;
        parse_cidr(text, c);
        uint16_t port = 0;
        std::vector<uint32_t> addrs;
        if (decode_address(data, size, port, addrs).empty() && (addrs.empty() || port == 0))
            __builtin_trap();
        return 0;
    }

    Run run;
    run.place_large = (mode & 4) == 0;
    if ((mode & 3) == 0) {
        run.reader.set_authenticated(); // a connection past its handshake
    } else {
        Nonce n{};
        n.fill(0x5a);
        auto role = (mode & 3) == 1 ? Handshake::Role::Acceptor : Handshake::Role::Connector;
        // Node 1 of 3: accepts from node 0, dials node 2.
        run.hs.emplace(role, 1, 3, 2, std::span<const uint8_t>(secret), dragon_hmac_sha256, n);
        run.hs->start();
    }
    size_t pos = 0, round = 0;
    while (pos < size) {
        if (!run.drain())
            return 0;
        auto w = run.reader.read_window();
        if (w.empty())
            __builtin_trap(); // never stuck while healthy
        size_t chunk = (round++ & 1) ? chunk_b : chunk_a;
        size_t n = std::min({w.size(), chunk, size - pos});
        std::memcpy(w.data(), data + pos, n);
        run.reader.commit(n);
        pos += n;
    }
    run.drain();
    return 0;
}
