#include "pmix_global.hpp"

#include <dlfcn.h>

namespace dragon::launcher_local {

void make_pmix_symbols_global()
{
    // The framework loads this plugin RTLD_LOCAL, so libpmix (our dependency) comes in
    // with local scope too. libpmix dlopens its MCA components (pmix_mca_*.so) later;
    // a component built without a DT_NEEDED on libpmix would then fail to resolve
    // pmix_* symbols and be skipped silently. Re-opening the already loaded library
    // with RTLD_NOLOAD|RTLD_GLOBAL promotes it to global scope without loading a second
    // copy. Debian's 4.2.2 components do carry DT_NEEDED libpmix.so.2 (checked with
    // readelf, and the components load without this), so this is insurance for other
    // builds of PMIx. The handle is kept: libpmix stays loaded for the process's life.
    static void *handle = dlopen("libpmix.so.2", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    (void)handle;
}

} // namespace dragon::launcher_local
