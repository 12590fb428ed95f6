// Python timeouts (None = wait forever, seconds as a float, <= 0 = do not wait)
// as data-plane Timeouts.
#pragma once

#include "dataplane/deadline.hpp"

#include <pybind11/pybind11.h>

#include <chrono>

namespace dragon::py_module {

inline Timeout to_timeout(const pybind11::object &seconds)
{
    if (seconds.is_none())
        return wait_forever;
    double s = seconds.cast<double>();
    if (s <= 0)
        return no_wait;
    // Beyond a year is "forever" in practice, and avoids overflowing nanoseconds.
    if (s > 365.0 * 24 * 3600)
        return wait_forever;
    return std::chrono::duration_cast<Timeout>(std::chrono::duration<double>(s));
}

} // namespace dragon::py_module
