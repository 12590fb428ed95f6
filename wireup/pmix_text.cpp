#include "pmix_text.hpp"

#include <pmix.h>

namespace dragon::wireup {

std::string pmix_status_text(pmix_status_t status)
{
    const char *name = PMIx_Error_string(status);
    return std::string(name ? name : "unknown PMIx status") + " (" + std::to_string(status) + ")";
}

void throw_pmix(const std::string &step, pmix_status_t status)
{
    dragon_status kind = status == PMIX_ERR_TIMEOUT ? DRAGON_ERR_TIMEOUT : DRAGON_ERR_INTERNAL;
    throw Error(kind, step + " failed: " + pmix_status_text(status));
}

std::string rank_list(const std::vector<uint32_t> &ranks)
{
    std::string out;
    for (uint32_t r : ranks)
        out += (out.empty() ? "" : ", ") + std::to_string(r);
    return out;
}

int timeout_seconds(std::chrono::milliseconds deadline)
{
    auto ms = deadline.count();
    return ms <= 0 ? 1 : static_cast<int>((ms + 999) / 1000);
}

} // namespace dragon::wireup
