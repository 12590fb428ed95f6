#include "managed_process.hpp"

#include "fd_limit.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace dragon::node {
namespace {

void make_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw Error(DRAGON_ERR_INTERNAL, "cannot create a pipe: " + errno_text(errno));
}

} // namespace

int exit_code_of(int status)
{
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

StartedProcess start_process(const std::vector<std::string> &argv,
                             const std::vector<std::string> &extra_env,
                             const std::vector<int> &inherited_fds,
                             const std::vector<int> &ignored_signals)
{
    int out[2], err[2], exec_report[2];
    make_pipe(out);
    make_pipe(err);
    make_pipe(exec_report);

    std::vector<char *> args;
    for (const auto &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    // Built before fork: the child of a multi-threaded parent must not allocate.
    std::vector<std::string> env_storage;
    auto overridden = [&](std::string_view entry) {
        std::string_view name = entry.substr(0, entry.find('='));
        for (const auto &e : extra_env)
            if (std::string_view(e).substr(0, e.find('=')) == name)
                return true;
        return false;
    };
    for (char **e = environ; *e; ++e)
        if (!overridden(*e))
            env_storage.emplace_back(*e);
    env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
    std::vector<char *> envp;
    for (auto &e : env_storage)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    const pid_t node = getpid();
    pid_t pid = fork();
    if (pid < 0)
        throw Error(DRAGON_ERR_INTERNAL, "cannot fork: " + errno_text(errno));
    if (pid == 0) {
        // If dragon-node dies, even by SIGKILL, this process goes with it (the node's
        // watchdog ends the processes below it). Forked by the main thread, so the
        // signal comes when the node process ends, not when some other thread does.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != node)
            _exit(127); // the node died before the line above took effect
        // The node blocks these for its signalfd; the program must get the defaults.
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, nullptr);
        for (int signum : ignored_signals)
            signal(signum, SIG_IGN);
        restore_fd_limit_in_child();
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        for (int fd : inherited_fds)
            fcntl(fd, F_SETFD, 0);
        execvpe(args[0], args.data(), envp.data());
        int e = errno;
        ssize_t ignored = write(exec_report[1], &e, sizeof e);
        (void)ignored;
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    close(exec_report[1]);
    int exec_errno = 0;
    ssize_t n;
    do {
        n = read(exec_report[0], &exec_errno, sizeof exec_errno);
    } while (n < 0 && errno == EINTR);
    close(exec_report[0]);
    if (n == sizeof exec_errno) {
        waitpid(pid, nullptr, 0);
        close(out[0]);
        close(err[0]);
        throw Error(DRAGON_ERR_NOT_FOUND,
                    "cannot execute " + argv[0] + ": " + errno_text(exec_errno));
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    return {pid, out[0], err[0]};
}

} // namespace dragon::node
