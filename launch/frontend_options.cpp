#include "frontend_options.hpp"

#include "core/registry.hpp"
#include "core/text.hpp"

#include <boost/program_options.hpp>

#include <arpa/inet.h>
#include <cstdlib>
#include <limits>
#include <set>
#include <sstream>

namespace po = boost::program_options;

namespace dragon::cli {
namespace {

// "local, slurm (unavailable: no allocation)": the plugins of a kind this installation
// has, as dragon-info finds them; only computed for --help.
std::string installed(dragon_plugin_kind kind)
{
    std::vector<std::string> names;
    for (const auto *p : Registry::global().plugins(kind))
        names.push_back(p->available() ? p->name() : p->name() + " (cannot run here)");
    return names.empty() ? "none installed" : text::join(names, ", ");
}

struct PluginLists {
    std::string launchers = "see dragon-info", transports = "see dragon-info",
                memories = "see dragon-info";
};

po::options_description describe(const PluginLists &plugins = {})
{
    po::options_description o("Options");
    // clang-format off
    o.add_options()
        ("help,h", "show this help and exit")
        ("version", "show the version and exit")
        ("log-level,l", po::value<std::string>()->value_name("LEVEL"),
         "error, warning (default), info or debug; DRAGON_DEBUG=1 means debug")
        ("nodes,N", po::value<std::string>()->value_name("N"),
         "number of nodes (default: every node of the allocation; with the local launcher, "
         "N simulated nodes on this machine)")
        ("single-node-override,s", "run on this node only, even inside a multi-node allocation")
        ("wlm,w", po::value<std::string>()->value_name("LAUNCHER"),
         ("launcher plugin: " + plugins.launchers +
          " (or a list / ^exclusion); env DRAGON_LAUNCHER").c_str())
        ("transport,t", po::value<std::string>()->value_name("TRANSPORT"),
         ("transport plugin: " + plugins.transports +
          " (or a list / ^exclusion); env DRAGON_TRANSPORT_AGENT").c_str())
        ("memory", po::value<std::string>()->value_name("MEMORY"),
         ("memory plugin: " + plugins.memories +
          " (or a list / ^exclusion); env DRAGON_MEMORY").c_str())
        ("port,p", po::value<std::string>()->value_name("PORT"),
         "fixed port for the transport, 1024-65535 (default 0: an ephemeral port, published "
         "through PMIx); env DRAGON_TRANSPORT_PORT")
        ("network-prefix", po::value<std::string>()->value_name("CIDR"),
         "use only interfaces with an address in CIDR (e.g. 10.0.0.0/8); env "
         "DRAGON_NETWORK_PREFIX")
        ("no-label", "print every process's output as is (default)")
        ("basic-label", "prefix each output line with the process id: '1234: ...'")
        ("verbose-label", "prefix each output line with stream, node, host and pid");
    // clang-format on
    return o;
}

// Options that consume the following argument when not written as --opt=value or -Xvalue.
const std::set<std::string> takes_value = {"-l", "--log-level", "-N",       "--nodes",
                                           "-w", "--wlm",       "-t",       "--transport",
                                           "-p", "--port",      "--memory", "--network-prefix"};

// A transport port: 0 (ephemeral) or 1024-65535. `source` names where it came from.
uint16_t parse_port(const std::string &text, const std::string &source)
{
    if (text.empty() || text.size() > 5 ||
        text.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError(source + " '" + text +
                         "' is not a port number: give 0 (an ephemeral port) or 1024-65535");
    unsigned long port = std::stoul(text);
    if (port > 65535)
        throw UsageError(source + " " + text + " is above 65535, the largest port number");
    if (port != 0 && port < 1024)
        throw UsageError(source + " " + text +
                         " is a privileged port (below 1024, reserved for system services): "
                         "give 0 (an ephemeral port) or 1024-65535");
    return static_cast<uint16_t>(port);
}

// An IPv4 CIDR such as 10.0.0.0/8; throws naming what is wrong.
void check_network_prefix(const std::string &text, const std::string &source)
{
    auto slash = text.find('/');
    if (slash == std::string::npos)
        throw UsageError(source + " '" + text +
                         "' is not an IPv4 CIDR: expected ADDRESS/BITS, e.g. 10.0.0.0/8");
    std::string addr = text.substr(0, slash), bits = text.substr(slash + 1);
    in_addr a{};
    if (inet_pton(AF_INET, addr.c_str(), &a) != 1)
        throw UsageError(source + " '" + text + "': '" + addr +
                         "' is not an IPv4 address (four numbers 0-255, e.g. 10.0.0.0)");
    if (bits.empty() || bits.size() > 2 ||
        bits.find_first_not_of("0123456789") != std::string::npos || std::stoi(bits) > 32)
        throw UsageError(source + " '" + text + "': prefix length '" + bits +
                         "' is not a number from 0 to 32");
}

} // namespace

const char *label_mode_name(LabelMode mode)
{
    switch (mode) {
    case LabelMode::None: return "none";
    case LabelMode::Basic: return "basic";
    case LabelMode::Verbose: return "verbose";
    }
    return "none";
}

LabelMode label_mode_from_name(const std::string &name)
{
    if (name == "basic")
        return LabelMode::Basic;
    if (name == "verbose")
        return LabelMode::Verbose;
    return LabelMode::None;
}

std::string frontend_usage()
{
    std::ostringstream s;
    s << "Usage: dragon [options] PROG [ARGS...]\n"
         "Runs PROG under the Dragon runtime on every node of the allocation (or this machine).\n"
         "PROG ending in .py runs with python3 from PATH (or DRAGON_PYTHON); any other PROG\n"
         "is executed as is, e.g. dragon python3 -m pytest.\n\n"
      << describe({installed(DRAGON_PLUGIN_LAUNCHER), installed(DRAGON_PLUGIN_TRANSPORT),
                   installed(DRAGON_PLUGIN_MEMORY)})
      << "\nThe plugins listed are those installed here; dragon-info says more about each.\n";
    return s.str();
}

FrontendOptions parse_frontend_options(int argc, const char *const *argv)
{
    // Split at PROG: the first argument that is neither an option nor an option's value.
    std::vector<std::string> ours;
    FrontendOptions opts;
    int i = 1;
    for (; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a.size() < 2 || a[0] != '-')
            break;
        ours.push_back(a);
        if (takes_value.count(a) && i + 1 < argc)
            ours.push_back(argv[++i]);
    }
    for (; i < argc; ++i)
        opts.program.emplace_back(argv[i]);

