// Python signal handlers during blocking waits (PEP 475 semantics, as CPython's
// own blocking calls): while a wait of the main thread sleeps with the GIL
// released, a signal wakes it (EINTR), and at least every check_period it takes
// the GIL and runs PyErr_CheckSignals(). A handler that raises (KeyboardInterrupt
// for Ctrl-C) ends the wait with that exception; one that returns lets the wait go
// on with what is left of its timeout.
//
// Install one only once a call must wait: constructing it is cheap, but the fast
// path of a send, receive or acquire must stay untouched.
#pragma once

#include "dataplane/wait_interruption.hpp"

#include <pybind11/pybind11.h>

#include <optional>

namespace dragon::py_module {

class PythonSignalCheck final : public WaitInterruption {
public:
    // Well under the 50 ms in which a handler must run; the wake-ups it costs a
    // sleeping main thread (one GIL round trip each) are negligible.
    static constexpr int64_t check_period_ns = 20'000'000;

    PythonSignalCheck() : WaitInterruption(check_period_ns) {}

protected:
    // Called with the GIL released; throws pybind11::error_already_set.
    void check() override
    {
        PyGILState_STATE gil = PyGILState_Ensure();
        if (PyErr_CheckSignals() != 0) {
            pybind11::error_already_set raised; // takes the error out of the thread state
            PyGILState_Release(gil);
            throw raised;
        }
        PyGILState_Release(gil);
    }
};

// Only the main thread of the main interpreter runs Python signal handlers; for
// other threads, waking up to look would only cost GIL round trips.
bool runs_signal_handlers();

// Runs Python's signal handlers during the GIL-free waits of its lifetime, if this
// thread is one that runs them. Construct with the GIL held, once a call must wait,
// and keep it alive across the wait.
class SignalsDuringWait {
public:
    SignalsDuringWait()
    {
        if (runs_signal_handlers())
            check_.emplace();
    }

private:
    std::optional<PythonSignalCheck> check_; // never moved: it registered its address
};

} // namespace dragon::py_module
