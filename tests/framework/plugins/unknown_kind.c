/* Declares a kind number no Dragon knows: the loader must refuse it. */
#include "test_plugin_common.h"

DRAGON_TEST_PLUGIN(DRAGON_PLUGIN_ABI_MAJOR, 42, "unknown_kind")
