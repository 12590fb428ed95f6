#include "pbs_nodefile.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dragon::launcher_pbs {
namespace {

const char *variable(const char *name)
{
    const char *v = std::getenv(name);
    return v && *v ? v : nullptr;
}

} // namespace

uint32_t Allocation::cpus_per_node() const
{
    if (ncpus > 0)
        return ncpus;
    return slots.empty() ? 0 : *std::min_element(slots.begin(), slots.end());
}

NodefileHosts parse_nodefile(const std::string &text, const std::string &path)
{
    NodefileHosts out;
    std::istringstream in(text);
    std::string line;
    for (size_t number = 1; std::getline(in, line); ++number) {
        std::istringstream words(line);
        std::string host, more;
        if (!(words >> host))
            continue;
        if (words >> more)
            throw Error(DRAGON_ERR_INVALID, "pbs_pals launcher: line " + std::to_string(number) +
                                                " of the PBS node file " + path + " ('" + line +
                                                "') is not one host name");
        auto found = std::find(out.hosts.begin(), out.hosts.end(), host);
        if (found == out.hosts.end()) {
            out.hosts.push_back(host);
            out.slots.push_back(1);
        } else {
            ++out.slots[static_cast<size_t>(found - out.hosts.begin())];
        }
    }
    return out;
}

std::optional<Allocation> current_allocation(std::string &why)
{
    const char *job = variable("PBS_JOBID");
    if (!job) {
        why = "not inside a PBS job (PBS_JOBID is not set): run dragon in a qsub script or "
              "under qsub -I";
        return std::nullopt;
    }
    const char *nodefile = variable("PBS_NODEFILE");
    if (!nodefile) {
        why = std::string("PBS job ") + job + " has no node file (PBS_NODEFILE is not set)";
        return std::nullopt;
    }
    std::ifstream in(nodefile);
    if (!in) {
        why = std::string("PBS job ") + job +
              ": cannot read its node file PBS_NODEFILE=" + nodefile + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    try {
        NodefileHosts parsed = parse_nodefile(text.str(), nodefile);
        if (parsed.hosts.empty()) {
            why = std::string("PBS job ") + job + ": its node file " + nodefile + " lists no host";
            return std::nullopt;
        }
        Allocation a;
        a.job_id = job;
        a.nodefile = nodefile;
        a.hosts = std::move(parsed.hosts);
        a.slots = std::move(parsed.slots);
        if (const char *ncpus = variable("NCPUS"); ncpus && std::atol(ncpus) > 0)
            a.ncpus = static_cast<uint32_t>(std::atol(ncpus));
        return a;
    } catch (const Error &e) {
        why = e.what();
        return std::nullopt;
    }
}

} // namespace dragon::launcher_pbs
