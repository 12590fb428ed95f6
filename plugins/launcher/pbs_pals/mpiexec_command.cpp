#include "mpiexec_command.hpp"

#include "common/ops_support.hpp"
#include "common/process_support.hpp"
#include "core/error.hpp"

namespace dragon::launcher_pbs {

const char *const override_placeholders = "{nnodes}, {nodelist}, {command}";

namespace {

using launcher_support::join;
using launcher_support::words;

// `word` with {nnodes} and {nodelist} replaced; any other {name} is an error.
std::string substitute(const std::string &word, const std::string &nnodes,
                       const std::string &nodelist)
{
    std::string out;
    for (size_t i = 0; i < word.size();) {
        size_t open = word.find('{', i);
        if (open == std::string::npos) {
            out += word.substr(i);
            break;
        }
        out += word.substr(i, open - i);
        size_t close = word.find('}', open);
        std::string name = word.substr(open, close == std::string::npos ? close : close - open + 1);
        if (name == "{nnodes}")
            out += nnodes;
        else if (name == "{nodelist}")
            out += nodelist;
        else
            throw Error(DRAGON_ERR_INVALID,
                        "pbs_pals launcher: DRAGON_LAUNCHER_PBS_PALS_MPIEXEC_OVERRIDE uses '" +
                            name + "' in '" + word + "': the placeholders are " +
                            override_placeholders + " ({command} as a word of its own)");
        i = open + name.size();
    }
    return out;
}

std::string resolve(const std::string &program, const char *parameter)
{
    std::string path = launcher_support::find_on_path(program);
    if (path.empty())
        throw Error(DRAGON_ERR_UNAVAILABLE,
                    "pbs_pals launcher: mpiexec ('" + program +
                        "') is not found: load the PALS module (module load cray-pals), fix "
                        "PATH or set " +
                        parameter + " to its path");
    return path;
}

} // namespace

std::string mpiexec_program(const std::string &mpiexec, const std::string &override_line)
{
    auto given = words(override_line);
    return given.empty() ? mpiexec : given.front();
}

std::vector<std::string> mpiexec_argv(const MpiexecRequest &request)
{
    const std::string nnodes = std::to_string(request.hosts.size());
    const std::string nodelist = join(request.hosts);
    std::vector<std::string> argv;
    if (!request.override_line.empty()) {
        auto given = words(request.override_line);
        if (given.empty())
            throw Error(DRAGON_ERR_INVALID,
                        "pbs_pals launcher: DRAGON_LAUNCHER_PBS_PALS_MPIEXEC_OVERRIDE is blank");
        bool placed = false;
        for (const auto &word : given) {
            if (word == "{command}") {
                argv.insert(argv.end(), request.command.begin(), request.command.end());
                placed = true;
            } else {
                argv.push_back(substitute(word, nnodes, nodelist));
            }
        }
        if (!placed)
            argv.insert(argv.end(), request.command.begin(), request.command.end());
        argv[0] = resolve(argv[0], "DRAGON_LAUNCHER_PBS_PALS_MPIEXEC_OVERRIDE");
        return argv;
    }
    // One rank per host (--ppn 1), not bound (the daemon sizes the node by its grant, not
    // its binding), each a PMIx client of PALS (--pmi=pmix: PALS' default is Cray PMI);
    // --line-buffer keeps the nodes' lines whole where mpiexec merges them.
    argv = {resolve(request.mpiexec, "DRAGON_LAUNCHER_PBS_PALS_MPIEXEC"),
            "--np",
            nnodes,
            "--ppn",
            "1",
            "--cpu-bind",
            "none",
            "--hosts",
            nodelist,
            "--pmi=pmix",
            "--line-buffer"};
    for (auto &arg : words(request.extra_args))
        argv.push_back(std::move(arg));
    argv.insert(argv.end(), request.command.begin(), request.command.end());
    return argv;
}

} // namespace dragon::launcher_pbs
