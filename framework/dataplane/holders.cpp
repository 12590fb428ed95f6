// The pool's holder table (see holders.hpp for the design).
//
// Layout, one pool block made by the first process that needs it:
//   [HolderTableHeader][HolderSlot x slots]
// and per holder, a pool block of RefEntry (linear probing, power-of-two size,
// at most half full, backward-shift deletion).
#include "dataplane/holders.hpp"

#include "core/error.hpp"
#include "dataplane/channel_layout.hpp"
#include "dataplane/pool.hpp"
#include "dataplane/pool_layout.hpp"
#include "dataplane/process_alive.hpp"
#include "dataplane/robust_mutex.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <set>
#include <vector>

namespace dragon {
namespace {

constexpr uint64_t holder_table_magic = 0x534c4448474e4452ull; // "RDGNHDLS"
// A BlockInHand word: 0 free, claimed_word claimed by a sender with no block yet,
// else the handle of the block it writes (handles are past the pool header).
constexpr uint64_t claimed_word = 1;
// Large messages a process is sending or holds, recorded at once (more go unrecorded).
constexpr int in_hand_words = 8;
constexpr uint64_t slot_claiming = ~uint64_t(0); // id while a slot is set up
constexpr uint32_t first_map_capacity = 16;
// A holder's lock is held for a map update; a wait this long means its holder is stopped.
constexpr Timeout holder_lock_timeout = std::chrono::seconds(30);

struct alignas(64) HolderTableHeader {
    uint64_t magic;
    uint32_t slots;
    std::atomic<uint32_t> generation;     // makes local holder ids unique over pid reuse
    std::atomic<uint32_t> channel_serial; // see next_channel_serial()
};

struct alignas(64) HolderSlot {
    std::atomic<uint64_t> id; // 0: free; slot_claiming: being set up
    std::atomic<uint32_t> guardian;
    uint32_t reserved;
    RobustMutex lock;
    // Guarded by lock:
    uint64_t map; // pool handle of RefEntry[map_capacity], 0: none
    uint32_t map_capacity;
    uint32_t map_used;
    // Written by the holder's own process only (BlockInHand); read by its releaser.
    std::atomic<uint64_t> in_hand[in_hand_words];
};

struct RefEntry {
    uint64_t key; // handle << 1 | transit; 0: empty
    uint32_t serial;
    uint32_t count;
};

uint32_t table_slots(const Pool &pool)
{
    // About one holder per 64 KiB of pool, 64 to 2048 (a 4 GiB pool: 2048, 256 KiB).
    uint64_t heap = pool.header()->buddy.heap_size;
    return uint32_t(std::clamp<uint64_t>(heap >> 16, 64, 2048));
}

HolderTableHeader *table(Pool &pool)
{
    PoolHeader *ph = pool.header();
    uint64_t handle = ph->holder_table.load(std::memory_order_acquire);
    if (handle == 0) {
        // Built aside and published by one CAS: a creator killed halfway leaves nothing.
        uint32_t slots = table_slots(pool);
        void *mem = pool.allocate(sizeof(HolderTableHeader) + sizeof(HolderSlot) * slots, no_wait);
        auto *t = new (mem) HolderTableHeader{};
        t->slots = slots;
        auto *s = reinterpret_cast<HolderSlot *>(t + 1);
        for (uint32_t i = 0; i < slots; ++i) {
            new (s + i) HolderSlot{};
            s[i].lock.init();
        }
        t->magic = holder_table_magic;
        uint64_t mine = pool.handle_of(mem);
        if (ph->holder_table.compare_exchange_strong(handle, mine, std::memory_order_acq_rel))
            handle = mine;
        else
            pool.free(mem);
    }
    auto *t = static_cast<HolderTableHeader *>(pool.pointer_of(handle));
    if (t->magic != holder_table_magic)
        throw Error(DRAGON_ERR_INTERNAL, "pool " + pool.name() + ": its holder table is corrupt");
    return t;
}

HolderSlot *slots_of(HolderTableHeader *t)
{
    return reinterpret_cast<HolderSlot *>(t + 1);
}

RefEntry *map_of(Pool &pool, const HolderSlot &s)
{
    return s.map ? static_cast<RefEntry *>(pool.pointer_of(s.map)) : nullptr;
}

size_t home_of(uint64_t key, uint32_t capacity)
{
    return size_t((key * 0x9e3779b97f4a7c15ull) >> 32) & (capacity - 1);
}

// Drops later copies of a key (a crash mid-deletion can leave one).
void dedupe(Pool &pool, HolderSlot &s)
{
    RefEntry *m = map_of(pool, s);
    if (!m)
        return;
    std::vector<RefEntry> kept;
    std::set<uint64_t> seen;
    for (uint32_t i = 0; i < s.map_capacity; ++i)
        if (m[i].key && seen.insert(m[i].key).second)
            kept.push_back(m[i]);
    std::fill(m, m + s.map_capacity, RefEntry{});
    for (const RefEntry &e : kept) {
        size_t i = home_of(e.key, s.map_capacity);
        while (m[i].key)
            i = (i + 1) & (s.map_capacity - 1);
        m[i] = e;
    }
    s.map_used = uint32_t(kept.size());
}

class SlotLock {
public:
    SlotLock(Pool &pool, HolderSlot &s) : s_(s)
    {
        s.lock.lock(Deadline(holder_lock_timeout), "holder table of pool " + pool.name(),
                    [&] { dedupe(pool, s); });
    }
    ~SlotLock() { s_.lock.unlock(); }
    SlotLock(const SlotLock &) = delete;
    SlotLock &operator=(const SlotLock &) = delete;

private:
    HolderSlot &s_;
};

HolderSlot &slot_of(Pool &pool, uint32_t index)
{
    HolderTableHeader *t = table(pool);
    if (index >= t->slots)
        throw Error(DRAGON_ERR_INVALID, "pool " + pool.name() + ": holder slot " +
                                            std::to_string(index) + " does not exist");
    return slots_of(t)[index];
}

// Doubles the map (or makes the first one). Slot locked.
void grow(Pool &pool, HolderSlot &s)
{
    uint32_t capacity = s.map_capacity ? s.map_capacity * 2 : first_map_capacity;
    auto *fresh = static_cast<RefEntry *>(pool.allocate(sizeof(RefEntry) * capacity, no_wait));
    std::fill(fresh, fresh + capacity, RefEntry{});
    if (RefEntry *old = map_of(pool, s)) {
        for (uint32_t i = 0; i < s.map_capacity; ++i) {
            if (!old[i].key)
                continue;
            size_t j = home_of(old[i].key, capacity);
            while (fresh[j].key)
                j = (j + 1) & (capacity - 1);
            fresh[j] = old[i];
        }
    }
    uint64_t old_handle = s.map;
    s.map = pool.handle_of(fresh);
    s.map_capacity = capacity;
    if (old_handle)
        pool.free(pool.pointer_of(old_handle));
}

// Index of `key` in the map, or -1.
int64_t find(RefEntry *m, uint32_t capacity, uint64_t key, uint32_t serial)
{
    if (!m)
        return -1;
    for (size_t i = home_of(key, capacity);; i = (i + 1) & (capacity - 1)) {
        if (m[i].key == 0)
            return -1;
        if (m[i].key == key && m[i].serial == serial)
            return int64_t(i);
    }
}

// Removes entry `i`, shifting later entries of its probe run back (no tombstones).
void erase(RefEntry *m, uint32_t capacity, size_t i)
{
    size_t mask = capacity - 1;
    for (size_t j = (i + 1) & mask; m[j].key; j = (j + 1) & mask) {
        size_t home = home_of(m[j].key, capacity);
        // Move j into the hole at i unless its home lies cyclically in (i, j].
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            m[i] = m[j]; // copy first, clear second: a crash leaves a duplicate, not a loss
            m[j].key = 0;
            i = j;
        }
    }
    m[i] = RefEntry{};
}

uint64_t key_of(uint64_t handle, bool transit)
{
    return handle << 1 | (transit ? 1 : 0);
}

// Gives back every reference of a slot whose id is `id`, frees the blocks it had in
// hand, and frees the slot.
uint64_t release_slot(Pool &pool, HolderSlot &s, uint64_t id)
{
    std::vector<RefEntry> refs;
    {
        SlotLock lock(pool, s);
        if (s.id.load(std::memory_order_acquire) != id)
            return 0;
        for (auto &word : s.in_hand) {
            uint64_t handle = word.exchange(0, std::memory_order_acq_rel);
            try {
                if (handle > claimed_word)
                    pool.free(pool.pointer_of(handle));
            } catch (const Error &) {
                // Not an allocated block (a damaged record): nothing to give back.
            }
        }
        if (RefEntry *m = map_of(pool, s)) {
            dedupe(pool, s);
            for (uint32_t i = 0; i < s.map_capacity; ++i)
                if (m[i].key)
                    refs.push_back(m[i]);
            pool.free(m);
        }
        s.map = 0;
        s.map_capacity = s.map_used = 0;
        s.id.store(0, std::memory_order_release);
    }
    uint64_t released = 0;
    for (const RefEntry &e : refs) {
        auto *h = static_cast<ChannelHeader *>(pool.pointer_of(e.key >> 1));
        for (uint32_t n = 0; n < e.count; ++n, ++released)
            channel_unref(pool, h, e.serial);
    }
    return released;
}

struct CachedHolder {
    uint32_t pid;
    HolderName name;
};
std::mutex cache_mutex;
std::map<const PoolHeader *, CachedHolder> &cache()
{
    static auto *holders = new std::map<const PoolHeader *, CachedHolder>;
    return *holders;
}

} // namespace

