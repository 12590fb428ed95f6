// The job-secret proof of the handshake. Each side challenges the other with a fresh
// nonce (HELLO); the answer (PROOF) is HMAC-SHA-256 under the job secret of a label,
// the prover's and the verifier's node indices, and both nonces. Binding the indices
// and the direction means a proof cannot be reflected back or replayed toward another
// node; the verifier's fresh nonce means an old proof never answers a new challenge.
#pragma once

#include "hsta_wire.hpp"

#include <dragon/plugin.h>

namespace hsta {

void make_nonce(unsigned char out[kNonceSize]);

void compute_proof(const dragon_host *host, const void *secret, size_t secret_len, uint32_t prover,
                   uint32_t verifier, const unsigned char verifier_nonce[kNonceSize],
                   const unsigned char prover_nonce[kNonceSize], unsigned char out[kMacSize]);

// Constant time: how long it takes says nothing about where a wrong proof differs.
bool same_mac(const unsigned char a[kMacSize], const unsigned char b[kMacSize]);

} // namespace hsta
