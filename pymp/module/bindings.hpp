// The pieces of the _dragon module, each bound in its own file.
#pragma once

#include <pybind11/pybind11.h>

namespace dragon::py_module {

void bind_pool(pybind11::module_ &m);
void bind_channel(pybind11::module_ &m);
void bind_semlock(pybind11::module_ &m);
void bind_fd_wait(pybind11::module_ &m);
void bind_bytes(pybind11::module_ &m);

} // namespace dragon::py_module
