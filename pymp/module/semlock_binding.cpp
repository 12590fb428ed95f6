// SemLock: the object behind multiprocessing's Lock, RLock, Semaphore and
// BoundedSemaphore (the interface of CPython's _multiprocessing.SemLock), on a
// semaphore channel of the node's pool. Ownership (count, owning thread) is kept
// per process as CPython does; the count itself lives in the channel.
//
// A plain CPython type rather than a pybind11 class: acquire() and release() are
// called millions of times a second, and pybind11's argument dispatch cost five
// times the lock operation itself. Waits release the GIL and run Python's signal
// handlers (signal_check.hpp), so Ctrl-C interrupts an acquire() without a
// timeout, as in CPython.
#include "bindings.hpp"
#include "signal_check.hpp"
#include "timeout.hpp"

#include "core/error.hpp"
#include "dataplane/channel.hpp"

#include <algorithm>
#include <optional>
#include <string>

namespace py = pybind11;

namespace dragon::py_module {
namespace {

// CPython's kinds (multiprocessing.synchronize.RECURSIVE_MUTEX, SEMAPHORE).
constexpr int recursive_mutex = 0;
constexpr int semaphore = 1;

struct SemLockObject {
    PyObject_HEAD Channel *channel;
    int kind;
    unsigned maxvalue;
    long count;
    unsigned long last_tid;
    PyObject *name;
};

bool is_mine(const SemLockObject *s)
{
    return s->count > 0 && s->last_tid == PyThread_get_thread_ident();
}

PyObject *raise_dragon_error(const std::exception &e)
{
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
}

// Waits for a unit without the GIL; -1 with a Python error set (a signal
// handler's exception, or the channel's error), else 0 (timed out) or 1.
int wait_for_unit(SemLockObject *s, Timeout timeout)
{
    SignalsDuringWait signals;
    bool got = false;
    std::optional<py::error_already_set> raised;
    std::string error;
    Py_BEGIN_ALLOW_THREADS
    try {
        got = s->channel->sem_acquire(timeout);
    } catch (py::error_already_set &e) {
        raised.emplace(std::move(e));
    } catch (const std::exception &e) {
        error = e.what();
    }
    Py_END_ALLOW_THREADS if (raised)
    {
        raised->restore();
        return -1;
    }
    if (!error.empty()) {
        PyErr_SetString(PyExc_RuntimeError, error.c_str());
        return -1;
    }
    return got ? 1 : 0;
}

// acquire(block=True, timeout=None)
PyObject *semlock_acquire(SemLockObject *s, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
{
    PyObject *block = nargs > 0 ? args[0] : Py_True;
    PyObject *timeout = nargs > 1 ? args[1] : Py_None;
    if (nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "acquire() takes at most 2 arguments");
        return nullptr;
    }
    for (Py_ssize_t i = 0; kwnames && i < PyTuple_GET_SIZE(kwnames); ++i) {
        PyObject *value = args[nargs + i];
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i), "block") == 0) {
            block = value;
        } else if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i), "timeout") == 0) {
            timeout = value;
        } else {
            PyErr_Format(PyExc_TypeError, "acquire() got an unexpected keyword argument '%U'",
                         PyTuple_GET_ITEM(kwnames, i));
            return nullptr;
        }
    }
    if (s->kind == recursive_mutex && is_mine(s)) {
        ++s->count;
        Py_RETURN_TRUE;
    }
    int got;
    try {
        got = s->channel->sem_acquire(no_wait);
    } catch (const std::exception &e) {
        return raise_dragon_error(e);
    }
    int blocking = got ? 0 : PyObject_IsTrue(block);
    if (blocking < 0)
        return nullptr;
    if (!got && blocking) {
        Timeout t = wait_forever;
        if (timeout != Py_None) {
            double seconds = PyFloat_AsDouble(timeout);
            if (seconds == -1.0 && PyErr_Occurred())
                return nullptr;
            t = to_timeout(py::float_(std::max(seconds, 0.0)));
        }
        if (t != no_wait) {
            got = wait_for_unit(s, t);
            if (got < 0)
                return nullptr;
        }
    }
    if (!got)
        Py_RETURN_FALSE;
    ++s->count;
    s->last_tid = PyThread_get_thread_ident();
    Py_RETURN_TRUE;
}

