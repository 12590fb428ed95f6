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
//
// The helper thread lags behind: right after this process receives the last
// message, the eventfd may still be readable for a moment. A caller that waits
// on the fd and then does a blocking receive (as CPython's concurrent.futures
// and multiprocessing.pool do) would then block on an empty channel, so a
// receiver calls refresh() after receiving: it brings the eventfd up to date at
// once. Both refresh() and the thread look and update under one mutex, so the
// state last applied is always one observed after the caller's receive.
#pragma once

#include "dataplane/channel.hpp"

#include <atomic>
#include <mutex>
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
    // Makes the eventfd match the channel now; returns whether it is readable.
    bool refresh();

private:
    void run();

    const Channel &channel_;
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;       // guards signalled_ and the eventfd's count
    bool signalled_ = false; // the eventfd holds a count
    std::thread thread_;
};

} // namespace dragon
