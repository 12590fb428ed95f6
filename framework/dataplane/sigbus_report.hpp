// A page of a pool that cannot be backed (its file system filled up after the
// pool was made, or the segment was cut short) ends the process that touches it
// with SIGBUS, which says nothing by itself. Pools register their mappings here;
// a SIGBUS inside one first writes a line naming the pool, what happened and what
// to change, then lets the signal take its course (the previous handler, or death).
#pragma once

#include <cstddef>
#include <string>

namespace dragon {

// Registers [base, base + size) as pool `name` (installs the handler on first use).
void watch_pool_mapping(const void *base, size_t size, const std::string &name);
void unwatch_pool_mapping(const void *base);

} // namespace dragon
