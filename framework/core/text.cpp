#include "core/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace dragon::text {

std::vector<std::string> split(std::string_view text, char separator)
{
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        size_t end = text.find(separator, start);
        parts.emplace_back(text.substr(start, end - start));
        if (end == std::string_view::npos)
            break;
        start = end + 1;
    }
    return parts;
}

std::string trim(std::string_view text)
{
    size_t b = 0, e = text.size();
    while (b < e && std::isspace(static_cast<unsigned char>(text[b])))
        ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1])))
        --e;
    return std::string(text.substr(b, e - b));
}

std::string upper(std::string_view text)
{
    std::string out(text);
    for (char &c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string join(const std::vector<std::string> &parts, std::string_view separator)
{
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i)
            out.append(separator);
        out.append(parts[i]);
    }
    return out;
}

std::optional<size_t> parse_size(std::string_view raw)
{
    std::string s = trim(raw);
    if (s.empty())
        return std::nullopt;
    size_t pos = 0;
    while (pos < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '.'))
        ++pos;
    std::string number = s.substr(0, pos);
    std::string suffix = upper(trim(s.substr(pos)));
    if (number.empty() || std::count(number.begin(), number.end(), '.') > 1)
        return std::nullopt;
    if (suffix.size() > 1 && (suffix.ends_with("IB") || suffix.ends_with("B")))
        suffix = suffix.substr(0, suffix.ends_with("IB") ? suffix.size() - 2 : suffix.size() - 1);
    else if (suffix == "B")
        suffix.clear();
    double multiplier = 1;
    if (suffix == "K")
        multiplier = 1024.0;
    else if (suffix == "M")
        multiplier = 1024.0 * 1024;
    else if (suffix == "G")
        multiplier = 1024.0 * 1024 * 1024;
    else if (suffix == "T")
        multiplier = 1024.0 * 1024 * 1024 * 1024;
    else if (!suffix.empty())
        return std::nullopt;
    if (number.find('.') == std::string::npos) {
        unsigned long long value = 0;
        auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
        if (ec != std::errc() || end != number.data() + number.size())
            return std::nullopt;
        auto m = static_cast<unsigned long long>(multiplier);
        if (value > std::numeric_limits<size_t>::max() / m)
            return std::nullopt;
        return static_cast<size_t>(value * m);
    }
    double value = std::strtod(number.c_str(), nullptr) * multiplier;
    if (!std::isfinite(value) || value >= 1.8e19)
        return std::nullopt;
    return static_cast<size_t>(value);
}

std::string format_size(size_t bytes)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%zu B", bytes);
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

std::optional<bool> parse_bool(std::string_view raw)
{
    std::string s = upper(trim(raw));
    if (s == "1" || s == "TRUE" || s == "YES" || s == "ON")
        return true;
    if (s == "0" || s == "FALSE" || s == "NO" || s == "OFF")
        return false;
    return std::nullopt;
}

std::optional<long long> parse_int(std::string_view raw)
{
    std::string s = trim(raw);
    long long value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
        return std::nullopt;
    return value;
}

size_t edit_distance(std::string_view a, std::string_view b)
{
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            size_t cost = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                                  std::tolower(static_cast<unsigned char>(b[j - 1]))
                              ? 0
                              : 1;
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string> &candidates)
{
    std::optional<std::string> best;
    size_t best_distance = std::numeric_limits<size_t>::max();
    for (const auto &candidate : candidates) {
        size_t d = edit_distance(word, candidate);
        if (d < best_distance) {
            best_distance = d;
            best = candidate;
        }
    }
    // A typo changes a few characters; anything further is a different word.
    size_t limit = std::max<size_t>(2, word.size() / 3);
    if (!best || best_distance > limit)
        return std::nullopt;
    return best;
}

std::string to_hex(std::string_view bytes)
{
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string from_hex(std::string_view hex)
{
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    if (hex.size() % 2)
        return {};
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) {
        int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return {};
        out += static_cast<char>(hi << 4 | lo);
    }
    return out;
}

} // namespace dragon::text

namespace dragon::text {

std::string describe_signal(int signum)
{
    std::string out = "signal " + std::to_string(signum);
    const char *abbrev = sigabbrev_np(signum);
    const char *meaning = sigdescr_np(signum);
    if (abbrev && meaning)
        out += std::string(" (SIG") + abbrev + ": " + meaning + ")";
    else if (meaning)
        out += std::string(" (") + meaning + ")";
    return out;
}

} // namespace dragon::text
