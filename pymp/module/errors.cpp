#include "errors.hpp"

#include "core/error.hpp"

namespace py = pybind11;

namespace dragon::py_module {

void register_errors(py::module_ &m)
{
    static py::exception<Error> dragon_error(m, "DragonError", PyExc_RuntimeError);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p)
                std::rethrow_exception(p);
        } catch (const Error &e) {
            if (e.status() == DRAGON_ERR_TIMEOUT) {
                PyErr_SetString(PyExc_TimeoutError, e.what());
                return;
            }
            py::object exc = py::reinterpret_borrow<py::object>(dragon_error.ptr())(e.what());
            exc.attr("status") = status_name(e.status());
            PyErr_SetObject(dragon_error.ptr(), exc.ptr());
        }
    });
}

} // namespace dragon::py_module
