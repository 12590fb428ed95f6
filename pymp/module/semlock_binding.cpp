// SemLock: the object behind multiprocessing's Lock, RLock, Semaphore and
// BoundedSemaphore (the interface of CPython's _multiprocessing.SemLock), on a
// semaphore channel of the node's pool. Ownership (count, owning thread) is kept
// per process as CPython does; the count itself lives in the channel.
//
// Waits release the GIL and are sliced so that a signal (Ctrl-C) interrupts an
// acquire() without a timeout, as it does in CPython.
#include "bindings.hpp"
#include "timeout.hpp"

#include "dataplane/channel.hpp"

#include <algorithm>
#include <string>

namespace py = pybind11;

namespace dragon::py_module {
namespace {

// CPython's kinds (multiprocessing.synchronize.RECURSIVE_MUTEX, SEMAPHORE).
constexpr int recursive_mutex = 0;
constexpr int semaphore = 1;
constexpr int64_t signal_check_ns = 100'000'000;

class SemLock {
public:
    SemLock(Channel channel, int kind, uint32_t maxvalue, std::string name)
        : channel_(std::move(channel)), kind_(kind), maxvalue_(maxvalue), name_(std::move(name))
    {
        if (kind_ != recursive_mutex && kind_ != semaphore)
            throw py::value_error("unrecognized kind " + std::to_string(kind_));
    }

    bool acquire(bool block, const py::object &timeout)
    {
        if (kind_ == recursive_mutex && is_mine()) {
            ++count_;
            return true;
        }
        bool got = channel_.sem_acquire(no_wait);
        if (!got && block) {
            Timeout t = to_timeout(timeout);
            if (t != no_wait)
                got = wait(t);
        }
        if (got) {
            ++count_;
            last_tid_ = PyThread_get_thread_ident();
        }
        return got;
    }

    void release()
    {
        if (kind_ == recursive_mutex) {
            if (!is_mine()) {
                PyErr_SetString(PyExc_AssertionError,
                                "attempt to release recursive lock not owned by thread");
                throw py::error_already_set();
            }
            if (count_ > 1) {
                --count_;
                return;
            }
        }
        if (!channel_.sem_release())
            throw py::value_error("semaphore or lock released too many times");
        --count_;
    }

    bool is_mine() const { return count_ > 0 && last_tid_ == PyThread_get_thread_ident(); }
    long count() const { return count_; }
    uint32_t value() const { return channel_.sem_value(); }
    void after_fork() { count_ = 0; }
    int kind() const { return kind_; }
    uint32_t maxvalue() const { return maxvalue_; }
    const std::string &name() const { return name_; }
    std::string descriptor() const { return channel_.descriptor(); }

private:
    bool wait(Timeout timeout)
    {
        Deadline deadline(timeout);
        for (;;) {
            int64_t slice = std::min(deadline.remaining_ns(), signal_check_ns);
            bool got;
            {
                py::gil_scoped_release unlocked;
                got = channel_.sem_acquire(Timeout(slice));
            }
            if (got)
                return true;
            if (PyErr_CheckSignals() != 0)
                throw py::error_already_set();
            if (deadline.expired())
                return false;
        }
    }

    Channel channel_;
    int kind_;
    uint32_t maxvalue_;
    std::string name_;
    long count_ = 0;
    unsigned long last_tid_ = 0;
};

} // namespace

void bind_semlock(py::module_ &m)
{
    py::class_<SemLock>(m, "SemLock")
        .def(py::init([](std::shared_ptr<Pool> pool, int kind, uint32_t value, uint32_t maxvalue,
                         std::string name) {
                 return SemLock(Channel::create_semaphore(std::move(pool), value, maxvalue), kind,
                                maxvalue, std::move(name));
             }),
             py::arg("pool"), py::arg("kind"), py::arg("value"), py::arg("maxvalue"),
             py::arg("name") = "")
        .def_static(
            "attach",
            [](const std::string &descriptor, int kind, uint32_t maxvalue, std::string name) {
                Channel ch;
                {
                    py::gil_scoped_release unlocked;
                    ch = Channel::attach(descriptor);
                }
                return SemLock(std::move(ch), kind, maxvalue, std::move(name));
            },
            py::arg("descriptor"), py::arg("kind"), py::arg("maxvalue"), py::arg("name") = "")
        .def("acquire", &SemLock::acquire, py::arg("block") = true, py::arg("timeout") = py::none())
        .def("release", &SemLock::release)
        .def("__enter__", [](SemLock &s) { return s.acquire(true, py::none()); })
        .def("__exit__", [](SemLock &s, const py::args &) { s.release(); })
        .def("_count", &SemLock::count)
        .def("_is_mine", &SemLock::is_mine)
        .def("_get_value", &SemLock::value)
        .def("_is_zero", [](const SemLock &s) { return s.value() == 0; })
        .def("_after_fork", &SemLock::after_fork)
        .def_property_readonly("kind", &SemLock::kind)
        .def_property_readonly("maxvalue", &SemLock::maxvalue)
        .def_property_readonly("name", &SemLock::name)
        .def_property_readonly("handle", &SemLock::descriptor);
}

} // namespace dragon::py_module
