// SIGINT/SIGTERM/SIGHUP for the frontend: recorded by an async-signal-safe handler
// and acted on by the main loop.
#pragma once

namespace dragon::cli {

void install_termination_handlers();
// The first termination signal received (0 if none), and how many have arrived.
int first_termination_signal();
int termination_signal_count();

} // namespace dragon::cli
