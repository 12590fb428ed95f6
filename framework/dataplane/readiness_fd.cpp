#include "dataplane/readiness_fd.hpp"

#include "core/error.hpp"
#include "dataplane/channel_layout.hpp"
#include "dataplane/futex.hpp"

#include <algorithm>
#include <cerrno>
#include <sys/eventfd.h>
#include <unistd.h>

namespace dragon {
namespace {

constexpr int64_t sleep_slice_ns = 50'000'000;

} // namespace

ReadinessFd::ReadinessFd(const Channel &channel) : channel_(channel)
{
    fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd_ < 0)
        throw Error(DRAGON_ERR_UNAVAILABLE, "cannot create an eventfd for channel readiness: " +
                                                errno_text(errno) + "; raise the open-file limit");
    thread_ = std::thread([this] { run(); });
}

ReadinessFd::~ReadinessFd()
{
    stop_.store(true);
    // Wake the helper wherever it sleeps; other sleepers just re-check and sleep again.
    ChannelHeader *h = channel_.header();
    h->send_event.fetch_add(1);
    h->recv_event.fetch_add(1);
    futex::wake_all(&h->send_event);
    futex::wake_all(&h->recv_event);
    thread_.join();
    close(fd_);
}

bool ReadinessFd::refresh()
{
    std::lock_guard<std::mutex> lock(mutex_);
    bool ready = channel_.destroyed() || channel_.readable();
    if (ready && !signalled_) {
        uint64_t one = 1;
        signalled_ = write(fd_, &one, sizeof one) == sizeof one;
    } else if (!ready && signalled_) {
        uint64_t count;
        (void)!read(fd_, &count, sizeof count);
        signalled_ = false;
    }
    return ready;
}

void ReadinessFd::run()
{
    ChannelHeader *h = channel_.header();
    while (!stop_.load()) {
        // Register on both events first, then look: a change after the look wakes us.
        uint32_t sent = h->send_event.load(std::memory_order_acquire);
        uint32_t taken = h->recv_event.load(std::memory_order_acquire);
        h->recv_waiters.fetch_add(1, std::memory_order_seq_cst);
        h->send_waiters.fetch_add(1, std::memory_order_seq_cst);
        bool ready = refresh();
        if (!stop_.load()) {
            // Readable: the next change of interest is a receive; empty: a send.
            if (ready)
                futex::wait(&h->recv_event, taken, sleep_slice_ns);
            else
                futex::wait(&h->send_event, sent, sleep_slice_ns);
        }
        h->recv_waiters.fetch_sub(1, std::memory_order_seq_cst);
        h->send_waiters.fetch_sub(1, std::memory_order_seq_cst);
        if (ready && channel_.destroyed()) {
            // Stay readable; nothing will change any more.
            while (!stop_.load())
                futex::wait(&h->recv_event, h->recv_event.load(), sleep_slice_ns);
        }
    }
}

} // namespace dragon
