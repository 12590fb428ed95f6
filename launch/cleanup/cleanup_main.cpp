// dragon-cleanup: removes every process and segment that crashed or killed Dragon
// jobs of this user left on this node, and says what it removed.
#include "common_options.hpp"
#include "job_scan.hpp"

#include "core/error.hpp"
#include "core/memory.hpp"

#include "core/netns.hpp"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

namespace {

void kill_and_wait(const std::vector<pid_t> &pids)
{
    for (pid_t pid : pids)
        kill(pid, SIGKILL);
    // They are not our children: wait until they are gone from /proc, with a deadline.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (pid_t pid : pids)
        while (kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void remove_segment(const std::string &entry)
{
    auto colon = entry.find(':');
    try {
        dragon::MemoryPlugin::named(entry.substr(0, colon)).unlink(entry.substr(colon + 1));
    } catch (const dragon::Error &e) {
        std::cerr << "dragon-cleanup: " << e.what() << "\n";
    }
}

} // namespace

int main(int argc, char **argv)
{
    return dragon::cli::run_main("dragon-cleanup", [&] {
        namespace po = boost::program_options;
        po::options_description options("Options");
        dragon::cli::add_common_options(options);
        options.add_options()("all", "also remove jobs that are still running")(
            "dry-run,n", "only say what would be removed");
        po::variables_map vm;
        po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
        po::notify(vm);
        if (int rc = dragon::cli::handle_common_options(vm, options, "dragon-cleanup",
                                                        "[--all] [--dry-run]");
            rc >= 0)
            return rc;
        bool all = vm.count("all") > 0, dry = vm.count("dry-run") > 0;

        size_t processes = 0, segments = 0, directories = 0;
        for (const auto &[job, remains] : dragon::cleanup::scan_jobs()) {
            auto liveness = dragon::cleanup::job_liveness(job, remains);
            if (!all && liveness != dragon::cleanup::Liveness::Dead) {
                std::cout << "job " << job << ": "
                          << (liveness == dragon::cleanup::Liveness::Alive
                                  ? "still running, left alone (--all removes it too)"
                                  : "owner unknown, left alone (--all removes it)")
                          << "\n";
                continue;
            }
            for (pid_t pid : remains.processes)
                std::cout << (dry ? "would kill" : "killed") << " process " << pid << " of job "
                          << job << "\n";
            for (const auto &s : remains.segments)
                std::cout << (dry ? "would remove" : "removed") << " segment " << s << " of job "
                          << job << "\n";
            for (const auto &d : remains.directories)
                std::cout << (dry ? "would remove" : "removed") << " directory " << d << " of job "
                          << job << "\n";
            if (!dry) {
                // Processes first: a live process could otherwise re-create what we remove.
                kill_and_wait(remains.processes);
                for (const auto &s : remains.segments)
                    remove_segment(s);
                for (const auto &d : remains.directories) {
                    std::error_code ec;
                    std::filesystem::remove_all(d, ec);
                }
            }
            processes += remains.processes.size();
            segments += remains.segments.size();
            directories += remains.directories.size();
        }
        // Simulated hosts (network namespaces) whose creator is gone: a frontend killed in
        // the local launcher's separate-hosts mode, or a killed test or benchmark.
        std::vector<std::string> namespaces = dragon::NetnsHosts::stale();
        for (const auto &n : namespaces)
            std::cout << (dry ? "would remove" : "removed") << " network namespace " << n
                      << " of a process that is gone\n";
        if (!dry && !namespaces.empty())
            dragon::NetnsHosts::remove_stale();
        if (processes + segments + directories + namespaces.size() == 0)
            std::cout << "dragon-cleanup: nothing to remove\n";
        else
            std::cout << "dragon-cleanup: " << (dry ? "would remove " : "removed ") << processes
                      << " process(es), " << segments << " segment(s), " << directories
                      << " directory(ies) and " << namespaces.size() << " network namespace(s)\n";
        return 0;
    });
}
