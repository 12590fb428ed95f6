#include "dataplane/pool.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "dataplane/futex.hpp"
#include "dataplane/pool_layout.hpp"
#include "dataplane/pool_size.hpp"
#include "dataplane/sigbus_report.hpp"
#include "dataplane/wait_interruption.hpp"

#include <map>
#include <mutex>
#include <new>
#include <unistd.h>

namespace dragon {
namespace {

// The allocator lock is held for O(log heap) steps; a wait this long means the
// holder is stopped, not slow.
constexpr Timeout lock_timeout = std::chrono::seconds(30);

size_t round_up(size_t v, size_t to)
{
    return (v + to - 1) / to * to;
}

std::mutex cache_mutex;
std::map<std::string, std::weak_ptr<Pool>> &cache()
{
    static auto *pools = new std::map<std::string, std::weak_ptr<Pool>>;
    return *pools;
}

std::string cache_key(const std::string &plugin, const std::string &name)
{
    return plugin + ":" + name;
}

} // namespace

Pool::Pool(Segment segment, const std::string &plugin_name, bool owner)
    : segment_(std::move(segment)), name_(segment_.name()), plugin_name_(plugin_name),
      lock_what_("pool " + name_), header_(static_cast<PoolHeader *>(segment_.data())),
      base_(static_cast<uint8_t *>(segment_.data())), owner_pid_(owner ? getpid() : 0)
{
    watch_pool_mapping(base_, segment_.size(), name_);
}

Pool::~Pool()
{
    unwatch_pool_mapping(base_);
    if (owner_pid_ == getpid() && !destroyed_) {
        try {
            destroy();
        } catch (...) {
        }
    }
}

std::shared_ptr<Pool> Pool::create(const MemoryPlugin &plugin, const std::string &segment_name,
                                   size_t size)
{
    if (size < min_pool_size)
        throw Error(DRAGON_ERR_INVALID, "pool " + segment_name + ": size " + std::to_string(size) +
                                            " is below the minimum of " +
                                            text::format_size(min_pool_size));
    size_t heap = size & ~((size_t(1) << buddy_min_order) - 1);
    size_t units_offset = pool_header_bytes;
    size_t heap_offset = round_up(units_offset + Buddy::unit_bytes(heap), 4096);
    Segment seg = plugin.create(segment_name, heap_offset + heap);
    try {
        auto *h = new (seg.data()) PoolHeader{};
        h->version = pool_layout_version;
        h->units_offset = units_offset;
        h->heap_offset = heap_offset;
        h->lock.init();
        auto *base = static_cast<uint8_t *>(seg.data());
        Buddy(&h->buddy, base + units_offset, base + heap_offset).init(heap);
        // Published last: an attacher that sees the magic sees an initialised pool.
        std::atomic_thread_fence(std::memory_order_release);
        h->magic = pool_magic;
    } catch (...) {
        seg.unlink();
        throw;
    }
    std::shared_ptr<Pool> pool(new Pool(std::move(seg), plugin.name(), true));
    std::lock_guard<std::mutex> guard(cache_mutex);
    cache()[cache_key(plugin.name(), segment_name)] = pool;
    return pool;
}

std::shared_ptr<Pool> Pool::create(const std::string &segment_name)
{
    return create(MemoryPlugin::selected(), segment_name, default_pool_size());
}

std::shared_ptr<Pool> Pool::attach(const std::string &plugin_name, const std::string &segment_name)
{
    std::lock_guard<std::mutex> guard(cache_mutex);
    auto &slot = cache()[cache_key(plugin_name, segment_name)];
    if (auto pool = slot.lock())
        return pool;
    Segment seg = MemoryPlugin::named(plugin_name).attach(segment_name);
    auto *h = static_cast<PoolHeader *>(seg.data());
    if (seg.size() < pool_header_bytes || h->magic != pool_magic)
        throw Error(DRAGON_ERR_INVALID, "segment " + segment_name + " on " + plugin_name +
                                            " is not a Dragon pool (bad magic); was it "
                                            "created by Pool::create?");
    if (h->version != pool_layout_version)
        throw Error(DRAGON_ERR_INVALID, "pool " + segment_name + " has layout version " +
                                            std::to_string(h->version) + ", this library reads " +
                                            std::to_string(pool_layout_version) +
                                            "; run one Dragon version per job");
    // A header that promises more than the segment holds (a truncated or damaged
    // segment) would send every access past the mapping: SIGSEGV or SIGBUS.
    uint64_t end = h->heap_offset + h->buddy.heap_size;
    if (h->units_offset < pool_header_bytes || h->heap_offset < h->units_offset ||
        end < h->heap_offset || end > seg.size())
        throw Error(DRAGON_ERR_INVALID, "pool " + segment_name + " on " + plugin_name +
                                            " is truncated or damaged: its header describes " +
                                            std::to_string(end) + " bytes, the segment has " +
                                            std::to_string(seg.size()));
    std::shared_ptr<Pool> pool(new Pool(std::move(seg), plugin_name, false));
    slot = pool;
    return pool;
}

void Pool::destroy()
{
    if (destroyed_)
        return;
    destroyed_ = true;
    segment_.unlink();
}

template <typename Fn> auto Pool::locked(Timeout timeout, Fn &&fn) const
{
    Buddy buddy(&header_->buddy, base_ + header_->units_offset, base_ + header_->heap_offset);
    header_->lock.lock(Deadline(timeout), lock_what_, [&] { buddy.rebuild(); });
    struct Unlock {
        PoolHeader *h;
        ~Unlock() { h->lock.unlock(); }
    } unlock{header_};
    return fn(buddy);
}

void *Pool::try_allocate(size_t size, std::atomic<uint64_t> *record)
{
    uint64_t off = locked(lock_timeout, [&](Buddy &b) {
        uint64_t got = b.allocate(size);
        if (record && got != buddy_none)
            record->store(header_->heap_offset + got, std::memory_order_release);
        return got;
    });
    return off == buddy_none ? nullptr : base_ + header_->heap_offset + off;
}

void *Pool::allocate(size_t size, Timeout timeout, std::atomic<uint64_t> *record)
{
    if (size > header_->buddy.heap_size)
        throw Error(DRAGON_ERR_NO_MEMORY, "pool " + name_ + " cannot hold " + std::to_string(size) +
                                              " bytes: its heap is " +
                                              std::to_string(header_->buddy.heap_size) +
                                              " bytes; raise DRAGON_DEFAULT_SEG_SZ");
    if (size_t largest = largest_request(); size > largest)
        throw Error(DRAGON_ERR_NO_MEMORY,
                    "pool " + name_ + " can never hold " + std::to_string(size) +
                        " bytes: the largest block it can give one request is " +
                        text::format_size(largest) + " (its heap is " +
                        text::format_size(header_->buddy.heap_size) +
                        "); raise DRAGON_DEFAULT_SEG_SZ");
    Deadline deadline(timeout);
    for (;;) {
        uint32_t seen = header_->free_event.load(std::memory_order_acquire);
        if (void *p = try_allocate(size, record))
            return p;
        if (deadline.expired())
            throw_exhausted(size, timeout);
        // Announce, then sleep unless a free happened since `seen`.
        WaiterRegistration registered(header_->alloc_waiters);
        sleep_interruptibly(&header_->free_event, seen,
                            std::min<int64_t>(deadline.remaining_ns(), 100'000'000));
    }
}

size_t Pool::largest_request() const
{
    // The first top-level block is the largest and the only one of its size. The
    // holder table, once made, is never freed: if it lives in that block, a request
    // needing the whole block would wait forever, however much else is freed.
    uint64_t top = uint64_t(1) << header_->buddy.max_order;
    uint64_t table = header_->holder_table.load(std::memory_order_acquire);
    bool pinned = table != 0 && table >= header_->heap_offset && table - header_->heap_offset < top;
    return pinned ? top / 2 : top;
}

void Pool::throw_exhausted(size_t size, Timeout timeout) const
{
    PoolStats s = stats();
    std::string waited =
        timeout == no_wait
            ? ""
            : " after waiting " + std::to_string(timeout.count() / 1'000'000) + " ms";
    throw Error(DRAGON_ERR_NO_MEMORY,
                "pool " + name_ + " exhausted: " + std::to_string(s.bytes_in_use) + " of " +
                    std::to_string(s.capacity) + " bytes in use, no free block of " +
                    std::to_string(size) + " bytes" + waited + "; raise DRAGON_DEFAULT_SEG_SZ");
}

void Pool::free(void *ptr)
{
    if (!ptr)
        return;
    if (!contains(ptr))
        throw Error(DRAGON_ERR_INVALID, "pool " + name_ + ": free of a pointer outside the pool");
    uint64_t off = static_cast<uint8_t *>(ptr) - (base_ + header_->heap_offset);
    bool ok = locked(lock_timeout, [&](Buddy &b) { return b.free(off); });
    if (!ok)
        throw Error(DRAGON_ERR_INVALID, "pool " + name_ + ": free of offset " +
                                            std::to_string(off) +
                                            " which is not an allocated block (double free?)");
    header_->free_event.fetch_add(1, std::memory_order_seq_cst);
    if (header_->alloc_waiters.load(std::memory_order_seq_cst) > 0)
        futex::wake_all(&header_->free_event);
}

size_t Pool::block_size(const void *ptr) const
{
    if (!contains(ptr))
        return 0;
    uint64_t off = static_cast<const uint8_t *>(ptr) - (base_ + header_->heap_offset);
    return locked(lock_timeout, [&](Buddy &b) { return b.block_size(off); });
}

bool Pool::contains(const void *ptr) const
{
    auto *p = static_cast<const uint8_t *>(ptr);
    return p >= base_ + header_->heap_offset &&
           p < base_ + header_->heap_offset + header_->buddy.heap_size;
}

uint64_t Pool::handle_of(const void *ptr) const
{
    if (!contains(ptr))
        throw Error(DRAGON_ERR_INVALID, "pool " + name_ + ": pointer is not inside the pool");
    return static_cast<const uint8_t *>(ptr) - base_;
}

void *Pool::pointer_of(uint64_t handle) const
{
    if (handle < header_->heap_offset || handle >= header_->heap_offset + header_->buddy.heap_size)
        throw Error(DRAGON_ERR_INVALID, "pool " + name_ + ": handle " + std::to_string(handle) +
                                            " is outside the pool's heap (wrong pool?)");
    return base_ + handle;
}

PoolStats Pool::stats() const
{
    return locked(lock_timeout, [&](Buddy &b) {
        const BuddyState &s = header_->buddy;
        return PoolStats{s.heap_size,         s.bytes_in_use,     s.high_water,
                         s.allocations_total, s.allocations_live, b.largest_free()};
    });
}

} // namespace dragon
