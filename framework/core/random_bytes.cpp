#include "core/random_bytes.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <sys/random.h>

namespace dragon {

std::string random_bytes(size_t n)
{
    std::string bytes(n, '\0');
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(bytes.data() + got, n - got, 0);
        if (r < 0 && errno != EINTR)
            throw Error(DRAGON_ERR_INTERNAL, "getrandom failed: " + errno_text(errno));
        if (r > 0)
            got += size_t(r);
    }
    return bytes;
}

} // namespace dragon
