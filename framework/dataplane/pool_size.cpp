#include "dataplane/pool_size.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <cstdlib>
#include <string>

namespace dragon {

size_t default_pool_size()
{
    const char *value = std::getenv("DRAGON_DEFAULT_SEG_SZ");
    if (!value || !*value)
        return default_pool_size_fallback;
    auto size = text::parse_size(value);
    if (!size)
        throw Error(DRAGON_ERR_INVALID,
                    std::string("DRAGON_DEFAULT_SEG_SZ='") + value +
                        "' is not a size; give bytes with an optional suffix, e.g. 4G or 512M");
    if (*size < min_pool_size)
        throw Error(DRAGON_ERR_INVALID, std::string("DRAGON_DEFAULT_SEG_SZ='") + value +
                                            "' is too small for a pool; give at least " +
                                            text::format_size(min_pool_size));
    return *size;
}

} // namespace dragon
