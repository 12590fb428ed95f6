// The dragon command line: options (Boost.Program_options) up to PROG, then PROG
// and its arguments untouched, so `dragon python3 -m pytest -x` passes -m and -x on.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dragon::cli {

enum class LabelMode { None, Basic, Verbose };
const char *label_mode_name(LabelMode mode);
LabelMode label_mode_from_name(const std::string &name);

struct FrontendOptions {
    std::optional<std::string> log_level;
    uint32_t nodes = 0;                  // 0: every node of the allocation (1 locally)
    bool single_node_override = false;   // run on this node only, even inside an allocation
    std::optional<std::string> launcher; // -w/--wlm, else DRAGON_LAUNCHER
    std::optional<std::string> transport;
    std::optional<std::string> memory;
    uint16_t port = 0; // 0: ephemeral
    std::string network_prefix;
    LabelMode labels = LabelMode::None;
    std::vector<std::string> program; // PROG ARGS...
    bool show_help = false, show_version = false;
};

// Exit code 2 conditions (unknown option, missing PROG, bad value) throw UsageError.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

FrontendOptions parse_frontend_options(int argc, const char *const *argv);
std::string frontend_usage();

} // namespace dragon::cli
