#include "core/netns.hpp"

#include "core/error.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <set>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace dragon {
namespace {

// Every namespace name of this harness starts with this, then the creating pid, so a
// later run can tell which ones were left by a process that is gone.
constexpr const char *name_prefix = "dgn-";
constexpr const char *netns_dir = "/run/netns";

bool executable_ip()
{
    for (const char *p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
        if (access(p, X_OK) == 0)
            return true;
    return false;
}

// Runs `ip ARGS...` with a deadline, `input` on its stdin (for -batch -: one process
// for many commands, each ip start costing a few milliseconds); returns its exit code
// (-1 if it could not run or was late) and what it wrote to stderr.
int run_ip_command(const std::vector<std::string> &args, std::string *errors,
                   const std::string &input = {})
{
    int err_pipe[2], in_pipe[2];
    if (pipe2(err_pipe, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(in_pipe, O_CLOEXEC) != 0) {
        close(err_pipe[0]);
        close(err_pipe[1]);
        return -1;
    }
    std::vector<char *> argv;
    argv.push_back(const_cast<char *>("ip"));
    for (const auto &a : args)
        argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in_pipe[0], STDIN_FILENO);
        dup2(err_pipe[1], STDERR_FILENO);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, STDOUT_FILENO);
        execvp("ip", argv.data());
        _exit(127);
    }
    close(err_pipe[1]);
    close(in_pipe[0]);
    if (pid < 0) {
        close(err_pipe[0]);
        close(in_pipe[1]);
        return -1;
    }
    // A batch is a few hundred bytes: the pipe takes all of it at once.
    if (!input.empty() && write(in_pipe[1], input.data(), input.size()) != ssize_t(input.size()))
        kill(pid, SIGKILL);
    close(in_pipe[1]);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::string out;
    char buf[512];
    while (true) {
        int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
        if (ms <= 0)
            break;
        pollfd p{err_pipe[0], POLLIN, 0};
        if (poll(&p, 1, ms) <= 0)
            continue;
        ssize_t n = read(err_pipe[0], buf, sizeof buf);
        if (n <= 0)
            break; // the command ended (or failed to read): reap it below
        out.append(buf, static_cast<size_t>(n));
    }
    close(err_pipe[0]);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            if (errors)
                *errors = "timed out after 20 s";
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
        out.pop_back();
    if (errors)
        *errors = out;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Inode of a network namespace file, 0 if unreadable.
ino_t netns_inode(const std::string &path)
{
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// SIGKILLs every process whose network namespace is one of /run/netns/NAMES: what a
// test or a benchmark started there and did not end (never anything outside our
// namespaces). One pass over /proc for all of them.
void kill_processes_in(const std::vector<std::string> &names)
{
    std::set<ino_t> targets;
    for (const auto &name : names)
        if (ino_t inode = netns_inode(std::string(netns_dir) + "/" + name))
            targets.insert(inode);
    if (targets.empty())
        return;
    DIR *proc = opendir("/proc");
    if (!proc)
        return;
    while (dirent *e = readdir(proc)) {
        char *end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (!end || *end != '\0' || pid <= 1 || pid == getpid())
            continue;
        if (targets.count(netns_inode("/proc/" + std::string(e->d_name) + "/ns/net")))
            kill(static_cast<pid_t>(pid), SIGKILL);
    }
    closedir(proc);
}

// In this order, in one ip process; one that is gone already does not stop the rest.
void delete_netns(const std::vector<std::string> &names)
{
    if (names.empty())
        return;
    kill_processes_in(names);
    std::string batch, ignored;
    for (const auto &name : names)
        batch += "netns delete " + name + "\n";
    run_ip_command({"-force", "-batch", "-"}, &ignored, batch);
}

std::atomic<int> sequence{0};

} // namespace

std::string NetnsHosts::unavailable_reason()
{
    if (geteuid() != 0)
        return "needs root (network namespaces and veth pairs need CAP_SYS_ADMIN and "
               "CAP_NET_ADMIN)";
    if (!executable_ip())
        return "needs iproute2's `ip` (apt-get install iproute2)";
    return "";
}

void NetnsHosts::remove_stale()
{
    delete_netns(stale());
}

std::vector<std::string> NetnsHosts::stale()
{
    std::vector<std::string> stale;
    DIR *dir = opendir(netns_dir);
    if (!dir)
        return stale;
    while (dirent *e = readdir(dir)) {
        std::string name = e->d_name;
        if (name.rfind(name_prefix, 0) != 0)
            continue;
        long pid = std::strtol(name.c_str() + std::strlen(name_prefix), nullptr, 10);
        if (pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
            stale.push_back(name);
    }
    closedir(dir);
    return stale;
}

NetnsHosts::NetnsHosts(int hosts)
{
    std::string why = unavailable_reason();
    if (!why.empty())
        throw Error(DRAGON_ERR_UNAVAILABLE, "cannot create network namespaces: " + why);
    if (hosts < 1 || hosts > 250)
        throw Error(DRAGON_ERR_INVALID,
                    "NetnsHosts needs 1 to 250 hosts, not " + std::to_string(hosts));
    remove_stale();
    int seq = sequence++;
    tag_ = std::string(name_prefix) + std::to_string(getpid()) + "-" + std::to_string(seq);
    // A subnet per process and object: logs of parallel runs stay tellable apart (the
    // bridges are separate anyway, so equal subnets could not collide).
    subnet_ = 1 + static_cast<int>((static_cast<unsigned>(getpid()) * 7u + seq * 13u) % 254u);
    bridge_ = tag_ + "-br";
    // In batches, one ip process per namespace (16 hosts: 19 processes, not 99).
    const std::string eth = interface_name;
    std::string adds = "netns add " + bridge_ + "\n", ports;
    std::vector<std::string> links; // each host's own
    created_.push_back(bridge_);    // removed on failure whether made or not
    for (int k = 0; k < hosts; ++k) {
        std::string host = tag_ + "-h" + std::to_string(k), port = "p" + std::to_string(k);
        adds += "netns add " + host + "\n";
        created_.push_back(host);
        hosts_.push_back(host);
        // Both ends are born inside the namespaces: nothing appears in ours.
        links.push_back("link add " + eth + " type veth peer name " + port + " netns " + bridge_ +
                        "\naddr add " + address(k) + "/24 dev " + eth + "\nlink set " + eth +
                        " up\nlink set lo up\n");
        ports += "link set " + port + " master br0 up\n";
    }
    try {
        run_ip({"-batch", "-"}, adds);
        run_ip({"-n", bridge_, "-batch", "-"}, "link add br0 type bridge\nlink set br0 up\n");
        for (size_t k = 0; k < hosts_.size(); ++k)
            run_ip({"-n", hosts_[k], "-batch", "-"}, links[k]);
        run_ip({"-n", bridge_, "-batch", "-"}, ports);
    } catch (...) {
        remove_all();
        throw;
    }
}

NetnsHosts::~NetnsHosts()
{
    remove_all();
}

void NetnsHosts::remove_all() noexcept
{
    // Hosts first: their veth ends go with them; the bridge last.
    delete_netns({created_.rbegin(), created_.rend()});
    created_.clear();
}

void NetnsHosts::run_ip(const std::vector<std::string> &args, const std::string &input)
{
    std::string errors;
    int rc = run_ip_command(args, &errors, input);
    if (rc != 0) {
        std::string cmd = "ip";
        for (const auto &a : args)
            cmd += " " + a;
        throw Error(DRAGON_ERR_INTERNAL,
                    "`" + cmd + "` failed" + (errors.empty() ? "" : ": " + errors));
    }
}

std::string NetnsHosts::address(int k) const
{
    return "10.200." + std::to_string(subnet_) + "." + std::to_string(k + 1);
}

std::string NetnsHosts::cidr() const
{
    return "10.200." + std::to_string(subnet_) + ".0/24";
}

std::string NetnsHosts::path(int k) const
{
    return std::string(netns_dir) + "/" + name(k);
}

void NetnsHosts::enter(int k) const
{
    enter_network_namespace(path(k));
}

void enter_network_namespace(const std::string &path)
{
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error(DRAGON_ERR_NOT_FOUND, "cannot open " + path + ": " + errno_text(errno));
    int rc = setns(fd, CLONE_NEWNET);
    int e = errno;
    close(fd);
    if (rc != 0)
        throw Error(DRAGON_ERR_PERMISSION,
                    "cannot enter network namespace " + path + ": " + errno_text(e));
}

pid_t NetnsHosts::spawn(int k, const std::function<int()> &body) const
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int rc = 1;
    try {
        enter(k);
        rc = body();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "netns host %d: %s\n", k, e.what());
    } catch (...) {
    }
    _exit(rc);
}

} // namespace dragon
