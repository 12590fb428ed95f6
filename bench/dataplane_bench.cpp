// dataplane_bench: channel latency, rate and bandwidth against raw baselines measured in
// the same run, and pool allocation rates. Prints one table; each row runs ~1-2 s.
//
//   dataplane_bench [--busy N] [--csv FILE]   (memory plugin from DRAGON_MEMORY, default posix_shm)
//
// --busy N keeps N CPU-bound processes running during the measurements. The table also
// goes to a CSV file for bench/plot.py (bench_csv.hpp).
#include "bench_csv.hpp"
#include "bench_table.hpp"
#include "busy_neighbours.hpp"
#include "ucx_perftest_probe.hpp"

#include "core/job.hpp"
#include "core/memory.hpp"
#include "core/text.hpp"
#include "dataplane/channel.hpp"

#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace dragon;
using namespace dragon::bench;
using namespace std::chrono_literals;

namespace {

constexpr double row_seconds = 1.5;
constexpr Timeout op_timeout = 10s;

double now_s()
{
    return Deadline::now_ns() * 1e-9;
}

pid_t spawn(const std::function<void()> &body)
{
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        int code = 0;
        try {
            body();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "bench child: %s\n", e.what());
            code = 1;
        }
        _exit(code);
    }
    return pid;
}

void reap(pid_t pid)
{
    for (int i = 0; i < 1000; ++i) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
}

// ---- 8-byte ping-pong: one-way latency in microseconds ----------------------------------------

double channel_pingpong(const std::shared_ptr<Pool> &pool)
{
    Channel ping = Channel::create(pool, {64, 64}), pong = Channel::create(pool, {64, 64});
    pid_t child = spawn([&] {
        for (;;) {
            Message m = ping.recv(op_timeout);
            uint64_t v;
            std::memcpy(&v, m.data(), 8);
            if (v == UINT64_MAX)
                return;
            pong.send(&v, 8, op_timeout);
        }
    });
    uint64_t iters = 0;
    double start = now_s(), end = start;
    for (uint64_t v = 0; end - start < row_seconds; ++v) {
        ping.send(&v, 8, op_timeout);
        pong.recv(op_timeout);
        if ((++iters & 1023) == 0)
            end = now_s();
    }
    end = now_s();
    uint64_t stop = UINT64_MAX;
    ping.send(&stop, 8, op_timeout);
    reap(child);
    ping.destroy();
    pong.destroy();
    return (end - start) / iters / 2 * 1e6;
}

// Round trips over fds: (wfd to child, rfd from child) in the parent; the child echoes.
double fd_pingpong(int parent_w, int parent_r, int child_r, int child_w)
{
    pid_t child = spawn([&] {
        uint64_t v;
        while (read(child_r, &v, 8) == 8 && v != UINT64_MAX)
            if (write(child_w, &v, 8) != 8)
                return;
    });
    uint64_t iters = 0;
    double start = now_s(), end = start;
    for (uint64_t v = 0; end - start < row_seconds; ++v) {
        if (write(parent_w, &v, 8) != 8 || read(parent_r, &v, 8) != 8)
            break;
        if ((++iters & 255) == 0)
            end = now_s();
    }
    end = now_s();
    uint64_t stop = UINT64_MAX;
    (void)!write(parent_w, &stop, 8);
    reap(child);
    return (end - start) / iters / 2 * 1e6;
}

double pipe_pingpong()
{
    int a[2], b[2];
    if (pipe(a) || pipe(b))
        return -1;
    double us = fd_pingpong(a[1], b[0], a[0], b[1]);
    for (int fd : {a[0], a[1], b[0], b[1]})
        close(fd);
    return us;
}

double socketpair_pingpong()
{
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s))
        return -1;
    double us = fd_pingpong(s[0], s[0], s[1], s[1]);
    close(s[0]);
    close(s[1]);
    return us;
}

// ---- streaming: one producer, one consumer ---------------------------------------------------

enum class Receive { copy_out, zero_copy };

// Bytes (or messages) per second received over `seconds` of streaming `size`-byte messages.
double stream(const std::shared_ptr<Pool> &pool, size_t size, Receive mode, double &msgs_per_s)
{
    // Large messages: a short ring keeps few blocks in flight, so the buddy allocator's
    // LIFO reuse hands the producer cache-warm blocks.
    Channel ch = Channel::create(pool, {size > 4096 ? 4u : 1024u, 128});
    auto *stop = new (pool->allocate(64)) std::atomic<uint32_t>(0);
    std::vector<char> src(size, 'p');
    pid_t producer = spawn([&] {
        // A last zero-length message ends the stream.
        while (!stop->load(std::memory_order_relaxed))
            ch.send(src.data(), size, op_timeout);
        ch.send(src.data(), 0, op_timeout);
    });
    std::vector<char> dst(size);
    std::memset(dst.data(), 0, size);
    uint64_t count = 0;
    // Skip the first messages (page faults of fresh pool memory).
    for (int i = 0; i < 16; ++i)
        ch.recv(op_timeout);
    double start = now_s(), end = start;
    while (end - start < row_seconds) {
        Message m = ch.recv(op_timeout);
        if (mode == Receive::copy_out)
            std::memcpy(dst.data(), m.data(), m.size());
        if ((++count & 63) == 0 || size > 4096)
            end = now_s();
    }
    end = now_s();
    stop->store(1);
    for (;;)
        if (ch.recv(op_timeout).size() == 0)
            break;
    reap(producer);
    ch.destroy();
    pool->free(stop);
    msgs_per_s = count / (end - start);
    return count * double(size) / (end - start);
}

