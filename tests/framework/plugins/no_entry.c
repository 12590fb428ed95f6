/* A shared library that exports no dragon_plugin_entry: the loader must refuse it. */
#include "test_plugin_common.h"

__attribute__((visibility("default"))) const dragon_memory_ops *some_other_symbol(void)
{
    return &test_memory_ops;
}
