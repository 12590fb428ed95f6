#include "dataplane/robust_mutex.hpp"

#include "core/error.hpp"
#include "core/log.hpp"

#include <cerrno>
#include <ctime>

namespace dragon {

void RobustMutex::init()
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    int rc = pthread_mutex_init(&mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0)
        throw Error(DRAGON_ERR_INTERNAL, "cannot initialise a shared mutex: " + errno_text(rc));
}

void RobustMutex::lock(const Deadline &deadline, const std::string &what,
                       const std::function<void()> &repair)
{
    int rc;
    if (deadline.never()) {
        rc = pthread_mutex_lock(&mutex);
    } else {
        timespec abs;
        clock_gettime(CLOCK_MONOTONIC, &abs);
        int64_t ns = abs.tv_nsec + deadline.remaining_ns();
        abs.tv_sec += ns / 1'000'000'000;
        abs.tv_nsec = ns % 1'000'000'000;
        rc = pthread_mutex_clocklock(&mutex, CLOCK_MONOTONIC, &abs);
    }
    if (rc == EOWNERDEAD) {
        log::warning(what, ": a process died holding its lock; repairing its state");
        repair();
        pthread_mutex_consistent(&mutex);
        return;
    }
    if (rc == ETIMEDOUT)
        throw Error(DRAGON_ERR_TIMEOUT, what + ": lock not acquired before the deadline; another "
                                               "process holds it (a stopped or stuck process?)");
    if (rc != 0)
        throw Error(DRAGON_ERR_INTERNAL, what + ": cannot lock: " + errno_text(rc) +
                                             "; the shared state may be corrupt, recreate it");
}

void RobustMutex::unlock()
{
    pthread_mutex_unlock(&mutex);
}

} // namespace dragon
