// What dragon-info reports, gathered from the registry in one pass.
#pragma once

#include "core/registry.hpp"

#include <optional>
#include <string>
#include <vector>

namespace dragon::info {

struct PluginRow {
    std::string path;
    std::string kind, name, version, description; // empty for refused files
    std::string interface; // the kind's interface version the plugin was built against, "2.0"
    std::string status;    // selected | available | unavailable | refused
    std::string reason;    // for unavailable and refused
    int priority = 0;
};

struct SelectionRow {
    std::string kind, variable, spec;
    std::string selected; // plugin name, or empty on error or when none is installed
    std::string decision; // the registry's sentence, or the error
    bool error = false;
};

// What the selected launcher says of the allocation (launcher interface 1.1).
struct AllocationRow {
    std::string launcher;   // the selected launcher
    bool described = false; // false: it has no allocation entry, or it failed
    uint32_t nodes = 0;
    std::string hosts, cpus, source; // as the launcher wrote them (comma-separated)
    std::string error;               // when it failed
};

struct SearchEntry {
    std::string path, origin; // origin: DRAGON_PLUGIN_PATH or installed
};

struct Report {
    std::string version;
    std::vector<SearchEntry> search_path;
    std::vector<PluginRow> plugins;
    std::vector<SelectionRow> selections;
    std::optional<AllocationRow> allocation; // when a launcher is selected
    std::vector<const Param *> params;
    std::vector<std::string> warnings;
    bool has_error() const;
};

Report gather(const Registry &registry);

} // namespace dragon::info
