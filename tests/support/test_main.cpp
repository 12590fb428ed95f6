// main() of every gtest binary of the project.
#include "support/leak_check.hpp"

#include "core/job.hpp"
#include "core/log.hpp"

#include <gtest/gtest.h>

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    dragon::log::init_from_environment("test");
    // Fix the job id now, so forked children name segments within the same job.
    (void)dragon::job_id();
    ::testing::AddGlobalTestEnvironment(new dragon::test::LeakCheck);
    return RUN_ALL_TESTS();
}
