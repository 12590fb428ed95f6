// Cross-process futex wait/wake on 32-bit words in shared memory.
//
// FUTEX_PRIVATE_FLAG is deliberately not used: waiters and wakers live in
// different processes that map the same segment at different addresses.
#pragma once

#include <atomic>
#include <cstdint>

namespace dragon::futex {

// Why a wait() returned. Callers re-check their condition whatever it says.
enum class WaitEnd {
    woken,      // woken, or *word already differed from expected
    timed_out,  // timeout_ns passed
    interrupted // a signal handler ran in this thread (EINTR)
};

// Sleeps while *word == expected, at most timeout_ns (INT64_MAX: no limit).
WaitEnd wait(std::atomic<uint32_t> *word, uint32_t expected, int64_t timeout_ns);

// Wakes every sleeper on the word, in every process.
void wake_all(std::atomic<uint32_t> *word);

// Wakes at most one sleeper on the word (a semaphore hands one unit to one waiter).
void wake_one(std::atomic<uint32_t> *word);

// Spin hint for busy-wait loops.
inline void cpu_relax()
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

} // namespace dragon::futex
