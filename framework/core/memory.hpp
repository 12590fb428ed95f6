// C++ face of the memory plugins: a selected plugin and RAII segments.
#pragma once

#include "core/registry.hpp"

#include <dragon/memory.h>

#include <cstddef>
#include <string>
#include <vector>

namespace dragon {

class Segment;

class MemoryPlugin {
public:
    explicit MemoryPlugin(const Plugin &plugin);

    // The plugin DRAGON_MEMORY selects in the global registry. Throws dragon::Error.
    static MemoryPlugin selected();
    // A plugin by name from the global registry, even if it would not be selected.
    static MemoryPlugin named(const std::string &name);

    const std::string &name() const { return plugin_->name(); }
    size_t page_size() const;

    // `name` is a full segment name (see segment_name()). Throws dragon::Error.
    Segment create(const std::string &name, size_t size) const;
    Segment attach(const std::string &name) const;
    void unlink(const std::string &name) const;
    std::vector<std::string> list(const std::string &prefix) const;

private:
    friend class Segment;
    const dragon_memory_ops &ops() const { return plugin_->ops<dragon_memory_ops>(); }
    const Plugin *plugin_;
};

// A mapping of a segment; detached (not removed) on destruction. Move-only.
class Segment {
public:
    Segment() = default;
    Segment(Segment &&other) noexcept;
    Segment &operator=(Segment &&other) noexcept;
    Segment(const Segment &) = delete;
    Segment &operator=(const Segment &) = delete;
    ~Segment();

    void *data() const { return seg_.addr; }
    size_t size() const { return seg_.size; }
    std::string name() const { return seg_.name; }
    int fd() const { return seg_.fd; }
    bool valid() const { return seg_.addr != nullptr; }

    // Remove the name now; this mapping stays valid until detach.
    void unlink();
    void detach();

private:
    friend class MemoryPlugin;
    Segment(const MemoryPlugin &plugin, const dragon_segment &seg)
        : plugin_(plugin.plugin_), seg_(seg)
    {
    }
    const Plugin *plugin_ = nullptr;
    dragon_segment seg_{};
};

} // namespace dragon
