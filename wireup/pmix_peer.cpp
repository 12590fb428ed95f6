#include "pmix_peer.hpp"

#include "pmix_text.hpp"

#include <pmix.h>

#include <cstdlib>
#include <cstring>
#include <list>
#include <vector>

namespace dragon::wireup {

namespace {

using Clock = std::chrono::steady_clock;

// Every rank puts this before committing; after a failed fence, the ranks whose key
// the server does not have are the ones that never arrived.
constexpr const char *arrived_key = "dragon.wireup.arrived";

// How often a fence lets its caller's work run while it waits.
constexpr auto fence_slice = std::chrono::milliseconds(1);
// How long a failed fence spends finding out who was missing.
constexpr std::chrono::milliseconds missing_probe_time{1000};

} // namespace

struct PmixPeer::State {
    pmix_proc_t self{};
    std::string nspace;
    uint32_t size = 0;
    // Completions whose deadline passed: PMIx may still call back into them, so they
    // live until PMIx_Finalize.
    std::list<std::unique_ptr<Completion>> abandoned;

    pmix_proc_t proc(uint32_t rank) const
    {
        pmix_proc_t p;
        PMIX_LOAD_PROCID(&p, self.nspace, rank);
        return p;
    }

    Completion *track(std::unique_ptr<Completion> c)
    {
        abandoned.push_back(std::move(c));
        return abandoned.back().get();
    }

    // Drops a completion that has called back (it will not be touched again).
    void forget(Completion *c)
    {
        abandoned.remove_if([c](const auto &p) { return p.get() == c; });
    }

