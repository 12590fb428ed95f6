// The plugins of this process: discovered once, probed, their parameters
// registered, and selected per kind from the environment.
#pragma once

#include "core/params.hpp"
#include "core/plugin_loader.hpp"
#include "core/selection.hpp"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace dragon {

class Registry;

class Plugin {
public:
    const std::string &path() const { return path_; }
    const std::string &name() const { return name_; }
    dragon_plugin_kind kind() const { return kind_; }
    const dragon_plugin_descriptor &descriptor() const { return *descriptor_; }
    const dragon_host *host() const { return &host_; }

    bool available() const { return available_; }
    int priority() const { return priority_; }
    const std::string &reason() const { return reason_; } // why unavailable

    // The kind's table. Read only its mandatory prefix through this: an entry past it
    // may lie beyond the plugin's table (use optional_entry).
    template <typename Ops> const Ops &ops() const
    {
        return *static_cast<const Ops *>(descriptor_->ops);
    }
    // An optional entry at `offset` in the table, or nullptr when the plugin's table is
    // too short to hold it (built against an older interface) or leaves it NULL.
    template <typename Fn> Fn optional_entry(size_t offset) const
    {
        Fn fn = nullptr;
        if (offset + sizeof fn <= descriptor_->ops_size)
            std::memcpy(&fn, static_cast<const char *>(descriptor_->ops) + offset, sizeof fn);
        return fn;
    }

private:
    friend class Registry;
    std::string path_, name_;
    dragon_plugin_kind kind_ = DRAGON_PLUGIN_MEMORY;
    const dragon_plugin_descriptor *descriptor_ = nullptr;
    Registry *registry_ = nullptr;
    dragon_host host_{};
    bool available_ = false;
    int priority_ = 0;
    std::string reason_;
};

// Environment variable that selects plugins of `kind`: DRAGON_MEMORY, ...
std::string selection_variable(dragon_plugin_kind kind);

struct Selected {
    const Plugin *plugin;
    std::string decision; // "selected memory plugin 'posix_shm' automatically (...)"
};

class Registry {
public:
    explicit Registry(std::vector<std::string> search_path);
    Registry(const Registry &) = delete;
    Registry &operator=(const Registry &) = delete;

    // The process-wide registry over plugin_search_path(), built on first use.
    static Registry &global();
    // Before the first global(): this process loads plugins of `kinds` only (files of
    // the search path's directories named for another kind stay unloaded; a file the
    // path names directly is loaded whatever its kind). The Python package's processes
    // only attach pools: a transport's libraries (UCX's install signal handlers, and
    // its probe builds a UCX context) have no business in a user's process.
    static void load_only(std::vector<dragon_plugin_kind> kinds);

    const std::vector<std::string> &search_path() const { return search_path_; }
    // Every file found, in search order, loaded or refused (with its reason).
    const std::vector<PluginFile> &files() const { return files_; }

    std::vector<const Plugin *> plugins(dragon_plugin_kind kind) const;
    const Plugin *find(dragon_plugin_kind kind, const std::string &name) const;

    // Selection per the kind's variable (or `spec_override` when given). Throws dragon::Error.
    Selected select(dragon_plugin_kind kind, const std::string *spec_override = nullptr) const;

    const ParamRegistry &params() const { return params_; }
    // Search-path problems and DRAGON_* variables nothing reads.
    std::vector<std::string> warnings() const;

private:
    static void host_log(void *ctx, dragon_log_level level, const char *message);
    static const char *host_param(void *ctx, const char *name);
    static const char *host_job_id(void *ctx);

    void add_plugin(const PluginFile &file);

    std::vector<std::string> search_path_;
    std::vector<PluginFile> files_;
    std::vector<std::unique_ptr<Plugin>> plugins_;
    ParamRegistry params_;
    std::vector<std::string> path_warnings_;
};

} // namespace dragon
