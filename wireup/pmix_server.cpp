#include "pmix_server.hpp"

#include "connection_gate.hpp"
#include "pmix_text.hpp"
#include "private_tmpdir.hpp"

#include <pmix_server.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace dragon::wireup {

namespace {

using Clock = std::chrono::steady_clock;

// PMIx keeps one server per process.
std::atomic<bool> server_exists{false};
// OpenPMIx 4.2.2 cannot init a server again after finalizing one: the new listener
// thread aborts in FD_SET on a stale descriptor ("bit out of range 0 - FD_SETSIZE")
// as soon as the process forks. So each process hosts at most one server in its life.
std::atomic<bool> server_finalized{false};

// Bounds each teardown step, so a wedged PMIx never keeps a launcher from exiting.
constexpr std::chrono::milliseconds teardown_step{2000};

std::string host_name()
{
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0])
        return "localhost";
    return buf;
}

std::string comma_ranks(uint32_t n)
{
    std::string out;
    for (uint32_t r = 0; r < n; ++r)
        out += (r ? "," : "") + std::to_string(r);
    return out;
}

// Adds one info to a PMIx info list; throws on failure.
void add(void *list, const char *key, const void *value, pmix_data_type_t type)
{
    pmix_status_t rc = PMIx_Info_list_add(list, key, value, type);
    if (rc != PMIX_SUCCESS)
        throw_pmix(std::string("PMIx server: building the job description (") + key + ")", rc);
}

// An info list that is released on every exit path.
struct InfoList {
    void *list = PMIx_Info_list_start();
    ~InfoList() { PMIx_Info_list_release(list); }
    pmix_data_array_t to_array() const
    {
        pmix_data_array_t arr;
        PMIX_DATA_ARRAY_CONSTRUCT(&arr, 0, PMIX_INFO);
        pmix_status_t rc = PMIx_Info_list_convert(list, &arr);
        if (rc != PMIX_SUCCESS)
            throw_pmix("PMIx server: building the job description", rc);
        return arr;
    }
};

// Runs one non-blocking PMIx server call and waits for it until `until`. On timeout
// the completion is leaked on purpose: PMIx may still call back into it.
template <typename Start> pmix_status_t run_op(Start &&start, Clock::time_point until)
{
    auto *done = new Completion;
    pmix_status_t rc = start(done);
    if (rc == PMIX_OPERATION_SUCCEEDED) {
        delete done;
        return PMIX_SUCCESS;
    }
    if (rc != PMIX_SUCCESS) {
        delete done;
        return rc;
    }
    if (!done->wait_until(until))
        return PMIX_ERR_TIMEOUT;
    rc = done->status;
    delete done;
    return rc;
}

// The listening socket PMIx_server_init opened: the one that was not there before.
int pmix_listener(const std::vector<std::pair<int, ino_t>> &before)
{
    std::vector<int> fresh;
    for (const auto &[fd, inode] : listening_tcp_sockets()) {
        bool old = false;
        for (const auto &b : before)
            old = old || b.second == inode;
        if (!old)
            fresh.push_back(fd);
    }
    if (fresh.size() != 1)
        throw Error(DRAGON_ERR_INTERNAL,
                    "PMIx server: expected PMIx_server_init to open one TCP listener, found " +
                        std::to_string(fresh.size()) +
                        " (is PMIX_MCA_ptl or PMIX_MCA_ptl_tcp_* set in the environment?)");
    return fresh.front();
}

} // namespace

// The host callbacks. `server_object` is the PmixServer each client was registered with.
struct PmixServer::Module {
    static pmix_status_t client_connected(const pmix_proc_t *, void *server_object,
                                          pmix_op_cbfunc_t, void *)
    {
        if (server_object)
            static_cast<PmixServer *>(server_object)->connected_++;
        return PMIX_OPERATION_SUCCEEDED; // done already: PMIx need not wait for a callback
    }

    static pmix_status_t client_finalized(const pmix_proc_t *, void *server_object,
                                          pmix_op_cbfunc_t, void *)
    {
        if (server_object)
            static_cast<PmixServer *>(server_object)->finalized_++;
        return PMIX_OPERATION_SUCCEEDED;
    }

    static pmix_status_t abort(const pmix_proc_t *proc, void *server_object, int status,
                               const char msg[], pmix_proc_t[], size_t, pmix_op_cbfunc_t, void *)
    {
        auto *server = static_cast<PmixServer *>(server_object);
        if (server && server->on_abort_) {
            try {
                server->on_abort_(AbortReport{proc->rank, status, msg ? msg : ""});
            } catch (...) {
                // Never let an exception into PMIx's C progress thread.
            }
        }
        return PMIX_OPERATION_SUCCEEDED;
    }

    static pmix_server_module_t table()
    {
        pmix_server_module_t m;
        std::memset(&m, 0, sizeof m);
        m.client_connected = client_connected;
        m.client_finalized = client_finalized;
        m.abort = abort;
        // No fence_nb/direct_modex: with every rank a client of this one server,
        // OpenPMIx completes fences and serves gets itself.
        return m;
    }
};

