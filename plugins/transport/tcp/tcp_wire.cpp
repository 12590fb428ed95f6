#include "tcp_wire.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace dragon::tcp {
namespace {

void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
}

void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint16_t get_u16(const uint8_t *p)
{
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

bool is_handshake(uint8_t type)
{
    return type >= static_cast<uint8_t>(FrameType::Hello) &&
           type <= static_cast<uint8_t>(FrameType::Refused);
}

// Room for the largest frame the parser must see whole: prefix, header, eager payload.
size_t inline_frame_max(size_t eager)
{
    return kPrefixSize + kMaxHeader + eager;
}

} // namespace

const char *frame_type_name(uint8_t type)
{
    switch (static_cast<FrameType>(type)) {
    case FrameType::Hello: return "HELLO";
    case FrameType::Challenge: return "CHALLENGE";
    case FrameType::Proof: return "PROOF";
    case FrameType::Welcome: return "WELCOME";
    case FrameType::Refused: return "REFUSED";
    case FrameType::Data: return "DATA";
    case FrameType::Bye: return "BYE";
    }
    return "unknown";
}

void encode_prefix(uint8_t *out, FrameType type, uint16_t header_len, uint64_t payload_len)
{
    put_u32(out, kMagic);
    out[4] = kVersion;
    out[5] = static_cast<uint8_t>(type);
    put_u16(out + 6, header_len);
    put_u64(out + 8, payload_len);
    put_u32(out + 16, 0);
}

std::vector<uint8_t> encode_frame(FrameType type, std::span<const uint8_t> header,
                                  std::span<const uint8_t> payload)
{
    std::vector<uint8_t> out(kPrefixSize + header.size() + payload.size());
    encode_prefix(out.data(), type, static_cast<uint16_t>(header.size()), payload.size());
    std::copy(header.begin(), header.end(), out.begin() + kPrefixSize);
    std::copy(payload.begin(), payload.end(),
              out.begin() + static_cast<std::ptrdiff_t>(kPrefixSize + header.size()));
    return out;
}

std::string decode_prefix(const uint8_t *in, bool authenticated, FrameInfo &out)
{
    char why[160];
    uint32_t magic = get_u32(in);
    if (magic != kMagic) {
        std::snprintf(why, sizeof why,
                      "bad magic 0x%08x (expected 0x%08x): not a dragon tcp transport stream",
                      magic, kMagic);
        return why;
    }
    if (in[4] != kVersion) {
        std::snprintf(why, sizeof why,
                      "protocol version %u, this node speaks %u: run the same dragon everywhere",
                      in[4], kVersion);
        return why;
    }
    out.type = in[5];
    out.header_len = get_u16(in + 6);
    out.payload_len = get_u64(in + 8);
    if (get_u32(in + 16) != 0)
        return "reserved prefix field is not zero";
    if (out.type < static_cast<uint8_t>(FrameType::Hello) ||
        out.type > static_cast<uint8_t>(FrameType::Bye)) {
        std::snprintf(why, sizeof why, "unknown frame type %u", out.type);
        return why;
    }
    if (!authenticated) {
        if (!is_handshake(out.type)) {
            std::snprintf(why, sizeof why, "%s frame before the handshake completed",
                          frame_type_name(out.type));
            return why;
        }
        if (out.header_len != 0 || out.payload_len > kMaxHandshakePayload) {
            std::snprintf(why, sizeof why,
                          "oversized %s handshake frame (header %u, payload %llu bytes)",
                          frame_type_name(out.type), out.header_len,
                          static_cast<unsigned long long>(out.payload_len));
            return why;
        }
        return "";
    }
    if (is_handshake(out.type)) {
        std::snprintf(why, sizeof why, "%s handshake frame after the handshake completed",
                      frame_type_name(out.type));
        return why;
    }
    if (out.type == static_cast<uint8_t>(FrameType::Bye) &&
        (out.header_len != 0 || out.payload_len != 0))
        return "BYE frame with a header or payload";
    if (out.header_len > kMaxHeader) {
        std::snprintf(why, sizeof why, "header of %u bytes exceeds the limit of %zu",
                      out.header_len, kMaxHeader);
        return why;
    }
    if (out.payload_len > kMaxPayload) {
        std::snprintf(why, sizeof why, "payload length %llu exceeds the limit of %llu",
                      static_cast<unsigned long long>(out.payload_len),
                      static_cast<unsigned long long>(kMaxPayload));
        return why;
    }
    return "";
}

