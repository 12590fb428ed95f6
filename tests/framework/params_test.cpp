// Plugin parameters come from DRAGON_<KIND>_<PLUGIN>_<PARAM> with their source recorded;
// invalid values disable the plugin with a reason; stray DRAGON_* variables draw a warning.
#include "core/registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

class ScopedEnv {
public:
    ScopedEnv(const char *name, const char *value) : name_(name) { setenv(name, value, 1); }
    ~ScopedEnv() { unsetenv(name_); }

private:
    const char *name_;
};

TEST(Params, DefaultThenEnvironment)
{
    {
        dragon::Registry registry{{TEST_PLUGIN_DIR}};
        const auto *p = registry.params().find("DRAGON_MEMORY_NEVER_DEPTH");
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(p->value, "3");
        EXPECT_EQ(p->source, dragon::ParamSource::Default);
        EXPECT_EQ(p->owner, "memory/never");
        EXPECT_NE(registry.find(DRAGON_PLUGIN_MEMORY, "never")->reason().find("depth 3"),
                  std::string::npos);
    }
    ScopedEnv env("DRAGON_MEMORY_NEVER_DEPTH", "7");
    dragon::Registry registry{{TEST_PLUGIN_DIR}};
    const auto *p = registry.params().find("DRAGON_MEMORY_NEVER_DEPTH");
    EXPECT_EQ(p->value, "7");
    EXPECT_EQ(p->source, dragon::ParamSource::Environment);
    // The plugin sees the value through the host API.
    EXPECT_NE(registry.find(DRAGON_PLUGIN_MEMORY, "never")->reason().find("depth 7"),
              std::string::npos);
}

TEST(Params, InvalidValueNamesTheVariableAndDisablesThePlugin)
{
    ScopedEnv env("DRAGON_MEMORY_NEVER_DEPTH", "deep");
    dragon::Registry registry{{TEST_PLUGIN_DIR}};
    const auto *p = registry.params().find("DRAGON_MEMORY_NEVER_DEPTH");
    EXPECT_EQ(p->value, "3");
    EXPECT_NE(p->problem.find("DRAGON_MEMORY_NEVER_DEPTH='deep' is not valid"), std::string::npos);
    const auto *plugin = registry.find(DRAGON_PLUGIN_MEMORY, "never");
    EXPECT_FALSE(plugin->available());
    EXPECT_NE(plugin->reason().find("DRAGON_MEMORY_NEVER_DEPTH"), std::string::npos);
}

TEST(Params, FrameworkVariablesAreKnown)
{
    dragon::Registry registry{{TEST_PLUGIN_DIR}};
    for (const char *name :
         {"DRAGON_PLUGIN_PATH", "DRAGON_DEBUG", "DRAGON_MEMORY", "DRAGON_TRANSPORT_AGENT",
          "DRAGON_LAUNCHER", "DRAGON_DEFAULT_SEG_SZ", "DRAGON_NODE_SIGNALS_REACH_STEP"})
        EXPECT_NE(registry.params().find(name), nullptr) << name;
}

TEST(Params, UnknownDragonVariableWarnsWithClosestName)
{
    ScopedEnv typo("DRAGON_MEMORY_NEVER_DEPHT", "1");
    ScopedEnv other("DRAGON_SOMETHING_ELSE_ENTIRELY", "1");
    dragon::Registry registry{{TEST_PLUGIN_DIR}};
    auto warnings = registry.warnings();
    auto has = [&](const std::string &text) {
        return std::any_of(warnings.begin(), warnings.end(),
                           [&](const std::string &w) { return w.find(text) != std::string::npos; });
    };
    EXPECT_TRUE(has("DRAGON_MEMORY_NEVER_DEPHT is set but Dragon does not read it; did you mean "
                    "DRAGON_MEMORY_NEVER_DEPTH?"));
    EXPECT_TRUE(has("DRAGON_SOMETHING_ELSE_ENTIRELY is set but Dragon does not read it"));
}

} // namespace