PmixServer::PmixServer(const std::string &nspace, uint32_t num_ranks, AbortHandler on_abort,
                       std::chrono::milliseconds deadline, WarningHandler on_warning)
    : nspace_(nspace), size_(num_ranks), on_abort_(std::move(on_abort))
{
    if (num_ranks == 0)
        throw Error(DRAGON_ERR_INVALID, "PMIx server: a job needs at least one rank");
    if (nspace.empty() || nspace.size() > PMIX_MAX_NSLEN)
        throw Error(DRAGON_ERR_INVALID, "PMIx server: namespace '" + nspace + "' must be 1.." +
                                            std::to_string(PMIX_MAX_NSLEN) + " characters");
    if (server_finalized)
        throw Error(DRAGON_ERR_UNAVAILABLE,
                    "PMIx server: this process already hosted one, and OpenPMIx cannot start a "
                    "second after finalizing the first: start each launch from a new process "
                    "(the dragon CLI does)");
    bool expected = false;
    if (!server_exists.compare_exchange_strong(expected, true))
        throw Error(DRAGON_ERR_UNAVAILABLE,
                    "PMIx server: this process already hosts one (PMIx allows one per process): "
                    "release the previous launch first");
    try {
        auto until = Clock::now() + deadline;
        // OpenPMIx 4.2's shared-memory data store (gds/shmem) costs each client ~40 ms
        // to set up, more than the whole rest of a node's wire-up; the hash store is as
        // correct for the handful of keys a node exchanges. Server and nodes (which
        // inherit this environment) must agree; a user's own choice wins.
        setenv("PMIX_MCA_gds", "hash", 0);
        // Named after the job, so that dragon-cleanup can remove it if we are killed.
        const char *job = std::getenv("DRAGON_JOB_ID");
        std::string job_tag = job && *job ? job : "p" + std::to_string(getpid());
        tmpdir_ = std::make_unique<PrivateTmpdir>("dragon-" + job_tag + "-pmix-");
        static pmix_server_module_t module = Module::table();
        InfoList init;
        std::string dir = tmpdir_->path().string();
        bool no = false;
        // Our own directories: rendezvous files never collide with another server's.
        add(init.list, PMIX_SERVER_TMPDIR, dir.c_str(), PMIX_STRING);
        add(init.list, PMIX_SYSTEM_TMPDIR, dir.c_str(), PMIX_STRING);
        // Only our own clients: no tool or system-wide rendezvous points.
        add(init.list, PMIX_SERVER_TOOL_SUPPORT, &no, PMIX_BOOL);
        add(init.list, PMIX_SERVER_SYSTEM_SUPPORT, &no, PMIX_BOOL);
        // One listener to guard: IPv4 loopback.
        bool yes = true;
        add(init.list, PMIX_TCP_DISABLE_IPV6, &yes, PMIX_BOOL);
        pmix_data_array_t arr = init.to_array();
        auto listening_before = listening_tcp_sockets();
        pmix_status_t rc =
            PMIx_server_init(&module, static_cast<pmix_info_t *>(arr.array), arr.size);
        PMIX_DATA_ARRAY_DESTRUCT(&arr);
        if (rc != PMIX_SUCCESS)
            throw_pmix("PMIx server: PMIx_server_init (private directory " + dir + ")", rc);
        initialized_ = true;
        gate_ = std::make_unique<ConnectionGate>(pmix_listener(listening_before),
                                                 tmpdir_->path() / "gate", std::move(on_warning));
        register_job(until);
    } catch (...) {
        shutdown();
        throw;
    }
}

