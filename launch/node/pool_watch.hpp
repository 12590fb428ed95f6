// Wakes the node's event loop when anything changes in its pool, while operations
// of other nodes' processes wait there (a receive on an empty channel, a send to a
// full one, an acquire at zero). They wait as entries in the loop, not as a thread
// each: one thread here sleeps on the pool's channel_event futex (which every send,
// receive, release and destroy bumps while a watcher is registered) and makes an
// eventfd readable; the loop then retries what waits. Where the kernel can complete
// a futex wait by itself (pollable_futex.hpp, Linux 6.7), no thread: the loop polls
// that wait's fd, and a change wakes the loop alone instead of the thread and then
// the loop, each of them a wait for the CPU when the cores are busy.
//
// Use from the loop's thread: stamp() before retrying, then watch_from(stamp) if
// anything still waits (a change after the stamp wakes at once: nothing is missed),
// or idle() once nothing does.
#pragma once

#include "dataplane/pollable_futex.hpp"
#include "dataplane/pool.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

namespace dragon::node {

class PoolWatch {
public:
    // kernel_wait=false keeps the thread even where the kernel could wait (tests).
    explicit PoolWatch(std::shared_ptr<Pool> pool, bool kernel_wait = true);
    ~PoolWatch();
    PoolWatch(const PoolWatch &) = delete;
    PoolWatch &operator=(const PoolWatch &) = delete;

    // Readable after a change the loop asked to hear about.
    int fd() const { return kernel_wait_ ? kernel_wait_->fd() : event_fd_; }
    // Whether the kernel waits for the loop (no thread).
    bool kernel_waits() const { return kernel_wait_ != nullptr; }
    // Empties fd().
    void drain();

    uint32_t stamp();
    void watch_from(uint32_t stamp);
    void idle();

private:
    void start_thread();
    void run();

    std::shared_ptr<Pool> pool_;
    std::unique_ptr<PollableFutex> kernel_wait_;
    int event_fd_ = -1;
    bool registered_ = false; // counted in the pool's poll_waiters (loop thread only)
    std::mutex mutex_;
    std::condition_variable wanted_;
    bool watching_ = false;
    uint32_t from_ = 0;
    bool stop_ = false;
    std::thread thread_;
};

} // namespace dragon::node
