/* Built for a future plugin ABI major: the loader must refuse it. */
#include "test_plugin_common.h"

DRAGON_TEST_PLUGIN(DRAGON_PLUGIN_ABI_MAJOR + 1, DRAGON_PLUGIN_MEMORY, "abi_future")
