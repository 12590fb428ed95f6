// What hsta puts on the wire besides the framework's own bytes: the active-message ids
// and the fixed little headers of the handshake and of data messages. Every field is
// copied in and out with memcpy (no packed structs, no alignment assumptions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

namespace hsta {

// Active-message ids registered on every worker.
enum AmId : unsigned {
    AM_DATA = 1,    // [DataPrefix][framework header] + payload
    AM_CONTROL = 2, // a Control header, no payload
};

// What a control message says.
enum ControlType : uint8_t {
    HELLO = 1,   // value: a fresh nonce (the challenge to the receiver)
    PROOF = 2,   // value: the HMAC answering the receiver's challenge
    VERDICT = 3, // value[0]: the receiver's proof was accepted (1) or refused (0)
    BYE = 4,     // the sender closes its endpoint after everything it sent before
    BYE_ACK = 5, // everything up to the receiver's BYE arrived here: it may tear down
};

constexpr uint32_t kMagic = 0x48535441; // "HSTA"
constexpr uint16_t kVersion = 1;
constexpr size_t kNonceSize = 32;
constexpr size_t kMacSize = 32;

// Prefix of every data message: who sends it (checked against the endpoint it came on).
constexpr size_t kDataPrefix = sizeof(uint32_t);

// One handshake or close message.
struct Control {
    uint8_t type = 0;
    uint32_t from = 0;
    uint32_t to = 0;
    unsigned char value[kNonceSize] = {};
};

constexpr size_t kControlSize = 4 + 2 + 1 + 1 + 4 + 4 + kNonceSize;

inline void encode(const Control &c, unsigned char out[kControlSize])
{
    std::memcpy(out, &kMagic, 4);
    std::memcpy(out + 4, &kVersion, 2);
    out[6] = c.type;
    out[7] = 0;
    std::memcpy(out + 8, &c.from, 4);
    std::memcpy(out + 12, &c.to, 4);
    std::memcpy(out + 16, c.value, kNonceSize);
}

// Nothing when the bytes are not a control message of this version.
inline std::optional<Control> decode(const void *data, size_t len)
{
    if (data == nullptr || len != kControlSize)
        return std::nullopt;
    const auto *p = static_cast<const unsigned char *>(data);
    uint32_t magic;
    uint16_t version;
    std::memcpy(&magic, p, 4);
    std::memcpy(&version, p + 4, 2);
    if (magic != kMagic || version != kVersion || p[6] < HELLO || p[6] > BYE_ACK)
        return std::nullopt;
    Control c;
    c.type = p[6];
    std::memcpy(&c.from, p + 8, 4);
    std::memcpy(&c.to, p + 12, 4);
    std::memcpy(c.value, p + 16, kNonceSize);
    return c;
}

} // namespace hsta
