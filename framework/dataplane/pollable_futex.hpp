// A futex wait that an event loop polls beside its sockets: a file descriptor that
// turns readable when a futex word is woken.
//
// Why: dragon-node's loop sleeps in poll() on its sockets, and what other nodes'
// processes wait for in its pool (a receive on an empty channel) changes through
// the pool's channel_event futex. A thread that sleeps on the futex and writes an
// eventfd costs two wake-ups in a row per change (the thread, then the loop), each
// one a wait for the CPU when the cores are busy. Here the kernel completes the
// wait itself: an io_uring with one FUTEX_WAIT in flight, whose ring fd poll()
// reports readable once the wait ends, so a change wakes the loop alone.
//
// Linux 6.7 or later; open() returns nullptr where the kernel cannot (older
// kernels, io_uring disabled by sysctl or a seccomp filter), and the caller keeps
// its thread. Not thread-safe: one thread arms and drains.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace dragon {

class PollableFutex {
public:
    static std::unique_ptr<PollableFutex> open();
    ~PollableFutex();
    PollableFutex(const PollableFutex &) = delete;
    PollableFutex &operator=(const PollableFutex &) = delete;

    // Readable once the armed wait has ended.
    int fd() const { return ring_fd_; }

    // Makes fd() readable at the next wake of *word, or at once if it no longer
    // holds `expected`. A wait still in flight is kept: it ends at the same wake.
    // False if the kernel took no wait (the caller must watch another way).
    bool arm(std::atomic<uint32_t> *word, uint32_t expected);

    // Takes the ended wait's completion (fd() no longer readable); arm() again to
    // hear of the next wake.
    void drain();

private:
    PollableFutex() = default;
    bool setup();
    bool submit_wait(std::atomic<uint32_t> *word, uint32_t expected);
    // The next completion's result; false when none is there.
    bool take_completion(int32_t *result);

    int ring_fd_ = -1;
    void *rings_ = nullptr;
    size_t rings_size_ = 0;
    void *sqes_ = nullptr;
    size_t sqes_size_ = 0;
    // Pointers into the shared rings (io_uring's sq_off/cq_off).
    std::atomic<uint32_t> *sq_tail_ = nullptr;
    uint32_t sq_mask_ = 0;
    uint32_t *sq_array_ = nullptr;
    std::atomic<uint32_t> *cq_head_ = nullptr;
    std::atomic<uint32_t> *cq_tail_ = nullptr;
    uint32_t cq_mask_ = 0;
    void *cqes_ = nullptr;
    bool in_flight_ = false;
};

} // namespace dragon
