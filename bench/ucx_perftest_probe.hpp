// Runs ucx_perftest -t tag_lat as a server+client pair over UCX posix shared memory.
#pragma once

#include <string>

namespace dragon::bench {

struct UcxLatency {
    bool ok = false;
    double one_way_us = 0; // ucx_perftest's "overall" average latency (it reports one way)
    double median_us = 0;
    std::string why; // when !ok
};

UcxLatency ucx_tag_latency(int iterations);

} // namespace dragon::bench
