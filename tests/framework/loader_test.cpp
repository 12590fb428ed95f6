// The loader refuses each kind of bad plugin file with a precise reason naming the file.
#include "core/registry.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace {

const dragon::PluginFile &file_named(const dragon::Registry &r, const std::string &base)
{
    for (const auto &f : r.files())
        if (std::filesystem::path(f.path).filename() == base)
            return f;
    throw std::runtime_error("no plugin file " + base + " was scanned");
}

class Loader : public ::testing::Test {
protected:
    dragon::Registry registry{{TEST_PLUGIN_DIR}};
};

TEST_F(Loader, RefusesWrongAbiMajor)
{
    const auto &f = file_named(registry, "dragon_memory_abi_future.so");
    EXPECT_FALSE(f.loaded);
    EXPECT_NE(f.refusal.find("built for plugin ABI 2.0 but this Dragon provides 1.0"),
              std::string::npos)
        << f.refusal;
    EXPECT_NE(f.refusal.find("rebuild"), std::string::npos);
}

TEST_F(Loader, RefusesKindThatContradictsFileName)
{
    const auto &f = file_named(registry, "dragon_memory_wrong_kind.so");
    EXPECT_FALSE(f.loaded);
    EXPECT_NE(f.refusal.find("declares kind 'transport' but its file name says 'memory'"),
              std::string::npos)
        << f.refusal;
}

TEST_F(Loader, RefusesUnknownKind)
{
    const auto &f = file_named(registry, "dragon_memory_unknown_kind.so");
    EXPECT_FALSE(f.loaded);
    EXPECT_NE(f.refusal.find("unknown plugin kind 42"), std::string::npos) << f.refusal;
}

TEST_F(Loader, RefusesLibraryWithoutEntryPoint)
{
    const auto &f = file_named(registry, "dragon_memory_no_entry.so");
    EXPECT_FALSE(f.loaded);
    EXPECT_NE(f.refusal.find("has no entry point: it does not export dragon_plugin_entry"),
              std::string::npos)
        << f.refusal;
}

TEST_F(Loader, RefusesFileThatIsNotALibrary)
{
    const auto &f = file_named(registry, "dragon_memory_garbage.so");
    EXPECT_FALSE(f.loaded);
    EXPECT_NE(f.refusal.find("cannot be loaded"), std::string::npos) << f.refusal;
    EXPECT_NE(f.refusal.find("dragon_memory_garbage.so"), std::string::npos) << f.refusal;
}

TEST_F(Loader, RefusesLibraryWithUnresolvedSymbols)
{
    const auto &f = file_named(registry, "dragon_memory_undefined_symbol.so");
    EXPECT_FALSE(f.loaded);
    EXPECT_NE(f.refusal.find("dragon_test_symbol_that_does_not_exist"), std::string::npos)
        << f.refusal;
}

TEST_F(Loader, RefusedFilesAreNotPlugins)
{
    auto memory = registry.plugins(DRAGON_PLUGIN_MEMORY);
    ASSERT_EQ(memory.size(), 1u);
    EXPECT_EQ(memory[0]->name(), "never");
    EXPECT_TRUE(registry.plugins(DRAGON_PLUGIN_TRANSPORT).empty());
}

TEST(LoaderSearchPath, EarlierEntryShadowsLaterOneOfSameName)
{
    dragon::Registry registry{{TEST_PLUGIN_DIR, TEST_PLUGIN_DIR "/dragon_memory_never.so"}};
    int shadowed = 0;
    for (const auto &f : registry.files())
        if (!f.loaded && f.refusal.starts_with("shadowed by "))
            ++shadowed;
    EXPECT_EQ(shadowed, 1);
    EXPECT_EQ(registry.plugins(DRAGON_PLUGIN_MEMORY).size(), 1u);
}

TEST(LoaderSearchPath, MissingDirectoryIsAWarningNotAFailure)
{
    dragon::Registry registry{{"/nonexistent/dragon/plugins", TEST_PLUGIN_DIR}};
    auto warnings = registry.warnings();
    ASSERT_FALSE(warnings.empty());
    EXPECT_NE(warnings[0].find("/nonexistent/dragon/plugins"), std::string::npos);
}

TEST(LoaderSearchPath, InstalledPluginsAreFound)
{
    dragon::Registry registry{dragon::plugin_search_path()};
    EXPECT_NE(registry.find(DRAGON_PLUGIN_MEMORY, "posix_shm"), nullptr);
    EXPECT_NE(registry.find(DRAGON_PLUGIN_MEMORY, "hugepage"), nullptr);
}

} // namespace
