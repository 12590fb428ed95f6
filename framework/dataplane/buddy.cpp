#include "dataplane/buddy.hpp"

#include <atomic>
#include <bit>

namespace dragon {
namespace {

// State byte at a block's first unit: 2 bits of state, 6 bits of order.
constexpr uint8_t state_free = 0x40;
constexpr uint8_t state_used = 0x80;
constexpr uint8_t state_mask = 0xC0;

uint8_t encode(uint8_t state, int order)
{
    return uint8_t(state | order);
}
int order_of(uint8_t b)
{
    return b & 0x3F;
}

// One-byte stores are single instructions; the release fence keeps the
// crash-ordering of the updates documented in buddy.hpp.
void store(uint8_t &b, uint8_t v)
{
    std::atomic_signal_fence(std::memory_order_seq_cst);
    b = v;
    std::atomic_signal_fence(std::memory_order_seq_cst);
}

} // namespace

int Buddy::order_for(size_t size) const
{
    if (size == 0)
        size = 1;
    if (size > (uint64_t(1) << s_->max_order))
        return -1;
    int order = int(std::bit_width(uint64_t(size) - 1));
    return order < buddy_min_order ? buddy_min_order : order;
}

void Buddy::init(uint64_t heap_size)
{
    s_->heap_size = heap_size & ~((uint64_t(1) << buddy_min_order) - 1);
    s_->max_order = uint32_t(std::bit_width(s_->heap_size) - 1);
    for (auto &h : s_->free_head)
        h = buddy_none;
    s_->bytes_in_use = s_->high_water = s_->allocations_total = s_->allocations_live = 0;
    // Tile greedily with the largest aligned power of two that fits: the binary
    // decomposition of the heap size, so no top-level block has an in-range buddy.
    uint64_t off = 0;
    while (off + (uint64_t(1) << buddy_min_order) <= s_->heap_size) {
        int order = int(s_->max_order);
        while (order > buddy_min_order && ((off & ((uint64_t(1) << order) - 1)) ||
                                           off + (uint64_t(1) << order) > s_->heap_size))
            --order;
        store(unit(off), encode(state_free, order));
        push(order, off);
        off += uint64_t(1) << order;
    }
}

void Buddy::push(int order, uint64_t off)
{
    Link *l = link(off);
    l->prev = buddy_none;
    l->next = s_->free_head[order];
    if (l->next != buddy_none)
        link(l->next)->prev = off;
    s_->free_head[order] = off;
}

void Buddy::unlink(int order, uint64_t off)
{
    Link *l = link(off);
    if (l->prev != buddy_none)
        link(l->prev)->next = l->next;
    else
        s_->free_head[order] = l->next;
    if (l->next != buddy_none)
        link(l->next)->prev = l->prev;
}

void Buddy::account_alloc(uint64_t bytes)
{
    s_->bytes_in_use += bytes;
    if (s_->bytes_in_use > s_->high_water)
        s_->high_water = s_->bytes_in_use;
    ++s_->allocations_total;
    ++s_->allocations_live;
}

uint64_t Buddy::allocate(size_t size)
{
    int want = order_for(size);
    if (want < 0)
        return buddy_none;
    int k = want;
    while (k <= int(s_->max_order) && s_->free_head[k] == buddy_none)
        ++k;
    if (k > int(s_->max_order))
        return buddy_none;
    uint64_t off = s_->free_head[k];
    unlink(k, off);
    // Split: write the upper half's state first (invisible to a walk until the
    // lower half shrinks), then shrink the lower half.
    while (k > want) {
        --k;
        uint64_t upper = off + (uint64_t(1) << k);
        store(unit(upper), encode(state_free, k));
        store(unit(off), encode(state_free, k));
        push(k, upper);
    }
    store(unit(off), encode(state_used, want));
    account_alloc(uint64_t(1) << want);
    return off;
}

uint64_t Buddy::block_size(uint64_t off) const
{
    if (off >= s_->heap_size || (off & ((uint64_t(1) << buddy_min_order) - 1)))
        return 0;
    uint8_t b = unit(off);
    if ((b & state_mask) != state_used)
        return 0;
    return uint64_t(1) << order_of(b);
}

bool Buddy::free(uint64_t off)
{
    uint64_t bytes = block_size(off);
    if (bytes == 0)
        return false;
    int k = order_of(unit(off));
    s_->bytes_in_use -= bytes;
    --s_->allocations_live;
    // Merge upward while the buddy is a whole free block of the same order.
    while (k < int(s_->max_order)) {
        uint64_t buddy = off ^ (uint64_t(1) << k);
        if (buddy + (uint64_t(1) << k) > s_->heap_size || unit(buddy) != encode(state_free, k))
            break;
        unlink(k, buddy);
        off = off < buddy ? off : buddy;
        ++k;
        store(unit(off), encode(state_free, k));
    }
    store(unit(off), encode(state_free, k));
    push(k, off);
    return true;
}

void Buddy::rebuild()
{
    for (auto &h : s_->free_head)
        h = buddy_none;
    s_->bytes_in_use = 0;
    s_->allocations_live = 0;
    uint64_t off = 0;
    while (off + (uint64_t(1) << buddy_min_order) <= s_->heap_size) {
        uint8_t b = unit(off);
        int k = order_of(b);
        if (k < buddy_min_order || k > int(s_->max_order) || (off & ((uint64_t(1) << k) - 1)) ||
            off + (uint64_t(1) << k) > s_->heap_size)
            break; // cannot happen with ordered updates; stop rather than walk garbage
        if ((b & state_mask) == state_used) {
            s_->bytes_in_use += uint64_t(1) << k;
            ++s_->allocations_live;
        } else {
            store(unit(off), encode(state_free, k));
            push(k, off);
        }
        off += uint64_t(1) << k;
    }
}

uint64_t Buddy::largest_free() const
{
    for (int k = int(s_->max_order); k >= buddy_min_order; --k)
        if (s_->free_head[k] != buddy_none)
            return uint64_t(1) << k;
    return 0;
}

} // namespace dragon
