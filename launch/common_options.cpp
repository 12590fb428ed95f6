#include "common_options.hpp"

#include "core/error.hpp"
#include "core/log.hpp"

#include <iostream>

namespace dragon::cli {

void add_common_options(po::options_description &options)
{
    options.add_options()("help,h", "show this help and exit")("version",
                                                               "show the version and exit")(
        "log-level,l", po::value<std::string>()->value_name("LEVEL"),
        "error, warning (default), info or debug; DRAGON_DEBUG=1 means debug");
}

int handle_common_options(const po::variables_map &vm, const po::options_description &options,
                          const std::string &program, const std::string &usage)
{
    if (vm.count("help")) {
        std::cout << "Usage: " << program << " " << usage << "\n\n" << options << "\n";
        return 0;
    }
    if (vm.count("version")) {
        std::cout << program << " " << DRAGON_VERSION << " (plugin ABI " << DRAGON_PLUGIN_ABI_MAJOR
                  << "." << DRAGON_PLUGIN_ABI_MINOR << ")\n";
        return 0;
    }
    if (vm.count("log-level"))
        log::set_level(log::parse_level(vm["log-level"].as<std::string>()));
    return -1;
}

int run_main(const std::string &program, const std::function<int()> &body)
{
    log::init_from_environment(program);
    try {
        return body();
    } catch (const po::error &e) {
        std::cerr << program << ": " << e.what() << "\nTry '" << program << " --help'.\n";
        return 2;
    } catch (const Error &e) {
        log::error(e.what());
        return 1;
    } catch (const std::exception &e) {
        log::error("unexpected failure: ", e.what());
        return 1;
    }
}

} // namespace dragon::cli
