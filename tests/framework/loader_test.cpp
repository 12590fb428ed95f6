// The loader refuses each kind of bad plugin file with a precise reason naming the file.
#include "core/registry.hpp"

#include <dragon/launcher.h>
#include <dragon/transport.h>

#include <gtest/gtest.h>

#include <cstddef>
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

// The file was refused, and its reason contains every one of `fragments`.
void expect_refused(const dragon::Registry &r, const std::string &base,
                    std::initializer_list<const char *> fragments)
{
    const auto &f = file_named(r, base);
    EXPECT_FALSE(f.loaded) << base;
    for (const char *fragment : fragments)
        EXPECT_NE(f.refusal.find(fragment), std::string::npos)
            << base << ": '" << f.refusal << "' lacks '" << fragment << "'";
}

TEST_F(Loader, RefusesWrongAbiMajor)
{
    expect_refused(registry, "dragon_memory_abi_future.so",
                   {"built for plugin ABI 2.", "but this Dragon provides 1.", "rebuild"});
}

TEST_F(Loader, RefusesKindThatContradictsFileName)
{
    expect_refused(registry, "dragon_memory_wrong_kind.so",
                   {"declares kind 'transport' but its file name says 'memory'"});
}

TEST_F(Loader, RefusesUnknownKind)
{
    expect_refused(registry, "dragon_memory_unknown_kind.so", {"unknown plugin kind 42"});
}

TEST_F(Loader, RefusesLibraryWithoutEntryPoint)
{
    expect_refused(registry, "dragon_memory_no_entry.so",
                   {"has no entry point: it does not export dragon_plugin_entry"});
}

TEST_F(Loader, RefusesFileThatIsNotALibrary)
{
    expect_refused(registry, "dragon_memory_garbage.so",
                   {"cannot be loaded", "dragon_memory_garbage.so"});
}

TEST_F(Loader, RefusesLibraryWithUnresolvedSymbols)
{
    expect_refused(registry, "dragon_memory_undefined_symbol.so",
                   {"dragon_test_symbol_that_does_not_exist"});
}

TEST_F(Loader, RefusedFilesAreNotPlugins)
{
    std::vector<std::string> memory, transport;
    for (const auto *p : registry.plugins(DRAGON_PLUGIN_MEMORY))
        memory.push_back(p->name());
    for (const auto *p : registry.plugins(DRAGON_PLUGIN_TRANSPORT))
        transport.push_back(p->name());
    EXPECT_EQ(memory, (std::vector<std::string>{"before_versions", "never"}));
    EXPECT_EQ(transport, (std::vector<std::string>{"newer_table", "older_table"}));
}

TEST_F(Loader, RefusesTableShorterThanTheMandatoryPrefix)
{
    expect_refused(registry, "dragon_memory_short_table.so",
                   {"function table has 16 bytes, fewer than the", "interface 1.0 requires"});
}

TEST_F(Loader, RefusesAnotherInterfaceMajorOfItsKind)
{
    expect_refused(
        registry, "dragon_transport_old_interface.so",
        {"built against transport interface 1.0 but this Dragon provides 2.", "rebuild"});
}

TEST_F(Loader, LoadsPluginBuiltBeforeInterfaceVersionsAsOneDotZero)
{
    const auto *p = registry.find(DRAGON_PLUGIN_MEMORY, "before_versions");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(dragon::plugin_interface(p->descriptor()).text(), "1.0");
}

// A plugin built against the first release of interface 2: its table ends with the
// mandatory prefix, and the framework sees its optional entries as absent.
TEST_F(Loader, LoadsOlderShorterTableWithOptionalEntriesAbsent)
{
    const auto *p = registry.find(DRAGON_PLUGIN_TRANSPORT, "older_table");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->descriptor().ops_size, DRAGON_TRANSPORT_OPS_MANDATORY_SIZE);
    EXPECT_EQ(p->optional_entry<decltype(dragon_transport_ops::cancel)>(
                  offsetof(dragon_transport_ops, cancel)),
              nullptr);
}

// A launcher built against launcher interface 1.0 (before allocation() and the request's
// flags) loads under 1.1, with allocation() absent.
TEST_F(Loader, LoadsLauncherOfInterfaceOneDotZeroWithoutItsAllocationEntry)
{
    const auto *p = registry.find(DRAGON_PLUGIN_LAUNCHER, "first_release");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(dragon::plugin_interface(p->descriptor()).text(), "1.0");
    EXPECT_EQ(p->descriptor().ops_size, DRAGON_LAUNCHER_OPS_MANDATORY_SIZE);
    EXPECT_EQ(p->optional_entry<decltype(dragon_launcher_ops::allocation)>(
                  offsetof(dragon_launcher_ops, allocation)),
              nullptr);
    EXPECT_FALSE(p->available());
}

// A plugin built against a newer minor: longer table, unknown trailing entries ignored,
// known optional entries found.
TEST_F(Loader, LoadsNewerLongerTableAndFindsItsOptionalEntries)
{
    const auto *p = registry.find(DRAGON_PLUGIN_TRANSPORT, "newer_table");
    ASSERT_NE(p, nullptr);
    EXPECT_GT(p->descriptor().ops_size, sizeof(dragon_transport_ops));
    EXPECT_NE(p->optional_entry<decltype(dragon_transport_ops::cancel)>(
                  offsetof(dragon_transport_ops, cancel)),
              nullptr);
    EXPECT_EQ(dragon::plugin_interface(p->descriptor()).minor,
              DRAGON_TRANSPORT_INTERFACE_MINOR + 5u);
}

TEST(LoaderSearchPath, EarlierEntryShadowsLaterOneOfSameName)
{
    dragon::Registry registry{{TEST_PLUGIN_DIR, TEST_PLUGIN_DIR "/dragon_memory_never.so"}};
    int shadowed = 0;
    for (const auto &f : registry.files())
        if (!f.loaded && f.refusal.starts_with("shadowed by "))
            ++shadowed;
    EXPECT_EQ(shadowed, 1);
    EXPECT_EQ(registry.plugins(DRAGON_PLUGIN_MEMORY).size(), 2u); // never, before_versions
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
