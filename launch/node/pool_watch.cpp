#include "pool_watch.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "dataplane/futex.hpp"
#include "dataplane/pool_layout.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

namespace dragon::node {
namespace {
// Sliced so that stopping never waits for a change that does not come.
constexpr int64_t slice_ns = 100'000'000;
} // namespace

PoolWatch::PoolWatch(std::shared_ptr<Pool> pool, bool kernel_wait) : pool_(std::move(pool))
{
    if (kernel_wait)
        kernel_wait_ = PollableFutex::open();
    if (!kernel_wait_)
        start_thread();
}

void PoolWatch::start_thread()
{
    event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ < 0)
        throw Error(DRAGON_ERR_INTERNAL, "eventfd failed: " + errno_text(errno));
    thread_ = std::thread([this] { run(); });
}

PoolWatch::~PoolWatch()
{
    if (kernel_wait_) {
        idle();
        return; // the ring's wait ends with it
    }
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wanted_.notify_all();
    thread_.join();
    idle();
    close(event_fd_);
}

void PoolWatch::drain()
{
    if (kernel_wait_)
        return kernel_wait_->drain();
    uint64_t n;
    while (read(event_fd_, &n, sizeof n) == sizeof n) {
    }
}

uint32_t PoolWatch::stamp()
{
    if (!registered_) {
        // Registered first, so that every change from now on bumps the counter.
        pool_->header()->poll_waiters.fetch_add(1, std::memory_order_seq_cst);
        registered_ = true;
    }
    return pool_->header()->channel_event.load(std::memory_order_seq_cst);
}

void PoolWatch::watch_from(uint32_t stamp)
{
    if (kernel_wait_) {
        if (kernel_wait_->arm(&pool_->header()->channel_event, stamp))
            return;
        // The kernel took no wait (out of memory?): the thread watches from now on.
        log::warning("the node's pool watch falls back to a thread: io_uring took no futex wait");
        kernel_wait_.reset();
        start_thread();
    }
    std::lock_guard lock(mutex_);
    watching_ = true;
    from_ = stamp;
    wanted_.notify_all();
}

void PoolWatch::idle()
{
    if (!kernel_wait_) {
        std::lock_guard lock(mutex_);
        watching_ = false;
    }
    if (registered_) {
        pool_->header()->poll_waiters.fetch_sub(1, std::memory_order_seq_cst);
        registered_ = false;
    }
}

void PoolWatch::run()
{
    std::atomic<uint32_t> &event = pool_->header()->channel_event;
    std::unique_lock lock(mutex_);
    for (;;) {
        wanted_.wait(lock, [&] { return stop_ || watching_; });
        if (stop_)
            return;
        uint32_t from = from_;
        lock.unlock();
        if (event.load(std::memory_order_seq_cst) == from)
            futex::wait(&event, from, slice_ns);
        lock.lock();
        if (watching_ && from_ == from && event.load(std::memory_order_seq_cst) != from) {
            watching_ = false; // until the loop has retried and asks again
            uint64_t one = 1;
            (void)!write(event_fd_, &one, sizeof one);
        }
    }
}

} // namespace dragon::node
