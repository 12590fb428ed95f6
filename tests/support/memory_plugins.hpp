// Test helpers: the memory plugins to run a suite against, and per-test segment names.
#pragma once

#include "core/memory.hpp"

#include <string>
#include <vector>

namespace dragon::test {

// Names of every memory plugin found (installed and on DRAGON_PLUGIN_PATH). A plugin
// that is unavailable is still listed: suites skip it with its reason, so a
// missing hugepage reservation shows up as a skip, never as a silent pass.
std::vector<std::string> memory_plugin_names();

// A segment name unique to this test process and call: dragon-<job>-<tag>-<counter>.
std::string unique_segment_name(const std::string &tag);

// GTEST_SKIP()s the current test unless the named plugin can run here.
#define DRAGON_SKIP_UNLESS_AVAILABLE(plugin_name)                                                  \
    do {                                                                                           \
        const auto *p_ = ::dragon::Registry::global().find(DRAGON_PLUGIN_MEMORY, plugin_name);     \
        if (!p_ || !p_->available())                                                               \
            GTEST_SKIP() << "memory plugin " << (plugin_name)                                      \
                         << " unavailable: " << (p_ ? p_->reason() : "not found");                 \
    } while (0)

} // namespace dragon::test
