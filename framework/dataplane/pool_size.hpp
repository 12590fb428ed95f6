// The default pool size, from DRAGON_DEFAULT_SEG_SZ.
#pragma once

#include <cstddef>

namespace dragon {

inline constexpr size_t default_pool_size_fallback = size_t(4) << 30; // 4G, as registered
inline constexpr size_t min_pool_size = size_t(1) << 20;              // room for a channel or two

// DRAGON_DEFAULT_SEG_SZ parsed with text::parse_size ("4G", "512M", "1048576"), or 4G
// when unset. Throws dragon::Error naming the variable if malformed or below min_pool_size.
size_t default_pool_size();

} // namespace dragon
