// Makes libpmix's symbols global in the process, for its own dlopen'ed components.
#pragma once

namespace dragon::launcher_local {

void make_pmix_symbols_global();

} // namespace dragon::launcher_local
