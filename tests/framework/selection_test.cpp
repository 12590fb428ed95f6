// Selection syntax and outcomes: single, list, exclusion, unknown names, unavailable ones.
#include "core/error.hpp"
#include "core/registry.hpp"
#include "core/selection.hpp"

#include <gtest/gtest.h>

using dragon::Candidate;
using dragon::SelectionSpec;

namespace {

const std::vector<Candidate> candidates = {
    {"tcp", true, 10, ""},
    {"hsta", false, 20, "UCX finds no usable network device"},
    {"shmonly", true, 5, ""},
};

std::string select_name(const std::string &spec)
{
    auto parsed = dragon::parse_selection(spec, "DRAGON_TRANSPORT_AGENT");
    auto r = dragon::select_plugin(parsed, candidates, "transport", "DRAGON_TRANSPORT_AGENT");
    return candidates[r.index].name;
}

std::string selection_error(const std::string &spec)
{
    try {
        select_name(spec);
    } catch (const dragon::Error &e) {
        return e.what();
    }
    return "";
}

TEST(SelectionSyntax, ParsesEachForm)
{
    EXPECT_EQ(dragon::parse_selection("", "V").mode, SelectionSpec::Mode::Automatic);
    auto single = dragon::parse_selection(" tcp ", "V");
    EXPECT_EQ(single.mode, SelectionSpec::Mode::Ordered);
    EXPECT_EQ(single.names, std::vector<std::string>{"tcp"});
    auto list = dragon::parse_selection("hsta,tcp", "V");
    EXPECT_EQ(list.names, (std::vector<std::string>{"hsta", "tcp"}));
    auto excl = dragon::parse_selection("^hsta,shmonly", "V");
    EXPECT_EQ(excl.mode, SelectionSpec::Mode::Excluding);
    EXPECT_EQ(excl.names, (std::vector<std::string>{"hsta", "shmonly"}));
}

TEST(SelectionSyntax, RejectsMalformedWithTheVariableName)
{
    for (const char *bad : {"tcp,,hsta", "tcp,^hsta", "^", ",", "^^tcp"}) {
        try {
            dragon::parse_selection(bad, "DRAGON_TRANSPORT_AGENT");
            ADD_FAILURE() << "accepted " << bad;
        } catch (const dragon::Error &e) {
            EXPECT_NE(std::string(e.what()).find("DRAGON_TRANSPORT_AGENT"), std::string::npos);
            EXPECT_NE(std::string(e.what()).find("malformed"), std::string::npos);
        }
    }
}

TEST(Selection, AutomaticTakesHighestPriorityAvailable)
{
    EXPECT_EQ(select_name(""), "tcp"); // hsta has higher priority but cannot run
}

TEST(Selection, SingleNameIsTaken)
{
    EXPECT_EQ(select_name("shmonly"), "shmonly");
}

TEST(Selection, OrderedListTakesFirstAvailable)
{
    EXPECT_EQ(select_name("hsta,shmonly,tcp"), "shmonly");
}

TEST(Selection, ExclusionRemovesFromAutomatic)
{
    EXPECT_EQ(select_name("^tcp"), "shmonly");
}

TEST(Selection, NamedButUnavailableIsAnErrorWithItsReason)
{
    std::string e = selection_error("hsta");
    EXPECT_NE(e.find("DRAGON_TRANSPORT_AGENT=hsta"), std::string::npos) << e;
    EXPECT_NE(e.find("cannot run here: UCX finds no usable network device"), std::string::npos)
        << e;
}

TEST(Selection, ListOfUnavailableNamesEachReason)
{
    std::vector<Candidate> only_unavailable = {{"a", false, 1, "reason a"},
                                               {"b", false, 1, "reason b"}};
    try {
        dragon::select_plugin(dragon::parse_selection("a,b", "V"), only_unavailable, "memory", "V");
        FAIL();
    } catch (const dragon::Error &e) {
        std::string m = e.what();
        EXPECT_NE(m.find("a: reason a"), std::string::npos) << m;
        EXPECT_NE(m.find("b: reason b"), std::string::npos) << m;
    }
}

TEST(Selection, UnknownNameSuggestsAndLists)
{
    std::string e = selection_error("hstaa");
    EXPECT_NE(e.find("no transport plugin named 'hstaa'"), std::string::npos) << e;
    EXPECT_NE(e.find("did you mean 'hsta'?"), std::string::npos) << e;
    EXPECT_NE(e.find("known: hsta, shmonly, tcp"), std::string::npos) << e;
    e = selection_error("^verbs");
    EXPECT_NE(e.find("no transport plugin named 'verbs'"), std::string::npos) << e;
    EXPECT_EQ(e.find("did you mean"), std::string::npos) << e;
}

TEST(Selection, ExcludingEverythingAvailableIsAnError)
{
    std::string e = selection_error("^tcp,shmonly");
    EXPECT_NE(e.find("no transport plugin can run here once those are excluded"), std::string::npos)
        << e;
    EXPECT_NE(e.find("hsta: UCX finds no usable network device"), std::string::npos) << e;
}

TEST(Selection, NoPluginsAtAll)
{
    try {
        dragon::select_plugin({}, {}, "launcher", "DRAGON_LAUNCHER");
        FAIL();
    } catch (const dragon::Error &e) {
        EXPECT_NE(std::string(e.what()).find("none were found"), std::string::npos) << e.what();
    }
}

TEST(RegistrySelection, NamedUnavailablePluginCarriesProbeReason)
{
    dragon::Registry registry{{TEST_PLUGIN_DIR}};
    std::string spec = "never";
    try {
        registry.select(DRAGON_PLUGIN_MEMORY, &spec);
        FAIL();
    } catch (const dragon::Error &e) {
        EXPECT_NE(std::string(e.what()).find("the never memory plugin cannot run here: the never "
                                             "plugin never runs"),
                  std::string::npos)
            << e.what();
    }
}

TEST(RegistrySelection, EnvironmentVariableSelects)
{
    dragon::Registry registry{dragon::plugin_search_path()};
    setenv("DRAGON_MEMORY", "posix-shm", 1);
    try {
        registry.select(DRAGON_PLUGIN_MEMORY);
        ADD_FAILURE() << "a typo was accepted";
    } catch (const dragon::Error &e) {
        EXPECT_NE(std::string(e.what()).find("did you mean 'posix_shm'?"), std::string::npos);
    }
    setenv("DRAGON_MEMORY", "posix_shm", 1);
    EXPECT_EQ(registry.select(DRAGON_PLUGIN_MEMORY).plugin->name(), "posix_shm");
    unsetenv("DRAGON_MEMORY");
}

} // namespace
