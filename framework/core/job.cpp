#include "core/job.hpp"

#include "core/error.hpp"
#include "core/random_bytes.hpp"
#include "core/text.hpp"

#include <cstdlib>
#include <unistd.h>

namespace dragon {
namespace {

bool valid_token(std::string_view s)
{
    if (s.empty() || s.size() > 48)
        return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.'))
            return false;
    return true;
}

std::string compute_job_id()
{
    if (const char *env = std::getenv("DRAGON_JOB_ID"); env && *env) {
        if (!valid_token(env))
            throw Error(DRAGON_ERR_INVALID,
                        std::string("DRAGON_JOB_ID='") + env +
                            "' is not valid: use up to 48 letters, digits, '_' or '.'");
        return env;
    }
    return fresh_job_id('p');
}

} // namespace

std::string fresh_job_id(char kind)
{
    return std::string(1, kind) + std::to_string(getpid()) + "r" + text::to_hex(random_bytes(6));
}

long job_owner_pid(std::string_view job)
{
    if (job.size() < 2 || (job[0] != 'j' && job[0] != 'p'))
        return 0;
    size_t end = job.find_first_not_of("0123456789", 1);
    if (end == 1 || (end != std::string_view::npos && job[end] != 'r'))
        return 0;
    return std::strtol(std::string(job.substr(1, end - 1)).c_str(), nullptr, 10);
}

const std::string &job_id()
{
    static const std::string id = compute_job_id();
    return id;
}

std::string segment_name(std::string_view local)
{
    if (local.empty() || local.find('/') != std::string_view::npos)
        throw Error(DRAGON_ERR_INVALID,
                    "segment name '" + std::string(local) + "' must be non-empty and without '/'");
    return std::string(segment_prefix) + job_id() + "-" + std::string(local);
}

} // namespace dragon