    po::variables_map vm;
    try {
        po::store(po::command_line_parser(ours).options(describe()).run(), vm);
        po::notify(vm);
    } catch (const po::error &e) {
        throw UsageError(e.what());
    }
    opts.show_help = vm.count("help") > 0;
    opts.show_version = vm.count("version") > 0;
    if (vm.count("log-level"))
        opts.log_level = vm["log-level"].as<std::string>();
    if (vm.count("nodes")) {
        const std::string text = vm["nodes"].as<std::string>();
        auto n = text::parse_int(text);
        if (!n || *n < 1 || *n > std::numeric_limits<uint32_t>::max())
            throw UsageError("--nodes '" + text +
                             "' is not a node count: give a whole number, 1 "
                             "or more");
        opts.nodes = static_cast<uint32_t>(*n);
    }
    opts.single_node_override = vm.count("single-node-override") > 0;
    if (opts.single_node_override && opts.nodes > 1)
        throw UsageError("--single-node-override and --nodes " + std::to_string(opts.nodes) +
                         " contradict each other");
    if (vm.count("wlm"))
        opts.launcher = vm["wlm"].as<std::string>();
    if (vm.count("transport"))
        opts.transport = vm["transport"].as<std::string>();
    if (vm.count("memory"))
        opts.memory = vm["memory"].as<std::string>();
    // The transport's port and network prefix, from the options or else the environment
    // the nodes would inherit: checked here, before anything starts.
    if (vm.count("port"))
        opts.port = parse_port(vm["port"].as<std::string>(), "--port");
    else if (const char *env = std::getenv("DRAGON_TRANSPORT_PORT"); env && *env)
        parse_port(env, "DRAGON_TRANSPORT_PORT");
    if (vm.count("network-prefix")) {
        opts.network_prefix = vm["network-prefix"].as<std::string>();
        check_network_prefix(opts.network_prefix, "--network-prefix");
    } else if (const char *env = std::getenv("DRAGON_NETWORK_PREFIX"); env && *env) {
        check_network_prefix(env, "DRAGON_NETWORK_PREFIX");
    }
    int label_options = static_cast<int>(vm.count("no-label") + vm.count("basic-label") +
                                         vm.count("verbose-label"));
    if (label_options > 1)
        throw UsageError("choose one of --no-label, --basic-label, --verbose-label");
    if (vm.count("basic-label"))
        opts.labels = LabelMode::Basic;
    if (vm.count("verbose-label"))
        opts.labels = LabelMode::Verbose;
    if (opts.program.empty() && !opts.show_help && !opts.show_version)
        throw UsageError("no program given: dragon [options] PROG [ARGS...]");
    return opts;
}

} // namespace dragon::cli
