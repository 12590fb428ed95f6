// The PMIx client outside any PMIx server: a clear error, not a hang or a singleton.
#include "wireup/pmix_peer.hpp"

#include "core/error.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

TEST(PmixPeer, OutsideAPmixServerSaysHowToRun)
{
    unsetenv("PMIX_NAMESPACE");
    unsetenv("PMIX_RANK");
    try {
        dragon::wireup::PmixPeer::init(std::chrono::milliseconds(2000));
        FAIL() << "init succeeded without a PMIx server";
    } catch (const dragon::Error &e) {
        EXPECT_EQ(e.status(), DRAGON_ERR_UNAVAILABLE);
        std::string what = e.what();
        EXPECT_NE(what.find("not started by a PMIx server"), std::string::npos) << what;
        EXPECT_NE(what.find("srun --mpi=pmix"), std::string::npos) << what;
    }
}
