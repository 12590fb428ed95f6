// Levelled logging to stderr, shared by every Dragon program and library.
#pragma once

#include <dragon/plugin.h>

#include <sstream>
#include <string>
#include <string_view>

namespace dragon::log {

// Level from DRAGON_DEBUG (any non-empty value: debug), else warning.
void init_from_environment(std::string_view program_name);
// The name every line starts with; set once, before threads log.
void set_program(std::string_view program_name);

// Parses "error", "warning", "info", "debug" (or their first letter). Throws dragon::Error.
dragon_log_level parse_level(std::string_view text);
const char *level_name(dragon_log_level level);

void set_level(dragon_log_level level);
dragon_log_level level();
bool enabled(dragon_log_level level);

// Writes one whole line atomically, so lines of concurrent processes never interleave.
void write(dragon_log_level level, std::string_view message);

template <typename... Parts> void at(dragon_log_level lvl, const Parts &...parts)
{
    if (!enabled(lvl))
        return;
    std::ostringstream line;
    (line << ... << parts);
    write(lvl, line.str());
}

template <typename... Parts> void error(const Parts &...parts)
{
    at(DRAGON_LOG_ERROR, parts...);
}
template <typename... Parts> void warning(const Parts &...parts)
{
    at(DRAGON_LOG_WARNING, parts...);
}
template <typename... Parts> void info(const Parts &...parts)
{
    at(DRAGON_LOG_INFO, parts...);
}
template <typename... Parts> void debug(const Parts &...parts)
{
    at(DRAGON_LOG_DEBUG, parts...);
}

} // namespace dragon::log
