#include "dataplane/waker_cpu.hpp"

#include "dataplane/process_alive.hpp"

namespace dragon {
namespace {

constexpr uint64_t node_bit = uint64_t(1) << 31;
std::atomic<uint64_t> wakes_of_this_process{0};

int cpu_of(uint64_t value)
{
    return int(uint32_t(value & ~node_bit) - 1);
}

} // namespace

void note_wakes_as_node()
{
    wakes_of_this_process.store(node_bit, std::memory_order_relaxed);
}

void note_waker(std::atomic<uint64_t> &word)
{
    int cpu = sched_getcpu(); // vDSO: no system call
    if (cpu < 0)
        return;
    uint64_t value = uint64_t(current_pid()) << 32 | (uint32_t(cpu) + 1) |
                     wakes_of_this_process.load(std::memory_order_relaxed);
    if (word.load(std::memory_order_relaxed) != value)
        word.store(value, std::memory_order_relaxed);
}

bool waker_sleeps_beside(const std::atomic<uint64_t> &word)
{
    uint64_t value = word.load(std::memory_order_relaxed);
    return value != 0 && !(value & node_bit) && cpu_of(value) == sched_getcpu();
}

SleepBesideWaker::SleepBesideWaker(const std::atomic<uint64_t> &word)
{
    uint64_t value = word.load(std::memory_order_relaxed);
    uint32_t waker_pid = uint32_t(value >> 32);
    if (value == 0 || waker_pid >= current_pid())
        return;
    int target = cpu_of(value);
    int here = sched_getcpu();
    if (here < 0 || here == target || target >= CPU_SETSIZE)
        return;
    CPU_ZERO(&own_);
    if (sched_getaffinity(0, sizeof own_, &own_) != 0 || !CPU_ISSET(target, &own_))
        return;
    cpu_set_t only;
    CPU_ZERO(&only);
    CPU_SET(target, &only);
    moved_ = sched_setaffinity(0, sizeof only, &only) == 0;
}

SleepBesideWaker::~SleepBesideWaker()
{
    if (moved_)
        sched_setaffinity(0, sizeof own_, &own_); // the mask it had: valid a moment ago
}

} // namespace dragon
