// A file descriptor that is readable while a channel has a message waiting, for
// select/poll/epoll, Python selectors and multiprocessing.connection.wait.
//
// Design: an eventfd is private to a process, so each process that asks for
// one gets its own eventfd plus a helper thread that mirrors the channel's state
// into it, level-triggered: while the channel is readable the eventfd holds a
// count (readable); once it is empty the thread drains the eventfd. The thread
// sleeps on the channel's futex event counters (registered as a waiter, so every
// send and receive wakes it) rather than polling; waits are sliced to 50 ms so a
// destroyed channel is noticed. Cost: while a ReadinessFd exists, sends and
// receives on that channel pay a futex wake. The eventfd is only a signal: the
// caller still calls try_recv(), which may find nothing if another process won
// the race (as with any shared socket). Not inherited across fork (the thread is
// not); create one per process.
#pragma once

#include "dataplane/channel.hpp"

#include <atomic>
#include <thread>

namespace dragon {

class ReadinessFd {
public:
    // `channel` must outlive this object. Throws dragon::Error if no eventfd is available.
    explicit ReadinessFd(const Channel &channel);
    ReadinessFd(const ReadinessFd &) = delete;
    ReadinessFd &operator=(const ReadinessFd &) = delete;
    ~ReadinessFd();

    int fd() const { return fd_; }

private:
    void run();

    const Channel &channel_;
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace dragon