    std::string where(const std::string &step) const
    {
        return step + " (rank " + std::to_string(self.rank) + " of " + std::to_string(size) +
               " in " + nspace + ")";
    }
};

namespace {

void on_value(pmix_status_t status, pmix_value_t *kv, void *cbdata)
{
    std::string bytes;
    if (status == PMIX_SUCCESS && kv) {
        if (kv->type == PMIX_BYTE_OBJECT && kv->data.bo.bytes)
            bytes.assign(kv->data.bo.bytes, kv->data.bo.size);
        else if (kv->type == PMIX_STRING && kv->data.string)
            bytes = kv->data.string; // some servers hand short blobs back as strings
        else if (kv->type != PMIX_BYTE_OBJECT)
            status = PMIX_ERR_TYPE_MISMATCH;
    }
    static_cast<Completion *>(cbdata)->finish(status, std::move(bytes));
}

void on_fence(pmix_status_t status, void *cbdata)
{
    static_cast<Completion *>(cbdata)->finish(status);
}

bool started_by_pmix_server()
{
    // Every PMIx server puts these into the environment of the processes it starts.
    return std::getenv("PMIX_NAMESPACE") && std::getenv("PMIX_RANK");
}

} // namespace

PmixPeer::PmixPeer(std::unique_ptr<State> state) : state_(std::move(state)) {}
PmixPeer::PmixPeer(PmixPeer &&other) noexcept = default;
PmixPeer &PmixPeer::operator=(PmixPeer &&other) noexcept
{
    if (this != &other) {
        if (state_)
            PMIx_Finalize(nullptr, 0);
        state_ = std::move(other.state_);
    }
    return *this;
}

PmixPeer::~PmixPeer()
{
    if (state_)
        PMIx_Finalize(nullptr, 0); // after this, no PMIx callback touches state_
}

PmixPeer PmixPeer::init(std::chrono::milliseconds deadline)
{
    if (!started_by_pmix_server())
        throw Error(DRAGON_ERR_UNAVAILABLE,
                    "PMIx wire-up: not started by a PMIx server (PMIX_NAMESPACE/PMIX_RANK unset): "
                    "run under dragon / srun --mpi=pmix");
    auto state = std::make_unique<State>();
    // PMIx_Init only connects to the server named in our environment; PMIX_TIMEOUT
    // bounds its connection attempts.
    pmix_info_t info;
    int seconds = timeout_seconds(deadline);
    PMIX_INFO_LOAD(&info, PMIX_TIMEOUT, &seconds, PMIX_INT);
    pmix_status_t rc = PMIx_Init(&state->self, &info, 1);
    PMIX_INFO_DESTRUCT(&info);
    if (rc != PMIX_SUCCESS)
        throw_pmix("PMIx wire-up: PMIx_Init (connecting to the PMIx server named by "
                   "PMIX_SERVER_URI*)",
                   rc);
    state->nspace = state->self.nspace;
    PmixPeer peer(std::move(state)); // from here on, the destructor finalizes

    // The job size is job-level data the server registered before starting us.
    pmix_proc_t job = peer.state_->proc(PMIX_RANK_WILDCARD);
    pmix_value_t *val = nullptr;
    rc = PMIx_Get(&job, PMIX_JOB_SIZE, nullptr, 0, &val);
    if (rc != PMIX_SUCCESS || !val)
        throw_pmix(peer.state_->where("PMIx wire-up: reading the job size (PMIX_JOB_SIZE)"), rc);
    pmix_status_t conv = PMIX_SUCCESS;
    uint32_t size = 0;
    PMIX_VALUE_GET_NUMBER(conv, val, size, uint32_t);
    PMIX_VALUE_RELEASE(val);
    if (conv != PMIX_SUCCESS || size == 0)
        throw_pmix(peer.state_->where("PMIx wire-up: reading the job size (PMIX_JOB_SIZE)"),
                   conv != PMIX_SUCCESS ? conv : PMIX_ERR_BAD_PARAM);
    peer.state_->size = size;
    return peer;
}

uint32_t PmixPeer::rank() const
{
    return state_->self.rank;
}
uint32_t PmixPeer::size() const
{
    return state_->size;
}
const std::string &PmixPeer::nspace() const
{
    return state_->nspace;
}

void PmixPeer::put(const std::string &key, const std::string &bytes)
{
    if (key.empty() || key.size() > PMIX_MAX_KEYLEN)
        throw Error(DRAGON_ERR_INVALID, state_->where("PMIx put of key '" + key + "'") +
                                            ": keys must be 1.." + std::to_string(PMIX_MAX_KEYLEN) +
                                            " characters");
    pmix_value_t val;
    PMIX_VALUE_CONSTRUCT(&val);
    val.type = PMIX_BYTE_OBJECT;
    val.data.bo.bytes = const_cast<char *>(bytes.data()); // PMIx_Put copies it
    val.data.bo.size = bytes.size();
    pmix_status_t rc = PMIx_Put(PMIX_GLOBAL, key.c_str(), &val);
    if (rc != PMIX_SUCCESS)
        throw_pmix(state_->where("PMIx_Put of key '" + key + "' (" + std::to_string(bytes.size()) +
                                 " bytes)"),
                   rc);
}

void PmixPeer::commit()
{
    put(arrived_key, "1");
    pmix_status_t rc = PMIx_Commit();
    if (rc != PMIX_SUCCESS)
        throw_pmix(state_->where("PMIx_Commit"), rc);
}

void PmixPeer::fence(std::chrono::milliseconds deadline, const std::function<void()> &while_waiting)
{
    auto until = Clock::now() + deadline;
    const auto slice = fence_slice;
    pmix_info_t info[2];
    bool collect = true;
    int seconds = timeout_seconds(deadline);
    PMIX_INFO_LOAD(&info[0], PMIX_COLLECT_DATA, &collect, PMIX_BOOL);
    PMIX_INFO_LOAD(&info[1], PMIX_TIMEOUT, &seconds, PMIX_INT);
    Completion *done = state_->track(std::make_unique<Completion>());
    // NULL procs: every rank of our namespace.
    pmix_status_t rc = PMIx_Fence_nb(nullptr, 0, info, 2, on_fence, done);
    PMIX_INFO_DESTRUCT(&info[0]);
    PMIX_INFO_DESTRUCT(&info[1]);
    if (rc != PMIX_SUCCESS) {
        state_->forget(done);
        throw_pmix(state_->where("PMIx_Fence"), rc);
    }
    bool completed = false;
    if (while_waiting) {
        while (!(completed = done->wait_until(std::min(until, Clock::now() + slice))) &&
               Clock::now() < until)
            while_waiting();
    } else {
        completed = done->wait_until(until);
    }
    pmix_status_t status = completed ? done->status : PMIX_ERR_TIMEOUT;
    if (completed)
        state_->forget(done);
    if (status == PMIX_SUCCESS)
        return;

    // Name who is missing: ask the server, without waiting for anyone, whose arrival
    // mark it holds.
    std::vector<Completion *> probes(state_->size, nullptr);
    pmix_info_t immediate;
    bool yes = true;
    PMIX_INFO_LOAD(&immediate, PMIX_IMMEDIATE, &yes, PMIX_BOOL);
    for (uint32_t r = 0; r < state_->size; ++r) {
        if (r == state_->self.rank)
            continue;
        pmix_proc_t p = state_->proc(r);
        Completion *c = state_->track(std::make_unique<Completion>());
        if (PMIx_Get_nb(&p, arrived_key, &immediate, 1, on_value, c) == PMIX_SUCCESS)
            probes[r] = c;
        else
            state_->forget(c);
    }
    PMIX_INFO_DESTRUCT(&immediate);
    auto probe_until = Clock::now() + missing_probe_time;
    std::vector<uint32_t> missing;
    for (uint32_t r = 0; r < state_->size; ++r) {
        if (r == state_->self.rank)
            continue;
        Completion *c = probes[r];
        bool arrived = c && c->wait_until(probe_until) && c->status == PMIX_SUCCESS;
        if (c && c->done)
            state_->forget(c);
        if (!arrived)
            missing.push_back(r);
    }

    std::string what = state_->where("PMIx fence of " + std::to_string(state_->size) + " nodes");
    std::string who = missing.empty()
                          ? "every rank had committed its data, so one ended or stalled "
                            "before entering the fence"
                          : "rank(s) " + rank_list(missing) + " of " +
                                std::to_string(state_->size) + " nodes did not arrive";
    // PMIx's own PMIX_TIMEOUT and our deadline race; both mean the same thing.
    bool timed_out = !completed || status == PMIX_ERR_TIMEOUT;
    std::string why = timed_out ? "timed out after " + std::to_string(deadline.count()) + " ms (" +
                                      pmix_status_text(PMIX_ERR_TIMEOUT) + ")"
                                : "failed: " + pmix_status_text(status);
    throw Error(timed_out ? DRAGON_ERR_TIMEOUT : DRAGON_ERR_INTERNAL,
                what + " " + why + ": " + who +
                    "; check that node's output for why it ended or stalled");
}

std::string PmixPeer::get(uint32_t rank, const std::string &key, std::chrono::milliseconds deadline)
{
    std::string step =
        state_->where("PMIx_Get of key '" + key + "' from rank " + std::to_string(rank));
    if (rank >= state_->size)
        throw Error(DRAGON_ERR_INVALID,
                    step + ": no such rank (the job has " + std::to_string(state_->size) + ")");
    auto until = Clock::now() + deadline;
    pmix_info_t info;
    int seconds = timeout_seconds(deadline);
    PMIX_INFO_LOAD(&info, PMIX_TIMEOUT, &seconds, PMIX_INT);
    pmix_proc_t p = state_->proc(rank);
    Completion *done = state_->track(std::make_unique<Completion>());
    pmix_status_t rc = PMIx_Get_nb(&p, key.c_str(), &info, 1, on_value, done);
    PMIX_INFO_DESTRUCT(&info);
    if (rc != PMIX_SUCCESS) {
        state_->forget(done);
        throw_pmix(step, rc);
    }
    if (!done->wait_until(until))
        throw Error(DRAGON_ERR_TIMEOUT, step + " timed out after " +
                                            std::to_string(deadline.count()) + " ms (" +
                                            pmix_status_text(PMIX_ERR_TIMEOUT) + ")");
    pmix_status_t status = done->status;
    std::string bytes = std::move(done->bytes);
    state_->forget(done);
    if (status != PMIX_SUCCESS)
        throw_pmix(step, status);
    return bytes;
}

void PmixPeer::abort(int status, const std::string &message)
{
    // NULL procs: the whole namespace. The host decides what ending the job means.
    pmix_status_t rc = PMIx_Abort(status, message.c_str(), nullptr, 0);
    if (rc != PMIX_SUCCESS)
        throw_pmix(state_->where("PMIx_Abort"), rc);
}

} // namespace dragon::wireup
