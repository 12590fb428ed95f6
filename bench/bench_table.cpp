#include "bench_table.hpp"

#include <cstdio>

namespace dragon::bench {

void print_header()
{
    std::printf("%-44s %18s %10s  %s\n", "benchmark", "result", "ratio", "ratio meaning / floor");
    std::printf("%s\n", std::string(118, '-').c_str());
    std::fflush(stdout);
}

void print_row(const std::string &name, const std::string &value, const std::string &ratio,
               const std::string &note)
{
    std::printf("%-44s %18s %10s  %s\n", name.c_str(), value.c_str(), ratio.c_str(), note.c_str());
    std::fflush(stdout);
}

std::string fixed(double v, int decimals)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

} // namespace dragon::bench
