// Typed parameters read from DRAGON_* environment variables, each value's
// source recorded, and warnings for DRAGON_* variables that nothing reads.
#pragma once

#include <dragon/plugin.h>

#include <map>
#include <string>
#include <vector>

namespace dragon {

enum class ParamSource { Default, Environment };
const char *source_name(ParamSource source);

struct Param {
    std::string env_name; // DRAGON_MEMORY_HUGEPAGE_DIR
    std::string owner;    // "framework", "memory/hugepage", ...
    std::string name;     // "dir"
    dragon_param_type type = DRAGON_PARAM_STRING;
    std::string default_value;
    std::string help;
    std::string value; // text in effect (the default when the environment's is invalid)
    ParamSource source = ParamSource::Default;
    std::string problem; // non-empty: the environment's value is invalid, and why
};

// Why `text` is not a valid value of `type`, or "" when it is.
std::string param_value_problem(dragon_param_type type, const std::string &text);
const char *param_type_name(dragon_param_type type);

class ParamRegistry {
public:
    // Registers a parameter and reads its variable now. Re-registering a name is ignored.
    const Param &add(const std::string &env_name, const std::string &owner, const std::string &name,
                     dragon_param_type type, const std::string &default_value,
                     const std::string &help);

    const Param *find(const std::string &env_name) const;
    std::vector<const Param *> all() const;

    // One warning per DRAGON_* variable in `environment` that no parameter reads.
    std::vector<std::string> unknown_variable_warnings(char **environment) const;

private:
    std::map<std::string, Param> params_;
};

// Environment-variable name of a plugin's parameter: DRAGON_<KIND>_<PLUGIN>_<PARAM>.
std::string plugin_param_env_name(const std::string &kind, const std::string &plugin,
                                  const std::string &param);

} // namespace dragon
