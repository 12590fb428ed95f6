#include "core/memory.hpp"

#include "core/error.hpp"

#include <utility>

namespace dragon {

MemoryPlugin::MemoryPlugin(const Plugin &plugin) : plugin_(&plugin)
{
    if (plugin.kind() != DRAGON_PLUGIN_MEMORY)
        throw Error(DRAGON_ERR_INVALID, "plugin '" + plugin.name() + "' is not a memory plugin");
}

MemoryPlugin MemoryPlugin::selected()
{
    return MemoryPlugin(*Registry::global().select(DRAGON_PLUGIN_MEMORY).plugin);
}

MemoryPlugin MemoryPlugin::named(const std::string &name)
{
    const Plugin *p = Registry::global().find(DRAGON_PLUGIN_MEMORY, name);
    if (!p)
        throw Error(DRAGON_ERR_NOT_FOUND, "no memory plugin named '" + name + "' was found");
    return MemoryPlugin(*p);
}

size_t MemoryPlugin::page_size() const
{
    return ops().page_size(plugin_->host());
}

Segment MemoryPlugin::create(const std::string &name, size_t size) const
{
    dragon_segment seg{};
    dragon_error err{};
    check_plugin_status(ops().create(plugin_->host(), name.c_str(), size, &seg, &err), err,
                        "memory plugin " + this->name() + " cannot create segment " + name);
    return Segment(*this, seg);
}

Segment MemoryPlugin::attach(const std::string &name) const
{
    dragon_segment seg{};
    dragon_error err{};
    check_plugin_status(ops().attach(plugin_->host(), name.c_str(), &seg, &err), err,
                        "memory plugin " + this->name() + " cannot attach segment " + name);
    return Segment(*this, seg);
}

void MemoryPlugin::unlink(const std::string &name) const
{
    dragon_error err{};
    check_plugin_status(ops().unlink(plugin_->host(), name.c_str(), &err), err,
                        "memory plugin " + this->name() + " cannot remove segment " + name);
}

std::vector<std::string> MemoryPlugin::list(const std::string &prefix) const
{
    std::vector<std::string> names;
    dragon_error err{};
    auto collect = [](void *arg, const char *name) {
        static_cast<std::vector<std::string> *>(arg)->emplace_back(name);
    };
    check_plugin_status(ops().list(plugin_->host(), prefix.c_str(), collect, &names, &err), err,
                        "memory plugin " + this->name() + " cannot list segments");
    return names;
}

Segment::Segment(Segment &&other) noexcept
    : plugin_(std::exchange(other.plugin_, nullptr)), seg_(std::exchange(other.seg_, {}))
{
}

Segment &Segment::operator=(Segment &&other) noexcept
{
    if (this != &other) {
        detach();
        plugin_ = std::exchange(other.plugin_, nullptr);
        seg_ = std::exchange(other.seg_, {});
    }
    return *this;
}

Segment::~Segment()
{
    detach();
}

void Segment::unlink()
{
    if (!plugin_)
        return;
    MemoryPlugin(*plugin_).unlink(seg_.name);
}

void Segment::detach()
{
    if (!plugin_ || !seg_.addr)
        return;
    dragon_error err{};
    plugin_->ops<dragon_memory_ops>().detach(plugin_->host(), &seg_, &err);
    seg_ = {};
    plugin_ = nullptr;
}

} // namespace dragon
