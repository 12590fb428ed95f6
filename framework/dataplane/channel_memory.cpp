// Memory channels: a block of shared memory with a channel's identity and lifetime.
// The bytes follow the (unused, minimal) ring in the channel's own pool block, so
// they are freed with the channel when its last reference in the job goes, and a
// descriptor names them from any node. Accesses are plain loads and stores: the
// users synchronize (Value/Array with their lock), as with stock sharedctypes.
#include "dataplane/channel.hpp"

#include "core/error.hpp"
#include "dataplane/channel_layout.hpp"

#include <cstring>

namespace dragon {

Channel Channel::create_memory(std::shared_ptr<Pool> pool, size_t bytes)
{
    if (bytes == 0)
        throw Error(DRAGON_ERR_INVALID, "a memory channel of 0 bytes: ask for at least 1");
    // The ring is never used; two minimal slots keep the layout a channel's.
    return create_with_memory(std::move(pool), ChannelOptions{2, 64}, bytes);
}

bool Channel::is_memory() const
{
    return header_->memory_bytes != 0;
}

std::byte *Channel::memory() const
{
    if (!is_memory())
        return nullptr;
    return reinterpret_cast<std::byte *>(header_ + 1) +
           size_t(header_->capacity) * header_->slot_size;
}

size_t Channel::memory_size() const
{
    return size_t(header_->memory_bytes);
}

void Channel::check_memory_range(size_t offset, size_t len) const
{
    if (!is_memory())
        throw Error(DRAGON_ERR_INVALID,
                    "channel " + descriptor() + " is not a memory channel (no bytes to access)");
    if (offset > memory_size() || len > memory_size() - offset)
        throw Error(DRAGON_ERR_INVALID, "bytes [" + std::to_string(offset) + ", " +
                                            std::to_string(offset + len) + ") are outside the " +
                                            std::to_string(memory_size()) + " bytes of channel " +
                                            descriptor());
}

void Channel::read_memory(size_t offset, void *out, size_t len) const
{
    check_memory_range(offset, len);
    std::memcpy(out, memory() + offset, len);
}

void Channel::write_memory(size_t offset, const void *data, size_t len)
{
    check_memory_range(offset, len);
    std::memcpy(memory() + offset, data, len);
}

} // namespace dragon
