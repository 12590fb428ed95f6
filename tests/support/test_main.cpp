// main() of every gtest binary of the project.
#include "support/leak_check.hpp"

#include "core/job.hpp"
#include "core/log.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

// The suites make small segments, but the hugepage probe weighs a node pool of
// DRAGON_DEFAULT_SEG_SZ (4G by default, more than CI reserves) and would refuse.
// Set before any static constructor (test registration loads the plugins).
__attribute__((constructor(101))) static void small_default_pool()
{
    setenv("DRAGON_DEFAULT_SEG_SZ", "16M", 0);
}

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    dragon::log::init_from_environment("test");
    // Fix the job id now, so forked children name segments within the same job.
    (void)dragon::job_id();
    ::testing::AddGlobalTestEnvironment(new dragon::test::LeakCheck);
    return RUN_ALL_TESTS();
}
