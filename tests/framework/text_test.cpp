#include "core/text.hpp"

#include <gtest/gtest.h>

using namespace dragon::text;

TEST(ParseSize, AcceptsPlainNumbersAndSuffixes)
{
    EXPECT_EQ(parse_size("4096"), 4096u);
    EXPECT_EQ(parse_size("64K"), 64u << 10);
    EXPECT_EQ(parse_size("4G"), 4ull << 30);
    EXPECT_EQ(parse_size("4g"), 4ull << 30);
    EXPECT_EQ(parse_size("2MiB"), 2u << 20);
    EXPECT_EQ(parse_size("1.5M"), 3u << 19);
    EXPECT_EQ(parse_size(" 8M "), 8u << 20);
}

TEST(ParseSize, RejectsMalformed)
{
    for (const char *bad : {"", "G", "4X", "-1", "1..2M", "4 G B", "99999999999999999999"})
        EXPECT_FALSE(parse_size(bad)) << bad;
}

TEST(Closest, SuggestsTyposOnly)
{
    std::vector<std::string> names = {"posix_shm", "hugepage"};
    EXPECT_EQ(closest("hugepag", names), "hugepage");
    EXPECT_EQ(closest("posix-shm", names), "posix_shm");
    EXPECT_FALSE(closest("tcp", names));
}

TEST(Hex, RoundTripsAndRejectsMalformed)
{
    std::string bytes("\x00\x7f\x80\xff secret", 11);
    EXPECT_EQ(dragon::text::to_hex(std::string("\x01\xab", 2)), "01ab");
    EXPECT_EQ(dragon::text::from_hex(dragon::text::to_hex(bytes)), bytes);
    EXPECT_EQ(dragon::text::from_hex("ABcd"), std::string("\xab\xcd", 2));
    EXPECT_EQ(dragon::text::from_hex("abc"), "");
    EXPECT_EQ(dragon::text::from_hex("zz"), "");
}
