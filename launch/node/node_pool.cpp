#include "node_pool.hpp"

#include "core/error.hpp"
#include "core/job.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "dataplane/pool_size.hpp"

namespace dragon::node {

NodePool NodePool::create(uint32_t node_index)
{
    MemoryPlugin plugin = MemoryPlugin::selected();
    std::string name = segment_name("pool-n" + std::to_string(node_index));
    auto pool = Pool::create(plugin, name, default_pool_size());
    log::debug("node pool ", name, " (", text::format_size(pool->stats().capacity),
               ") on memory plugin ", plugin.name());
    return NodePool(std::move(pool));
}

NodePool::~NodePool()
{
    destroy();
}

std::vector<std::string> NodePool::environment() const
{
    return {"DRAGON_NODE_POOL=" + pool_->name(), "DRAGON_MEMORY=" + pool_->plugin_name()};
}

void NodePool::destroy()
{
    if (!pool_)
        return;
    try {
        pool_->destroy();
    } catch (const Error &e) {
        log::warning(e.what());
    }
    pool_.reset();
}

} // namespace dragon::node
