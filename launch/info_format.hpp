// dragon-info's two renderings of a Report: for people, and JSON for scripts.
#pragma once

#include "info_report.hpp"

#include <ostream>

namespace dragon::info {

void print_text(std::ostream &out, const Report &report);
void print_json(std::ostream &out, const Report &report);

} // namespace dragon::info
