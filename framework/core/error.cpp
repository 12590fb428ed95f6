#include "core/error.hpp"

#include <cstring>

namespace dragon {

std::string errno_text(int err)
{
    char buf[256];
    return strerror_r(err, buf, sizeof buf);
}

const char *status_name(dragon_status status)
{
    switch (status) {
    case DRAGON_OK: return "ok";
    case DRAGON_ERR_INVALID: return "invalid argument";
    case DRAGON_ERR_NOT_FOUND: return "not found";
    case DRAGON_ERR_EXISTS: return "already exists";
    case DRAGON_ERR_NO_MEMORY: return "out of memory";
    case DRAGON_ERR_PERMISSION: return "permission denied";
    case DRAGON_ERR_TIMEOUT: return "timed out";
    case DRAGON_ERR_UNAVAILABLE: return "unavailable";
    case DRAGON_ERR_INTERNAL: return "internal error";
    case DRAGON_ERR_AGAIN: return "try again";
    case DRAGON_ERR_PEER_LOST: return "peer lost";
    case DRAGON_ERR_CANCELED: return "canceled";
    case DRAGON_ERR_TRUNCATED: return "truncated";
    }
    return "unknown status";
}

void check_plugin_status(dragon_status status, const dragon_error &err, const std::string &what)
{
    if (status == DRAGON_OK)
        return;
    std::string detail(err.message, strnlen(err.message, sizeof err.message));
    if (detail.empty())
        detail = status_name(status);
    throw Error(status, what + ": " + detail);
}

} // namespace dragon