HolderName register_holder(Pool &pool, uint64_t id, uint32_t guardian_pid)
{
    if (id == 0 || id == slot_claiming)
        throw Error(DRAGON_ERR_INVALID, "holder id " + std::to_string(id) + " is reserved");
    HolderTableHeader *t = table(pool);
    HolderSlot *s = slots_of(t);
    for (int attempt = 0; attempt < 2; ++attempt) {
        for (uint32_t i = 0; i < t->slots; ++i) {
            uint64_t free_id = 0;
            if (s[i].id.load(std::memory_order_relaxed) != 0 ||
                !s[i].id.compare_exchange_strong(free_id, slot_claiming))
                continue;
            s[i].guardian.store(guardian_pid, std::memory_order_relaxed);
            s[i].id.store(id, std::memory_order_release);
            return HolderName{i, id};
        }
        release_dead_holders(pool);
    }
    throw Error(DRAGON_ERR_NO_MEMORY,
                "pool " + pool.name() + ": all " + std::to_string(t->slots) +
                    " holder slots are taken by live processes; run fewer processes per node "
                    "or raise DRAGON_DEFAULT_SEG_SZ (one slot per 64 KiB, at most 2048)");
}

HolderName local_holder(Pool &pool)
{
    uint32_t pid = current_pid();
    std::lock_guard<std::mutex> guard(cache_mutex);
    auto it = cache().find(pool.header());
    if (it != cache().end() && it->second.pid == pid) {
        // Still ours unless this mapping now holds another pool of the same address.
        HolderSlot &s = slot_of(pool, it->second.name.slot);
        if (s.id.load(std::memory_order_acquire) == it->second.name.id &&
            s.guardian.load(std::memory_order_relaxed) == pid)
            return it->second.name;
    }
    uint32_t generation = table(pool)->generation.fetch_add(1) & 0x7fffffff;
    HolderName name = register_holder(pool, (uint64_t(generation) << 32) | pid, pid);
    cache()[pool.header()] = CachedHolder{pid, name};
    return name;
}

