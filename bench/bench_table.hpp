// A fixed-width results table, printed as rows complete.
#pragma once

#include <string>

namespace dragon::bench {

void print_header();
// `value` and `ratio` are preformatted; `note` explains the ratio or a failure.
void print_row(const std::string &name, const std::string &value, const std::string &ratio,
               const std::string &note);
std::string fixed(double v, int decimals);

} // namespace dragon::bench
