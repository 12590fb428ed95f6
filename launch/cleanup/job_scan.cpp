#include "job_scan.hpp"

#include "job_sweep.hpp"

#include "core/job.hpp"
#include "core/memory.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sys/stat.h>
#include <unistd.h>

namespace dragon::cleanup {
namespace {

std::string job_in_environ(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    static const std::string key = "DRAGON_JOB_ID=";
    size_t start = 0;
    while (start < all.size()) {
        size_t end = all.find('\0', start);
        if (end == std::string::npos)
            end = all.size();
        if (all.compare(start, key.size(), key) == 0)
            return all.substr(start + key.size(), end - start - key.size());
        start = end + 1;
    }
    return "";
}

std::string command_name(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
}

} // namespace

std::string job_of_segment(const std::string &name)
{
    if (name.rfind(segment_prefix, 0) != 0)
        return "";
    size_t start = segment_prefix.size();
    size_t end = name.find('-', start);
    return end == std::string::npos ? "" : name.substr(start, end - start);
}

Liveness job_liveness(const std::string &job, const JobRemains &remains)
{
    for (pid_t pid : remains.processes) {
        std::string name = command_name(pid);
        if (name == "dragon-node" || name == "dragon-watchdog")
            return Liveness::Alive;
    }
    long owner = job_owner_pid(job);
    if (owner <= 0)
        return Liveness::Unknown;
    if (kill(static_cast<pid_t>(owner), 0) != 0 && errno == ESRCH)
        return Liveness::Dead;
    // The pid is taken. For a dragon job it must be a frontend: the pid may have been
    // reused by an unrelated process. A standalone owner can be any program.
    if (job[0] == 'j')
        return command_name(static_cast<pid_t>(owner)) == "dragon" ? Liveness::Alive
                                                                   : Liveness::Dead;
    return Liveness::Alive;
}

std::map<std::string, JobRemains> scan_jobs()
{
    std::map<std::string, JobRemains> jobs;
    for (const auto *p : Registry::global().plugins(DRAGON_PLUGIN_MEMORY)) {
        if (!p->available())
            continue;
        for (const auto &name : MemoryPlugin(*p).list(std::string(segment_prefix))) {
            std::string job = job_of_segment(name);
            if (!job.empty())
                jobs[job].segments.push_back(p->name() + ":" + name);
        }
    }
    // Private directories (the node's sockets, the local launcher's PMIx server).
    for (const auto &path : private_directories(std::string(segment_prefix))) {
        std::string job = job_of_segment(std::filesystem::path(path).filename().string());
        if (!job.empty())
            jobs[job].directories.push_back(path);
    }
    DIR *proc = opendir("/proc");
    if (!proc)
        return jobs;
    pid_t self = getpid();
    while (const dirent *entry = readdir(proc)) {
        char *end = nullptr;
        long pid = std::strtol(entry->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || pid == self)
            continue;
        struct stat st {};
        if (stat((std::string("/proc/") + entry->d_name).c_str(), &st) != 0 ||
            st.st_uid != getuid())
            continue;
        std::string job = job_in_environ(static_cast<pid_t>(pid));
        if (!job.empty())
            jobs[job].processes.push_back(static_cast<pid_t>(pid));
    }
    closedir(proc);
    return jobs;
}

} // namespace dragon::cleanup