bool release_holder(Pool &pool, const HolderName &holder)
{
    HolderSlot &s = slot_of(pool, holder.slot);
    if (s.id.load(std::memory_order_acquire) != holder.id)
        return false;
    release_slot(pool, s, holder.id);
    return true;
}

uint64_t release_process(Pool &pool, uint32_t pid)
{
    if (pool.header()->holder_table.load(std::memory_order_acquire) == 0)
        return 0;
    HolderTableHeader *t = table(pool);
    HolderSlot *s = slots_of(t);
    uint64_t released = 0;
    for (uint32_t i = 0; i < t->slots; ++i) {
        uint64_t id = s[i].id.load(std::memory_order_acquire);
        if (id != 0 && id != slot_claiming && s[i].guardian.load() == pid)
            released += release_slot(pool, s[i], id);
    }
    return released;
}

uint64_t release_dead_holders(Pool &pool)
{
    HolderTableHeader *t = table(pool);
    HolderSlot *s = slots_of(t);
    uint64_t released = 0;
    for (uint32_t i = 0; i < t->slots; ++i) {
        uint64_t id = s[i].id.load(std::memory_order_acquire);
        if (id != 0 && id != slot_claiming && process_dead(s[i].guardian.load()))
            released += release_slot(pool, s[i], id);
    }
    return released;
}

