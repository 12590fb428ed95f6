#include "signal_check.hpp"

#include <Python.h>

// Public in intrcheck.h up to 3.12; 3.13 keeps the same exported function but
// declares it in an internal header only.
#if PY_VERSION_HEX >= 0x030D0000
extern "C" int _PyOS_IsMainThread(void);
#endif

namespace dragon::py_module {

bool runs_signal_handlers()
{
    return _PyOS_IsMainThread() != 0;
}

} // namespace dragon::py_module