PyObject *semlock_release(SemLockObject *s, PyObject *)
{
    if (s->kind == recursive_mutex) {
        if (!is_mine(s)) {
            PyErr_SetString(PyExc_AssertionError,
                            "attempt to release recursive lock not owned by thread");
            return nullptr;
        }
        if (s->count > 1) {
            --s->count;
            Py_RETURN_NONE;
        }
    }
    bool released;
    try {
        released = s->channel->sem_release();
    } catch (const std::exception &e) {
        return raise_dragon_error(e);
    }
    if (!released) {
        PyErr_SetString(PyExc_ValueError, "semaphore or lock released too many times");
        return nullptr;
    }
    --s->count;
    Py_RETURN_NONE;
}

PyObject *semlock_enter(SemLockObject *s, PyObject *)
{
    return semlock_acquire(s, nullptr, 0, nullptr);
}

PyObject *semlock_exit(SemLockObject *s, PyObject *)
{
    return semlock_release(s, nullptr);
}

PyObject *semlock_count(SemLockObject *s, PyObject *)
{
    return PyLong_FromLong(s->count);
}

PyObject *semlock_is_mine(SemLockObject *s, PyObject *)
{
    return PyBool_FromLong(is_mine(s));
}

PyObject *semlock_get_value(SemLockObject *s, PyObject *)
{
    return PyLong_FromUnsignedLong(s->channel->sem_value());
}

PyObject *semlock_is_zero(SemLockObject *s, PyObject *)
{
    return PyBool_FromLong(s->channel->sem_value() == 0);
}

PyObject *semlock_after_fork(SemLockObject *s, PyObject *)
{
    s->count = 0;
    Py_RETURN_NONE;
}

PyObject *semlock_kind(SemLockObject *s, void *)
{
    return PyLong_FromLong(s->kind);
}

PyObject *semlock_maxvalue(SemLockObject *s, void *)
{
    return PyLong_FromUnsignedLong(s->maxvalue);
}

PyObject *semlock_name(SemLockObject *s, void *)
{
    Py_INCREF(s->name); // not Py_NewRef: CPython 3.9 lacks it
    return s->name;
}

PyObject *semlock_handle(SemLockObject *s, void *)
{
    std::string d = s->channel->descriptor();
    return PyUnicode_FromStringAndSize(d.data(), Py_ssize_t(d.size()));
}

// What pickling sends: the descriptor with a reference held while in transit.
PyObject *semlock_transit_handle(SemLockObject *s, PyObject *)
{
    try {
        std::string d = s->channel->transit_descriptor();
        return PyUnicode_FromStringAndSize(d.data(), Py_ssize_t(d.size()));
    } catch (const std::exception &e) {
        return raise_dragon_error(e);
    }
}

void semlock_dealloc(SemLockObject *s)
{
    PyTypeObject *type = Py_TYPE(s);
    delete s->channel;
    Py_XDECREF(s->name);
    type->tp_free(reinterpret_cast<PyObject *>(s));
    Py_DECREF(type); // a heap type: each instance holds a reference to it
}

