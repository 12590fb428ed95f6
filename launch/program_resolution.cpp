#include "program_resolution.hpp"

#include "frontend_options.hpp"

#include "core/text.hpp"

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace fs = std::filesystem;

namespace dragon::cli {

std::string find_executable(const std::string &name)
{
    if (name.find('/') != std::string::npos)
        return access(name.c_str(), X_OK) == 0 && !fs::is_directory(name) ? name : "";
    const char *path = std::getenv("PATH");
    for (const auto &dir : text::split(path ? path : "/usr/bin:/bin", ':')) {
        std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate))
            return candidate;
    }
    return "";
}

std::string python_interpreter_name()
{
    const char *configured = std::getenv("DRAGON_PYTHON");
    return configured && *configured ? configured : "python3";
}

std::vector<std::string> resolve_program(const std::vector<std::string> &program)
{
    const std::string &prog = program.at(0);
    std::vector<std::string> command;
    if (fs::is_directory(prog))
        throw UsageError("cannot run " + prog +
                         ": it is a directory; give a program or a .py file in it");
    if (prog.ends_with(".py")) {
        if (!fs::is_regular_file(prog))
            throw UsageError("cannot run " + prog + ": no such file");
        std::string python = python_interpreter_name();
        std::string resolved = find_executable(python);
        if (resolved.empty())
            throw UsageError("cannot run " + prog + ": the interpreter '" + python +
                             "' was not found; put python3 on PATH or set DRAGON_PYTHON");
        command.push_back(resolved);
        command.insert(command.end(), program.begin(), program.end());
        return command;
    }
    std::string resolved = find_executable(prog);
    if (resolved.empty())
        throw UsageError("cannot run " + prog + ": " +
                         (prog.find('/') != std::string::npos
                              ? "no such executable file"
                              : "not found on PATH (give a path, or a .py file)"));
    command.push_back(resolved);
    command.insert(command.end(), program.begin() + 1, program.end());
    return command;
}

} // namespace dragon::cli