void hold(Pool &pool, const HolderName &holder, uint64_t handle, uint32_t serial, bool transit)
{
    HolderSlot &s = slot_of(pool, holder.slot);
    SlotLock lock(pool, s);
    if (s.id.load(std::memory_order_acquire) != holder.id)
        throw Error(DRAGON_ERR_INTERNAL, "pool " + pool.name() + ": holder slot " +
                                             std::to_string(holder.slot) +
                                             " was released while its holder still runs");
    uint64_t key = key_of(handle, transit);
    int64_t at = find(map_of(pool, s), s.map_capacity, key, serial);
    if (at >= 0) {
        map_of(pool, s)[at].count += 1;
        return;
    }
    if ((s.map_used + 1) * 2 > s.map_capacity)
        grow(pool, s);
    RefEntry *m = map_of(pool, s);
    size_t i = home_of(key, s.map_capacity);
    while (m[i].key)
        i = (i + 1) & (s.map_capacity - 1);
    m[i] = RefEntry{key, serial, 1};
    s.map_used += 1;
}

bool unhold(Pool &pool, const HolderName &holder, uint64_t handle, uint32_t serial, bool transit)
{
    HolderSlot &s = slot_of(pool, holder.slot);
    if (s.id.load(std::memory_order_acquire) != holder.id)
        return false;
    SlotLock lock(pool, s);
    if (s.id.load(std::memory_order_acquire) != holder.id)
        return false;
    RefEntry *m = map_of(pool, s);
    int64_t at = find(m, s.map_capacity, key_of(handle, transit), serial);
    if (at < 0)
        return false;
    if (--m[at].count == 0) {
        erase(m, s.map_capacity, size_t(at));
        s.map_used -= 1;
    }
    return true;
}

uint32_t references_of(Pool &pool, const HolderName &holder, uint64_t handle, uint32_t serial)
{
    HolderSlot &s = slot_of(pool, holder.slot);
    SlotLock lock(pool, s);
    if (s.id.load(std::memory_order_acquire) != holder.id)
        return 0;
    uint32_t n = 0;
    RefEntry *m = map_of(pool, s);
    for (bool transit : {false, true}) {
        int64_t at = find(m, s.map_capacity, key_of(handle, transit), serial);
        if (at >= 0)
            n += m[at].count;
    }
    return n;
}

