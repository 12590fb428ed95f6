// dragon::Error as Python exceptions: TimeoutError for a passed deadline (so the
// Python layer can raise queue.Empty/queue.Full), DragonError (with .status, the
// dragon_status name) for everything else.
#pragma once

#include <pybind11/pybind11.h>

namespace dragon::py_module {

void register_errors(pybind11::module_ &m);

} // namespace dragon::py_module
