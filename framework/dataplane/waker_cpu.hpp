// Where a receiver sleeps while the cores are busy: on the CPU of whoever woke
// the channel's receivers last (in a ping-pong, its peer).
//
// Why: a futex wake-up, unlike a pipe's or a socket's, does not tell the
// scheduler that the waker is about to sleep (WF_SYNC), so the woken process
// stays on its own CPU. With a CPU-bound neighbour on every core, two processes
// that talk then sit on different CPUs, and every message costs a cross-CPU
// wake-up and the preemption of the neighbour there: on these VMs about 25 us,
// against 3-5 us when both share a CPU and simply take turns. A run settled in
// either state and stayed there (Pipe ping-pong medians 7 or 50 us, 2 runs in 5
// the slow way, where stock's pipes, woken with WF_SYNC, were 11-21 us).
// Sleeping beside the waker is what the kernel does for a synchronous wake-up.
//
// Only while no CPU is spare (spin_phase.hpp) and only for a lone receiver:
// several sleepers (Pool workers on a task queue) must not pile onto one CPU.
// Of two processes that wake each other, only the one with the higher pid
// follows the other: if both moved, each to where the other was, they would
// swap CPUs on every message. The thread's own affinity is restored as soon as
// it wakes, and a CPU outside it is never used.
#pragma once

#include <atomic>
#include <cstdint>
#include <sched.h>

namespace dragon {

// Records the calling process and its CPU in `word` (pid << 32 | node bit | CPU + 1;
// 0: no wake-up yet), writing only on a change so that the cache line stays shared.
void note_waker(std::atomic<uint64_t> &word);

// dragon-node: its wake-ups are marked as a node's. A node goes on serving other
// requests after it woke a receiver (a process sleeps, waiting for the answer).
void note_wakes_as_node();

// Whether the last waker `word` names is a process (not a node) that ran on the
// calling thread's CPU: it goes to sleep right after waking us, and a wake-up that
// preempted it would only delay that (wake_slice.hpp).
bool waker_sleeps_beside(const std::atomic<uint64_t> &word);

// While it lives, the calling thread runs on the CPU of the waker `word` names,
// when that waker has a lower pid and another CPU, and the thread's affinity
// allows that CPU; afterwards on the CPUs it had (a mask changed by someone else
// meanwhile is overwritten: such a thread is rarely blocked in a channel receive).
class SleepBesideWaker {
public:
    explicit SleepBesideWaker(const std::atomic<uint64_t> &word);
    ~SleepBesideWaker();
    SleepBesideWaker(const SleepBesideWaker &) = delete;
    SleepBesideWaker &operator=(const SleepBesideWaker &) = delete;

private:
    bool moved_ = false;
    cpu_set_t own_;
};

} // namespace dragon
