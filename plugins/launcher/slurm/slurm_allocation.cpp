#include "slurm_allocation.hpp"

#include "core/error.hpp"

#include <cstdlib>
#include <unistd.h>

namespace dragon::launcher_slurm {
namespace {

[[noreturn]] void malformed(const std::string &what, const std::string &text)
{
    throw Error(DRAGON_ERR_INVALID,
                "slurm launcher: cannot read " + what + " '" + text + "': not in Slurm's syntax");
}

bool all_digits(const std::string &s)
{
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// "1-3,07" -> {"1","2","3","07"}; a range keeps the width of its first bound.
std::vector<std::string> expand_range_list(const std::string &ranges, const std::string &list)
{
    std::vector<std::string> out;
    size_t begin = 0;
    while (begin <= ranges.size()) {
        size_t end = ranges.find(',', begin);
        if (end == std::string::npos)
            end = ranges.size();
        std::string item = ranges.substr(begin, end - begin);
        size_t dash = item.find('-');
        std::string lo = item.substr(0, dash);
        std::string hi = dash == std::string::npos ? lo : item.substr(dash + 1);
        if (!all_digits(lo) || !all_digits(hi))
            malformed("the host list", list);
        unsigned long a = std::stoul(lo), b = std::stoul(hi);
        if (b < a || b - a > 100000)
            malformed("the host list", list);
        for (unsigned long v = a; v <= b; ++v) {
            std::string digits = std::to_string(v);
            if (digits.size() < lo.size())
                digits.insert(0, lo.size() - digits.size(), '0');
            out.push_back(digits);
        }
        begin = end + 1;
    }
    return out;
}

// One host expression without top-level commas: literal text and [ranges] in any order.
std::vector<std::string> expand_item(const std::string &item, const std::string &list)
{
    std::vector<std::string> names{""};
    size_t i = 0;
    while (i < item.size()) {
        if (item[i] == '[') {
            size_t close = item.find(']', i);
            if (close == std::string::npos)
                malformed("the host list", list);
            std::vector<std::string> next;
            auto values = expand_range_list(item.substr(i + 1, close - i - 1), list);
            for (const auto &n : names)
                for (const auto &v : values)
                    next.push_back(n + v);
            names = std::move(next);
            i = close + 1;
        } else {
            size_t open = item.find('[', i);
            std::string literal = item.substr(i, open == std::string::npos ? open : open - i);
            if (literal.find(']') != std::string::npos)
                malformed("the host list", list);
            for (auto &n : names)
                n += literal;
            i = open == std::string::npos ? item.size() : open;
        }
    }
    return names;
}

const char *variable(const char *name)
{
    const char *v = std::getenv(name);
    return v && *v ? v : nullptr;
}

} // namespace

std::vector<std::string> expand_hostlist(const std::string &list)
{
    std::vector<std::string> out;
    size_t begin = 0;
    int depth = 0;
    for (size_t i = 0; i <= list.size(); ++i) {
        char c = i < list.size() ? list[i] : ',';
        if (c == '[')
            ++depth;
        else if (c == ']')
            --depth;
        if (depth < 0 || depth > 1)
            malformed("the host list", list);
        if (c == ',' && depth == 0) {
            std::string item = list.substr(begin, i - begin);
            if (item.empty())
                malformed("the host list", list);
            for (auto &name : expand_item(item, list))
                out.push_back(std::move(name));
            begin = i + 1;
        }
    }
    if (depth != 0)
        malformed("the host list", list);
    return out;
}

std::vector<uint32_t> expand_cpus_per_node(const std::string &text)
{
    std::vector<uint32_t> out;
    size_t begin = 0;
    while (begin <= text.size()) {
        size_t end = text.find(',', begin);
        if (end == std::string::npos)
            end = text.size();
        std::string item = text.substr(begin, end - begin);
        std::string count = item, repeat = "1";
        if (size_t open = item.find("(x"); open != std::string::npos) {
            if (item.back() != ')')
                malformed("SLURM_JOB_CPUS_PER_NODE", text);
            count = item.substr(0, open);
            repeat = item.substr(open + 2, item.size() - open - 3);
        }
        if (!all_digits(count) || !all_digits(repeat) || std::stoul(repeat) > 1000000)
            malformed("SLURM_JOB_CPUS_PER_NODE", text);
        out.insert(out.end(), std::stoul(repeat), static_cast<uint32_t>(std::stoul(count)));
        begin = end + 1;
    }
    return out;
}

std::optional<Allocation> current_allocation(std::string &why)
{
    const char *job = variable("SLURM_JOB_ID");
    if (!job)
        job = variable("SLURM_JOBID");
    if (!job) {
        why = "not inside a Slurm allocation (SLURM_JOB_ID is not set): run dragon under salloc "
              "or in an sbatch script";
        return std::nullopt;
    }
    const char *nodes = variable("SLURM_JOB_NODELIST");
    if (!nodes)
        nodes = variable("SLURM_NODELIST");
    if (!nodes) {
        why = std::string("Slurm job ") + job + " has no node list (SLURM_JOB_NODELIST is not set)";
        return std::nullopt;
    }
    try {
        Allocation a;
        a.job_id = job;
        a.hosts = expand_hostlist(nodes);
        if (const char *cpus = variable("SLURM_JOB_CPUS_PER_NODE"))
            a.cpus = expand_cpus_per_node(cpus);
        if (!a.cpus.empty() && a.cpus.size() != a.hosts.size())
            a.cpus.clear(); // heterogeneous or unusual job: the nodes read their own grant
        return a;
    } catch (const Error &e) {
        why = e.what();
        return std::nullopt;
    }
}

} // namespace dragon::launcher_slurm
