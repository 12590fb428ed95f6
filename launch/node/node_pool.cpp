#include "node_pool.hpp"

#include "core/error.hpp"
#include "core/job.hpp"
#include "core/log.hpp"
#include "core/text.hpp"

#include <cstdlib>

namespace dragon::node {
namespace {

size_t configured_pool_size()
{
    const char *env = std::getenv("DRAGON_DEFAULT_SEG_SZ");
    std::string text = env && *env ? env : "4G";
    auto size = text::parse_size(text);
    if (!size)
        throw Error(DRAGON_ERR_INVALID, "DRAGON_DEFAULT_SEG_SZ='" + text +
                                            "' is not a size: use bytes or a suffix, e.g. 4G");
    return *size;
}

} // namespace

NodePool NodePool::create(uint32_t node_index)
{
    MemoryPlugin plugin = MemoryPlugin::selected();
    std::string name = segment_name("pool-n" + std::to_string(node_index));
    Segment segment = plugin.create(name, configured_pool_size());
    log::debug("node pool ", name, " (", text::format_size(segment.size()), ") on memory plugin ",
               plugin.name());
    return NodePool(plugin, std::move(segment));
}

NodePool::NodePool(MemoryPlugin plugin, Segment segment)
    : plugin_(plugin), segment_(std::move(segment)), name_(segment_.name())
{
}

NodePool::~NodePool()
{
    destroy();
}

std::vector<std::string> NodePool::environment() const
{
    return {"DRAGON_NODE_POOL=" + name_, "DRAGON_MEMORY=" + plugin_.name()};
}

void NodePool::destroy()
{
    if (!segment_.valid())
        return;
    try {
        segment_.unlink();
    } catch (const Error &e) {
        log::warning(e.what());
    }
    segment_.detach();
}

} // namespace dragon::node
