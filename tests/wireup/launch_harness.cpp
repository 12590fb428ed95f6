#include "launch_harness.hpp"

#include "core/registry.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace wireup_test {

namespace fs = std::filesystem;

std::string unavailable(const std::string &name)
{
    const auto *p = dragon::Registry::global().find(DRAGON_PLUGIN_LAUNCHER, name);
    if (!p)
        return "launcher plugin '" + name + "' is not installed";
    return p->available() ? "" : p->reason();
}

LaunchHarness::LaunchHarness(const std::string &launcher)
{
    std::string pattern = (fs::temp_directory_path() / "dragon-wireup-test-XXXXXX").string();
    if (!mkdtemp(pattern.data()))
        throw std::runtime_error("mkdtemp failed");
    root_ = pattern;
    out_ = root_ / "out";
    tmp_ = root_ / "tmp";
    fs::create_directories(out_);
    fs::create_directories(tmp_);
    if (const char *t = std::getenv("TMPDIR")) {
        had_tmpdir_ = true;
        saved_tmpdir_ = t;
    }
    setenv("TMPDIR", tmp_.c_str(), 1);

    std::string spec = launcher;
    auto selected = dragon::Registry::global().select(DRAGON_PLUGIN_LAUNCHER, &spec);
    ops_ = &selected.plugin->ops<dragon_launcher_ops>();
    host_ = selected.plugin->host();
}

LaunchHarness::~LaunchHarness()
{
    release();
    if (had_tmpdir_)
        setenv("TMPDIR", saved_tmpdir_.c_str(), 1);
    else
        unsetenv("TMPDIR");
    std::error_code ec;
    fs::remove_all(root_, ec);
}

dragon_status LaunchHarness::start(uint32_t nodes, const std::vector<std::string> &env,
                                   std::string *error, const std::vector<std::string> &argv,
                                   uint32_t request_size)
{
    std::vector<std::string> all_env = env;
    all_env.push_back("WIREUP_TEST_OUT=" + out_.string());
    std::vector<const char *> c_env, c_argv;
    for (const auto &e : all_env)
        c_env.push_back(e.c_str());
    c_env.push_back(nullptr);
    for (const auto &a : argv)
        c_argv.push_back(a.c_str());
    c_argv.push_back(nullptr);
    dragon_launch_request req{sizeof req, nodes, c_argv.data(), c_env.data(),
                              DRAGON_LAUNCH_FLAG_WHOLE_STEP_RESULT};
    req.struct_size = request_size;
    dragon_error err{};
    dragon_status st = ops_->start(host_, &req, &launch_, &err);
    if (error)
        *error = err.message;
    return st;
}

std::map<uint32_t, int> LaunchHarness::wait_all(std::chrono::milliseconds limit)
{
    std::map<uint32_t, int> codes;
    auto until = std::chrono::steady_clock::now() + limit;
    while (launch_) {
        auto left = until - std::chrono::steady_clock::now();
        int64_t ns = std::max<int64_t>(0, std::chrono::nanoseconds(left).count());
        uint32_t node = 0;
        int code = 0;
        dragon_error err{};
        dragon_status st = ops_->wait(launch_, ns, &node, &code, &err);
        if (st == DRAGON_OK)
            codes[node] = code;
        else if (st == DRAGON_ERR_NOT_FOUND)
            break;
        else {
            ADD_FAILURE() << "wait: " << dragon_status(st) << ": " << err.message;
            break;
        }
    }
    return codes;
}

void LaunchHarness::release()
{
    if (launch_)
        ops_->release(launch_);
    launch_ = nullptr;
}

std::string LaunchHarness::result(uint32_t rank) const
{
    std::ifstream in(out_ / ("rank" + std::to_string(rank) + ".result"));
    std::string line;
    std::getline(in, line);
    return line;
}

pid_t LaunchHarness::pid(uint32_t rank) const
{
    std::ifstream in(out_ / ("rank" + std::to_string(rank) + ".pid"));
    pid_t p = -1;
    in >> p;
    return in ? p : -1;
}

bool LaunchHarness::wait_for_pids(uint32_t nodes, std::chrono::milliseconds limit) const
{
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
        bool all = true;
        for (uint32_t r = 0; r < nodes; ++r)
            all = all && pid(r) > 0;
        if (all)
            return true;
        if (std::chrono::steady_clock::now() > until)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::vector<std::string> LaunchHarness::leftovers() const
{
    std::vector<std::string> names;
    for (const auto &e : fs::directory_iterator(tmp_))
        names.push_back(e.path().filename().string());
    return names;
}

bool process_gone(pid_t pid)
{
    return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

bool group_gone(pid_t pgid)
{
    return pgid > 0 && kill(-pgid, 0) != 0 && errno == ESRCH;
}

} // namespace wireup_test
