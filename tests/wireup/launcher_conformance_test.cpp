// What every launcher plugin must do, run against each one that can run here: local
// always; slurm inside an allocation of 2 or more nodes (tests/python/test_slurm_launcher.py
// runs this binary under salloc on the real test cluster); pbs_pals inside a PBS job, or,
// where there is none, in a fake PBS job of two hosts whose mpiexec is the PALS stand-in
// tests/pbs/mpiexec (a real PMIx server, Open MPI's mpirun, underneath). The nodes are
// wireup_test_node processes (PMIx clients that publish, fence and read each other's data).
//
// Launcher interface 1.1 lets a launcher report the step as a whole (srun, mpiexec) where
// it cannot learn each node's end: results() folds both forms into "how did it end".
#include "fake_pbs_job.hpp"
#include "launch_harness.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <string>

using namespace std::chrono;
using wireup_test::LaunchHarness;

namespace {

constexpr auto generous = seconds(60);

// The fake PBS job exists for the whole run: plugins are probed once, at the registry's
// first use, which is after every environment's SetUp.
class FakePbsJobEnvironment : public ::testing::Environment {
public:
    void SetUp() override { job_.emplace(); }
    void TearDown() override { job_.reset(); }

private:
    std::optional<wireup_test::FakePbsJob> job_;
};
const auto *const fake_pbs_job =
    ::testing::AddGlobalTestEnvironment(new FakePbsJobEnvironment); // gtest owns it

class LauncherConformance : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override
    {
        std::string why = GetParam() == "pbs_pals" ? wireup_test::pbs_standin_unavailable() : "";
        if (why.empty())
            why = wireup_test::unavailable(GetParam());
        if (!why.empty())
            GTEST_SKIP() << GetParam() << ": " << why;
        h_.emplace(GetParam());
        dragon_error err{};
        ASSERT_EQ(h_->ops().node_count(h_->host(), &available_, &err), DRAGON_OK) << err.message;
        // local simulates as many nodes as asked; a workload manager has what it granted.
        if (GetParam() == "local")
            available_ = 4;
    }
    LaunchHarness &h() { return *h_; }
    uint32_t nodes_for_test() const { return available_ >= 2 ? 2 : 1; }

    // Every node's end as the launcher reported it: node -> code (one entry, under
    // DRAGON_LAUNCH_WHOLE_STEP, when it reports the step as a whole).
    std::map<uint32_t, int> results(std::chrono::milliseconds limit) { return h().wait_all(limit); }
    // True when the launch's report says every node (or the step) ended with `code`.
    static bool all_ended_with(const std::map<uint32_t, int> &codes, uint32_t n, int code)
    {
        if (codes.size() == 1 && codes.count(DRAGON_LAUNCH_WHOLE_STEP))
            return codes.at(DRAGON_LAUNCH_WHOLE_STEP) == code;
        if (codes.size() != n)
            return false;
        for (auto [node, c] : codes)
            if (c != code)
                return false;
        return true;
    }
    static std::string describe(const std::map<uint32_t, int> &codes)
    {
        std::string out;
        for (auto [node, c] : codes)
            out += (node == DRAGON_LAUNCH_WHOLE_STEP ? std::string("step")
                                                     : "node " + std::to_string(node)) +
                   "=" + std::to_string(c) + " ";
        return out;
    }
    void expect_nothing_left(uint32_t n)
    {
        for (uint32_t r = 0; r < n; ++r) {
            pid_t pid = h().pid(r);
            if (pid > 0) {
                EXPECT_TRUE(wireup_test::process_gone(pid)) << "node " << r << " pid " << pid;
            }
        }
        EXPECT_TRUE(h().leftovers().empty()) << "left in TMPDIR: " << h().leftovers().front();
    }

    std::optional<LaunchHarness> h_;
    uint32_t available_ = 0;
};

// Killed by `signum`, in either form a launcher may report it: -N (the node was killed)
// or 128+N (a workload manager's aggregate exit code for tasks it saw killed).
bool ended_by(int code, int signum)
{
    return code == -signum || code == 128 + signum;
}

} // namespace

TEST_P(LauncherConformance, EveryNodeWiresUpAndEndsInOrder)
{
    const uint32_t n = nodes_for_test();
    std::string error;
    ASSERT_EQ(h().start(n, {}, &error), DRAGON_OK) << error;
    auto codes = results(generous);
    EXPECT_TRUE(all_ended_with(codes, n, 0)) << describe(codes);
    for (uint32_t r = 0; r < n; ++r)
        EXPECT_EQ(h().result(r).rfind("ok ", 0), 0u) << "node " << r << ": " << h().result(r);
    uint32_t node;
    int code;
    dragon_error err{};
    EXPECT_EQ(h().ops().wait(h().launch(), 0, &node, &code, &err), DRAGON_ERR_NOT_FOUND);
    h().release();
    expect_nothing_left(n);
}

TEST_P(LauncherConformance, WaitTimesOutWhileNodesRun)
{
    ASSERT_EQ(h().start(1, {"WIREUP_TEST_MISBEHAVE=*:hang"}), DRAGON_OK);
    uint32_t node;
    int code;
    dragon_error err{};
    EXPECT_EQ(h().ops().wait(h().launch(), 0, &node, &code, &err), DRAGON_ERR_TIMEOUT);
    EXPECT_EQ(h().ops().wait(h().launch(), 200'000'000, &node, &code, &err), DRAGON_ERR_TIMEOUT);
    h().release();
}

