// The C function table of the local launcher: thin wrappers that turn every C++
// exception into a dragon_status and message.
#pragma once

#include <dragon/launcher.h>

namespace dragon::launcher_local {

extern const dragon_launcher_ops ops;

} // namespace dragon::launcher_local
