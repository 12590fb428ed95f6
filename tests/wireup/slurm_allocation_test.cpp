// The slurm launcher reads its allocation from Slurm's variables, without running any
// Slurm command (its probe must not block): host lists and CPU counts in Slurm's
// compressed syntax, and a clear reason when there is no allocation.
#include "slurm_allocation.hpp"

#include "core/error.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

using dragon::launcher_slurm::current_allocation;
using dragon::launcher_slurm::expand_cpus_per_node;
using dragon::launcher_slurm::expand_hostlist;

namespace {

using Names = std::vector<std::string>;

class SlurmVariables : public ::testing::Test {
protected:
    void SetUp() override
    {
        for (const char *v : names)
            if (const char *value = std::getenv(v))
                saved_.emplace_back(v, value);
        for (const char *v : names)
            unsetenv(v);
    }
    void TearDown() override
    {
        for (const char *v : names)
            unsetenv(v);
        for (const auto &[name, value] : saved_)
            setenv(name.c_str(), value.c_str(), 1);
    }

private:
    static constexpr const char *names[] = {"SLURM_JOB_ID", "SLURM_JOBID", "SLURM_JOB_NODELIST",
                                            "SLURM_NODELIST", "SLURM_JOB_CPUS_PER_NODE"};
    std::vector<std::pair<std::string, std::string>> saved_;
};

} // namespace

TEST(SlurmHostlist, ExpandsRangesListsAndPadding)
{
    EXPECT_EQ(expand_hostlist("n1"), Names({"n1"}));
    EXPECT_EQ(expand_hostlist("s66n[1-3]"), Names({"s66n1", "s66n2", "s66n3"}));
    EXPECT_EQ(expand_hostlist("nid[008-010,012]"), Names({"nid008", "nid009", "nid010", "nid012"}));
    EXPECT_EQ(expand_hostlist("a[1-2],login,b7"), Names({"a1", "a2", "login", "b7"}));
    EXPECT_EQ(expand_hostlist("r[1-2]n[1-2]-ib"),
              Names({"r1n1-ib", "r1n2-ib", "r2n1-ib", "r2n2-ib"}));
}

TEST(SlurmHostlist, MalformedListsAreClearErrors)
{
    for (const char *bad : {"", "n[1-", "n[3-1]", "n[a-b]", "n]1[", "a,,b", "n[[1]]"}) {
        try {
            expand_hostlist(bad);
            ADD_FAILURE() << "'" << bad << "' was accepted";
        } catch (const dragon::Error &e) {
            EXPECT_NE(std::string(e.what()).find("not in Slurm's syntax"), std::string::npos)
                << e.what();
        }
    }
}

TEST(SlurmCpus, ExpandsRepeatCounts)
{
    EXPECT_EQ(expand_cpus_per_node("4"), std::vector<uint32_t>({4}));
    EXPECT_EQ(expand_cpus_per_node("2(x3),1"), std::vector<uint32_t>({2, 2, 2, 1}));
    EXPECT_THROW(expand_cpus_per_node("2(x"), dragon::Error);
    EXPECT_THROW(expand_cpus_per_node("x"), dragon::Error);
}

TEST_F(SlurmVariables, OutsideAnAllocationTheReasonSaysHowToGetOne)
{
    std::string why;
    EXPECT_FALSE(current_allocation(why));
    EXPECT_NE(why.find("not inside a Slurm allocation"), std::string::npos) << why;
    EXPECT_NE(why.find("salloc"), std::string::npos) << why;
}

TEST_F(SlurmVariables, ReadsHostsAndCpusOfTheJob)
{
    setenv("SLURM_JOB_ID", "42", 1);
    setenv("SLURM_JOB_NODELIST", "c[1-3]", 1);
    setenv("SLURM_JOB_CPUS_PER_NODE", "8(x2),4", 1);
    std::string why;
    auto a = current_allocation(why);
    ASSERT_TRUE(a) << why;
    EXPECT_EQ(a->job_id, "42");
    EXPECT_EQ(a->hosts, Names({"c1", "c2", "c3"}));
    EXPECT_EQ(a->cpus, std::vector<uint32_t>({8, 8, 4}));
}

TEST_F(SlurmVariables, AJobWithoutANodeListIsNotAnAllocation)
{
    setenv("SLURM_JOB_ID", "42", 1);
    std::string why;
    EXPECT_FALSE(current_allocation(why));
    EXPECT_NE(why.find("no node list"), std::string::npos) << why;
}
