// The framed message send_parts() writes, read back by dragon.reduction:
//   byte 0: tag (1), bytes 8..15: part count n (little-endian u64),
//   then n u64 part lengths, then each part at the next 64-byte boundary.
// Aligned parts keep numpy arrays built on the received block aligned. A plain
// pickle stream starts with 0x80 (PROTO), so the tag tells the two apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace dragon::py_module {

class PartsLayout {
public:
    static constexpr uint8_t tag = 1;

    explicit PartsLayout(std::vector<size_t> sizes) : sizes_(std::move(sizes))
    {
        size_t at = align(16 + 8 * sizes_.size());
        for (size_t s : sizes_) {
            offsets_.push_back(at);
            at = align(at + s);
        }
        total_ = at;
    }

    size_t total() const { return total_; }
    size_t offset(size_t i) const { return offsets_[i]; }

    void write_header(std::byte *base) const
    {
        std::memset(base, 0, 16);
        base[0] = std::byte{tag};
        uint64_t n = sizes_.size();
        std::memcpy(base + 8, &n, 8);
        for (size_t i = 0; i < sizes_.size(); ++i) {
            uint64_t len = sizes_[i];
            std::memcpy(base + 16 + 8 * i, &len, 8);
        }
    }

private:
    static size_t align(size_t n) { return (n + 63) / 64 * 64; }
    std::vector<size_t> sizes_, offsets_;
    size_t total_ = 0;
};

} // namespace dragon::py_module
