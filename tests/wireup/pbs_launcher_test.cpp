// The pbs_pals launcher's pieces that need no PBS: reading PBS_NODEFILE (hosts once each,
// in order; slots per host; CPUs per node) and building the mpiexec command line,
// Dragon's own or the site's override. The launcher itself runs under the PALS stand-in
// (launcher_conformance, tests/python/test_pbs_launcher.py).
#include "common/process_support.hpp"
#include "mpiexec_command.hpp"
#include "pbs_nodefile.hpp"

#include "core/error.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using dragon::launcher_pbs::current_allocation;
using dragon::launcher_pbs::mpiexec_argv;
using dragon::launcher_pbs::MpiexecRequest;
using dragon::launcher_pbs::parse_nodefile;

namespace {

using Words = std::vector<std::string>;

// The message of the dragon::Error `f` throws ("no error" when it throws none).
template <typename F> std::string error_of(F &&f)
{
    try {
        f();
    } catch (const dragon::Error &e) {
        return e.what();
    }
    return "no error";
}

TEST(PbsNodefile, HostsOnceEachInFirstSeenOrderWithTheirSlots)
{
    auto parsed = parse_nodefile("n2\nn2\n  n1 \n\nn3\nn1\nn2\n", "f");
    EXPECT_EQ(parsed.hosts, (Words{"n2", "n1", "n3"}));
    EXPECT_EQ(parsed.slots, (std::vector<uint32_t>{3, 2, 1}));
}

TEST(PbsNodefile, ALineOfTwoWordsIsAnErrorNamingTheFileAndLine)
{
    std::string what = error_of([] { parse_nodefile("n1\nn2 n3\n", "/var/spool/pbs/aux/42"); });
    EXPECT_NE(what.find("line 2"), std::string::npos) << what;
    EXPECT_NE(what.find("/var/spool/pbs/aux/42"), std::string::npos) << what;
}

class PbsVariables : public ::testing::Test {
protected:
    void SetUp() override
    {
        for (const char *v : {"PBS_JOBID", "PBS_NODEFILE", "NCPUS"}) {
            if (const char *value = std::getenv(v))
                saved_.emplace_back(v, value);
            unsetenv(v);
        }
        char pattern[] = "/tmp/pbs-test-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override
    {
        for (const char *v : {"PBS_JOBID", "PBS_NODEFILE", "NCPUS"})
            unsetenv(v);
        for (auto &[name, value] : saved_)
            setenv(name.c_str(), value.c_str(), 1);
        std::filesystem::remove_all(dir_);
    }
    std::string nodefile(const std::string &text)
    {
        auto path = dir_ / "nodefile";
        std::ofstream(path) << text;
        return path.string();
    }
    std::vector<std::pair<std::string, std::string>> saved_;
    std::filesystem::path dir_;
};

TEST_F(PbsVariables, OutsideAJobSaysWhyAndHow)
{
    std::string why;
    EXPECT_FALSE(current_allocation(why));
    EXPECT_NE(why.find("PBS_JOBID is not set"), std::string::npos) << why;
    EXPECT_NE(why.find("qsub"), std::string::npos) << why;
}

TEST_F(PbsVariables, AMissingOrEmptyNodeFileIsNamed)
{
    setenv("PBS_JOBID", "7.server", 1);
    std::string why;
    EXPECT_FALSE(current_allocation(why));
    EXPECT_NE(why.find("PBS_NODEFILE is not set"), std::string::npos) << why;
    setenv("PBS_NODEFILE", (dir_ / "absent").c_str(), 1);
    EXPECT_FALSE(current_allocation(why));
    EXPECT_NE(why.find("cannot read"), std::string::npos) << why;
    EXPECT_NE(why.find((dir_ / "absent").string()), std::string::npos) << why;
    setenv("PBS_NODEFILE", nodefile("\n\n").c_str(), 1);
    EXPECT_FALSE(current_allocation(why));
    EXPECT_NE(why.find("lists no host"), std::string::npos) << why;
}

TEST_F(PbsVariables, CpusPerNodeAreNcpusElseTheFewestSlots)
{
    setenv("PBS_JOBID", "7.server", 1);
    setenv("PBS_NODEFILE", nodefile("a\na\na\nb\nb\n").c_str(), 1);
    std::string why;
    auto a = current_allocation(why);
    ASSERT_TRUE(a) << why;
    EXPECT_EQ(a->job_id, "7.server");
    EXPECT_EQ(a->hosts, (Words{"a", "b"}));
    EXPECT_EQ(a->cpus_per_node(), 2u); // never more than any host was given
    setenv("NCPUS", "16", 1);
    a = current_allocation(why);
    ASSERT_TRUE(a) << why;
    EXPECT_EQ(a->cpus_per_node(), 16u);
}

MpiexecRequest two_hosts()
{
    MpiexecRequest r;
    r.mpiexec = "/bin/sh"; // any executable: only its path is checked here
    r.hosts = {"x1", "x2"};
    r.command = {"/opt/dragon/bin/dragon-node", "--", "prog.py"};
    return r;
}

TEST(MpiexecCommand, DragonsOwnLineStartsOneRankPerHostUnderPmix)
{
    auto r = two_hosts();
    r.extra_args = " --depth 4  --env A=1 ";
    EXPECT_EQ(mpiexec_argv(r),
              (Words{"/bin/sh", "--np", "2", "--ppn", "1", "--cpu-bind", "none", "--hosts", "x1,x2",
                     "--pmi=pmix", "--line-buffer", "--depth", "4", "--env", "A=1",
                     "/opt/dragon/bin/dragon-node", "--", "prog.py"}));
}

TEST(MpiexecCommand, AnOverrideReplacesTheLineWithItsPlaceholdersFilled)
{
    auto r = two_hosts();
    r.override_line = "sh -n {nnodes} --hosts={nodelist} --label";
    const std::string sh = dragon::launcher_support::find_on_path("sh"); // as PATH finds it
    EXPECT_EQ(mpiexec_argv(r), (Words{sh, "-n", "2", "--hosts=x1,x2", "--label",
                                      "/opt/dragon/bin/dragon-node", "--", "prog.py"}));
    r.override_line = "/bin/sh {command} --after";
    EXPECT_EQ(mpiexec_argv(r),
              (Words{"/bin/sh", "/opt/dragon/bin/dragon-node", "--", "prog.py", "--after"}));
}

TEST(MpiexecCommand, AnUnknownPlaceholderIsAnErrorListingTheKnownOnes)
{
    auto r = two_hosts();
    r.override_line = "sh --np {nodes}";
    std::string what = error_of([&] { mpiexec_argv(r); });
    EXPECT_NE(what.find("'{nodes}'"), std::string::npos) << what;
    EXPECT_NE(what.find("{nnodes}, {nodelist}, {command}"), std::string::npos) << what;
}

TEST(MpiexecCommand, AnMpiexecNotFoundIsAnErrorNamingTheParameter)
{
    auto r = two_hosts();
    r.mpiexec = "/nonexistent/mpiexec";
    std::string what = error_of([&] { mpiexec_argv(r); });
    EXPECT_NE(what.find("/nonexistent/mpiexec"), std::string::npos) << what;
    EXPECT_NE(what.find("DRAGON_LAUNCHER_PBS_PALS_MPIEXEC"), std::string::npos) << what;
}

} // namespace
