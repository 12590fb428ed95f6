// Small text utilities: splitting, case, sizes, and did-you-mean suggestions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dragon::text {

std::vector<std::string> split(std::string_view text, char separator);
std::string trim(std::string_view text);
std::string upper(std::string_view text);
std::string join(const std::vector<std::string> &parts, std::string_view separator);

// Parses "4096", "64K", "4G", "1.5M"... (K/M/G/T = powers of 1024, optional "B"/"iB").
// Returns nullopt on malformed input or overflow.
std::optional<size_t> parse_size(std::string_view text);
std::string format_size(size_t bytes);

std::optional<bool> parse_bool(std::string_view text);
std::optional<long long> parse_int(std::string_view text);

// "signal 11 (SIGSEGV: Segmentation fault)": the number, its name and what it means.
std::string describe_signal(int signum);
// Lower-case hex of raw bytes, and back (empty on malformed input).
std::string to_hex(std::string_view bytes);
std::string from_hex(std::string_view hex);

size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo.
std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string> &candidates);

} // namespace dragon::text
