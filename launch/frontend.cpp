#include "frontend.hpp"

#include "job_sweep.hpp"
#include "signal_relay.hpp"

#include "core/error.hpp"
#include "core/job.hpp"
#include "core/log.hpp"
#include "core/memory.hpp"
#include "core/registry.hpp"
#include "core/text.hpp"
#include "core/transport.hpp"

#include <dragon/launcher.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <unistd.h>
#include <utility>

namespace dragon::cli {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto teardown_grace = std::chrono::seconds(5);
constexpr int64_t poll_ns = 50'000'000; // 50 ms: how quickly a signal is acted on

std::string sibling_program(const std::string &name)
{
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec)
        throw Error(DRAGON_ERR_INTERNAL, "cannot locate the dragon executable: " + ec.message());
    auto path = self.parent_path() / name;
    if (access(path.c_str(), X_OK) != 0)
        throw Error(DRAGON_ERR_NOT_FOUND,
                    "cannot find " + path.string() + ": the Dragon installation is incomplete");
    return path.string();
}

const std::string *override_of(const std::optional<std::string> &option)
{
    return option ? &*option : nullptr;
}

class Launch {
public:
    Launch(const Plugin &plugin, const dragon_launch_request &request)
        : plugin_(plugin), ops_(plugin.ops<dragon_launcher_ops>())
    {
        dragon_error err{};
        check_plugin_status(ops_.start(plugin_.host(), &request, &launch_, &err), err,
                            "launcher " + plugin_.name() + " could not start the job");
    }
    ~Launch()
    {
        if (launch_)
            ops_.release(launch_);
    }
    Launch(const Launch &) = delete;
    Launch &operator=(const Launch &) = delete;

    // DRAGON_OK with node/exit code, DRAGON_ERR_TIMEOUT, or DRAGON_ERR_NOT_FOUND when all ended.
    dragon_status wait(int64_t timeout_ns, uint32_t &node, int &exit_code)
    {
        dragon_error err{};
        dragon_status s = ops_.wait(launch_, timeout_ns, &node, &exit_code, &err);
        if (s != DRAGON_OK && s != DRAGON_ERR_TIMEOUT && s != DRAGON_ERR_NOT_FOUND)
            check_plugin_status(s, err, "waiting for the job's nodes failed");
        return s;
    }

    void signal(int signum)
    {
        dragon_error err{};
        dragon_status s = ops_.signal(launch_, signum, &err);
        if (s != DRAGON_OK)
            log::warning("could not signal the job's nodes: ", err.message);
    }

    void release()
    {
        if (launch_)
            ops_.release(std::exchange(launch_, nullptr));
    }

private:
    const Plugin &plugin_;
    const dragon_launcher_ops &ops_;
    dragon_launch *launch_ = nullptr;
};

// A node's status as the launcher reports it: an exit code, or -N for signal N.
std::string describe_node_end(int code)
{
    if (code < 0)
        return "was killed by " + text::describe_signal(-code);
    return "exited with code " + std::to_string(code);
}

struct Plan {
    const Plugin *launcher;
    std::string memory;
    std::vector<std::string> node_argv;
    std::vector<std::string> node_env;
    uint32_t nodes;
};

Plan plan_job(const FrontendOptions &options, const std::vector<std::string> &command,
              const std::string &job)
{
    Registry &registry = Registry::global();
    for (const auto &w : registry.warnings())
        log::warning(w);

    std::string single = "local";
    Selected launcher =
        registry.select(DRAGON_PLUGIN_LAUNCHER,
                        options.single_node_override ? &single : override_of(options.launcher));
    log::info(launcher.decision);
    Selected memory = registry.select(DRAGON_PLUGIN_MEMORY, override_of(options.memory));
    log::info(memory.decision);
    // The transport is decided here, once, and every node uses exactly that one.
    std::string transport;
    if (options.transport || std::getenv("DRAGON_TRANSPORT_AGENT") ||
        !registry.plugins(DRAGON_PLUGIN_TRANSPORT).empty()) {
        Selected t = registry.select(DRAGON_PLUGIN_TRANSPORT, override_of(options.transport));
        log::info(t.decision);
        transport = t.plugin->name();
    }

    Plan plan;
    plan.launcher = launcher.plugin;
    plan.memory = memory.plugin->name();
    plan.nodes = options.single_node_override ? 1 : options.nodes;
    plan.node_argv = {sibling_program("dragon-node"),  "--labels",
                      label_mode_name(options.labels), "--log-level",
                      log::level_name(log::level()),   "--"};
    plan.node_argv.insert(plan.node_argv.end(), command.begin(), command.end());
    plan.node_env = {"DRAGON_JOB_ID=" + job, "DRAGON_MEMORY=" + plan.memory,
                     "DRAGON_FRONTEND_PID=" + std::to_string(getpid())};
    if (!transport.empty())
        plan.node_env.push_back("DRAGON_TRANSPORT_AGENT=" + transport);
    // Nodes prove it to each other; dragon-node removes it from its environment.
    plan.node_env.push_back("DRAGON_JOB_SECRET=" + text::to_hex(make_job_secret()));
    if (options.port)
        plan.node_env.push_back("DRAGON_TRANSPORT_PORT=" + std::to_string(options.port));
    if (!options.network_prefix.empty())
        plan.node_env.push_back("DRAGON_NETWORK_PREFIX=" + options.network_prefix);
    return plan;
}

