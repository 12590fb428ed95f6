// Error text for PMIx calls and the one-shot completion every non-blocking PMIx
// call is waited on with (so that every wait has a deadline).
#pragma once

#include "core/error.hpp"

#include <pmix_common.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

namespace dragon::wireup {

// "PMIX_ERR_TIMEOUT (-24)"
std::string pmix_status_text(pmix_status_t status);

// Throws dragon::Error: "<step> failed: <PMIx status text>". TIMEOUT statuses map to
// DRAGON_ERR_TIMEOUT, the rest to DRAGON_ERR_INTERNAL.
[[noreturn]] void throw_pmix(const std::string &step, pmix_status_t status);

// "0, 2, 5"
std::string rank_list(const std::vector<uint32_t> &ranks);

// PMIX_TIMEOUT takes whole seconds; round up so PMIx never gives up before we do.
int timeout_seconds(std::chrono::milliseconds deadline);

// The outcome of one non-blocking PMIx call. PMIx calls back on its progress thread;
// the caller waits with a deadline. An abandoned completion (deadline passed) must
// outlive any late callback: its owner keeps it until PMIx is finalized.
struct Completion {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    pmix_status_t status = PMIX_ERR_TIMEOUT;
    std::string bytes; // what a get delivered

    void finish(pmix_status_t s, std::string payload = {})
    {
        // Notify under the lock: the waiter may free *this as soon as it can lock.
        std::lock_guard lock(mutex);
        status = s;
        bytes = std::move(payload);
        done = true;
        cv.notify_all();
    }

    // True when the call completed before `deadline`.
    bool wait_until(std::chrono::steady_clock::time_point deadline)
    {
        std::unique_lock lock(mutex);
        return cv.wait_until(lock, deadline, [this] { return done; });
    }

    static void on_op(pmix_status_t s, void *cbdata)
    {
        static_cast<Completion *>(cbdata)->finish(s);
    }
};

} // namespace dragon::wireup
