#include "dataplane/polling_waiters.hpp"

#include "dataplane/deadline.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace dragon {
namespace {

PollingTable own_table{};
std::atomic<PollingTable *> table_in_use{&own_table};

// A page: every opener sizes the segment to it before mapping (idempotent), so a
// process that opens it while another creates it never maps a short file.
constexpr size_t table_bytes = 4096;
static_assert(sizeof(PollingTable) <= table_bytes);

// Probing a few slots keeps taking one cheap; more pollers than that on one hash
// chain are left uncounted (see the header: the count errs low).
constexpr int probes = 4;

int thread_hash()
{
    thread_local const int h = int(syscall(SYS_gettid) % PollingTable::slots);
    return h;
}

} // namespace

bool count_polling_in_machine_table(const std::string &name, bool create)
{
    int fd = shm_open(("/" + name).c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (fd < 0)
        return false;
    void *map = MAP_FAILED;
    if (ftruncate(fd, table_bytes) == 0)
        map = mmap(nullptr, table_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return false;
    table_in_use.store(static_cast<PollingTable *>(map), std::memory_order_release);
    return true;
}

void remove_machine_polling_table(const std::string &name)
{
    shm_unlink(("/" + name).c_str());
}

int polling_now()
{
    PollingTable *table = table_in_use.load(std::memory_order_acquire);
    int64_t now = Deadline::now_ns();
    int n = 0;
    for (auto &slot : table->until_ns)
        n += slot.load(std::memory_order_relaxed) > now;
    return n;
}

PollingEntry::PollingEntry(int64_t until_ns) : until_ns_(until_ns)
{
    PollingTable *table = table_in_use.load(std::memory_order_acquire);
    int64_t now = Deadline::now_ns();
    for (int i = 0; i < probes; ++i) {
        auto &slot = table->until_ns[(thread_hash() + i) % PollingTable::slots];
        int64_t seen = slot.load(std::memory_order_relaxed);
        if (seen <= now &&
            slot.compare_exchange_strong(seen, until_ns, std::memory_order_relaxed)) {
            slot_ = &slot;
            return;
        }
    }
}

PollingEntry::~PollingEntry()
{
    if (!slot_)
        return;
    // Only our own mark is cleared: once it expired, another poller may hold the slot.
    int64_t mine = until_ns_;
    slot_->compare_exchange_strong(mine, 0, std::memory_order_relaxed);
}

} // namespace dragon
