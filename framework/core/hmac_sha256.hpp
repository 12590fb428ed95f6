// SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104): how nodes prove the job secret to
// each other without sending it. Offered to plugins as dragon_host::hmac_sha256.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace dragon {

using Digest = std::array<unsigned char, 32>;

class Sha256 {
public:
    Sha256();
    void update(const void *data, size_t len);
    Digest finish();

private:
    void compress(const unsigned char *block);
    uint32_t state_[8];
    unsigned char buffer_[64];
    size_t buffered_ = 0;
    uint64_t total_bytes_ = 0;
};

Digest hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len);

// Compares two digests in time that does not depend on where they differ.
bool digests_equal(const unsigned char *a, const unsigned char *b, size_t len);

} // namespace dragon

extern "C" void dragon_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                                   unsigned char out[32]);
