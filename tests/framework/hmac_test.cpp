// SHA-256 and HMAC-SHA-256 against the published test vectors (FIPS 180-4 examples,
// RFC 4231): the job-secret proof of every transport rests on them.
#include "core/hmac_sha256.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

std::string hex(const dragon::Digest &d)
{
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : d) {
        s += digits[c >> 4];
        s += digits[c & 15];
    }
    return s;
}

std::string sha256(const std::string &text)
{
    dragon::Sha256 h;
    h.update(text.data(), text.size());
    return hex(h.finish());
}

TEST(Sha256, KnownDigests)
{
    EXPECT_EQ(sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PiecewiseUpdatesMatchOneUpdate)
{
    std::string text(1000, 'x');
    for (size_t i = 0; i < text.size(); ++i)
        text[i] = static_cast<char>(i * 7);
    dragon::Sha256 pieces;
    for (size_t i = 0; i < text.size(); i += 13)
        pieces.update(text.data() + i, std::min<size_t>(13, text.size() - i));
    EXPECT_EQ(hex(pieces.finish()), sha256(text));
}

std::string hmac(const std::string &key, const std::string &msg)
{
    return hex(dragon::hmac_sha256(key.data(), key.size(), msg.data(), msg.size()));
}

TEST(HmacSha256, Rfc4231Vectors)
{
    EXPECT_EQ(hmac(std::string(20, '\x0b'), "Hi There"),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hmac("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(
        hmac(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, DigestsEqualComparesEveryByte)
{
    dragon::Digest a = dragon::hmac_sha256("k", 1, "m", 1), b = a;
    EXPECT_TRUE(dragon::digests_equal(a.data(), b.data(), a.size()));
    b[31] ^= 1;
    EXPECT_FALSE(dragon::digests_equal(a.data(), b.data(), a.size()));
}

} // namespace
