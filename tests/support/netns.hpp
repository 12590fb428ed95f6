// The simulated hosts of tests and benchmarks are the framework's (core/netns.hpp).
#pragma once

#include "core/netns.hpp"

namespace dragon::test {
using dragon::NetnsHosts;
} // namespace dragon::test