std::vector<const char *> c_strings(const std::vector<std::string> &strings)
{
    std::vector<const char *> out;
    for (const auto &s : strings)
        out.push_back(s.c_str());
    out.push_back(nullptr);
    return out;
}

} // namespace

int run_frontend(const FrontendOptions &options, const std::vector<std::string> &command)
{
    // Every job gets a fresh id, even when DRAGON_JOB_ID was set: two jobs under one
    // id would share segment names, and a predictable id lets another user take them.
    const std::string job = fresh_job_id('j');
    if (const char *preset = std::getenv("DRAGON_JOB_ID"); preset && *preset)
        log::info("DRAGON_JOB_ID='", preset, "' is replaced: this job's id is ", job);
    setenv("DRAGON_JOB_ID", job.c_str(), 1);
    Plan plan = plan_job(options, command, job);

    auto argv = c_strings(plan.node_argv);
    auto envp = c_strings(plan.node_env);
    dragon_launch_request request{sizeof(dragon_launch_request), plan.nodes, argv.data(),
                                  envp.data(), DRAGON_LAUNCH_FLAG_WHOLE_STEP_RESULT};

    install_termination_handlers();
    Launch launch(*plan.launcher, request);
    log::debug("job ", job, " started through launcher ", plan.launcher->name());

    int exit_code = 1;
    bool head_done = false, failed = false;
    int signals_relayed = 0;
    std::optional<Clock::time_point> teardown_deadline;
    auto begin_teardown = [&](int signum) {
        launch.signal(signum);
        if (!teardown_deadline)
            teardown_deadline = Clock::now() + teardown_grace;
    };

    while (true) {
        int count = termination_signal_count();
        if (count > signals_relayed) {
            int signum = first_termination_signal();
            if (count >= 2 && signum == SIGINT) {
                log::warning("second interrupt: killing the job now");
                break;
            }
            if (signals_relayed == 0)
                log::info("received ", strsignal(signum), ": stopping the job");
            begin_teardown(signum);
            signals_relayed = count;
        }
        if (teardown_deadline && Clock::now() > *teardown_deadline) {
            log::warning("the job did not stop within ", teardown_grace.count(),
                         " s: killing what remains");
            break;
        }
        uint32_t node = 0;
        int code = 0;
        dragon_status s = launch.wait(poll_ns, node, code);
        if (s == DRAGON_ERR_NOT_FOUND)
            break; // every node has ended
        if (s != DRAGON_OK)
            continue;
        if (node == DRAGON_LAUNCH_WHOLE_STEP) {
            // srun and mpiexec: one result for every node, the highest exit code. Node 0
            // exits with the head program's code and the others with 0 once it ends, so
            // this is the program's code unless a node failed (which the workload
            // manager has named on stderr).
            head_done = true;
            exit_code = code < 0 ? 128 - code : code;
            if (code < 0) {
                log::error("the job step ", describe_node_end(code));
                failed = true;
            }
            continue;
        }
        if (code < 0) {
            // The daemon itself died: its watchdog ends the processes it had started.
            log::error("dragon-node ", node, " ", describe_node_end(code), ": stopping the job");
            failed = true;
            begin_teardown(SIGTERM);
        } else if (node == 0) {
            head_done = true;
            exit_code = code;
            log::debug("node 0 ", describe_node_end(code));
            begin_teardown(SIGTERM); // the head program is done: the other nodes stop too
        } else if (code == 0 && !head_done && !teardown_deadline) {
            // A node ends with 0 only when told to stop: by us, or by node 0 closing its
            // endpoint once the head program ended (node 0's own report may come later).
            log::debug("dragon-node ", node, " ended in order before node 0 reported");
        } else if (!head_done && !teardown_deadline) {
            log::error("dragon-node ", node, " ended unexpectedly: it ", describe_node_end(code),
                       "; stopping the job");
            failed = true;
            begin_teardown(SIGTERM);
        }
    }
    launch.release();

    for (const auto &left : sweep_job_segments(job))
        log::warning("removed segment ", left, " that the job left behind");
    for (const auto &left : sweep_job_directories(job))
        log::debug("removed directory ", left, " that a killed node left behind");

    if (int signum = first_termination_signal())
        return 128 + signum;
    if (failed && exit_code == 0)
        return 1;
    return head_done ? exit_code : 1;
}

} // namespace dragon::cli
