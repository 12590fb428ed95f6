// dragon: run a program under the Dragon runtime.
#include "frontend.hpp"
#include "frontend_options.hpp"
#include "program_resolution.hpp"

#include "core/error.hpp"
#include "core/log.hpp"

#include <iostream>

int main(int argc, char **argv)
{
    dragon::log::init_from_environment("dragon");
    dragon::cli::FrontendOptions options;
    std::vector<std::string> command;
    try {
        options = dragon::cli::parse_frontend_options(argc, argv);
        if (options.show_help) {
            std::cout << dragon::cli::frontend_usage();
            return 0;
        }
        if (options.show_version) {
            std::cout << "dragon " << DRAGON_VERSION << " (plugin ABI " << DRAGON_PLUGIN_ABI_MAJOR
                      << "." << DRAGON_PLUGIN_ABI_MINOR << ")\n";
            return 0;
        }
        if (options.log_level)
            dragon::log::set_level(dragon::log::parse_level(*options.log_level));
        command = dragon::cli::resolve_program(options.program);
    } catch (const dragon::cli::UsageError &e) {
        std::cerr << "dragon: " << e.what() << "\n"
                  << "Try 'dragon --help'.\n";
        return 2;
    } catch (const dragon::Error &e) {
        std::cerr << "dragon: " << e.what() << "\n";
        return 2;
    }
    try {
        return dragon::cli::run_frontend(options, command);
    } catch (const dragon::Error &e) {
        dragon::log::error(e.what());
        return 1;
    }
}
