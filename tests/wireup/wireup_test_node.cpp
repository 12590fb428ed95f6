// A stand-in for dragon-node's wire-up: put rank-specific data and a 64 KiB value,
// commit, fence with data collection, read every peer's values and check them.
//
// Environment:
//   WIREUP_TEST_OUT        directory for rank<r>.pid and rank<r>.result (required)
//   WIREUP_TEST_DEADLINE_MS  deadline of each wire-up step (default 20000)
//   WIREUP_TEST_MISBEHAVE  "<rank>:<how>" (or "*:<how>" for every rank), how = exit-before-fence
//   (exit 3 right after
//                          init, before putting anything), sleep (sleep
//                          WIREUP_TEST_SLEEP_MS before committing), hang (sleep up to
//                          60 s after init, for signal tests), abort (PMIx_Abort)
// Exit: 0 when every peer's data checked out; 1 on any wire-up error (its message is
// in rank<r>.result).
#include "wireup/pmix_peer.hpp"

#include "core/error.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

using namespace std::chrono;
using dragon::wireup::PmixPeer;

namespace {

std::string env(const char *name, const char *fallback = "")
{
    const char *v = std::getenv(name);
    return v ? v : fallback;
}

void write_file(const std::string &path, const std::string &text)
{
    std::ofstream(path) << text << "\n";
}

// 64 KiB that differ per rank, so a mixed-up value is noticed.
std::string big_value(uint32_t rank)
{
    std::string v(64 * 1024, '\0');
    for (size_t i = 0; i < v.size(); ++i)
        v[i] = static_cast<char>((i * 31 + rank * 7 + 1) & 0xff);
    return v;
}

std::string small_value(uint32_t rank)
{
    return "addr-of-rank-" + std::to_string(rank);
}

double ms_since(steady_clock::time_point t)
{
    return duration_cast<microseconds>(steady_clock::now() - t).count() / 1000.0;
}

} // namespace

int main()
{
    std::string out = env("WIREUP_TEST_OUT");
    if (out.empty()) {
        std::fprintf(stderr, "wireup_test_node: set WIREUP_TEST_OUT to a directory\n");
        return 2;
    }
    milliseconds deadline{std::stol(env("WIREUP_TEST_DEADLINE_MS", "20000"))};
    std::string misbehave = env("WIREUP_TEST_MISBEHAVE");
    std::string result_path =
        out + "/rank" + env("DRAGON_NODE_INDEX", env("PMIX_RANK", "x").c_str()) + ".result";
    auto t0 = steady_clock::now();
    try {
        PmixPeer peer = PmixPeer::init(deadline);
        uint32_t me = peer.rank(), n = peer.size();
        result_path = out + "/rank" + std::to_string(me) + ".result";
        write_file(out + "/rank" + std::to_string(me) + ".pid", std::to_string(getpid()));
        double init_ms = ms_since(t0);

        if (!env("DRAGON_NODE_INDEX").empty() && (env("DRAGON_NODE_INDEX") != std::to_string(me) ||
                                                  env("DRAGON_NUM_NODES") != std::to_string(n)))
            throw dragon::Error(DRAGON_ERR_INTERNAL,
                                "DRAGON_NODE_INDEX/DRAGON_NUM_NODES disagree with PMIx rank " +
                                    std::to_string(me) + " of " + std::to_string(n));

        std::string how;
        if (misbehave.rfind(std::to_string(me) + ":", 0) == 0 || misbehave.rfind("*:", 0) == 0)
            how = misbehave.substr(misbehave.find(':') + 1);
        if (how == "exit-before-fence") {
            write_file(result_path, "exited before fence on purpose");
            std::_Exit(3); // no PMIx_Finalize: as if the node crashed
        }
        if (how == "hang") {
            write_file(result_path, "hanging");
            std::this_thread::sleep_for(seconds(60)); // a signal ends this early
            return 4;
        }
        if (how == "abort") {
            write_file(result_path, "aborting");
            peer.abort(5, "rank " + std::to_string(me) + " gives up on purpose");
            std::this_thread::sleep_for(seconds(30)); // the launcher kills us first
            return 5;
        }
        if (how == "sleep")
            std::this_thread::sleep_for(milliseconds(std::stol(env("WIREUP_TEST_SLEEP_MS", "0"))));

        auto t1 = steady_clock::now();
        peer.put("small", small_value(me));
        peer.put("big", big_value(me));
        peer.commit();
        peer.fence(deadline);
        double fence_ms = ms_since(t1);
        for (uint32_t r = 0; r < n; ++r) {
            if (peer.get(r, "small", deadline) != small_value(r))
                throw dragon::Error(DRAGON_ERR_INTERNAL,
                                    "small value of rank " + std::to_string(r) + " is wrong");
            if (peer.get(r, "big", deadline) != big_value(r))
                throw dragon::Error(DRAGON_ERR_INTERNAL,
                                    "64 KiB value of rank " + std::to_string(r) + " is wrong");
        }
        char line[200];
        std::snprintf(line, sizeof line, "ok init_ms=%.2f fence_ms=%.2f total_ms=%.2f", init_ms,
                      fence_ms, ms_since(t0));
        write_file(result_path, line);
        return 0;
    } catch (const std::exception &e) {
        write_file(result_path, std::string("error: ") + e.what());
        std::fprintf(stderr, "wireup_test_node: %s\n", e.what());
        return 1;
    }
}