PyMethodDef semlock_methods[] = {
    {"acquire", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(semlock_acquire)),
     METH_FASTCALL | METH_KEYWORDS, "acquire(block=True, timeout=None) -> bool"},
    {"release", reinterpret_cast<PyCFunction>(semlock_release), METH_NOARGS, "release()"},
    {"__enter__", reinterpret_cast<PyCFunction>(semlock_enter), METH_NOARGS, nullptr},
    {"__exit__", reinterpret_cast<PyCFunction>(semlock_exit), METH_VARARGS, nullptr},
    {"_count", reinterpret_cast<PyCFunction>(semlock_count), METH_NOARGS, nullptr},
    {"_is_mine", reinterpret_cast<PyCFunction>(semlock_is_mine), METH_NOARGS, nullptr},
    {"_get_value", reinterpret_cast<PyCFunction>(semlock_get_value), METH_NOARGS, nullptr},
    {"_is_zero", reinterpret_cast<PyCFunction>(semlock_is_zero), METH_NOARGS, nullptr},
    {"_after_fork", reinterpret_cast<PyCFunction>(semlock_after_fork), METH_NOARGS, nullptr},
    {"_transit_handle", reinterpret_cast<PyCFunction>(semlock_transit_handle), METH_NOARGS,
     "the handle for pickling: keeps the semaphore alive until attached"},
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef semlock_getset[] = {
    {"kind", reinterpret_cast<getter>(semlock_kind), nullptr, nullptr, nullptr},
    {"maxvalue", reinterpret_cast<getter>(semlock_maxvalue), nullptr, nullptr, nullptr},
    {"name", reinterpret_cast<getter>(semlock_name), nullptr, nullptr, nullptr},
    {"handle", reinterpret_cast<getter>(semlock_handle), nullptr,
     "the semaphore channel's descriptor", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyTypeObject *semlock_type_object = nullptr;

PyTypeObject *semlock_type()
{
    if (!semlock_type_object) {
        static PyType_Slot slots[] = {
            {Py_tp_dealloc, reinterpret_cast<void *>(semlock_dealloc)},
            {Py_tp_methods, semlock_methods},
            {Py_tp_getset, semlock_getset},
            {Py_tp_doc, const_cast<char *>("A multiprocessing SemLock on a semaphore channel; "
                                           "made by semlock_create() or semlock_attach()")},
            {0, nullptr}};
        static PyType_Spec spec = {"dragon._dragon.SemLock", int(sizeof(SemLockObject)), 0,
                                   Py_TPFLAGS_DEFAULT, slots};
        semlock_type_object = reinterpret_cast<PyTypeObject *>(PyType_FromSpec(&spec));
        if (!semlock_type_object)
            throw py::error_already_set();
    }
    return semlock_type_object;
}

py::object make_semlock(Channel channel, int kind, unsigned maxvalue, const std::string &name)
{
    if (kind != recursive_mutex && kind != semaphore)
        throw py::value_error("unrecognized kind " + std::to_string(kind));
    auto *s = PyObject_New(SemLockObject, semlock_type());
    if (!s)
        throw py::error_already_set();
    s->channel = new Channel(std::move(channel));
    s->kind = kind;
    s->maxvalue = maxvalue;
    s->count = 0;
    s->last_tid = 0;
    s->name = PyUnicode_FromStringAndSize(name.data(), Py_ssize_t(name.size()));
    return py::reinterpret_steal<py::object>(reinterpret_cast<PyObject *>(s));
}

} // namespace

void bind_semlock(py::module_ &m)
{
    m.attr("SemLock") = py::handle(reinterpret_cast<PyObject *>(semlock_type()));
    m.def(
        "semlock_create",
        [](std::shared_ptr<Pool> pool, int kind, uint32_t value, uint32_t maxvalue,
           const std::string &name) {
            return make_semlock(Channel::create_semaphore(std::move(pool), value, maxvalue), kind,
                                maxvalue, name);
        },
        py::arg("pool"), py::arg("kind"), py::arg("value"), py::arg("maxvalue"),
        py::arg("name") = "");
    m.def(
        "semlock_attach",
        [](const std::string &descriptor, int kind, uint32_t maxvalue, const std::string &name) {
            Channel ch;
            {
                py::gil_scoped_release unlocked;
                ch = Channel::attach(descriptor);
            }
            return make_semlock(std::move(ch), kind, maxvalue, name);
        },
        py::arg("descriptor"), py::arg("kind"), py::arg("maxvalue"), py::arg("name") = "");
}

} // namespace dragon::py_module
