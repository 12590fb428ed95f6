// Self-checking messages for the multi-process stress tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace dragon::test {

struct StressHeader {
    uint32_t sender;
    uint32_t seq;
    uint32_t length;   // whole message
    uint32_t checksum; // of the body
};

inline uint32_t stress_body_byte(uint32_t sender, uint32_t seq, size_t i)
{
    return uint32_t((sender * 131 + seq * 7 + i * 13) & 0xff);
}

// Mostly small (inline) messages, every 37th a large one handed over as a pool block.
inline std::string make_stress_message(uint32_t sender, uint32_t seq)
{
    size_t length = seq % 37 == 0 ? 2000 + (seq * 977) % 30000 : sizeof(StressHeader) + seq % 90;
    std::string m(length, '\0');
    uint32_t sum = 0;
    for (size_t i = sizeof(StressHeader); i < length; ++i) {
        m[i] = char(stress_body_byte(sender, seq, i));
        sum = sum * 31 + uint8_t(m[i]);
    }
    StressHeader h{sender, seq, uint32_t(length), sum};
    std::memcpy(m.data(), &h, sizeof h);
    return m;
}

// The header of an intact message, or false if it is corrupt.
inline bool check_stress_message(const std::byte *data, size_t size, StressHeader &h)
{
    if (size < sizeof h)
        return false;
    std::memcpy(&h, data, sizeof h);
    if (h.length != size)
        return false;
    uint32_t sum = 0;
    for (size_t i = sizeof h; i < size; ++i) {
        if (uint8_t(data[i]) != stress_body_byte(h.sender, h.seq, i))
            return false;
        sum = sum * 31 + uint8_t(data[i]);
    }
    return sum == h.checksum;
}

} // namespace dragon::test
