#include "core/plugin_loader.hpp"

#include "core/params.hpp"
#include "core/text.hpp"

#include <dragon/launcher.h>
#include <dragon/memory.h>
#include <dragon/transport.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <mutex>

namespace fs = std::filesystem;

namespace dragon {
namespace {

constexpr std::string_view file_prefix = "dragon_";
constexpr std::string_view file_suffix = ".so";

bool valid_name(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; ++p)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

// The kind and name a file's name promises: dragon_<kind>_<name>.so.
std::optional<std::pair<std::string, std::string>> kind_and_name_from_file(const std::string &path)
{
    std::string base = fs::path(path).filename().string();
    if (!base.starts_with(file_prefix) || !base.ends_with(file_suffix))
        return std::nullopt;
    std::string middle =
        base.substr(file_prefix.size(), base.size() - file_prefix.size() - file_suffix.size());
    size_t underscore = middle.find('_');
    if (underscore == std::string::npos)
        return std::nullopt;
    return std::make_pair(middle.substr(0, underscore), middle.substr(underscore + 1));
}

template <typename Ops> bool all_set(const Ops *ops, size_t mandatory_bytes)
{
    // Every mandatory entry is a function pointer after struct_size.
    const auto *bytes = reinterpret_cast<const unsigned char *>(ops);
    for (size_t off = sizeof(size_t); off + sizeof(void (*)()) <= mandatory_bytes;
         off += sizeof(void (*)())) {
        void (*fn)();
        std::memcpy(&fn, bytes + off, sizeof fn);
        if (!fn)
            return false;
    }
    return true;
}

} // namespace

const char *kind_name(dragon_plugin_kind kind)
{
    switch (kind) {
    case DRAGON_PLUGIN_LAUNCHER: return "launcher";
    case DRAGON_PLUGIN_TRANSPORT: return "transport";
    case DRAGON_PLUGIN_MEMORY: return "memory";
    }
    return "unknown";
}

std::optional<dragon_plugin_kind> kind_from_name(const std::string &name)
{
    for (auto kind : all_kinds)
        if (name == kind_name(kind))
            return kind;
    return std::nullopt;
}

std::string installed_plugin_dir()
{
    Dl_info info{};
    if (dladdr(reinterpret_cast<void *>(&installed_plugin_dir), &info) && info.dli_fname) {
        fs::path lib = fs::weakly_canonical(fs::path(info.dli_fname));
        return (lib.parent_path() / "dragon" / "plugins").string();
    }
    return DRAGON_INSTALL_PLUGIN_DIR;
}

std::vector<std::string> plugin_search_path()
{
    std::vector<std::string> path;
    if (const char *env = std::getenv("DRAGON_PLUGIN_PATH"))
        for (const auto &entry : text::split(env, ':'))
            if (!entry.empty())
                path.push_back(entry);
    path.push_back(installed_plugin_dir());
    return path;
}

std::vector<std::string> find_plugin_files(const std::vector<std::string> &search_path,
                                           std::vector<std::string> *warnings)
{
    std::vector<std::string> files;
    for (const auto &entry : search_path) {
        std::error_code ec;
        if (fs::is_regular_file(entry, ec)) {
            files.push_back(entry);
            continue;
        }
        if (!fs::is_directory(entry, ec)) {
            if (warnings)
                warnings->push_back("plugin search path entry " + entry +
                                    " is neither a directory nor a file; ignoring it");
            continue;
        }
        std::vector<std::string> in_dir;
        for (const auto &f : fs::directory_iterator(entry, ec)) {
            std::string base = f.path().filename().string();
            if (base.starts_with(file_prefix) && base.ends_with(file_suffix))
                in_dir.push_back(f.path().string());
        }
        std::sort(in_dir.begin(), in_dir.end());
        files.insert(files.end(), in_dir.begin(), in_dir.end());
    }
    return files;
}

size_t minimum_ops_size(dragon_plugin_kind kind)
{
    switch (kind) {
    case DRAGON_PLUGIN_MEMORY: return DRAGON_MEMORY_OPS_MANDATORY_SIZE;
    case DRAGON_PLUGIN_TRANSPORT: return DRAGON_TRANSPORT_OPS_MANDATORY_SIZE;
    case DRAGON_PLUGIN_LAUNCHER: return DRAGON_LAUNCHER_OPS_MANDATORY_SIZE;
    }
    return 0;
}

InterfaceVersion framework_interface(dragon_plugin_kind kind)
{
    switch (kind) {
    case DRAGON_PLUGIN_MEMORY:
        return {DRAGON_MEMORY_INTERFACE_MAJOR, DRAGON_MEMORY_INTERFACE_MINOR};
    case DRAGON_PLUGIN_TRANSPORT:
        return {DRAGON_TRANSPORT_INTERFACE_MAJOR, DRAGON_TRANSPORT_INTERFACE_MINOR};
    case DRAGON_PLUGIN_LAUNCHER:
        return {DRAGON_LAUNCHER_INTERFACE_MAJOR, DRAGON_LAUNCHER_INTERFACE_MINOR};
    }
    return {0, 0};
}

InterfaceVersion plugin_interface(const dragon_plugin_descriptor &d)
{
    // A plugin built before interface versions existed (ABI 1.0) leaves both zero.
    if (d.interface_major == 0 && d.interface_minor == 0)
        return {1, 0};
    return {d.interface_major, d.interface_minor};
}

std::optional<std::string> validate_descriptor(const dragon_plugin_descriptor *d,
                                               const std::string &path)
{
    if (!d)
        return "its entry point " DRAGON_PLUGIN_ENTRY_SYMBOL " returned NULL";
    if (d->abi_major != DRAGON_PLUGIN_ABI_MAJOR || d->abi_minor > DRAGON_PLUGIN_ABI_MINOR)
        return "built for plugin ABI " + std::to_string(d->abi_major) + "." +
               std::to_string(d->abi_minor) + " but this Dragon provides " +
               std::to_string(DRAGON_PLUGIN_ABI_MAJOR) + "." +
               std::to_string(DRAGON_PLUGIN_ABI_MINOR) +
               "; rebuild the plugin against this Dragon's headers";
    auto kind = static_cast<dragon_plugin_kind>(d->kind);
    if (std::string(kind_name(kind)) == "unknown")
        return "declares unknown plugin kind " + std::to_string(d->kind) +
               " (expected launcher=1, transport=2 or memory=3)";
    if (!valid_name(d->name))
        return "declares an invalid name: use lower-case letters, digits and '_'";
    if (auto promised = kind_and_name_from_file(path)) {
        if (promised->first != kind_name(kind))
            return std::string("declares kind '") + kind_name(kind) + "' but its file name says '" +
                   promised->first + "'; rename it dragon_" + kind_name(kind) + "_" + d->name +
                   ".so or fix its kind";
        if (promised->second != d->name)
            return std::string("declares name '") + d->name + "' but its file name says '" +
                   promised->second + "'";
    }
    if (!d->version)
        return "declares no version string";
    if (!d->probe)
        return "has no probe function";
    if (!d->ops)
        return "has no function table";
    InterfaceVersion theirs = plugin_interface(*d), ours = framework_interface(kind);
    if (theirs.major != ours.major)
        return "built against " + std::string(kind_name(kind)) + " interface " + theirs.text() +
               " but this Dragon provides " + ours.text() +
               "; rebuild the plugin against this Dragon's headers";
    size_t needed = minimum_ops_size(kind);
    if (d->ops_size < needed)
        return "its " + std::string(kind_name(kind)) + " function table has " +
               std::to_string(d->ops_size) + " bytes, fewer than the " + std::to_string(needed) +
               " that interface " + ours.text() + " requires";
    if (*static_cast<const size_t *>(d->ops) != d->ops_size)
        return "its function table's struct_size does not match the descriptor's ops_size";
    if (!all_set(static_cast<const unsigned char *>(d->ops), needed))
        return "its function table leaves a mandatory entry NULL";
    if (d->num_params && !d->params)
        return "declares parameters but no parameter table";
    for (size_t i = 0; i < d->num_params; ++i) {
        const dragon_param_def &p = d->params[i];
        if (!valid_name(p.name))
            return "declares a parameter with an invalid name";
        if (!p.default_value)
            return std::string("parameter '") + p.name + "' has no default value";
        std::string problem = param_value_problem(p.type, p.default_value);
        if (!problem.empty())
            return std::string("parameter '") + p.name + "' has an invalid default: " + problem;
    }
    return std::nullopt;
}

namespace {

// What the libraries plugins bring in read when they load. UCX (the hsta transport's)
// logs to stdout unless told otherwise, and stdout is the program's in every host of
// ours (dragon-node forwards it as the program's output): a UCX warning once split a
// line of JSON a test read. A user's own setting stands.
void configure_plugin_libraries()
{
    static std::once_flag once;
    std::call_once(once, [] { setenv("UCX_LOG_FILE", "stderr", 0); });
}

} // namespace

PluginFile load_plugin_file(const std::string &path)
{
    configure_plugin_libraries();
    PluginFile file;
    file.path = path;
    dlerror();
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        file.refusal = std::string("cannot be loaded: ") + (why ? why : "dlopen failed");
        return file;
    }
    auto entry =
        reinterpret_cast<dragon_plugin_entry_fn>(dlsym(handle, DRAGON_PLUGIN_ENTRY_SYMBOL));
    if (!entry) {
        file.refusal = "has no entry point: it does not export " DRAGON_PLUGIN_ENTRY_SYMBOL
                       " (define it with DRAGON_PLUGIN_DEFINE)";
        dlclose(handle);
        return file;
    }
    const dragon_plugin_descriptor *descriptor = entry();
    if (auto refusal = validate_descriptor(descriptor, path)) {
        file.refusal = *refusal;
        dlclose(handle);
        return file;
    }
    file.loaded = true;
    file.handle = handle;
    file.descriptor = descriptor;
    return file;
}

} // namespace dragon
