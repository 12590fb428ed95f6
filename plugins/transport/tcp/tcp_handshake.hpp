// The tcp transport's handshake: mutual challenge and response over fresh nonces, so
// that each side proves it knows the job secret without sending it. Pure logic (bytes
// in, bytes out) that the endpoint, the unit tests and the fuzzer share.
//
//   connector (lower node index)            acceptor (higher node index)
//   HELLO     {from, to, num_nodes, Nc}  ->
//                                        <-  CHALLENGE {from, to, Na}
//   PROOF     {MACc}                     ->
//                                        <-  WELCOME   {MACa}   (or REFUSED {reason})
//   MACc = HMAC-SHA-256(secret, "dragon-tcp-1 connector" | c | a | Nc | Na)
//   MACa = HMAC-SHA-256(secret, "dragon-tcp-1 acceptor"  | c | a | Nc | Na)
// c and a are the two node indices (u32 little-endian), Nc and Na 32-byte nonces from
// getrandom. The connector proves first, so an acceptor never hands a MAC to a peer
// that has not proven the secret, and a connector with the wrong secret hears that its
// proof was refused; the connector then checks the acceptor's MAC in WELCOME. Distinct
// labels stop a reflected proof; the fresh nonces stop a replayed one.
#pragma once

#include "tcp_wire.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace dragon::tcp {

using HmacFn = void (*)(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        unsigned char out[32]);

constexpr size_t kNonceSize = 32;
using Nonce = std::array<uint8_t, kNonceSize>;

class Handshake {
public:
    enum class Role { Connector, Acceptor };
    enum class Status { Continue, Done, Failed };
    struct Step {
        Status status = Status::Continue;
        std::vector<uint8_t> reply; // a whole frame to send, or empty
        std::string reason;         // when Failed
        bool refused_by_peer = false;
    };

    // `peer` is the node a connector dials (an acceptor learns it from HELLO). The
    // secret must outlive the handshake.
    Handshake(Role role, uint32_t self, uint32_t num_nodes, uint32_t peer,
              std::span<const uint8_t> secret, HmacFn hmac, const Nonce &nonce);

    // The connector's HELLO frame (empty for an acceptor).
    std::vector<uint8_t> start();
    // One handshake frame from the peer (payload of info.payload_len bytes).
    Step on_frame(const FrameInfo &info, const uint8_t *payload);

    Role role() const { return role_; }
    // The peer's node index (an acceptor knows it once HELLO checked out).
    uint32_t peer() const { return peer_; }
    bool peer_known() const { return peer_known_; }
    bool done() const { return state_ == State::Done; }

private:
    enum class State { Start, AwaitHello, AwaitChallenge, AwaitProof, AwaitWelcome, Done, Failed };
    std::array<uint8_t, 32> mac(bool acceptor_side) const;
    Step failed(std::string reason, bool tell_peer);

    Role role_;
    uint32_t self_, num_nodes_, peer_;
    bool peer_known_;
    std::span<const uint8_t> secret_;
    HmacFn hmac_;
    Nonce mine_{}, theirs_{};
    State state_;
};

// Compares in time independent of where the bytes differ.
bool equal_in_constant_time(const uint8_t *a, const uint8_t *b, size_t len);

} // namespace dragon::tcp