void PmixServer::register_job(Clock::time_point until)
{
    std::string host = host_name();
    char *node_map = nullptr, *proc_map = nullptr;
    pmix_status_t rc = PMIx_generate_regex(host.c_str(), &node_map);
    if (rc != PMIX_SUCCESS)
        throw_pmix("PMIx server: PMIx_generate_regex of host '" + host + "'", rc);
    std::string ranks = comma_ranks(size_);
    rc = PMIx_generate_ppn(ranks.c_str(), &proc_map);
    if (rc != PMIX_SUCCESS) {
        free(node_map);
        throw_pmix("PMIx server: PMIx_generate_ppn", rc);
    }

    InfoList job;
    uint32_t one = 1, node_id = 0;
    try {
        add(job.list, PMIX_NODE_MAP, node_map, PMIX_REGEX);
        add(job.list, PMIX_PROC_MAP, proc_map, PMIX_REGEX);
    } catch (...) {
        free(node_map);
        free(proc_map);
        throw;
    }
    free(node_map);
    free(proc_map);
    add(job.list, PMIX_JOB_SIZE, &size_, PMIX_UINT32);
    add(job.list, PMIX_UNIV_SIZE, &size_, PMIX_UINT32);
    add(job.list, PMIX_MAX_PROCS, &size_, PMIX_UINT32);
    add(job.list, PMIX_JOB_NUM_APPS, &one, PMIX_UINT32);
    add(job.list, PMIX_NUM_NODES, &one, PMIX_UINT32);
    add(job.list, PMIX_LOCAL_SIZE, &size_, PMIX_UINT32);
    add(job.list, PMIX_LOCAL_PEERS, ranks.c_str(), PMIX_STRING);
    add(job.list, PMIX_HOSTNAME, host.c_str(), PMIX_STRING);
    add(job.list, PMIX_NODEID, &node_id, PMIX_UINT32);
    for (uint32_t r = 0; r < size_; ++r) {
        // Per-rank facts: all ranks share this one host.
        InfoList proc;
        uint16_t local = static_cast<uint16_t>(r);
        add(proc.list, PMIX_RANK, &r, PMIX_PROC_RANK);
        add(proc.list, PMIX_LOCAL_RANK, &local, PMIX_UINT16);
        add(proc.list, PMIX_NODE_RANK, &local, PMIX_UINT16);
        add(proc.list, PMIX_NODEID, &node_id, PMIX_UINT32);
        add(proc.list, PMIX_HOSTNAME, host.c_str(), PMIX_STRING);
        pmix_data_array_t arr = proc.to_array();
        rc = PMIx_Info_list_add(job.list, PMIX_PROC_DATA, &arr, PMIX_DATA_ARRAY);
        PMIX_DATA_ARRAY_DESTRUCT(&arr);
        if (rc != PMIX_SUCCESS)
            throw_pmix("PMIx server: describing rank " + std::to_string(r), rc);
    }

    pmix_data_array_t arr = job.to_array();
    pmix_nspace_t ns;
    PMIX_LOAD_NSPACE(ns, nspace_.c_str());
    rc = run_op(
        [&](Completion *c) {
            return PMIx_server_register_nspace(ns, static_cast<int>(size_),
                                               static_cast<pmix_info_t *>(arr.array), arr.size,
                                               Completion::on_op, c);
        },
        until);
    // PMIx reads the array until it calls back; after a timeout it still may.
    if (rc != PMIX_ERR_TIMEOUT)
        PMIX_DATA_ARRAY_DESTRUCT(&arr);
    if (rc != PMIX_SUCCESS)
        throw_pmix("PMIx server: PMIx_server_register_nspace of " + nspace_, rc);
    nspace_registered_ = true;

    environments_.resize(size_);
    for (uint32_t r = 0; r < size_; ++r) {
        pmix_proc_t proc;
        PMIX_LOAD_PROCID(&proc, ns, r);
        rc = run_op(
            [&](Completion *c) {
                return PMIx_server_register_client(&proc, getuid(), getgid(), this,
                                                   Completion::on_op, c);
            },
            until);
        if (rc != PMIX_SUCCESS)
            throw_pmix("PMIx server: PMIx_server_register_client of rank " + std::to_string(r), rc);
        clients_registered_ = r + 1;

        char **env = nullptr; // setup_fork appends to this argv-style array
        rc = PMIx_server_setup_fork(&proc, &env);
        for (char **e = env; e && *e; ++e) {
            environments_[r].emplace_back(*e);
            free(*e);
        }
        free(env);
        if (rc != PMIX_SUCCESS)
            throw_pmix("PMIx server: PMIx_server_setup_fork of rank " + std::to_string(r), rc);
    }
}

void PmixServer::admit(pid_t pid)
{
    gate_->admit(pid);
}

unsigned PmixServer::refused() const
{
    return gate_ ? gate_->refused() : 0;
}

std::vector<std::string> PmixServer::client_environment(uint32_t rank) const
{
    if (rank >= environments_.size())
        throw Error(DRAGON_ERR_INVALID, "PMIx server: no rank " + std::to_string(rank) + " in " +
                                            nspace_ + " (" + std::to_string(size_) + " ranks)");
    return environments_[rank];
}

const std::filesystem::path &PmixServer::tmpdir() const
{
    return tmpdir_->path();
}

void PmixServer::shutdown() noexcept
{
    // Each step is bounded, so a wedged PMIx never keeps a launcher from exiting.
    auto wait_op = [](auto &&start) {
        run_op(
            [&](Completion *c) {
                start(c);
                return PMIX_SUCCESS;
            },
            Clock::now() + teardown_step);
    };
    pmix_nspace_t ns;
    PMIX_LOAD_NSPACE(ns, nspace_.c_str());
    for (uint32_t r = 0; r < clients_registered_; ++r) {
        pmix_proc_t proc;
        PMIX_LOAD_PROCID(&proc, ns, r);
        wait_op([&](Completion *c) { PMIx_server_deregister_client(&proc, Completion::on_op, c); });
    }
    clients_registered_ = 0;
    if (nspace_registered_)
        wait_op([&](Completion *c) { PMIx_server_deregister_nspace(ns, Completion::on_op, c); });
    nspace_registered_ = false;
    if (initialized_) {
        PMIx_server_finalize();
        server_finalized = true;
    }
    initialized_ = false;
    gate_.reset();   // after PMIx let go of the Unix listener the gate put in its place
    tmpdir_.reset(); // removes the directory and everything PMIx left in it
    server_exists = false;
}

PmixServer::~PmixServer()
{
    shutdown();
}

} // namespace dragon::wireup
