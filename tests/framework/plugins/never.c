/* A well-formed plugin that can never run: for selection of a named-but-unavailable plugin.
 * It also registers a parameter, for the parameter tests. */
#include "test_plugin_common.h"

static const dragon_param_def params[] = {
    {"depth", DRAGON_PARAM_INT, "3", "a test parameter"},
};

static void probe(const dragon_host *host, dragon_probe_result *out)
{
    const char *depth = host->param(host->ctx, "depth");
    out->available = 0;
    out->priority = 100;
    snprintf(out->reason, sizeof out->reason, "the never plugin never runs (depth %s)",
             depth ? depth : "?");
}

static const dragon_plugin_descriptor descriptor = {
    .abi_major = DRAGON_PLUGIN_ABI_MAJOR,
    .abi_minor = DRAGON_PLUGIN_ABI_MINOR,
    .kind = DRAGON_PLUGIN_MEMORY,
    .name = "never",
    .version = "1.0",
    .description = "test plugin that is never available",
    .params = params,
    .num_params = 1,
    .probe = probe,
    .ops = &test_memory_ops,
    .ops_size = sizeof test_memory_ops,
    .interface_major = DRAGON_MEMORY_INTERFACE_MAJOR,
    .interface_minor = DRAGON_MEMORY_INTERFACE_MINOR,
};

DRAGON_PLUGIN_DEFINE(descriptor)