FrameReader::FrameReader(size_t eager_threshold)
    : eager_(eager_threshold),
      buf_(std::max<size_t>(256 * 1024, 2 * inline_frame_max(eager_threshold))), scratch_(64 * 1024)
{
}

RxEvent FrameReader::fail(std::string reason)
{
    state_ = State::Failed;
    RxEvent ev;
    ev.kind = RxKind::Error;
    ev.error = std::move(reason);
    return ev;
}

std::span<uint8_t> FrameReader::read_window()
{
    window_direct_ = false;
    if (state_ == State::Failed || state_ == State::AwaitPlace)
        return {};
    if (state_ == State::Payload && buffered() == 0) {
        uint64_t remaining = large_.payload_len - placed_;
        if (remaining == 0)
            return {};
        window_direct_ = true;
        if (target_)
            return {target_ + placed_, static_cast<size_t>(remaining)};
        return {scratch_.data(),
                static_cast<size_t>(std::min<uint64_t>(remaining, scratch_.size()))};
    }
    if (begin_ == end_) {
        begin_ = end_ = 0;
    } else if (begin_ > 0 && buf_.size() - end_ < inline_frame_max(eager_)) {
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    return {buf_.data() + end_, buf_.size() - end_};
}

void FrameReader::commit(size_t n)
{
    if (window_direct_)
        placed_ += n;
    else
        end_ += n;
    window_direct_ = false;
}

void FrameReader::place(uint8_t *target)
{
    if (state_ != State::AwaitPlace)
        return;
    target_ = target;
    placed_ = 0;
    state_ = State::Payload;
}

RxEvent FrameReader::next()
{
    RxEvent ev;
    switch (state_) {
    case State::Failed:
    case State::AwaitPlace: return ev;
    case State::Payload: {
        size_t n =
            static_cast<size_t>(std::min<uint64_t>(buffered(), large_.payload_len - placed_));
        if (n > 0) {
            if (target_)
                std::memcpy(target_ + placed_, buf_.data() + begin_, n);
            begin_ += n;
            placed_ += n;
        }
        if (placed_ < large_.payload_len)
            return ev;
        state_ = State::Prefix;
        target_ = nullptr;
        ev.kind = RxKind::LargeDone;
        ev.info = large_;
        return ev;
    }
    case State::Prefix: break;
    }
    if (buffered() < kPrefixSize)
        return ev;
    FrameInfo info;
    std::string bad = decode_prefix(buf_.data() + begin_, authenticated_, info);
    if (!bad.empty())
        return fail(std::move(bad));
    const uint8_t *header = buf_.data() + begin_ + kPrefixSize;
    // Handshake frames are tiny (decode_prefix bounds them) and always read whole.
    if (info.payload_len <= eager_ || !authenticated_) {
        size_t need = kPrefixSize + info.header_len + static_cast<size_t>(info.payload_len);
        if (buffered() < need)
            return ev;
        ev.kind = RxKind::Frame;
        ev.info = info;
        ev.header = header;
        ev.payload = header + info.header_len;
        begin_ += need;
        return ev;
    }
    if (buffered() < kPrefixSize + info.header_len)
        return ev;
    ev.kind = RxKind::LargeStart;
    ev.info = info;
    ev.header = header;
    begin_ += kPrefixSize + info.header_len;
    large_ = info;
    placed_ = 0;
    target_ = nullptr;
    state_ = State::AwaitPlace;
    return ev;
}

} // namespace dragon::tcp