// A baseline for what a copy-out receive does: one process writes `size` bytes into
// shared memory, another copies them out, through a ring of 4 buffers with ready flags
// and nothing else (no allocator, no channel). Freshly written data must move between
// cores; for sizes that fit the caches this is what the hardware allows.
double handoff_ceiling(size_t size)
{
    constexpr int slots = 4;
    const size_t stride = (size + 64 + 4095) / 4096 * 4096;
    auto *mem = static_cast<char *>(
        mmap(nullptr, slots * stride, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    if (mem == MAP_FAILED)
        return 0;
    std::memset(mem, 0, slots * stride); // fault every page in before timing
    auto flag = [&](int i) { return new (mem + i * stride) std::atomic<uint32_t>(0); };
    std::vector<std::atomic<uint32_t> *> ready;
    for (int i = 0; i < slots; ++i)
        ready.push_back(flag(i));
    auto buffer = [&](int i) { return mem + i * stride + 64; };
    auto *stop = new (mem + 32) std::atomic<uint32_t>(0); // beside slot 0's flag
    std::vector<char> src(size, 'p');
    pid_t producer = spawn([&] {
        for (uint64_t k = 0; !stop->load(std::memory_order_relaxed); ++k) {
            int i = int(k % slots);
            while (ready[i]->load(std::memory_order_acquire) != 0)
                if (stop->load(std::memory_order_relaxed))
                    return;
            std::memcpy(buffer(i), src.data(), size);
            ready[i]->store(1, std::memory_order_release);
        }
    });
    std::vector<char> dst(size);
    uint64_t count = 0;
    double start = now_s(), end = start;
    while (end - start < row_seconds) {
        int i = int(count % slots);
        while (ready[i]->load(std::memory_order_acquire) != 1) {
        }
        std::memcpy(dst.data(), buffer(i), size);
        ready[i]->store(0, std::memory_order_release);
        ++count;
        end = now_s();
    }
    stop->store(1);
    reap(producer);
    munmap(mem, slots * stride);
    return count * double(size) / (end - start);
}

double memcpy_bandwidth(size_t size)
{
    std::vector<char> a(size, 'a'), b(size, 'b');
    uint64_t count = 0;
    double start = now_s(), end = start;
    while (end - start < row_seconds / 2) {
        std::memcpy(b.data(), a.data(), size);
        a[count % size] = char(count);
        ++count;
        end = now_s();
    }
    return count * double(size) / (end - start);
}

// ---- pool allocate/free pairs -----------------------------------------------------------------

double alloc_free_rate(const std::shared_ptr<Pool> &pool, int processes)
{
    auto *counts = static_cast<std::atomic<uint64_t> *>(pool->allocate(64 * 8));
    std::vector<pid_t> kids;
    double start = now_s() + 0.05; // everyone starts together
    for (int p = 0; p < processes; ++p)
        kids.push_back(spawn([&, p] {
            while (now_s() < start) {
            }
            uint64_t n = 0;
            size_t size = 64;
            double end = start;
            while (end - start < row_seconds / 1.5) {
                void *b = pool->allocate(size);
                pool->free(b);
                size = size * 3 % 4000 + 8;
                if ((++n & 1023) == 0)
                    end = now_s();
            }
            counts[p].store(uint64_t(n / (end - start)));
        }));
    double total = 0;
    for (int p = 0; p < processes; ++p) {
        reap(kids[p]);
        total += double(counts[p].load());
    }
    pool->free(counts);
    return total;
}

std::string rate(double per_s)
{
    return fixed(per_s / 1e6, 2) + " M/s";
}
std::string gbps(double bytes_per_s)
{
    return fixed(bytes_per_s / 1e9, 2) + " GB/s";
}

} // namespace

int main(int argc, char **argv)
{
    namespace po = boost::program_options;
    int busy = 0;
    std::string csv;
    po::options_description opts("dataplane_bench options");
    opts.add_options()("help,h", "this help")("busy", po::value<int>(&busy),
                                              "run N CPU-bound processes during the measurements")(
        "csv", po::value<std::string>(&csv),
        "also write the table as CSV to this file (default: $BENCH_CSV_DIR/"
        "dataplane_bench-<quiet|busyN>.csv when that is set)");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, opts), vm);
        po::notify(vm);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "dataplane_bench: %s\n", e.what());
        return 2;
    }
    if (vm.count("help")) {
        std::printf("%s", (std::ostringstream() << opts).str().c_str());
        return 0;
    }
    (void)job_id();
    std::string plugin = std::getenv("DRAGON_MEMORY") ? std::getenv("DRAGON_MEMORY") : "posix_shm";
    auto pool = Pool::create(MemoryPlugin::named(plugin), segment_name("bench"), size_t(256) << 20);
    BusyNeighbours neighbours(busy);
    CsvTable table("dataplane_bench", busy, csv);
    std::printf("dataplane_bench: memory plugin %s, 256 MiB pool, %.1f s per row%s\n\n",
                plugin.c_str(), row_seconds,
                busy ? (", " + std::to_string(busy) + " CPU-bound processes beside it").c_str()
                     : "");
    print_header();

    double ch = channel_pingpong(pool);
    double pp = pipe_pingpong();
    double sp = socketpair_pingpong();
    UcxLatency ucx = ucx_tag_latency(200000);
    print_row("ping-pong 8 B one-way: channel", fixed(ch, 3) + " us", "", "");
    print_row("ping-pong 8 B one-way: pipe", fixed(pp, 3) + " us", fixed(pp / ch, 1) + "x",
              "pipe / channel (floor >= 10x)");
    print_row("ping-pong 8 B one-way: UNIX socketpair", fixed(sp, 3) + " us",
              fixed(sp / ch, 1) + "x", "socketpair / channel");
    table.add("ping-pong 8 B one-way", "us", true, ch, "pipe", pp);
    table.add("ping-pong 8 B one-way", "us", true, ch, "UNIX socketpair", sp);
    if (ucx.ok) {
        print_row("ping-pong 8 B one-way: ucx_perftest posix", fixed(ucx.one_way_us, 3) + " us",
                  fixed(ch / ucx.one_way_us, 2) + "x",
                  "channel / UCX (floor <= 2x); UCX median " + fixed(ucx.median_us, 3) + " us");
        table.add("ping-pong 8 B one-way", "us", true, ch, "ucx_perftest posix", ucx.one_way_us);
    } else {
        print_row("ping-pong 8 B one-way: ucx_perftest posix", "n/a", "", ucx.why);
    }

    double msgs = 0;
    stream(pool, 64, Receive::copy_out, msgs);
    print_row("1 producer -> 1 consumer, 64 B messages", rate(msgs), fixed(msgs / 5e6, 2) + "x",
              "vs floor of 5 M msgs/s");
    table.add("1 producer -> 1 consumer, 64 B messages", "M msgs/s", false, msgs / 1e6);

    for (size_t size : {size_t(1) << 20, size_t(64) << 20}) {
        std::string sz = size == (size_t(1) << 20) ? "1 MiB" : "64 MiB";
        double mc = memcpy_bandwidth(size);
        double copy = stream(pool, size, Receive::copy_out, msgs);
        double zc = stream(pool, size, Receive::zero_copy, msgs);
        print_row("memcpy " + sz, gbps(mc), "", "baseline");
        double ceiling = handoff_ceiling(size);
        print_row("channel " + sz + ", receiver copies out", gbps(copy), fixed(copy / mc, 2) + "x",
                  "vs memcpy (floor 0.5x)");
        print_row("  raw 2-process handoff " + sz + ", copies out", gbps(ceiling),
                  fixed(copy / ceiling, 2) + "x",
                  "channel / raw shared-buffer handoff (no channel)");
        print_row("channel " + sz + ", zero-copy receive", gbps(zc), fixed(zc / mc, 2) + "x",
                  "vs memcpy (floor 0.9x)");
        table.add("channel " + sz + ", receiver copies out", "GB/s", false, copy / 1e9, "memcpy",
                  mc / 1e9);
        table.add("channel " + sz + ", receiver copies out", "GB/s", false, copy / 1e9,
                  "raw 2-process handoff", ceiling / 1e9);
        table.add("channel " + sz + ", zero-copy receive", "GB/s", false, zc / 1e9, "memcpy",
                  mc / 1e9);
    }

    double one = alloc_free_rate(pool, 1);
    double two = alloc_free_rate(pool, 2);
    print_row("pool allocate+free pairs, 1 process", rate(one), "", "");
    print_row("pool allocate+free pairs, 2 processes", rate(two), fixed(two / one, 2) + "x",
              "contended total / uncontended");
    table.add("pool allocate+free pairs, 1 process", "M/s", false, one / 1e6);
    table.add("pool allocate+free pairs, 2 processes", "M/s", false, two / 1e6);
    pool.reset(); // removes the segment
    table.write();
    return 0;
}
