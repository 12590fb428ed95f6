#include "core/log.hpp"

#include "core/error.hpp"

#include <atomic>
#include <cstdlib>
#include <unistd.h>

namespace dragon::log {
namespace {

std::atomic<int> current_level{DRAGON_LOG_WARNING};
std::string program = "dragon";

} // namespace

void init_from_environment(std::string_view program_name)
{
    program = std::string(program_name);
    const char *debug = std::getenv("DRAGON_DEBUG");
    set_level(debug && *debug ? DRAGON_LOG_DEBUG : DRAGON_LOG_WARNING);
}

void set_program(std::string_view program_name)
{
    program = std::string(program_name);
}

dragon_log_level parse_level(std::string_view text)
{
    static constexpr struct {
        const char *name;
        dragon_log_level level;
    } levels[] = {{"error", DRAGON_LOG_ERROR},
                  {"warning", DRAGON_LOG_WARNING},
                  {"info", DRAGON_LOG_INFO},
                  {"debug", DRAGON_LOG_DEBUG}};
    for (const auto &entry : levels) {
        std::string_view name = entry.name;
        if (text == name || (text.size() == 1 && text[0] == name[0]) ||
            (text == "warn" && entry.level == DRAGON_LOG_WARNING))
            return entry.level;
    }
    throw Error(DRAGON_ERR_INVALID, "unknown log level '" + std::string(text) +
                                        "': use one of error, warning, info, debug");
}

const char *level_name(dragon_log_level lvl)
{
    switch (lvl) {
    case DRAGON_LOG_ERROR: return "error";
    case DRAGON_LOG_WARNING: return "warning";
    case DRAGON_LOG_INFO: return "info";
    case DRAGON_LOG_DEBUG: return "debug";
    }
    return "?";
}

void set_level(dragon_log_level lvl)
{
    current_level.store(lvl, std::memory_order_relaxed);
}

dragon_log_level level()
{
    return static_cast<dragon_log_level>(current_level.load());
}

bool enabled(dragon_log_level lvl)
{
    return lvl <= current_level.load(std::memory_order_relaxed);
}

void write(dragon_log_level lvl, std::string_view message)
{
    if (!enabled(lvl))
        return;
    std::string line = program + ": " + level_name(lvl) + ": ";
    line.append(message);
    line.push_back('\n');
    // One write(2) per line: lines from different processes never interleave.
    const char *p = line.data();
    size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n <= 0)
            return;
        p += n;
        left -= static_cast<size_t>(n);
    }
}

} // namespace dragon::log
