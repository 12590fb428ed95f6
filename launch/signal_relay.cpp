#include "signal_relay.hpp"

#include <atomic>
#include <csignal>

namespace dragon::cli {
namespace {

std::atomic<int> first_signal{0};
std::atomic<int> signal_count{0};

void on_termination(int signum)
{
    int expected = 0;
    first_signal.compare_exchange_strong(expected, signum);
    signal_count.fetch_add(1);
}

} // namespace

void install_termination_handlers()
{
    struct sigaction action {};
    action.sa_handler = on_termination;
    sigemptyset(&action.sa_mask);
    for (int signum : {SIGINT, SIGTERM, SIGHUP})
        sigaction(signum, &action, nullptr);
}

int first_termination_signal()
{
    return first_signal.load();
}
int termination_signal_count()
{
    return signal_count.load();
}

} // namespace dragon::cli
