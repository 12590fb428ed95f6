// The hugepage plugin's probe says honestly why it cannot run, for any machine's /proc.
#include "hugepage_probe.hpp"

#include <gtest/gtest.h>

using dragon::hugepage::examine;

namespace {

const std::string meminfo_free =
    "MemTotal: 100 kB\nHugePages_Total:      64\nHugePages_Free:       64\n"
    "Hugepagesize:       2048 kB\n";
const std::string meminfo_none = "HugePages_Total:       0\nHugePages_Free:        0\n"
                                 "Hugepagesize:       2048 kB\n";
const std::string mounted =
    "proc /proc proc rw 0 0\nnone /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n";

TEST(HugepageProbe, UsableWithMountAndFreePages)
{
    auto f = examine("", mounted, meminfo_free);
    EXPECT_EQ(f.problem, "");
    EXPECT_EQ(f.dir, "/dev/hugepages");
    EXPECT_EQ(f.page_size, 2u << 20);
    EXPECT_EQ(f.free_pages, 64);
}

TEST(HugepageProbe, NoFreePagesSaysHowToReserve)
{
    auto f = examine("", mounted, meminfo_none);
    EXPECT_EQ(f.problem.rfind("HugePages_Free is 0: reserve pages with vm.nr_hugepages", 0), 0u)
        << f.problem;
}

TEST(HugepageProbe, NoMountSaysHowToMount)
{
    auto f = examine("", "proc /proc proc rw 0 0\n", meminfo_free);
    EXPECT_NE(f.problem.find("no hugetlbfs is mounted"), std::string::npos) << f.problem;
    EXPECT_NE(f.problem.find("DRAGON_MEMORY_HUGEPAGE_DIR"), std::string::npos);
}

TEST(HugepageProbe, ExplicitDirectoryMustBeAMount)
{
    auto f = examine("/mnt/huge", mounted, meminfo_free);
    EXPECT_NE(f.problem.find("DRAGON_MEMORY_HUGEPAGE_DIR=/mnt/huge is not a hugetlbfs mount"),
              std::string::npos)
        << f.problem;
    EXPECT_EQ(examine("/dev/hugepages", mounted, meminfo_free).problem, "");
}

TEST(HugepageProbe, MountWithoutPagesizeUsesDefault)
{
    auto f = examine("", "hugetlbfs /hp hugetlbfs rw 0 0\n", meminfo_free);
    EXPECT_EQ(f.dir, "/hp");
    EXPECT_EQ(f.page_size, 2u << 20);
}

TEST(HugepageProbe, KernelWithoutHugePages)
{
    auto f = examine("", mounted, "MemTotal: 1 kB\n");
    EXPECT_NE(f.problem.find("no huge pages"), std::string::npos);
}

} // namespace

TEST(HugepageProbe, WeighsTheNodePoolItWillBeAskedFor)
{
    auto f = examine("", mounted, meminfo_free); // 64 free pages of 2 MiB: 128 MiB
    using dragon::hugepage::pool_size_problem, dragon::hugepage::requested_pool_size;
    EXPECT_EQ(pool_size_problem(f, requested_pool_size("128M")), "");
    std::string problem = pool_size_problem(f, requested_pool_size(nullptr)); // default 4G
    EXPECT_NE(problem.find("DRAGON_DEFAULT_SEG_SZ=4096M"), std::string::npos) << problem;
    EXPECT_NE(problem.find("set DRAGON_DEFAULT_SEG_SZ=128M or less"), std::string::npos) << problem;
    EXPECT_EQ(requested_pool_size("1G"), size_t(1) << 30);
    EXPECT_EQ(requested_pool_size("lots"), 0u);
}
