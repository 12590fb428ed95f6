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

static const dragon_plugin_descriptor descriptor = {DRAGON_PLUGIN_ABI_MAJOR,
                                                    DRAGON_PLUGIN_ABI_MINOR,
                                                    DRAGON_PLUGIN_MEMORY,
                                                    "never",
                                                    "1.0",
                                                    "test plugin that is never available",
                                                    params,
                                                    1,
                                                    probe,
                                                    &test_memory_ops,
                                                    sizeof test_memory_ops,
                                                    {0}};

DRAGON_PLUGIN_DEFINE(descriptor)
