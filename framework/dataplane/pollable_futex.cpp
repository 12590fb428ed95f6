#include "dataplane/pollable_futex.hpp"

#include <cerrno>
#include <cstring>
#include <linux/io_uring.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace dragon {
namespace {

// Linux 6.7's opcode and futex2 flag; Debian 12's headers (6.1) predate both.
constexpr uint8_t op_futex_wait = 51;
constexpr uint32_t futex2_size_u32 = 0x02; // shared (no FUTEX2_PRIVATE): other processes wake it
constexpr uint64_t futex_bitset_match_any = 0xffffffffu;

template <typename T> T *at(void *base, uint32_t offset)
{
    return reinterpret_cast<T *>(static_cast<char *>(base) + offset);
}

} // namespace

std::unique_ptr<PollableFutex> PollableFutex::open()
{
    std::unique_ptr<PollableFutex> futex(new PollableFutex);
    if (!futex->setup())
        return nullptr;
    // Whether the kernel knows FUTEX_WAIT (before 6.7: -EINVAL): a word that does
    // not hold the expected value ends the wait at once with -EAGAIN.
    std::atomic<uint32_t> probe{1};
    int32_t result = 0;
    if (!futex->submit_wait(&probe, 0))
        return nullptr;
    pollfd ready{futex->fd(), POLLIN, 0};
    if (poll(&ready, 1, 1000) != 1 || !futex->take_completion(&result) || result != -EAGAIN)
        return nullptr;
    return futex;
}

bool PollableFutex::setup()
{
    io_uring_params params{};
    ring_fd_ = int(syscall(SYS_io_uring_setup, 2, &params));
    if (ring_fd_ < 0)
        return false;
    if (!(params.features & IORING_FEAT_SINGLE_MMAP))
        return false; // before 5.4: not worth a second mapping
    size_t sq_size = params.sq_off.array + params.sq_entries * sizeof(uint32_t);
    size_t cq_size = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
    rings_size_ = sq_size > cq_size ? sq_size : cq_size;
    rings_ = mmap(nullptr, rings_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd_,
                  IORING_OFF_SQ_RING);
    if (rings_ == MAP_FAILED) {
        rings_ = nullptr;
        return false;
    }
    sqes_size_ = params.sq_entries * sizeof(io_uring_sqe);
    sqes_ = mmap(nullptr, sqes_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd_,
                 IORING_OFF_SQES);
    if (sqes_ == MAP_FAILED) {
        sqes_ = nullptr;
        return false;
    }
    sq_tail_ = at<std::atomic<uint32_t>>(rings_, params.sq_off.tail);
    sq_mask_ = *at<uint32_t>(rings_, params.sq_off.ring_mask);
    sq_array_ = at<uint32_t>(rings_, params.sq_off.array);
    cq_head_ = at<std::atomic<uint32_t>>(rings_, params.cq_off.head);
    cq_tail_ = at<std::atomic<uint32_t>>(rings_, params.cq_off.tail);
    cq_mask_ = *at<uint32_t>(rings_, params.cq_off.ring_mask);
    cqes_ = at<void>(rings_, params.cq_off.cqes);
    return true;
}

PollableFutex::~PollableFutex()
{
    // Closing the ring cancels a wait still in flight.
    if (sqes_)
        munmap(sqes_, sqes_size_);
    if (rings_)
        munmap(rings_, rings_size_);
    if (ring_fd_ >= 0)
        close(ring_fd_);
}

bool PollableFutex::submit_wait(std::atomic<uint32_t> *word, uint32_t expected)
{
    uint32_t tail = sq_tail_->load(std::memory_order_relaxed);
    uint32_t index = tail & sq_mask_;
    io_uring_sqe *sqe = static_cast<io_uring_sqe *>(sqes_) + index;
    std::memset(sqe, 0, sizeof *sqe);
    sqe->opcode = op_futex_wait;
    sqe->fd = int32_t(futex2_size_u32);
    sqe->addr = reinterpret_cast<uint64_t>(word);
    sqe->off = expected;
    sqe->addr3 = futex_bitset_match_any;
    sq_array_[index] = index;
    sq_tail_->store(tail + 1, std::memory_order_release);
    long submitted;
    do
        submitted = syscall(SYS_io_uring_enter, ring_fd_, 1, 0, 0, nullptr, 0);
    while (submitted < 0 && errno == EINTR);
    if (submitted != 1)
        sq_tail_->store(tail, std::memory_order_release); // not taken: withdrawn
    in_flight_ = submitted == 1;
    return in_flight_;
}

bool PollableFutex::take_completion(int32_t *result)
{
    uint32_t head = cq_head_->load(std::memory_order_relaxed);
    if (head == cq_tail_->load(std::memory_order_acquire))
        return false;
    *result = (static_cast<io_uring_cqe *>(cqes_) + (head & cq_mask_))->res;
    cq_head_->store(head + 1, std::memory_order_release);
    in_flight_ = false;
    return true;
}

bool PollableFutex::arm(std::atomic<uint32_t> *word, uint32_t expected)
{
    return in_flight_ || submit_wait(word, expected);
}

void PollableFutex::drain()
{
    int32_t result;
    while (take_completion(&result)) {
    }
}

} // namespace dragon
