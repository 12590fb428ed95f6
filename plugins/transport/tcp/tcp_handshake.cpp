#include "tcp_handshake.hpp"

#include <cstring>

namespace dragon::tcp {
namespace {

constexpr size_t kHelloSize = 12 + kNonceSize;
constexpr size_t kChallengeSize = 8 + kNonceSize;
constexpr size_t kWelcomeSize = 32;
constexpr size_t kProofSize = 32;

void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t get_u32(const uint8_t *p)
{
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

std::vector<uint8_t> frame(FrameType type, std::span<const uint8_t> payload)
{
    return encode_frame(type, {}, payload);
}

std::string node(uint32_t index)
{
    return "node " + std::to_string(index);
}

} // namespace

bool equal_in_constant_time(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < len; ++i)
        diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
    return diff == 0;
}

Handshake::Handshake(Role role, uint32_t self, uint32_t num_nodes, uint32_t peer,
                     std::span<const uint8_t> secret, HmacFn hmac, const Nonce &nonce)
    : role_(role), self_(self), num_nodes_(num_nodes), peer_(peer),
      peer_known_(role == Role::Connector), secret_(secret), hmac_(hmac), mine_(nonce),
      state_(role == Role::Connector ? State::Start : State::AwaitHello)
{
}

std::array<uint8_t, 32> Handshake::mac(bool acceptor_side) const
{
    static const char acceptor_label[] = "dragon-tcp-1 acceptor";
    static const char connector_label[] = "dragon-tcp-1 connector";
    const char *label = acceptor_side ? acceptor_label : connector_label;
    size_t label_len = acceptor_side ? sizeof acceptor_label - 1 : sizeof connector_label - 1;
    bool connector = role_ == Role::Connector;
    uint32_t c = connector ? self_ : peer_;
    uint32_t a = connector ? peer_ : self_;
    const Nonce &nc = connector ? mine_ : theirs_;
    const Nonce &na = connector ? theirs_ : mine_;
    uint8_t msg[32 + 8 + 2 * kNonceSize];
    std::memcpy(msg, label, label_len);
    size_t n = label_len;
    put_u32(msg + n, c);
    put_u32(msg + n + 4, a);
    n += 8;
    std::memcpy(msg + n, nc.data(), kNonceSize);
    std::memcpy(msg + n + kNonceSize, na.data(), kNonceSize);
    n += 2 * kNonceSize;
    std::array<uint8_t, 32> out{};
    hmac_(secret_.data(), secret_.size(), msg, n, out.data());
    return out;
}

Handshake::Step Handshake::failed(std::string reason, bool tell_peer)
{
    state_ = State::Failed;
    Step s;
    s.status = Status::Failed;
    if (tell_peer) {
        std::string text = reason.substr(0, kMaxHandshakePayload);
        s.reply = frame(FrameType::Refused,
                        {reinterpret_cast<const uint8_t *>(text.data()), text.size()});
    }
    s.reason = std::move(reason);
    return s;
}

std::vector<uint8_t> Handshake::start()
{
    if (state_ != State::Start)
        return {};
    uint8_t hello[kHelloSize];
    put_u32(hello, self_);
    put_u32(hello + 4, peer_);
    put_u32(hello + 8, num_nodes_);
    std::memcpy(hello + 12, mine_.data(), kNonceSize);
    state_ = State::AwaitChallenge;
    return frame(FrameType::Hello, hello);
}

Handshake::Step Handshake::on_frame(const FrameInfo &info, const uint8_t *payload)
{
    const auto type = static_cast<FrameType>(info.type);
    const size_t len = static_cast<size_t>(info.payload_len);
    if (state_ == State::Done || state_ == State::Failed || state_ == State::Start)
        return failed(std::string("unexpected ") + frame_type_name(info.type) +
                          " frame outside the handshake",
                      false);
    if (type == FrameType::Refused) {
        std::string text(reinterpret_cast<const char *>(payload), len);
        Step s = failed((peer_known_ ? node(peer_) : std::string("the peer")) +
                            " refused our proof of the job secret: " + text,
                        false);
        s.refused_by_peer = true;
        return s;
    }
    switch (state_) {
    case State::AwaitHello: {
        if (type != FrameType::Hello || len != kHelloSize)
            return failed(std::string("expected HELLO, got ") + frame_type_name(info.type) +
                              " of " + std::to_string(len) + " bytes",
                          true);
        uint32_t from = get_u32(payload), to = get_u32(payload + 4), n = get_u32(payload + 8);
        if (n != num_nodes_ || to != self_ || from >= num_nodes_ || from >= self_)
            return failed("HELLO from node " + std::to_string(from) + " to node " +
                              std::to_string(to) + " of " + std::to_string(n) + " does not fit " +
                              node(self_) + " of " + std::to_string(num_nodes_) +
                              " (only a lower index connects to a higher one)",
                          true);
        peer_ = from;
        peer_known_ = true;
        std::memcpy(theirs_.data(), payload + 12, kNonceSize);
        uint8_t challenge[kChallengeSize];
        put_u32(challenge, self_);
        put_u32(challenge + 4, peer_);
        std::memcpy(challenge + 8, mine_.data(), kNonceSize);
        state_ = State::AwaitProof;
        Step s;
        s.reply = frame(FrameType::Challenge, challenge);
        return s;
    }
    case State::AwaitChallenge: {
        if (type != FrameType::Challenge || len != kChallengeSize)
            return failed(std::string("expected CHALLENGE from ") + node(peer_) + ", got " +
                              frame_type_name(info.type) + " of " + std::to_string(len) + " bytes",
                          true);
        if (get_u32(payload) != peer_ || get_u32(payload + 4) != self_)
            return failed("CHALLENGE claims to come from node " + std::to_string(get_u32(payload)) +
                              " to node " + std::to_string(get_u32(payload + 4)) + ", expected " +
                              node(peer_) + " to " + node(self_),
                          true);
        std::memcpy(theirs_.data(), payload + 8, kNonceSize);
        auto proof = mac(false);
        state_ = State::AwaitWelcome;
        Step s;
        s.reply = frame(FrameType::Proof, proof);
        return s;
    }
    case State::AwaitProof: {
        if (type != FrameType::Proof || len != kProofSize)
            return failed(std::string("expected PROOF from ") + node(peer_) + ", got " +
                              frame_type_name(info.type) + " of " + std::to_string(len) + " bytes",
                          true);
        auto expected = mac(false);
        if (!equal_in_constant_time(expected.data(), payload, expected.size()))
            return failed(node(peer_) + " failed to prove the job secret (one of us has the "
                                        "wrong job secret, the proof was replayed, or it is "
                                        "not a node of this job)",
                          true);
        auto proof = mac(true);
        state_ = State::Done;
        Step s;
        s.status = Status::Done;
        s.reply = frame(FrameType::Welcome, proof);
        return s;
    }
    case State::AwaitWelcome: {
        if (type != FrameType::Welcome || len != kWelcomeSize)
            return failed(std::string("expected WELCOME from ") + node(peer_) + ", got " +
                              frame_type_name(info.type) + " of " + std::to_string(len) + " bytes",
                          true);
        auto expected = mac(true);
        if (!equal_in_constant_time(expected.data(), payload, expected.size()))
            return failed(node(peer_) + " accepted our proof but failed to prove the job secret "
                                        "itself (an impostor?)",
                          true);
        state_ = State::Done;
        Step s;
        s.status = Status::Done;
        return s;
    }
    default: break;
    }
    return failed("handshake in an impossible state", false);
}

} // namespace dragon::tcp
