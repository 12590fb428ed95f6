#include "info_format.hpp"

#include "json_writer.hpp"

#include <iomanip>

namespace dragon::info {
namespace {

// A secret's value is never printed (dragon-info run inside a job would show the lane
// key of the job's processes): only that it is set.
std::string shown_value(const Param &p)
{
    const std::string &n = p.env_name;
    auto ends_with = [&](const std::string &tail) {
        return n.size() >= tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0;
    };
    if ((ends_with("_SECRET") || ends_with("_KEY")) && !p.value.empty())
        return "(set, not shown)";
    return p.value;
}

} // namespace

void print_text(std::ostream &out, const Report &r)
{
    out << "Dragon " << r.version << " (plugin ABI " << DRAGON_PLUGIN_ABI_MAJOR << "."
        << DRAGON_PLUGIN_ABI_MINOR << "; interfaces:";
    for (auto kind : all_kinds)
        out << " " << kind_name(kind) << " " << framework_interface(kind).text();
    out << ")\n\nPlugin search path:\n";
    for (const auto &e : r.search_path)
        out << "  " << e.path << "  (" << e.origin << ")\n";

    out << "\nPlugins:\n";
    if (r.plugins.empty())
        out << "  (none found)\n";
    for (const auto &p : r.plugins) {
        if (p.status == "refused") {
            out << "  " << p.path << "\n      refused: " << p.reason << "\n";
            continue;
        }
        out << "  " << std::left << std::setw(10) << p.kind << std::setw(12) << p.name
            << std::setw(8) << p.version << std::setw(16) << ("interface " + p.interface)
            << p.status;
        if (p.status != "unavailable")
            out << " (priority " << p.priority << ")";
        out << "\n      " << p.description << "\n      " << p.path << "\n";
        if (!p.reason.empty())
            out << "      unavailable: " << p.reason << "\n";
    }

    out << "\nSelection:\n";
    for (const auto &s : r.selections) {
        out << "  " << std::left << std::setw(10) << s.kind << s.variable << "="
            << (s.spec.empty() ? "(unset)" : s.spec) << "\n      " << (s.error ? "error: " : "")
            << s.decision << "\n";
    }

    if (r.allocation) {
        const AllocationRow &a = *r.allocation;
        out << "\nAllocation (launcher " << a.launcher << "):\n";
        if (a.described)
            out << "  " << a.nodes << " node(s): " << a.hosts
                << "\n  CPUs per node: " << (a.cpus.empty() ? "(unknown)" : a.cpus) << "\n  from "
                << a.source << "\n";
        else
            out << "  not described: " << a.error << "\n";
        // Why not another launcher: inside an allocation one would expect its own.
        for (const auto &p : r.plugins)
            if (p.kind == "launcher" && p.status == "unavailable")
                out << "  not " << p.name << ": " << p.reason << "\n";
    }

    out << "\nParameters:\n";
    for (const auto *p : r.params) {
        out << "  " << p->env_name << " = \"" << shown_value(*p) << "\"  ("
            << source_name(p->source) << ", " << param_type_name(p->type) << ", " << p->owner
            << ")\n      " << p->help << "\n";
        if (!p->problem.empty())
            out << "      error: " << p->problem << "; using the default\n";
    }

    if (!r.warnings.empty()) {
        out << "\nWarnings:\n";
        for (const auto &w : r.warnings)
            out << "  " << w << "\n";
    }
}

void print_json(std::ostream &out, const Report &r)
{
    cli::JsonWriter j(out);
    j.begin_object();
    j.key("version").value(r.version);
    j.key("abi").value(std::to_string(DRAGON_PLUGIN_ABI_MAJOR) + "." +
                       std::to_string(DRAGON_PLUGIN_ABI_MINOR));
    j.key("interfaces").begin_object();
    for (auto kind : all_kinds)
        j.key(kind_name(kind)).value(framework_interface(kind).text());
    j.end_object();
    j.key("search_path").begin_array();
    for (const auto &e : r.search_path)
        j.begin_object().key("path").value(e.path).key("origin").value(e.origin).end_object();
    j.end_array();
    j.key("plugins").begin_array();
    for (const auto &p : r.plugins) {
        j.begin_object().key("path").value(p.path).key("status").value(p.status);
        j.key("kind").value(p.kind).key("name").value(p.name).key("version").value(p.version);
        j.key("interface").value(p.interface);
        j.key("priority").value(static_cast<long long>(p.priority));
        j.key("reason").value(p.reason).end_object();
    }
    j.end_array();
    j.key("selection").begin_object();
    for (const auto &s : r.selections) {
        j.key(s.kind).begin_object().key("variable").value(s.variable).key("spec").value(s.spec);
        j.key("selected");
        if (s.selected.empty())
            j.null();
        else
            j.value(s.selected);
        j.key("decision").value(s.decision).key("error").value(s.error).end_object();
    }
    j.end_object();
    j.key("allocation");
    if (!r.allocation) {
        j.null();
    } else {
        const AllocationRow &a = *r.allocation;
        j.begin_object().key("launcher").value(a.launcher).key("described").value(a.described);
        j.key("nodes").value(static_cast<long long>(a.nodes)).key("hosts").value(a.hosts);
        j.key("cpus_per_node").value(a.cpus).key("source").value(a.source);
        j.key("error").value(a.error).end_object();
    }
    j.key("parameters").begin_array();
    for (const auto *p : r.params) {
        j.begin_object().key("name").value(p->env_name).key("owner").value(p->owner);
        j.key("type").value(param_type_name(p->type)).key("value").value(shown_value(*p));
        j.key("default").value(p->default_value).key("source").value(source_name(p->source));
        j.key("problem").value(p->problem).key("help").value(p->help).end_object();
    }
    j.end_array();
    j.key("warnings").begin_array();
    for (const auto &w : r.warnings)
        j.value(w);
    j.end_array();
    j.end_object();
    out << "\n";
}

} // namespace dragon::info
