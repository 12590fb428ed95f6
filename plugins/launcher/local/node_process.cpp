#include "node_process.hpp"

#include "common/process_support.hpp"
#include "core/error.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace dragon::launcher_local {

namespace {

// A variable an outer PMIx server (srun, mpirun) set for this process: passing it on
// could point our nodes at the wrong server.
bool outer_pmix_variable(const std::string &entry)
{
    return entry.rfind("PMIX_", 0) == 0 && entry.rfind("PMIX_MCA_", 0) != 0;
}

using launcher_support::c_array;
using launcher_support::child_failure;
using launcher_support::report_child_failure;
using launcher_support::set_variable;
using Fd = launcher_support::OwnedFd;

} // namespace

std::vector<std::string> node_environment(const std::vector<std::string> &pmix_env,
                                          const std::vector<std::string> &extra, uint32_t index,
                                          uint32_t count)
{
    std::vector<std::string> env;
    for (char **e = environ; e && *e; ++e)
        if (!outer_pmix_variable(*e))
            env.emplace_back(*e);
    for (const auto &e : pmix_env)
        set_variable(env, e);
    for (const auto &e : extra) {
        if (e.find('=') == std::string::npos || e.front() == '=')
            throw Error(DRAGON_ERR_INVALID,
                        "local launcher: environment entry '" + e + "' is not NAME=VALUE");
        set_variable(env, e);
    }
    set_variable(env, "DRAGON_NODE_INDEX=" + std::to_string(index));
    set_variable(env, "DRAGON_NUM_NODES=" + std::to_string(count));
    return env;
}

std::string resolve_program(const std::string &name)
{
    if (name.find('/') != std::string::npos) {
        if (access(name.c_str(), X_OK) != 0)
            throw Error(DRAGON_ERR_NOT_FOUND, "local launcher: cannot execute the dragon-node "
                                              "program " +
                                                  name + ": " + std::strerror(errno));
        return name;
    }
    if (std::string found = launcher_support::find_on_path(name); !found.empty())
        return found;
    throw Error(DRAGON_ERR_NOT_FOUND, "local launcher: dragon-node program '" + name +
                                          "' is not on PATH: give its full path or fix PATH");
}

pid_t spawn_node(const std::string &program, const std::vector<std::string> &argv,
                 const std::vector<std::string> &env, bool keep_stdin, const SeparateHost *host)
{
    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls (other threads, such as PMIx's, may hold locks).
    std::vector<char *> c_argv = c_array(argv), c_env = c_array(env);
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    if (host)
        for (int cpu : host->cpus)
            CPU_SET(cpu, &cpus);
    Fd devnull;
    if (!keep_stdin && (devnull.fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        throw Error(DRAGON_ERR_INTERNAL,
                    std::string("local launcher: cannot open /dev/null: ") + std::strerror(errno));
    // The child writes its exec errno here; a successful exec closes it (O_CLOEXEC).
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw Error(DRAGON_ERR_INTERNAL,
                    std::string("local launcher: pipe2 failed: ") + std::strerror(errno));
    Fd report_read{fds[0]}, report_write{fds[1]};

    const pid_t frontend = getpid();
    pid_t pid = fork();
    if (pid < 0)
        throw Error(DRAGON_ERR_NO_MEMORY, std::string("local launcher: fork failed: ") +
                                              std::strerror(errno) +
                                              ": too many processes or too little memory");
    if (pid == 0) {
        setpgid(0, 0); // its own group: our signals reach this node and its children only
        // If the frontend dies, even by SIGKILL, the node still tears down in order:
        // it ends every process below it and removes its segments.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != frontend)
            _exit(1); // the frontend died before the line above took effect
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD})
            sigaction(s, &dfl, nullptr);
        if (devnull.fd >= 0)
            dup2(devnull.fd, STDIN_FILENO);
        if (host && (unshare(CLONE_NEWUTS) != 0 ||
                     sethostname(host->hostname.data(), host->hostname.size()) != 0))
            report_child_failure(fds[1]);
        if (host && !host->cpus.empty() && sched_setaffinity(0, sizeof cpus, &cpus) != 0)
            report_child_failure(fds[1]);
        execve(program.c_str(), c_argv.data(), c_env.data());
        report_child_failure(fds[1]);
    }
    setpgid(pid, pid); // also here, so no signal can race the child's own setpgid
    close(report_write.fd);
    report_write.fd = -1;
    if (int child_errno = child_failure(report_read.fd)) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (host)
            throw Error(DRAGON_ERR_PERMISSION, "local launcher: cannot start a node as host " +
                                                   host->hostname +
                                                   " (set its host name, or execute " + program +
                                                   "): " + std::strerror(child_errno));
        throw Error(DRAGON_ERR_NOT_FOUND, "local launcher: cannot execute " + program + ": " +
                                              std::strerror(child_errno));
    }
    return pid;
}

} // namespace dragon::launcher_local
