/* Needs a symbol nothing provides, so dlopen with RTLD_NOW fails: the loader must refuse it. */
#include "test_plugin_common.h"

extern int dragon_test_symbol_that_does_not_exist(void);

/* Referenced so that the library needs the missing symbol. */
__attribute__((visibility("default"))) int call_missing(void)
{
    return dragon_test_symbol_that_does_not_exist();
}

DRAGON_TEST_PLUGIN(DRAGON_PLUGIN_ABI_MAJOR, DRAGON_PLUGIN_MEMORY, "undefined_symbol")
