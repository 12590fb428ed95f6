// The tcp transport's socket-free layer: frame prefix, incremental reader, handshake
// and addresses. Every kind of bad input must be refused with a reason.
#include "tcp_address.hpp"
#include "tcp_handshake.hpp"
#include "tcp_wire.hpp"

#include "core/hmac_sha256.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <string>

using namespace dragon::tcp;

namespace {

std::vector<uint8_t> bytes(const std::string &s)
{
    return {s.begin(), s.end()};
}

// Feeds `data` to the reader `chunk` bytes at a time and collects the events.
struct Collected {
    std::vector<RxEvent> events;
    std::vector<std::string> headers, payloads;
};

Collected feed(FrameReader &r, const std::vector<uint8_t> &data, size_t chunk,
               std::vector<uint8_t> *large_target = nullptr)
{
    Collected out;
    size_t pos = 0;
    auto drain = [&] {
        while (true) {
            RxEvent ev = r.next();
            if (ev.kind == RxKind::None)
                return;
            if (ev.kind == RxKind::Frame || ev.kind == RxKind::LargeStart) {
                out.headers.emplace_back(reinterpret_cast<const char *>(ev.header),
                                         ev.info.header_len);
                if (ev.kind == RxKind::Frame)
                    out.payloads.emplace_back(reinterpret_cast<const char *>(ev.payload),
                                              ev.info.payload_len);
            }
            if (ev.kind == RxKind::LargeStart) {
                if (large_target) {
                    large_target->assign(ev.info.payload_len, 0);
                    r.place(large_target->data());
                } else {
                    r.place(nullptr);
                }
            }
            out.events.push_back(ev);
            if (ev.kind == RxKind::Error)
                return;
        }
    };
    while (pos < data.size() && !r.failed()) {
        drain();
        if (r.failed())
            break;
        auto w = r.read_window();
        size_t n = std::min({w.size(), chunk, data.size() - pos});
        std::memcpy(w.data(), data.data() + pos, n);
        r.commit(n);
        pos += n;
    }
    drain();
    return out;
}

std::vector<uint8_t> data_frame(const std::string &header, const std::string &payload)
{
    return encode_frame(FrameType::Data, bytes(header), bytes(payload));
}

std::vector<uint8_t> raw_prefix(uint32_t magic, uint8_t version, uint8_t type, uint16_t hlen,
                                uint64_t plen, uint32_t reserved = 0)
{
    std::vector<uint8_t> p(kPrefixSize);
    std::memcpy(p.data(), &magic, 4); // the tests run on little-endian hosts
    p[4] = version;
    p[5] = type;
    std::memcpy(p.data() + 6, &hlen, 2);
    std::memcpy(p.data() + 8, &plen, 8);
    std::memcpy(p.data() + 16, &reserved, 4);
    return p;
}

std::string first_error(const std::vector<uint8_t> &data, bool authenticated)
{
    FrameReader r(64 * 1024);
    if (authenticated)
        r.set_authenticated();
    auto c = feed(r, data, 7);
    for (auto &e : c.events)
        if (e.kind == RxKind::Error)
            return e.error;
    return "";
}

} // namespace

TEST(TcpWire, PrefixMatchesTheDocumentedLayout)
{
    uint8_t p[kPrefixSize];
    encode_prefix(p, FrameType::Data, 0x0102, 0x0000000304050607ull);
    const uint8_t expected[kPrefixSize] = {'D',  'R',  'G',  'T', 1, 6, 0x02, 0x01, 0x07, 0x06,
                                           0x05, 0x04, 0x03, 0,   0, 0, 0,    0,    0,    0};
    EXPECT_EQ(0, std::memcmp(p, expected, kPrefixSize));
    FrameInfo info;
    EXPECT_EQ("", decode_prefix(p, true, info));
    EXPECT_EQ(6, info.type);
    EXPECT_EQ(0x0102, info.header_len);
    EXPECT_EQ(0x0000000304050607ull, info.payload_len);
}

