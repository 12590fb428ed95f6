#include "core/registry.hpp"

#include "core/error.hpp"
#include "core/framework_params.hpp"
#include "core/hmac_sha256.hpp"
#include "core/job.hpp"
#include "core/log.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>

extern char **environ;

namespace dragon {

std::string selection_variable(dragon_plugin_kind kind)
{
    switch (kind) {
    case DRAGON_PLUGIN_LAUNCHER: return "DRAGON_LAUNCHER";
    case DRAGON_PLUGIN_TRANSPORT: return "DRAGON_TRANSPORT_AGENT";
    case DRAGON_PLUGIN_MEMORY: return "DRAGON_MEMORY";
    }
    return "DRAGON_UNKNOWN";
}

namespace {

std::optional<std::vector<dragon_plugin_kind>> &kinds_to_load()
{
    static std::optional<std::vector<dragon_plugin_kind>> kinds;
    return kinds;
}

// Whether the file at `path`, found in a directory of the search path, is named for a
// kind this process does not load.
bool named_for_another_kind(const std::string &path, const std::vector<std::string> &search_path)
{
    const auto &kinds = kinds_to_load();
    if (!kinds || std::find(search_path.begin(), search_path.end(), path) != search_path.end())
        return false;
    std::string base = path.substr(path.find_last_of('/') + 1);
    for (dragon_plugin_kind kind : *kinds)
        if (base.starts_with(std::string("dragon_") + kind_name(kind) + "_"))
            return false;
    return true;
}

} // namespace

void Registry::load_only(std::vector<dragon_plugin_kind> kinds)
{
    kinds_to_load() = std::move(kinds);
}

Registry::Registry(std::vector<std::string> search_path) : search_path_(std::move(search_path))
{
    register_framework_params(params_);
    for (const auto &path : find_plugin_files(search_path_, &path_warnings_)) {
        if (named_for_another_kind(path, search_path_))
            continue;
        PluginFile file = load_plugin_file(path);
        if (file.loaded) {
            auto kind = static_cast<dragon_plugin_kind>(file.descriptor->kind);
            if (const Plugin *first = find(kind, file.descriptor->name)) {
                file.loaded = false;
                file.refusal =
                    "shadowed by " + first->path() + ", found earlier in the search path";
            } else {
                add_plugin(file);
            }
        }
        if (!file.loaded)
            log::debug("plugin ", path, " refused: ", file.refusal);
        files_.push_back(std::move(file));
    }
}

Registry &Registry::global()
{
    static Registry registry(plugin_search_path());
    return registry;
}

void Registry::add_plugin(const PluginFile &file)
{
    auto plugin = std::make_unique<Plugin>();
    const dragon_plugin_descriptor &d = *file.descriptor;
    plugin->path_ = file.path;
    plugin->name_ = d.name;
    plugin->kind_ = static_cast<dragon_plugin_kind>(d.kind);
    plugin->descriptor_ = file.descriptor;
    plugin->registry_ = this;
    plugin->host_ = dragon_host{sizeof(dragon_host),   plugin.get(),           &Registry::host_log,
                                &Registry::host_param, &Registry::host_job_id, &dragon_hmac_sha256};

    std::string owner = std::string(kind_name(plugin->kind_)) + "/" + plugin->name_;
    std::string bad_param;
    for (size_t i = 0; i < d.num_params; ++i) {
        const dragon_param_def &p = d.params[i];
        const Param &param =
            params_.add(plugin_param_env_name(kind_name(plugin->kind_), plugin->name_, p.name),
                        owner, p.name, p.type, p.default_value, p.help ? p.help : "");
        if (!param.problem.empty() && bad_param.empty())
            bad_param = param.problem;
    }

    dragon_probe_result probe{};
    d.probe(&plugin->host_, &probe);
    probe.reason[sizeof probe.reason - 1] = '\0';
    plugin->available_ = probe.available != 0;
    plugin->priority_ = probe.priority;
    plugin->reason_ = probe.reason;
    if (!bad_param.empty()) {
        // A misconfigured plugin must not run with a value the user did not ask for.
        plugin->available_ = false;
        plugin->reason_ = bad_param;
    }
    if (!plugin->available_ && plugin->reason_.empty())
        plugin->reason_ = "its probe gave no reason";
    plugins_.push_back(std::move(plugin));
}

std::vector<const Plugin *> Registry::plugins(dragon_plugin_kind kind) const
{
    std::vector<const Plugin *> out;
    for (const auto &p : plugins_)
        if (p->kind() == kind)
            out.push_back(p.get());
    return out;
}

const Plugin *Registry::find(dragon_plugin_kind kind, const std::string &name) const
{
    for (const auto &p : plugins_)
        if (p->kind() == kind && p->name() == name)
            return p.get();
    return nullptr;
}

Selected Registry::select(dragon_plugin_kind kind, const std::string *spec_override) const
{
    std::string variable = selection_variable(kind);
    std::string spec_text;
    if (spec_override)
        spec_text = *spec_override;
    else if (const char *env = std::getenv(variable.c_str()))
        spec_text = env;
    SelectionSpec spec = parse_selection(spec_text, variable);

    std::vector<const Plugin *> mine = plugins(kind);
    std::vector<Candidate> candidates;
    for (const auto *p : mine)
        candidates.push_back({p->name(), p->available(), p->priority(), p->reason()});
    SelectionResult result = select_plugin(spec, candidates, kind_name(kind), variable);
    return {mine[result.index], result.decision};
}

std::vector<std::string> Registry::warnings() const
{
    std::vector<std::string> out = path_warnings_;
    for (auto &w : params_.unknown_variable_warnings(environ))
        out.push_back(std::move(w));
    return out;
}

void Registry::host_log(void *ctx, dragon_log_level level, const char *message)
{
    auto *plugin = static_cast<Plugin *>(ctx);
    log::at(level, kind_name(plugin->kind()), "/", plugin->name(), ": ", message ? message : "");
}

const char *Registry::host_param(void *ctx, const char *name)
{
    auto *plugin = static_cast<Plugin *>(ctx);
    if (!name)
        return nullptr;
    const Param *p = plugin->registry_->params_.find(
        plugin_param_env_name(kind_name(plugin->kind()), plugin->name(), name));
    return p ? p->value.c_str() : nullptr;
}

const char *Registry::host_job_id(void *)
{
    return job_id().c_str();
}

} // namespace dragon
