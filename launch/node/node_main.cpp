// dragon-node: the per-node daemon the launcher starts, one per node.
//   dragon-node [--labels none|basic|verbose] [--log-level L] -- HEAD-COMMAND...
#include "fd_limit.hpp"
#include "node_runtime.hpp"
#include "node_transport.hpp"
#include "warm_server_link.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "dataplane/waker_cpu.hpp"

#include <boost/program_options.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>

int main(int argc, char **argv)
{
    // Block before any thread exists, so every thread inherits the mask and the
    // signals arrive only through the node's signalfd.
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP})
        sigaddset(&set, s);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);

    dragon::log::init_from_environment("dragon-node");
    dragon::node::raise_fd_limit();
    dragon::note_wakes_as_node();
    // Before any child exists: no process of the job inherits the secret.
    std::string job_secret = dragon::node::take_job_secret_from_environment();
    // Before any thread exists (setenv is not thread-safe): every process of the node
    // imports the dragon package from beside this executable.
    std::string python_path = dragon::node::python_package_dir();
    if (const char *old = std::getenv("PYTHONPATH"); old && *old)
        python_path += std::string(":") + old;
    setenv("PYTHONPATH", python_path.c_str(), 1);
    namespace po = boost::program_options;
    po::options_description options("dragon-node options (started by dragon, not by hand)");
    options.add_options()("labels", po::value<std::string>()->default_value("none"))(
        "log-level", po::value<std::string>())("command",
                                               po::value<std::vector<std::string>>()->multitoken());
    po::positional_options_description positional;
    positional.add("command", -1);
    dragon::node::NodeConfig config;
    config.job_secret = std::move(job_secret);
    try {
        po::variables_map vm;
        po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(),
                  vm);
        po::notify(vm);
        if (vm.count("log-level"))
            dragon::log::set_level(dragon::log::parse_level(vm["log-level"].as<std::string>()));
        config.labels = dragon::cli::label_mode_from_name(vm["labels"].as<std::string>());
        if (vm.count("command"))
            config.head_command = vm["command"].as<std::vector<std::string>>();
    } catch (const std::exception &e) {
        std::cerr << "dragon-node: " << e.what() << "\n";
        return 2;
    }
    try {
        return dragon::node::run_node(config);
    } catch (const dragon::Error &e) {
        dragon::log::error(e.what());
        return 1;
    }
}