TEST(TcpWire, GoodFramesArriveWholeWhateverTheChunking)
{
    std::vector<uint8_t> stream;
    std::vector<std::pair<std::string, std::string>> sent = {
        {"", ""},
        {"h", ""},
        {"", "p"},
        {"header", std::string(1000, 'x')},
        {std::string(kMaxHeader, 'H'), std::string(64 * 1024, 'y')}};
    for (auto &[h, p] : sent) {
        auto f = data_frame(h, p);
        stream.insert(stream.end(), f.begin(), f.end());
    }
    for (size_t chunk : {size_t(1), size_t(3), size_t(19), size_t(4096), stream.size()}) {
        FrameReader r(64 * 1024);
        r.set_authenticated();
        auto c = feed(r, stream, chunk);
        ASSERT_EQ(sent.size(), c.events.size()) << "chunk " << chunk;
        for (size_t i = 0; i < sent.size(); ++i) {
            EXPECT_EQ(RxKind::Frame, c.events[i].kind);
            EXPECT_EQ(sent[i].first, c.headers[i]);
            EXPECT_EQ(sent[i].second, c.payloads[i]);
        }
        EXPECT_TRUE(r.at_frame_boundary());
    }
}

TEST(TcpWire, LargePayloadIsPlacedIntoTheTargetAndTheStreamGoesOn)
{
    std::string big(300 * 1024 + 17, '\0');
    for (size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<char>(i * 7);
    std::vector<uint8_t> stream = data_frame("hdr", big);
    auto tail = data_frame("next", "small");
    stream.insert(stream.end(), tail.begin(), tail.end());
    for (size_t chunk : {size_t(1000), size_t(65536), stream.size()}) {
        FrameReader r(64 * 1024);
        r.set_authenticated();
        std::vector<uint8_t> target;
        auto c = feed(r, stream, chunk, &target);
        ASSERT_EQ(3u, c.events.size());
        EXPECT_EQ(RxKind::LargeStart, c.events[0].kind);
        EXPECT_EQ(big.size(), c.events[0].info.payload_len);
        EXPECT_EQ(RxKind::LargeDone, c.events[1].kind);
        EXPECT_EQ(RxKind::Frame, c.events[2].kind);
        EXPECT_EQ(std::string(target.begin(), target.end()), big);
        EXPECT_EQ("next", c.headers[1]);
        EXPECT_EQ("small", c.payloads[0]);
    }
}

TEST(TcpWire, DiscardedLargePayloadIsDrained)
{
    std::vector<uint8_t> stream = data_frame("h", std::string(200 * 1024, 'z'));
    auto tail = data_frame("after", "ok");
    stream.insert(stream.end(), tail.begin(), tail.end());
    FrameReader r(64 * 1024);
    r.set_authenticated();
    auto c = feed(r, stream, 5000);
    ASSERT_EQ(3u, c.events.size());
    EXPECT_EQ(RxKind::LargeDone, c.events[1].kind);
    EXPECT_EQ("ok", c.payloads.at(0));
}

TEST(TcpWire, EveryKindOfBadPrefixIsRefusedWithAReason)
{
    EXPECT_NE(std::string::npos,
              first_error(raw_prefix(0x12345678, 1, 6, 0, 0), true).find("bad magic"));
    EXPECT_NE(std::string::npos,
              first_error(raw_prefix(kMagic, 2, 6, 0, 0), true).find("protocol version 2"));
    EXPECT_NE(std::string::npos,
              first_error(raw_prefix(kMagic, 1, 6, 0, 0, 1), true).find("reserved"));
    for (uint8_t t : {uint8_t(0), uint8_t(8), uint8_t(255)})
        EXPECT_NE(std::string::npos,
                  first_error(raw_prefix(kMagic, 1, t, 0, 0), true).find("unknown frame type"));
    EXPECT_NE(std::string::npos,
              first_error(raw_prefix(kMagic, 1, 6, kMaxHeader + 1, 0), true).find("header of"));
    EXPECT_NE(
        std::string::npos,
        first_error(raw_prefix(kMagic, 1, 6, 0, kMaxPayload + 1), true).find("payload length"));
    EXPECT_NE(std::string::npos,
              first_error(raw_prefix(kMagic, 1, 6, 0, ~0ull), true).find("payload length"));
    EXPECT_NE(std::string::npos, first_error(raw_prefix(kMagic, 1, 7, 0, 1), true).find("BYE"));
    // State: data before the handshake, handshake frames after it.
    EXPECT_NE(std::string::npos,
              first_error(raw_prefix(kMagic, 1, 6, 0, 0), false).find("before the handshake"));
    EXPECT_NE(std::string::npos,
              first_error(raw_prefix(kMagic, 1, 1, 0, 44), true).find("after the handshake"));
    EXPECT_NE(std::string::npos,
              first_error(raw_prefix(kMagic, 1, 1, 0, 100000), false).find("oversized"));
    EXPECT_NE(std::string::npos,
              first_error(raw_prefix(kMagic, 1, 1, 4, 0), false).find("oversized"));
}

TEST(TcpWire, AnErrorStopsTheReader)
{
    auto good = data_frame("a", "b");
    auto bad = raw_prefix(0, 1, 6, 0, 0);
    std::vector<uint8_t> stream = bad;
    stream.insert(stream.end(), good.begin(), good.end());
    FrameReader r(64 * 1024);
    r.set_authenticated();
    auto c = feed(r, stream, stream.size());
    ASSERT_EQ(1u, c.events.size());
    EXPECT_EQ(RxKind::Error, c.events[0].kind);
    EXPECT_TRUE(r.failed());
    EXPECT_TRUE(r.read_window().empty());
    EXPECT_EQ(RxKind::None, r.next().kind);
}

TEST(TcpWire, TruncatedInputIsNotAFrameBoundary)
{
    auto f = data_frame("header", "payload");
    for (size_t cut = 1; cut < f.size(); ++cut) {
        FrameReader r(64 * 1024);
        r.set_authenticated();
        auto c = feed(r, std::vector<uint8_t>(f.begin(), f.begin() + cut), 3);
        EXPECT_TRUE(c.events.empty()) << cut;
        EXPECT_FALSE(r.at_frame_boundary()) << cut;
    }
    // A large payload cut short.
    FrameReader r(1024);
    r.set_authenticated();
    auto big = data_frame("", std::string(5000, 'q'));
    big.resize(3000);
    auto c = feed(r, big, 100);
    ASSERT_EQ(1u, c.events.size());
    EXPECT_FALSE(r.at_frame_boundary());
}

// ---- handshake ----

namespace {

const std::string secret = "0123456789abcdef0123456789abcdef";
const std::string other_secret = "fedcba9876543210fedcba9876543210";

std::span<const uint8_t> span_of(const std::string &s)
{
    return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}

Nonce nonce(uint8_t fill)
{
    Nonce n;
    n.fill(fill);
    return n;
}

// Parses one whole frame produced by the handshake.
Handshake::Step deliver(Handshake &to, const std::vector<uint8_t> &frame)
{
    FrameInfo info;
    EXPECT_EQ("", decode_prefix(frame.data(), false, info));
    EXPECT_EQ(frame.size(), kPrefixSize + info.payload_len);
    return to.on_frame(info, frame.data() + kPrefixSize);
}

FrameType type_of(const std::vector<uint8_t> &frame)
{
    return static_cast<FrameType>(frame.at(5));
}

} // namespace

TEST(TcpHandshake, BothSidesProveTheSecret)
{
    Handshake c(Handshake::Role::Connector, 1, 4, 3, span_of(secret), dragon_hmac_sha256, nonce(1));
    Handshake a(Handshake::Role::Acceptor, 3, 4, 0, span_of(secret), dragon_hmac_sha256, nonce(2));
    auto hello = c.start();
    EXPECT_EQ(FrameType::Hello, type_of(hello));
    // The secret never appears on the wire.
    auto s1 = deliver(a, hello);
    ASSERT_EQ(Handshake::Status::Continue, s1.status) << s1.reason;
    EXPECT_EQ(FrameType::Challenge, type_of(s1.reply));
    auto s2 = deliver(c, s1.reply);
    ASSERT_EQ(Handshake::Status::Continue, s2.status) << s2.reason;
    EXPECT_EQ(FrameType::Proof, type_of(s2.reply));
    auto s3 = deliver(a, s2.reply);
    ASSERT_EQ(Handshake::Status::Done, s3.status) << s3.reason;
    EXPECT_EQ(FrameType::Welcome, type_of(s3.reply));
    auto s4 = deliver(c, s3.reply);
    EXPECT_EQ(Handshake::Status::Done, s4.status);
    EXPECT_TRUE(a.done() && c.done());
    EXPECT_EQ(1u, a.peer());
    for (const auto *f : {&hello, &s1.reply, &s2.reply, &s3.reply}) {
        std::string wire(f->begin(), f->end());
        EXPECT_EQ(std::string::npos, wire.find(secret.substr(0, 8)));
    }
}

TEST(TcpHandshake, AnAcceptorWithTheWrongSecretRefusesTheProof)
{
    Handshake c(Handshake::Role::Connector, 0, 2, 1, span_of(secret), dragon_hmac_sha256, nonce(1));
    Handshake a(Handshake::Role::Acceptor, 1, 2, 0, span_of(other_secret), dragon_hmac_sha256,
                nonce(2));
    auto s1 = deliver(a, c.start());
    auto s2 = deliver(c, s1.reply);
    ASSERT_EQ(Handshake::Status::Continue, s2.status);
    auto s3 = deliver(a, s2.reply);
    EXPECT_EQ(Handshake::Status::Failed, s3.status);
    ASSERT_EQ(FrameType::Refused, type_of(s3.reply));
    auto s4 = deliver(c, s3.reply);
    EXPECT_EQ(Handshake::Status::Failed, s4.status);
    EXPECT_TRUE(s4.refused_by_peer);
    EXPECT_NE(std::string::npos, s4.reason.find("node 1 refused our proof of the job secret"))
        << s4.reason;
}

TEST(TcpHandshake, AConnectorWithTheWrongSecretIsRefusedAndToldSo)
{
    Handshake c(Handshake::Role::Connector, 0, 2, 1, span_of(other_secret), dragon_hmac_sha256,
                nonce(1));
    Handshake a(Handshake::Role::Acceptor, 1, 2, 0, span_of(secret), dragon_hmac_sha256, nonce(2));
    auto s1 = deliver(a, c.start());
    auto s2 = deliver(c, s1.reply);
    auto s3 = deliver(a, s2.reply);
    EXPECT_EQ(Handshake::Status::Failed, s3.status);
    EXPECT_NE(std::string::npos, s3.reason.find("node 0 failed to prove the job secret"));
    auto s4 = deliver(c, s3.reply);
    EXPECT_EQ(Handshake::Status::Failed, s4.status);
    EXPECT_TRUE(s4.refused_by_peer);
    EXPECT_NE(std::string::npos, s4.reason.find("refused our proof of the job secret"));
}

TEST(TcpHandshake, AnImpostorAcceptorIsCaughtByTheConnector)
{
    // An acceptor that lets anything in and answers WELCOME with a made-up MAC.
    Handshake c(Handshake::Role::Connector, 0, 2, 1, span_of(secret), dragon_hmac_sha256, nonce(1));
    c.start();
    std::vector<uint8_t> challenge(40, 0);
    challenge[0] = 1; // from node 1 to node 0
    ASSERT_EQ(Handshake::Status::Continue,
              deliver(c, encode_frame(FrameType::Challenge, {}, challenge)).status);
    auto s = deliver(c, encode_frame(FrameType::Welcome, {}, std::vector<uint8_t>(32, 7)));
    EXPECT_EQ(Handshake::Status::Failed, s.status);
    EXPECT_NE(std::string::npos, s.reason.find("impostor"));
}

TEST(TcpHandshake, AReplayedProofIsRefused)
{
    // Record a good exchange...
    Handshake c(Handshake::Role::Connector, 0, 2, 1, span_of(secret), dragon_hmac_sha256, nonce(1));
    Handshake a(Handshake::Role::Acceptor, 1, 2, 0, span_of(secret), dragon_hmac_sha256, nonce(2));
    auto hello = c.start();
    auto s1 = deliver(a, hello);
    auto proof = deliver(c, s1.reply).reply;
    ASSERT_EQ(Handshake::Status::Done, deliver(a, proof).status);
    // ...and replay HELLO and PROOF to an acceptor with a fresh nonce.
    Handshake a2(Handshake::Role::Acceptor, 1, 2, 0, span_of(secret), dragon_hmac_sha256, nonce(3));
    ASSERT_EQ(Handshake::Status::Continue, deliver(a2, hello).status);
    auto s = deliver(a2, proof);
    EXPECT_EQ(Handshake::Status::Failed, s.status);
    EXPECT_NE(std::string::npos, s.reason.find("replayed"));
}

TEST(TcpHandshake, AReflectedProofIsNotAProof)
{
    // The acceptor's own MAC (from WELCOME) sent back as a connector's proof in an
    // exchange with the same nonces must fail: the labels differ.
    Handshake c(Handshake::Role::Connector, 0, 2, 1, span_of(secret), dragon_hmac_sha256, nonce(1));
    Handshake a(Handshake::Role::Acceptor, 1, 2, 0, span_of(secret), dragon_hmac_sha256, nonce(2));
    auto hello = c.start();
    auto s1 = deliver(a, hello);
    auto s3 = deliver(a, deliver(c, s1.reply).reply);
    ASSERT_EQ(Handshake::Status::Done, s3.status);
    std::vector<uint8_t> acceptor_mac(s3.reply.end() - 32, s3.reply.end());
    Handshake a2(Handshake::Role::Acceptor, 1, 2, 0, span_of(secret), dragon_hmac_sha256, nonce(2));
    deliver(a2, hello);
    auto s = deliver(a2, encode_frame(FrameType::Proof, {}, acceptor_mac));
    EXPECT_EQ(Handshake::Status::Failed, s.status);
}

TEST(TcpHandshake, HelloThatDoesNotFitIsRefused)
{
    auto hello_from = [](uint32_t from, uint32_t to, uint32_t n) {
        Handshake c(Handshake::Role::Connector, from, n, to, span_of(secret), dragon_hmac_sha256,
                    nonce(1));
        return c.start();
    };
    struct Case {
        uint32_t from, to, n;
    } cases[] = {{0, 2, 4}, {3, 1, 4}, {0, 1, 3}, {7, 1, 4}, {1, 1, 4}};
    for (auto k : cases) {
        Handshake a(Handshake::Role::Acceptor, 1, 4, 0, span_of(secret), dragon_hmac_sha256,
                    nonce(2));
        auto s = deliver(a, hello_from(k.from, k.to, k.n));
        EXPECT_EQ(Handshake::Status::Failed, s.status) << k.from << "->" << k.to << "/" << k.n;
        EXPECT_NE(std::string::npos, s.reason.find("does not fit"));
    }
}

TEST(TcpHandshake, WrongFramesAndSizesFail)
{
    Handshake a(Handshake::Role::Acceptor, 1, 2, 0, span_of(secret), dragon_hmac_sha256, nonce(2));
    auto s = deliver(a, encode_frame(FrameType::Proof, {}, std::vector<uint8_t>(32)));
    EXPECT_EQ(Handshake::Status::Failed, s.status);
    EXPECT_NE(std::string::npos, s.reason.find("expected HELLO"));
    // Anything after failure fails.
    EXPECT_EQ(Handshake::Status::Failed,
              deliver(a, encode_frame(FrameType::Hello, {}, std::vector<uint8_t>(44))).status);

    Handshake a2(Handshake::Role::Acceptor, 1, 2, 0, span_of(secret), dragon_hmac_sha256, nonce(2));
    EXPECT_EQ(Handshake::Status::Failed,
              deliver(a2, encode_frame(FrameType::Hello, {}, std::vector<uint8_t>(43))).status);

    Handshake c(Handshake::Role::Connector, 0, 2, 1, span_of(secret), dragon_hmac_sha256, nonce(1));
    c.start();
    EXPECT_EQ(Handshake::Status::Failed,
              deliver(c, encode_frame(FrameType::Welcome, {}, std::vector<uint8_t>(32))).status);
}

// ---- addresses ----

TEST(TcpAddress, CidrParsing)
{
    Cidr c;
    EXPECT_EQ("", parse_cidr("10.200.0.0/16", c));
    EXPECT_TRUE(c.contains(0x0ac80102));
    EXPECT_FALSE(c.contains(0x0ac90102));
    EXPECT_EQ("", parse_cidr("127.0.0.1/32", c));
    EXPECT_TRUE(c.contains(0x7f000001));
    EXPECT_EQ("", parse_cidr("0.0.0.0/0", c));
    EXPECT_TRUE(c.contains(0xffffffff));
    EXPECT_NE(std::string::npos, parse_cidr("999.1.1.1/99", c).find("not an IPv4 address"));
    EXPECT_NE(std::string::npos, parse_cidr("10.0.0.0/33", c).find("0 to 32"));
    EXPECT_NE(std::string::npos, parse_cidr("10.0.0.0", c).find("ADDRESS/BITS"));
    EXPECT_NE(std::string::npos, parse_cidr("10.0.0.0/", c).find("0 to 32"));
    EXPECT_NE(std::string::npos, parse_cidr("10.0.0.0/-1", c).find("0 to 32"));
}

TEST(TcpAddress, PublishedAddressRoundTrips)
{
    std::string text = encode_address(40123, {0x0ac80002, 0x7f000001});
    EXPECT_EQ("tcp1 40123 10.200.0.2,127.0.0.1", text);
    uint16_t port = 0;
    std::vector<uint32_t> addrs;
    EXPECT_EQ("", decode_address(text.data(), text.size(), port, addrs));
    EXPECT_EQ(40123, port);
    EXPECT_EQ((std::vector<uint32_t>{0x0ac80002, 0x7f000001}), addrs);
    for (std::string bad : {"", "tcp1", "tcp1 0 1.2.3.4", "tcp1 70000 1.2.3.4", "tcp2 1 1.2.3.4",
                            "tcp1 1 1.2.3", "tcp1 1 1.2.3.4 extra", "tcp1 x 1.2.3.4"})
        EXPECT_NE("", decode_address(bad.data(), bad.size(), port, addrs)) << bad;
}
