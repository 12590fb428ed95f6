// dragon-node: the per-node daemon. Owns the node's memory pool, runs the head
// program (node 0), forwards output, relays signals, and on every exit path ends
// every process below it and removes the node's segments.
#pragma once

#include "frontend_options.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace dragon::node {

struct NodeConfig {
    cli::LabelMode labels = cli::LabelMode::None;
    std::vector<std::string> head_command; // run on node 0
    std::string job_secret;                // raw bytes; what transports prove to each other
};

// Runs the node until its work is done or it is told to stop; returns its exit code
// (node 0: the head program's).
int run_node(const NodeConfig &config);

} // namespace dragon::node
