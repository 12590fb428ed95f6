// The environment variables the framework itself reads, registered in one place
// so that dragon-info lists them and typo warnings know them.
#pragma once

#include "core/params.hpp"

namespace dragon {

void register_framework_params(ParamRegistry &params);

} // namespace dragon
