// Turning PROG ARGS... into the command the head process executes.
#pragma once

#include <string>
#include <vector>

namespace dragon::cli {

// "x.py a b" -> [<python3 on PATH or DRAGON_PYTHON>, x.py, a, b]; "prog a" -> [<prog on PATH>, a].
// Throws UsageError (exit 2) when PROG or the interpreter cannot be found or executed.
std::vector<std::string> resolve_program(const std::vector<std::string> &program);

// DRAGON_PYTHON if set, else "python3": the interpreter for .py programs and warm servers.
std::string python_interpreter_name();

// The executable `name` would run: itself if it has a '/', else the first match on PATH.
std::string find_executable(const std::string &name);

} // namespace dragon::cli