TEST_P(LauncherConformance, SignalReachesEveryNode)
{
    const uint32_t n = nodes_for_test();
    ASSERT_EQ(h().start(n, {"WIREUP_TEST_MISBEHAVE=*:hang"}), DRAGON_OK);
    ASSERT_TRUE(h().wait_for_pids(n, seconds(30)));
    dragon_error err{};
    ASSERT_EQ(h().ops().signal(h().launch(), SIGTERM, &err), DRAGON_OK) << err.message;
    auto t0 = steady_clock::now();
    auto codes = results(seconds(20));
    EXPECT_LT(steady_clock::now() - t0, seconds(10)) << "a node outlived the signal";
    ASSERT_FALSE(codes.empty());
    if (codes.count(DRAGON_LAUNCH_WHOLE_STEP)) {
        EXPECT_TRUE(ended_by(codes[DRAGON_LAUNCH_WHOLE_STEP], SIGTERM)) << describe(codes);
    } else {
        ASSERT_EQ(codes.size(), n) << describe(codes);
        for (auto [node, c] : codes)
            EXPECT_TRUE(ended_by(c, SIGTERM)) << describe(codes);
    }
    h().release();
    expect_nothing_left(n);
}

TEST_P(LauncherConformance, ReleaseEndsAndReapsEverything)
{
    const uint32_t n = nodes_for_test();
    ASSERT_EQ(h().start(n, {"WIREUP_TEST_MISBEHAVE=*:hang"}), DRAGON_OK);
    ASSERT_TRUE(h().wait_for_pids(n, seconds(30)));
    auto t0 = steady_clock::now();
    h().release();
    EXPECT_LT(steady_clock::now() - t0, seconds(10));
    expect_nothing_left(n);
}

TEST_P(LauncherConformance, ANodeThatFailsMakesTheLaunchFail)
{
    const uint32_t n = nodes_for_test();
    ASSERT_EQ(
        h().start(n, {"WIREUP_TEST_MISBEHAVE=0:exit-before-fence", "WIREUP_TEST_DEADLINE_MS=5000"}),
        DRAGON_OK);
    auto codes = results(seconds(30));
    ASSERT_FALSE(codes.empty()) << "the launch did not end within 30 s";
    bool any_failed = false;
    for (auto [node, c] : codes)
        any_failed = any_failed || c != 0;
    EXPECT_TRUE(any_failed) << describe(codes);
    h().release();
    expect_nothing_left(n);
}

// Either start refuses it naming the program, or (a workload manager that learns of it
// only on the nodes) the launch ends at once, not successfully.
TEST_P(LauncherConformance, AMissingProgramIsAnErrorNotAHang)
{
    std::string error;
    dragon_status st = h().start(1, {}, &error, {"/nonexistent/dragon-node"});
    if (st != DRAGON_OK) {
        EXPECT_NE(error.find("/nonexistent/dragon-node"), std::string::npos) << error;
        EXPECT_EQ(h().launch(), nullptr);
        return;
    }
    auto codes = results(seconds(20));
    ASSERT_FALSE(codes.empty()) << "the launch did not end within 20 s";
    EXPECT_FALSE(all_ended_with(codes, 1, 0)) << describe(codes);
    h().release();
}

TEST_P(LauncherConformance, RejectsAnEmptyCommandLine)
{
    std::string error;
    EXPECT_EQ(h().start(1, {}, &error, {}), DRAGON_ERR_INVALID);
    EXPECT_NE(error.find("no dragon-node command line"), std::string::npos) << error;
}

// A frontend built for interface 1.0 sends the shorter request without flags: the
// launcher either serves it with one result per node, or refuses it clearly (one that
// can only report the whole step must never make up per-node results).
TEST_P(LauncherConformance, AnInterfaceOneDotZeroRequestIsServedOrClearlyRefused)
{
    std::string error;
    dragon_status st = h().start(1, {}, &error, {WIREUP_TEST_NODE}, DRAGON_LAUNCH_REQUEST_1_0_SIZE);
    if (st != DRAGON_OK) {
        EXPECT_EQ(st, DRAGON_ERR_UNAVAILABLE);
        EXPECT_NE(error.find("interface 1.1"), std::string::npos) << error;
        return;
    }
    auto codes = results(generous);
    EXPECT_EQ(codes.count(DRAGON_LAUNCH_WHOLE_STEP), 0u) << describe(codes);
    EXPECT_TRUE(all_ended_with(codes, 1, 0)) << describe(codes);
    h().release();
}

TEST_P(LauncherConformance, DescribesItsAllocation)
{
    const dragon_launcher_ops &ops = h().ops();
    ASSERT_GE(ops.struct_size, offsetof(dragon_launcher_ops, allocation) + sizeof ops.allocation);
    ASSERT_NE(ops.allocation, nullptr);
    uint32_t n = 0;
    dragon_error err{};
    ASSERT_EQ(ops.node_count(h().host(), &n, &err), DRAGON_OK) << err.message;
    dragon_allocation_info info{};
    info.struct_size = sizeof info;
    ASSERT_EQ(ops.allocation(h().host(), &info, &err), DRAGON_OK) << err.message;
    EXPECT_EQ(info.num_nodes, n);
    EXPECT_NE(info.hosts[0], '\0');
    EXPECT_NE(info.source[0], '\0');
    std::string cpus = info.cpus_per_node;
    if (!cpus.empty()) { // one count per node, each at least one
        uint32_t counts = 0;
        for (size_t begin = 0; begin <= cpus.size(); ++counts) {
            size_t end = std::min(cpus.find(',', begin), cpus.size());
            EXPECT_GE(std::atoi(cpus.substr(begin, end - begin).c_str()), 1) << cpus;
            begin = end + 1;
        }
        EXPECT_EQ(counts, n) << cpus;
    }
}

INSTANTIATE_TEST_SUITE_P(Launchers, LauncherConformance,
                         ::testing::Values("local", "slurm", "pbs_pals"),
                         [](const auto &info) { return info.param; });
