#include "core/framework_params.hpp"

namespace dragon {

void register_framework_params(ParamRegistry &params)
{
    struct Entry {
        const char *env;
        dragon_param_type type;
        const char *default_value;
        const char *help;
    };
    static constexpr Entry entries[] = {
        {"DRAGON_PLUGIN_PATH", DRAGON_PARAM_STRING, "",
         "colon-separated directories (or files) searched for plugins before the installed ones"},
        {"DRAGON_DEBUG", DRAGON_PARAM_STRING, "", "any non-empty value turns on debug logging"},
        {"DRAGON_LAUNCHER", DRAGON_PARAM_STRING, "",
         "launcher plugin: a name, an ordered list (a,b) or an exclusion (^a); empty: automatic"},
        {"DRAGON_TRANSPORT_AGENT", DRAGON_PARAM_STRING, "",
         "transport plugin: a name, an ordered list (hsta,tcp) or an exclusion (^hsta)"},
        {"DRAGON_MEMORY", DRAGON_PARAM_STRING, "",
         "memory plugin: a name, an ordered list (hugepage,posix_shm) or an exclusion (^hugepage)"},
        {"DRAGON_DEFAULT_SEG_SZ", DRAGON_PARAM_SIZE, "4G",
         "default size in bytes of a node's memory pool (suffixes K, M, G, T)"},
        {"DRAGON_JOB_ID", DRAGON_PARAM_STRING, "",
         "job identifier scoping segment names; set by dragon, empty: derived from the process id"},
    };
    for (const auto &e : entries)
        params.add(e.env, "framework", e.env, e.type, e.default_value, e.help);
}

} // namespace dragon
