// A process-shared, robust pthread mutex placed in shared memory.
//
// If its owner dies at any instruction, the next locker gets EOWNERDEAD; lock()
// then runs the caller's repair function on the protected state, marks the
// mutex consistent and carries on, so no lock is ever held forever.
#pragma once

#include "dataplane/deadline.hpp"

#include <functional>
#include <pthread.h>
#include <string>

namespace dragon {

struct RobustMutex {
    pthread_mutex_t mutex;

    // Once, by the creator, before any other process maps the memory.
    void init();
    // Throws dragon::Error(TIMEOUT) naming `what` if not acquired before `deadline`.
    // `repair` runs with the lock held when the previous owner died while holding it.
    void lock(const Deadline &deadline, const std::string &what,
              const std::function<void()> &repair);
    void unlock();
};

} // namespace dragon
