// The node's memory pool: one segment from the selected memory plugin, sized by
// DRAGON_DEFAULT_SEG_SZ, named within the job, removed when the node ends.
#pragma once

#include "core/memory.hpp"

#include <string>
#include <vector>

namespace dragon::node {

class NodePool {
public:
    static NodePool create(uint32_t node_index);
    NodePool(NodePool &&) = default;
    ~NodePool();

    // NAME=VALUE entries that tell the node's processes how to attach the pool.
    std::vector<std::string> environment() const;
    void destroy();

private:
    NodePool(MemoryPlugin plugin, Segment segment);
    MemoryPlugin plugin_;
    Segment segment_;
    std::string name_;
};

} // namespace dragon::node
