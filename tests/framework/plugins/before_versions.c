/* A memory plugin built before interface versions existed (ABI 1.0): the version
 * fields are zero, read as interface 1.0. It must still load. */
#include "test_plugin_common.h"

static const dragon_plugin_descriptor descriptor = {
    .abi_major = DRAGON_PLUGIN_ABI_MAJOR,
    .abi_minor = 0,
    .kind = DRAGON_PLUGIN_MEMORY,
    .name = "before_versions",
    .version = "0.9",
    .probe = test_probe_available,
    .ops = &test_memory_ops,
    .ops_size = DRAGON_MEMORY_OPS_MANDATORY_SIZE,
};

DRAGON_PLUGIN_DEFINE(descriptor)
