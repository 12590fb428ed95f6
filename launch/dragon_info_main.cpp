// dragon-info: what plugins exist here, which would be selected, and why.
#include "common_options.hpp"
#include "info_format.hpp"
#include "info_report.hpp"

#include "core/log.hpp"

#include <iostream>

int main(int argc, char **argv)
{
    return dragon::cli::run_main("dragon-info", [&] {
        namespace po = boost::program_options;
        po::options_description options("Options");
        dragon::cli::add_common_options(options);
        options.add_options()("json", "print the report as JSON");
        po::variables_map vm;
        po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
        po::notify(vm);
        if (int rc = dragon::cli::handle_common_options(vm, options, "dragon-info", "[--json]");
            rc >= 0)
            return rc;

        const dragon::Registry &registry = dragon::Registry::global();
        dragon::info::Report report = dragon::info::gather(registry);
        for (const auto &s : report.selections)
            if (!s.error && !s.selected.empty())
                dragon::log::info(s.decision);
        if (vm.count("json"))
            dragon::info::print_json(std::cout, report);
        else
            dragon::info::print_text(std::cout, report);
        return report.has_error() ? 1 : 0;
    });
}
