#include "core/selection.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <algorithm>

namespace dragon {
namespace {

std::string spec_text(std::string_view variable, const SelectionSpec &spec)
{
    std::string value = text::join(spec.names, ",");
    if (spec.mode == SelectionSpec::Mode::Excluding)
        value = "^" + value;
    return std::string(variable) + "=" + value;
}

std::vector<std::string> names_of(const std::vector<Candidate> &candidates)
{
    std::vector<std::string> names;
    for (const auto &c : candidates)
        names.push_back(c.name);
    std::sort(names.begin(), names.end());
    return names;
}

const Candidate *find(const std::vector<Candidate> &candidates, const std::string &name)
{
    for (const auto &c : candidates)
        if (c.name == name)
            return &c;
    return nullptr;
}

void check_known(const SelectionSpec &spec, const std::vector<Candidate> &candidates,
                 std::string_view kind, std::string_view variable)
{
    for (const auto &name : spec.names) {
        if (find(candidates, name))
            continue;
        std::vector<std::string> known = names_of(candidates);
        std::string message = spec_text(variable, spec) + ": there is no " + std::string(kind) +
                              " plugin named '" + name + "'";
        if (auto guess = text::closest(name, known))
            message += "; did you mean '" + *guess + "'?";
        message += known.empty() ? " (no " + std::string(kind) + " plugins were found)"
                                 : " (known: " + text::join(known, ", ") + ")";
        throw Error(DRAGON_ERR_NOT_FOUND, message);
    }
}

std::string unavailable_list(const std::vector<const Candidate *> &list)
{
    std::vector<std::string> parts;
    for (const auto *c : list)
        parts.push_back(c->name + ": " + c->reason);
    return text::join(parts, "; ");
}

} // namespace

SelectionSpec parse_selection(std::string_view raw, std::string_view variable)
{
    SelectionSpec spec;
    std::string value = text::trim(raw);
    if (value.empty())
        return spec;
    std::string body = value;
    spec.mode = SelectionSpec::Mode::Ordered;
    if (value[0] == '^') {
        spec.mode = SelectionSpec::Mode::Excluding;
        body = value.substr(1);
    }
    for (const auto &part : text::split(body, ',')) {
        std::string name = text::trim(part);
        if (name.empty() || name.find('^') != std::string::npos)
            throw Error(DRAGON_ERR_INVALID,
                        std::string(variable) + "='" + value +
                            "' is malformed: use one name (tcp), an ordered list (hsta,tcp) or an "
                            "exclusion (^hugepage or ^a,b)");
        if (std::find(spec.names.begin(), spec.names.end(), name) == spec.names.end())
            spec.names.push_back(name);
    }
    return spec;
}

SelectionResult select_plugin(const SelectionSpec &spec, const std::vector<Candidate> &candidates,
                              std::string_view kind, std::string_view variable)
{
    check_known(spec, candidates, kind, variable);
    std::string kind_s(kind);

    if (spec.mode == SelectionSpec::Mode::Ordered) {
        std::vector<const Candidate *> refused;
        for (const auto &name : spec.names) {
            const Candidate *c = find(candidates, name);
            if (c->available) {
                std::string decision = "selected " + kind_s + " plugin '" + name + "' (" +
                                       spec_text(variable, spec) + ")";
                if (!refused.empty())
                    decision += " after passing over " + unavailable_list(refused);
                return {static_cast<size_t>(c - candidates.data()), decision};
            }
            refused.push_back(c);
        }
        if (refused.size() == 1)
            throw Error(DRAGON_ERR_UNAVAILABLE,
                        spec_text(variable, spec) + ": the " + refused[0]->name + " " + kind_s +
                            " plugin cannot run here: " + refused[0]->reason);
        throw Error(DRAGON_ERR_UNAVAILABLE,
                    spec_text(variable, spec) + ": none of the listed " + kind_s +
                        " plugins can run here: " + unavailable_list(refused));
    }

    // Automatic, possibly with exclusions: highest priority wins, ties by name for determinism.
    const Candidate *best = nullptr;
    std::vector<const Candidate *> unavailable;
    for (const auto &c : candidates) {
        if (std::find(spec.names.begin(), spec.names.end(), c.name) != spec.names.end())
            continue;
        if (!c.available) {
            unavailable.push_back(&c);
            continue;
        }
        if (!best || c.priority > best->priority ||
            (c.priority == best->priority && c.name < best->name))
            best = &c;
    }
    if (!best) {
        std::string message = "no " + kind_s + " plugin can run here";
        if (spec.mode == SelectionSpec::Mode::Excluding)
            message = spec_text(variable, spec) + ": " + message + " once those are excluded";
        if (!unavailable.empty())
            message += ": " + unavailable_list(unavailable);
        else if (candidates.empty())
            message += ": none were found; check DRAGON_PLUGIN_PATH and run dragon-info";
        throw Error(DRAGON_ERR_UNAVAILABLE, message);
    }
    std::string decision = "selected " + kind_s + " plugin '" + best->name +
                           "' automatically (priority " + std::to_string(best->priority) +
                           ", highest available";
    if (spec.mode == SelectionSpec::Mode::Excluding)
        decision += ", " + spec_text(variable, spec);
    decision += ")";
    return {static_cast<size_t>(best - candidates.data()), decision};
}

} // namespace dragon
