#include "core/params.hpp"

#include "core/text.hpp"

#include <cstdlib>
#include <cstring>

namespace dragon {

const char *source_name(ParamSource source)
{
    return source == ParamSource::Environment ? "environment" : "default";
}

const char *param_type_name(dragon_param_type type)
{
    switch (type) {
    case DRAGON_PARAM_STRING: return "string";
    case DRAGON_PARAM_INT: return "int";
    case DRAGON_PARAM_SIZE: return "size";
    case DRAGON_PARAM_BOOL: return "bool";
    }
    return "?";
}

std::string param_value_problem(dragon_param_type type, const std::string &text)
{
    switch (type) {
    case DRAGON_PARAM_STRING: return "";
    case DRAGON_PARAM_INT: return text::parse_int(text) ? "" : "expected a whole number such as 42";
    case DRAGON_PARAM_SIZE:
        return text::parse_size(text) ? "" : "expected a size in bytes such as 4096, 64M or 4G";
    case DRAGON_PARAM_BOOL:
        return text::parse_bool(text) ? "" : "expected one of 1/0, true/false, yes/no, on/off";
    }
    return "unknown parameter type";
}

std::string plugin_param_env_name(const std::string &kind, const std::string &plugin,
                                  const std::string &param)
{
    return "DRAGON_" + text::upper(kind) + "_" + text::upper(plugin) + "_" + text::upper(param);
}

const Param &ParamRegistry::add(const std::string &env_name, const std::string &owner,
                                const std::string &name, dragon_param_type type,
                                const std::string &default_value, const std::string &help)
{
    auto found = params_.find(env_name);
    if (found != params_.end())
        return found->second;
    Param p;
    p.env_name = env_name;
    p.owner = owner;
    p.name = name;
    p.type = type;
    p.default_value = default_value;
    p.help = help;
    p.value = default_value;
    if (const char *env = std::getenv(env_name.c_str())) {
        std::string problem = param_value_problem(type, env);
        if (problem.empty()) {
            p.value = env;
            p.source = ParamSource::Environment;
        } else {
            p.problem = env_name + "='" + env + "' is not valid: " + problem;
        }
    }
    return params_.emplace(env_name, std::move(p)).first->second;
}

const Param *ParamRegistry::find(const std::string &env_name) const
{
    auto found = params_.find(env_name);
    return found == params_.end() ? nullptr : &found->second;
}

std::vector<const Param *> ParamRegistry::all() const
{
    std::vector<const Param *> out;
    for (const auto &[_, p] : params_)
        out.push_back(&p);
    return out;
}

std::vector<std::string> ParamRegistry::unknown_variable_warnings(char **environment) const
{
    std::vector<std::string> known;
    for (const auto &[name, _] : params_)
        known.push_back(name);
    std::vector<std::string> warnings;
    for (char **entry = environment; entry && *entry; ++entry) {
        std::string_view kv(*entry);
        if (!kv.starts_with("DRAGON_"))
            continue;
        std::string name(kv.substr(0, kv.find('=')));
        if (params_.count(name))
            continue;
        std::string warning = name + " is set but Dragon does not read it";
        if (auto guess = text::closest(name, known))
            warning += "; did you mean " + *guess + "?";
        warnings.push_back(warning);
    }
    return warnings;
}

} // namespace dragon