BlockInHand::BlockInHand(Pool &pool, size_t size)
{
    if (size < recorded_from)
        return;
    HolderName holder = local_holder(pool);
    HolderSlot &s = slot_of(pool, holder.slot);
    for (uint32_t i = 0; i < in_hand_words; ++i) {
        uint64_t free_word = 0;
        if (s.in_hand[i].compare_exchange_strong(free_word, claimed_word,
                                                 std::memory_order_acq_rel)) {
            word_ = &s.in_hand[i];
            record_ = {holder.slot, i, holder.id};
            return;
        }
    }
}

BlockInHand::BlockInHand(Pool &pool, const void *block, size_t size) : BlockInHand(pool, size)
{
    if (word_)
        word_->store(pool.handle_of(block), std::memory_order_release);
}

std::optional<BlockRecord> BlockInHand::hand_over()
{
    if (!word_ || word_->load(std::memory_order_acquire) <= claimed_word)
        return std::nullopt;
    word_ = nullptr; // the destructor leaves the record alone
    return record_;
}

std::string encode_block_record(const BlockRecord &record)
{
    std::string bytes(16, '\0');
    std::memcpy(bytes.data(), &record.slot, 4);
    std::memcpy(bytes.data() + 4, &record.word, 4);
    std::memcpy(bytes.data() + 8, &record.holder_id, 8);
    return bytes;
}

std::optional<BlockRecord> decode_block_record(std::string_view bytes)
{
    if (bytes.size() != 16)
        return std::nullopt;
    BlockRecord record;
    std::memcpy(&record.slot, bytes.data(), 4);
    std::memcpy(&record.word, bytes.data() + 4, 4);
    std::memcpy(&record.holder_id, bytes.data() + 8, 8);
    return record;
}

bool take_block_in_hand(Pool &pool, const BlockRecord &record, uint64_t handle)
{
    if (record.word >= in_hand_words || handle <= claimed_word)
        return false;
    HolderSlot &s = slot_of(pool, record.slot);
    // Under the slot's lock, as its release: the holder cannot be released, its slot
    // reused and the same block recorded again between the check and the take.
    SlotLock lock(pool, s);
    if (s.id.load(std::memory_order_acquire) != record.holder_id)
        return false;
    uint64_t expected = handle;
    return s.in_hand[record.word].compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
}

BlockInHand::~BlockInHand()
{
    if (word_)
        word_->store(0, std::memory_order_release);
}

void BlockInHand::let_go()
{
    if (!word_)
        return;
    uint64_t handle = word_->exchange(claimed_word, std::memory_order_acq_rel);
    if (handle > claimed_word)
        handle_ = handle;
}

void BlockInHand::take_back()
{
    if (word_ && handle_)
        word_->store(handle_, std::memory_order_release);
}

uint32_t holder_count(Pool &pool)
{
    if (pool.header()->holder_table.load(std::memory_order_acquire) == 0)
        return 0;
    HolderTableHeader *t = table(pool);
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->slots; ++i)
        n += slots_of(t)[i].id.load(std::memory_order_relaxed) != 0;
    return n;
}

uint64_t holder_bytes(Pool &pool)
{
    uint64_t handle = pool.header()->holder_table.load(std::memory_order_acquire);
    if (handle == 0)
        return 0;
    HolderTableHeader *t = table(pool);
    uint64_t bytes = pool.block_size(pool.pointer_of(handle));
    for (uint32_t i = 0; i < t->slots; ++i) {
        HolderSlot &s = slots_of(t)[i];
        if (s.id.load(std::memory_order_acquire) == 0)
            continue;
        SlotLock lock(pool, s);
        if (s.map)
            bytes += pool.block_size(pool.pointer_of(s.map));
    }
    return bytes;
}

uint32_t next_channel_serial(Pool &pool)
{
    std::atomic<uint32_t> &serial = table(pool)->channel_serial;
    for (;;)
        if (uint32_t v = serial.fetch_add(1, std::memory_order_relaxed) + 1)
            return v;
}

} // namespace dragon
