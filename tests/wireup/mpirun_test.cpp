// The client against an independent PMIx server: Open MPI's mpirun.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

namespace fs = std::filesystem;

namespace {

bool on_path(const std::string &program)
{
    const char *path = std::getenv("PATH");
    std::string dirs = path ? path : "";
    size_t begin = 0;
    while (begin <= dirs.size()) {
        size_t end = dirs.find(':', begin);
        if (end == std::string::npos)
            end = dirs.size();
        if (access((dirs.substr(begin, end - begin) + "/" + program).c_str(), X_OK) == 0)
            return true;
        begin = end + 1;
    }
    return false;
}

std::string first_line(const fs::path &p)
{
    std::ifstream in(p);
    std::string line;
    std::getline(in, line);
    return line;
}

} // namespace

TEST(PmixPeerUnderMpirun, TwoRanksWireUp)
{
    if (!on_path("mpirun"))
        GTEST_SKIP() << "mpirun not found: install openmpi-bin (ci/install-deps.sh) to test "
                        "against an independent PMIx server";
    std::string pattern = (fs::temp_directory_path() / "dragon-wireup-mpirun-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    fs::path out = pattern;
    setenv("WIREUP_TEST_OUT", out.c_str(), 1);
    setenv("WIREUP_TEST_DEADLINE_MS", "20000", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    // timeout: never hang the suite; TERM first so mpirun takes its ranks down with it.
    std::string cmd = "timeout -k 5 60 mpirun --oversubscribe -np 2 " +
                      std::string(WIREUP_TEST_NODE) + " > " + (out / "mpirun.log").string() +
                      " 2>&1";
    int status = std::system(cmd.c_str());
    std::string log = first_line(out / "mpirun.log");
    std::string r0 = first_line(out / "rank0.result"), r1 = first_line(out / "rank1.result");
    std::error_code ec;
    fs::remove_all(out, ec);
    ASSERT_TRUE(WIFEXITED(status)) << cmd;
    EXPECT_EQ(WEXITSTATUS(status), 0) << cmd << "\n" << log;
    EXPECT_EQ(r0.rfind("ok ", 0), 0u) << r0;
    EXPECT_EQ(r1.rfind("ok ", 0), 0u) << r1;
    std::printf("[ mpirun   ] rank 0 %s\n[ mpirun   ] rank 1 %s\n", r0.c_str(), r1.c_str());
}
