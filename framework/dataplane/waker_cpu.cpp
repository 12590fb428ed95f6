#include "dataplane/waker_cpu.hpp"

#include "dataplane/process_alive.hpp"

namespace dragon {

void note_waker(std::atomic<uint64_t> &word)
{
    int cpu = sched_getcpu(); // vDSO: no system call
    if (cpu < 0)
        return;
    uint64_t value = uint64_t(current_pid()) << 32 | (uint32_t(cpu) + 1);
    if (word.load(std::memory_order_relaxed) != value)
        word.store(value, std::memory_order_relaxed);
}

SleepBesideWaker::SleepBesideWaker(const std::atomic<uint64_t> &word)
{
    uint64_t value = word.load(std::memory_order_relaxed);
    uint32_t waker_pid = uint32_t(value >> 32);
    if (value == 0 || waker_pid >= current_pid())
        return;
    int target = int(uint32_t(value) - 1);
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
