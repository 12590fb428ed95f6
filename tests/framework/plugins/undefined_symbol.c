/* Needs a symbol nothing provides, so dlopen with RTLD_NOW fails: the loader must refuse it. */
#include "test_plugin_common.h"

extern int dragon_test_symbol_that_does_not_exist(void);

static void probe(const dragon_host *host, dragon_probe_result *out)
{
    (void)host;
    out->available = dragon_test_symbol_that_does_not_exist();
}

static const dragon_plugin_descriptor descriptor = {DRAGON_PLUGIN_ABI_MAJOR,
                                                    DRAGON_PLUGIN_ABI_MINOR,
                                                    DRAGON_PLUGIN_MEMORY,
                                                    "undefined_symbol",
                                                    "1.0",
                                                    "test",
                                                    NULL,
                                                    0,
                                                    probe,
                                                    &test_memory_ops,
                                                    sizeof test_memory_ops,
                                                    {0}};

DRAGON_PLUGIN_DEFINE(descriptor)
