/* Declares a kind number no Dragon knows: the loader must refuse it. */
#include "test_plugin_common.h"

static void probe(const dragon_host *host, dragon_probe_result *out)
{
    (void)host;
    out->available = 1;
}

static const dragon_plugin_descriptor descriptor = {DRAGON_PLUGIN_ABI_MAJOR,
                                                    DRAGON_PLUGIN_ABI_MINOR,
                                                    42,
                                                    "unknown_kind",
                                                    "1.0",
                                                    "test",
                                                    NULL,
                                                    0,
                                                    probe,
                                                    &test_memory_ops,
                                                    sizeof test_memory_ops,
                                                    {0}};

DRAGON_PLUGIN_DEFINE(descriptor)
