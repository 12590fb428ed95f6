// Fails the test run if any segment of this job remains on any memory plugin.
#pragma once

#include <gtest/gtest.h>

namespace dragon::test {

class LeakCheck : public ::testing::Environment {
public:
    void TearDown() override;
};

// Every segment of this job still present on any memory plugin, as "plugin:name".
std::vector<std::string> leftover_segments();

} // namespace dragon::test
