#include "ucx_perftest_probe.hpp"

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace dragon::bench {
namespace {

// Output of a shell command (stdout+stderr), or empty if it could not run.
std::string run(const std::string &command)
{
    std::string out;
    FILE *p = popen((command + " 2>&1").c_str(), "r");
    if (!p)
        return out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
        out.append(buf.data(), n);
    pclose(p);
    return out;
}

} // namespace

UcxLatency ucx_tag_latency(int iterations)
{
    UcxLatency r;
    if (run("command -v ucx_perftest").empty()) {
        r.why = "ucx_perftest not on PATH (install ucx-utils)";
        return r;
    }
    int port = 20000 + getpid() % 20000;
    std::string env = "UCX_TLS=posix,self UCX_NET_DEVICES=lo timeout 30 ";
    std::string args =
        " -t tag_lat -s 8 -n " + std::to_string(iterations) + " -p " + std::to_string(port);
    pid_t server = fork();
    if (server == 0) {
        std::string cmd = env + "ucx_perftest" + args + " >/dev/null 2>&1";
        execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char *>(nullptr));
        _exit(127);
    }
    std::string out;
    // The server needs a moment to listen; retry the client a few times.
    for (int attempt = 0; attempt < 5; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        out = run(env + "ucx_perftest" + args + " 127.0.0.1");
        if (out.find("Final:") != std::string::npos)
            break;
    }
    int status;
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (waitpid(server, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > end) {
            kill(server, SIGKILL);
            waitpid(server, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto at = out.find("Final:");
    if (at == std::string::npos) {
        std::string last = out.substr(out.size() > 160 ? out.size() - 160 : 0);
        for (char &c : last)
            if (c == '\n')
                c = ' ';
        r.why = "ucx_perftest gave no result: " + last;
        return r;
    }
    // "Final: <iters> <p50 lat> <avg lat> <overall lat> <bw avg> <bw overall> <rate avg> <rate
    // overall>"
    std::istringstream line(out.substr(at + 6));
    double iters, p50, avg, overall;
    if (!(line >> iters >> p50 >> avg >> overall)) {
        r.why = "cannot parse ucx_perftest's Final line";
        return r;
    }
    r.ok = true;
    r.one_way_us = overall;
    r.median_us = p50;
    return r;
}

} // namespace dragon::bench
