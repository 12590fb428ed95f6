/* A memory plugin whose table stops before the mandatory prefix ends: refused. */
#include "test_plugin_common.h"

struct short_ops {
    size_t struct_size;
    size_t (*page_size)(const dragon_host *);
};

static const struct short_ops ops = {sizeof ops, test_page_size};

static const dragon_plugin_descriptor descriptor = {
    .abi_major = DRAGON_PLUGIN_ABI_MAJOR,
    .abi_minor = DRAGON_PLUGIN_ABI_MINOR,
    .kind = DRAGON_PLUGIN_MEMORY,
    .name = "short_table",
    .version = "1.0",
    .probe = test_probe_available,
    .ops = &ops,
    .ops_size = sizeof ops,
    .interface_major = DRAGON_MEMORY_INTERFACE_MAJOR,
};

DRAGON_PLUGIN_DEFINE(descriptor)
