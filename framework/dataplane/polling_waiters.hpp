// Which of our threads are polling in a wait right now (spin_phase.hpp), counted
// per machine, so that cpu_to_spare() can leave them out of the machine's
// runnable threads.
//
// Why: /proc/loadavg cannot tell a CPU-bound neighbour from one of our own
// waiters that polls (spins, then yields): both are runnable. Counted as busy,
// our own pollers made every other waiter sleep at once: with two processes and
// their dragon-node per CPU, a quiet machine paid a vCPU wake-up on every hop of
// a cross-node Queue ping-pong (68 us; 36 us when they poll). Per machine, not
// per node: several simulated nodes on one machine share its CPUs.
//
// The table is a small shared-memory segment (segment_name("polling"): the same
// name on every machine, one segment per machine) that each dragon-node creates
// or opens and removes at its end; the job's processes open it by the name in
// DRAGON_POLLING_TABLE. A poller takes a slot and writes into it the time its
// polling ends; a slot whose time has passed is free. So a process killed while
// polling is forgotten within one poll window (a plain counter would stay raised
// for the rest of the job). Two pollers that find every probed slot taken leave
// the count too low, never too high: the error is on the side of sleeping.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace dragon {

struct PollingTable {
    static constexpr int slots = 64;
    std::atomic<int64_t> until_ns[slots];
};

// Counts this process's pollers, from now on, in the machine's table named
// `name` (a segment name), creating it when `create` (dragon-node). The mapping
// stays for the life of the process. Returns false, and keeps counting in a table
// of this process's own, when the segment cannot be opened. Any thread.
bool count_polling_in_machine_table(const std::string &name, bool create);
// Removes the table's name (dragon-node at its end; mappings stay valid).
void remove_machine_polling_table(const std::string &name);

// How many of our threads on this machine poll now.
int polling_now();

// While it lives (at most until `until_ns`), the calling thread counts as polling.
class PollingEntry {
public:
    explicit PollingEntry(int64_t until_ns);
    ~PollingEntry();
    PollingEntry(const PollingEntry &) = delete;
    PollingEntry &operator=(const PollingEntry &) = delete;

private:
    std::atomic<int64_t> *slot_ = nullptr;
    int64_t until_ns_;
};

} // namespace dragon
