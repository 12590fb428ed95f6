// Options every Dragon command takes (-h, --version, -l/--log-level), parsed
// with Boost.Program_options, and the one way commands report fatal errors.
#pragma once

#include <boost/program_options.hpp>

#include <functional>
#include <string>

namespace dragon::cli {

namespace po = boost::program_options;

// Adds -h/--help, --version and -l/--log-level to `options`.
void add_common_options(po::options_description &options);

// Applies --log-level (after DRAGON_DEBUG). Returns an exit code if the command should
// stop now (help or version printed: 0), or -1 to go on.
int handle_common_options(const po::variables_map &vm, const po::options_description &options,
                          const std::string &program, const std::string &usage);

// Runs `body`, turning dragon::Error and option errors into a message and exit code 2/1.
int run_main(const std::string &program, const std::function<int()> &body);

} // namespace dragon::cli
