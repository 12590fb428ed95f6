#include "hsta_proof.hpp"

#include <cerrno>
#include <stdexcept>
#include <sys/random.h>

namespace hsta {

void make_nonce(unsigned char out[kNonceSize])
{
    size_t got = 0;
    while (got < kNonceSize) {
        ssize_t n = getrandom(out + got, kNonceSize - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            // The kernel's random source failing leaves no safe way to challenge a peer.
            throw std::runtime_error("getrandom failed");
        }
        got += static_cast<size_t>(n);
    }
}

void compute_proof(const dragon_host *host, const void *secret, size_t secret_len, uint32_t prover,
                   uint32_t verifier, const unsigned char verifier_nonce[kNonceSize],
                   const unsigned char prover_nonce[kNonceSize], unsigned char out[kMacSize])
{
    static const char label[] = "dragon-hsta-proof-v1";
    unsigned char msg[sizeof label + 8 + 2 * kNonceSize];
    size_t n = 0;
    std::memcpy(msg + n, label, sizeof label);
    n += sizeof label;
    std::memcpy(msg + n, &prover, 4);
    n += 4;
    std::memcpy(msg + n, &verifier, 4);
    n += 4;
    std::memcpy(msg + n, verifier_nonce, kNonceSize);
    n += kNonceSize;
    std::memcpy(msg + n, prover_nonce, kNonceSize);
    n += kNonceSize;
    host->hmac_sha256(secret, secret_len, msg, n, out);
}

bool same_mac(const unsigned char a[kMacSize], const unsigned char b[kMacSize])
{
    unsigned char diff = 0;
    for (size_t i = 0; i < kMacSize; ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

} // namespace hsta
