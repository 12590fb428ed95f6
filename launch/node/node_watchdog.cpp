#include "node_watchdog.hpp"

#include "descendants.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/memory.hpp"

#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace dragon::node {
namespace {

bool environ_has(const std::string &pid, const std::string &marker)
{
    std::ifstream in("/proc/" + pid + "/environ", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = 0;
    while (start < all.size()) {
        size_t end = all.find('\0', start);
        if (end == std::string::npos)
            end = all.size();
        if (all.compare(start, end - start, marker) == 0)
            return true;
        start = end + 1;
    }
    return false;
}

std::vector<pid_t> marked_processes(const std::string &marker)
{
    std::vector<pid_t> found;
    DIR *proc = opendir("/proc");
    if (!proc)
        return found;
    const pid_t self = getpid();
    while (const dirent *entry = readdir(proc)) {
        char *end = nullptr;
        long pid = std::strtol(entry->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || pid == self)
            continue;
        struct stat st {};
        std::string dir = std::string("/proc/") + entry->d_name;
        // Only our own: a zombie's environ reads empty, so it never matches.
        if (stat(dir.c_str(), &st) == 0 && st.st_uid == getuid() &&
            environ_has(entry->d_name, marker))
            found.push_back(static_cast<pid_t>(pid));
    }
    closedir(proc);
    return found;
}

void close_other_fds(int keep)
{
    std::vector<int> fds;
    if (DIR *dir = opendir("/proc/self/fd")) {
        while (const dirent *entry = readdir(dir))
            if (entry->d_name[0] != '.')
                fds.push_back(std::atoi(entry->d_name));
        closedir(dir);
    }
    for (int fd : fds)
        if (fd > STDERR_FILENO && fd != keep)
            close(fd);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (null > STDERR_FILENO)
            close(null);
    }
}

[[noreturn]] void watchdog_main(int read_fd, pid_t node)
{
    prctl(PR_SET_NAME, "dragon-watchdog", 0, 0, 0);
    // A group of its own: the node's group is what it kills, and the terminal's
    // interrupt is the node's business, not ours.
    const bool node_leads_group = getpgid(node) == node;
    setpgid(0, 0);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE})
        sigaction(s, &ignore, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    close_other_fds(read_fd);

    std::string received;
    char buf[512];
    while (true) {
        ssize_t n = read(read_fd, buf, sizeof buf);
        if (n > 0)
            received.append(buf, static_cast<size_t>(n));
        else if (n == 0 || errno != EINTR)
            break;
    }
    // The node releases us (SIGKILL) when it ends in order; EOF means it died.
    std::string plugin, pool;
    std::vector<std::string> directories, segments;
    uint32_t index = 0;
    std::istringstream lines(received);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("dir ", 0) == 0)
            directories.push_back(line.substr(4));
        else if (line.rfind("shm ", 0) == 0)
            segments.push_back(line.substr(4));
        else if (std::istringstream words(line); line.rfind("watch ", 0) == 0)
            words.ignore(6) >> index >> plugin >> pool;
    }
    for (const auto &d : directories) {
        std::error_code ec;
        std::filesystem::remove_all(d, ec);
    }
    for (const auto &s : segments)
        shm_unlink(("/" + s).c_str());
    if (pool.empty())
        _exit(0); // it died before starting anything

    log::set_program("dragon-node[" + std::to_string(index) + "]");
    const std::string marker = "DRAGON_NODE_POOL=" + pool;
    size_t found = marked_processes(marker).size();
    if (node_leads_group)
        kill(-node, SIGKILL);
    int killed = kill_marked_processes(marker, 2.0);
    std::string removed;
    try {
        MemoryPlugin::named(plugin).unlink(pool);
        removed = " and removed its pool " + pool;
    } catch (const Error &) {
        // Gone already (the node got that far, or the frontend swept it).
    }
    log::error("dragon-node ", index, " (pid ", node, ") died: ended the ",
               std::max<size_t>(found, static_cast<size_t>(killed)),
               " process(es) of it that remained", removed);
    _exit(0);
}

} // namespace

int kill_marked_processes(const std::string &marker, double seconds)
{
    int killed = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (true) {
        auto pids = marked_processes(marker);
        if (pids.empty())
            break;
        for (pid_t pid : pids)
            if (kill(pid, SIGKILL) == 0)
                ++killed;
        if (std::chrono::steady_clock::now() > deadline)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return killed;
}

NodeWatchdog::NodeWatchdog()
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw Error(DRAGON_ERR_INTERNAL, "cannot create the watchdog's pipe: " + errno_text(errno));
    const pid_t node = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        throw Error(DRAGON_ERR_INTERNAL, "cannot fork the node's watchdog: " + errno_text(errno));
    }
    if (pid == 0) {
        close(fds[1]);
        watchdog_main(fds[0], node);
    }
    close(fds[0]);
    write_fd_ = fds[1];
    pid_ = pid;
    // The node's teardown signals its descendants; the watchdog is not one of its workers.
    exempt_from_descendants(pid_);
}

NodeWatchdog::~NodeWatchdog()
{
    release();
}

void NodeWatchdog::watch(uint32_t node_index, const std::string &memory_plugin,
                         const std::string &pool)
{
    send("watch " + std::to_string(node_index) + " " + memory_plugin + " " + pool + "\n");
}

void NodeWatchdog::remove_with_node(const std::string &directory)
{
    send("dir " + directory + "\n");
}

void NodeWatchdog::remove_segment_with_node(const std::string &segment)
{
    send("shm " + segment + "\n");
}

void NodeWatchdog::send(const std::string &line)
{
    if (write(write_fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        log::warning("cannot reach the node's watchdog: ", errno_text(errno),
                     "; if this node dies, its processes may remain (dragon-cleanup ends them)");
}

void NodeWatchdog::release()
{
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }
    if (write_fd_ >= 0) {
        close(write_fd_);
        write_fd_ = -1;
    }
}

} // namespace dragon::node
