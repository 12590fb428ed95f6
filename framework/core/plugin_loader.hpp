// Finding plugin files and loading them. Every reason a file is refused is
// decided in validate_descriptor(), in one place.
#pragma once

#include <dragon/plugin.h>

#include <optional>
#include <string>
#include <vector>

namespace dragon {

const char *kind_name(dragon_plugin_kind kind);
std::optional<dragon_plugin_kind> kind_from_name(const std::string &name);
inline constexpr dragon_plugin_kind all_kinds[] = {DRAGON_PLUGIN_LAUNCHER, DRAGON_PLUGIN_TRANSPORT,
                                                   DRAGON_PLUGIN_MEMORY};

// <directory of libdragon>/dragon/plugins: the same relative place in the build tree and
// in any install prefix, so a moved installation still finds its plugins.
std::string installed_plugin_dir();

// DRAGON_PLUGIN_PATH entries (directories or files), then installed_plugin_dir().
std::vector<std::string> plugin_search_path();

struct PluginFile {
    std::string path;
    bool loaded = false;    // passed every check; `descriptor` is usable
    std::string refusal;    // when not loaded: the precise reason
    void *handle = nullptr; // dlopen handle, kept open for the process's life
    const dragon_plugin_descriptor *descriptor = nullptr;
};

// Plugin files are named dragon_<kind>_<name>.so; directories are scanned for that pattern.
std::vector<std::string> find_plugin_files(const std::vector<std::string> &search_path,
                                           std::vector<std::string> *warnings);

// dlopen (RTLD_NOW | RTLD_LOCAL), look up the entry point, validate.
PluginFile load_plugin_file(const std::string &path);

// Why this descriptor, found in the file at `path`, must be refused; nullopt if acceptable.
std::optional<std::string> validate_descriptor(const dragon_plugin_descriptor *d,
                                               const std::string &path);

// Smallest function table accepted for a kind: its frozen mandatory prefix.
size_t minimum_ops_size(dragon_plugin_kind kind);

struct InterfaceVersion {
    unsigned major = 0, minor = 0;
    std::string text() const { return std::to_string(major) + "." + std::to_string(minor); }
};
// The interface version of a kind's function table this framework was built with.
InterfaceVersion framework_interface(dragon_plugin_kind kind);
// The one a plugin declares (1.0 for a plugin built before versions were recorded).
InterfaceVersion plugin_interface(const dragon_plugin_descriptor &d);

} // namespace dragon
