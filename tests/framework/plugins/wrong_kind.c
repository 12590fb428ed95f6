/* Its file says memory, its descriptor says transport: the loader must refuse it. */
#include "test_plugin_common.h"

DRAGON_TEST_PLUGIN(DRAGON_PLUGIN_ABI_MAJOR, DRAGON_PLUGIN_TRANSPORT, "wrong_kind")
