// The node's memory pool: a data-plane Pool in one segment of the selected memory
// plugin, sized by DRAGON_DEFAULT_SEG_SZ, named within the job. Every process of
// the node attaches it (DRAGON_NODE_POOL); the node removes it when it ends.
#pragma once

#include "dataplane/pool.hpp"

#include <memory>
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

    const std::string &name() const { return name_; }
    const std::string &plugin_name() const { return plugin_name_; }
    const std::shared_ptr<Pool> &pool() const { return pool_; }

private:
    explicit NodePool(std::shared_ptr<Pool> pool)
        : pool_(std::move(pool)), name_(pool_->name()), plugin_name_(pool_->plugin_name())
    {
    }
    std::shared_ptr<Pool> pool_;
    std::string name_, plugin_name_;
};

} // namespace dragon::node
