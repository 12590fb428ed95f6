#include "info_report.hpp"

#include "core/error.hpp"

#include <dragon/launcher.h>

#include <cstddef>
#include <cstdlib>

namespace dragon::info {

bool Report::has_error() const
{
    for (const auto &s : selections)
        if (s.error)
            return true;
    return false;
}

namespace {

AllocationRow describe_allocation(const Plugin &launcher)
{
    AllocationRow row;
    row.launcher = launcher.name();
    auto allocation = launcher.optional_entry<decltype(dragon_launcher_ops::allocation)>(
        offsetof(dragon_launcher_ops, allocation));
    if (!allocation) {
        row.error = "the launcher does not describe its allocation (built before launcher "
                    "interface 1.1)";
        return row;
    }
    dragon_allocation_info info{};
    info.struct_size = sizeof info;
    dragon_error err{};
    if (allocation(launcher.host(), &info, &err) != DRAGON_OK) {
        row.error = err.message;
        return row;
    }
    row.described = true;
    row.nodes = info.num_nodes;
    row.hosts = info.hosts;
    row.cpus = info.cpus_per_node;
    row.source = info.source;
    return row;
}

} // namespace

Report gather(const Registry &registry)
{
    Report r;
    r.version = DRAGON_VERSION;
    const auto &path = registry.search_path();
    for (size_t i = 0; i < path.size(); ++i)
        r.search_path.push_back(
            {path[i], i + 1 == path.size() ? "installed" : "DRAGON_PLUGIN_PATH"});

    std::vector<std::string> selected_paths;
    for (auto kind : all_kinds) {
        SelectionRow row;
        row.kind = kind_name(kind);
        row.variable = selection_variable(kind);
        const char *spec = std::getenv(row.variable.c_str());
        row.spec = spec ? spec : "";
        bool none_installed = registry.plugins(kind).empty();
        try {
            Selected s = registry.select(kind);
            row.selected = s.plugin->name();
            row.decision = s.decision;
            if (kind == DRAGON_PLUGIN_LAUNCHER)
                r.allocation = describe_allocation(*s.plugin);
            selected_paths.push_back(s.plugin->path());
        } catch (const Error &e) {
            row.decision = e.what();
            // No plugin of a kind installed and none asked for is not an error: nothing
            // needs that kind yet. Asking for one that cannot be had always is.
            row.error = !(none_installed && row.spec.empty());
            if (!row.error)
                row.decision = "no " + row.kind + " plugin is installed";
        }
        r.selections.push_back(row);
    }

    for (const auto &file : registry.files()) {
        PluginRow row;
        row.path = file.path;
        if (!file.loaded) {
            row.status = "refused";
            row.reason = file.refusal;
            if (file.descriptor) {
                row.kind = kind_name(static_cast<dragon_plugin_kind>(file.descriptor->kind));
                row.name = file.descriptor->name ? file.descriptor->name : "";
            }
            r.plugins.push_back(row);
            continue;
        }
        const dragon_plugin_descriptor &d = *file.descriptor;
        const Plugin *p = registry.find(static_cast<dragon_plugin_kind>(d.kind), d.name);
        row.kind = kind_name(p->kind());
        row.name = p->name();
        row.version = d.version;
        row.interface = plugin_interface(d).text();
        row.description = d.description ? d.description : "";
        row.priority = p->priority();
        bool selected = false;
        for (const auto &s : selected_paths)
            selected = selected || s == p->path();
        row.status = selected ? "selected" : p->available() ? "available" : "unavailable";
        row.reason = p->available() ? "" : p->reason();
        r.plugins.push_back(row);
    }
    r.params = registry.params().all();
    r.warnings = registry.warnings();
    return r;
}

} // namespace dragon::info
