#include "info_report.hpp"

#include "core/error.hpp"

#include <cstdlib>

namespace dragon::info {

bool Report::has_error() const
{
    for (const auto &s : selections)
        if (s.error)
            return true;
    return false;
}

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
