#include "channel_service.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "dataplane/deadline.hpp"

#include <algorithm>
#include <cstring>
#include <tuple>
#include <utility>

namespace dragon::node {

const void *Payload::data() const
{
    if (message)
        return message->data();
    return block ? block : bytes.data();
}

std::string_view Payload::view() const
{
    return {static_cast<const char *>(data()), size()};
}

size_t Payload::size() const
{
    if (message)
        return message->size();
    return block ? block_len : bytes.size();
}

std::string base_descriptor(const std::string &descriptor)
{
    // prefix "dragon-channel" : plugin : segment : handle : serial [: sender]
    size_t at = 0;
    for (int colons = 0; colons < 5; ++colons) {
        at = descriptor.find(':', at);
        if (at == std::string::npos)
            return descriptor;
        ++at;
    }
    return descriptor.substr(0, at - 1);
}

namespace {

// A mem_read request (u64 offset, u64 length: the reply payload is the bytes) or a
// mem_write one (u64 offset, then the bytes) performed on memory channel `ch`.
// Throws Error(INVALID) when malformed or out of the channel's bytes.
Payload access_memory(Channel &ch, bool write, std::string_view request,
                      const std::string &descriptor)
{
    Payload p;
    uint64_t offset = 0;
    if (request.size() < sizeof offset)
        throw Error(DRAGON_ERR_INVALID, std::string("a memory ") + (write ? "write" : "read") +
                                            " of channel " + descriptor +
                                            " starts with its offset (8 bytes)");
    std::memcpy(&offset, request.data(), sizeof offset);
    request.remove_prefix(sizeof offset);
    if (write) {
        ch.write_memory(offset, request.data(), request.size());
        return p;
    }
    uint64_t length = 0;
    if (request.size() != sizeof length)
        throw Error(DRAGON_ERR_INVALID,
                    "a memory read of channel " + descriptor + " names offset and length");
    std::memcpy(&length, request.data(), sizeof length);
    if (length > ch.memory_size()) // checked before the buffer is made
        throw Error(DRAGON_ERR_INVALID, "a read of " + std::to_string(length) +
                                            " bytes from channel " + descriptor + " of " +
                                            std::to_string(ch.memory_size()));
    p.bytes.resize(length);
    ch.read_memory(offset, p.bytes.data(), length);
    return p;
}

} // namespace

ChannelService::ChannelService(std::shared_ptr<Pool> pool, Answer answer)
    : pool_(std::move(pool)), answer_(std::move(answer))
{
}

ChannelService::~ChannelService()
{
    for (auto &e : waiting_)
        if (e.payload.block)
            pool_->free(e.payload.block);
}

void ChannelService::answer(const Entry &e, int32_t status, int64_t value, std::string text,
                            Payload payload)
{
    GatewayReply r;
    r.id = e.id;
    r.status = status;
    r.value = value;
    r.text = std::move(text);
    answer_(e.node, r, std::move(payload));
}

Channel *ChannelService::find(const std::string &descriptor, std::string &why)
{
    auto it = channels_.find(base_descriptor(descriptor));
    if (it != channels_.end())
        return &it->second;
    why = "channel " + descriptor +
          " is not attached on its node (it was dropped, or never sent "
          "to this process)";
    return nullptr;
}

void ChannelService::request(uint32_t from_node, uint32_t from_pid, uint64_t id, GatewayOp op,
                             int64_t timeout_ns, const std::string &descriptor, Payload payload)
{
    Entry e{from_node,
            from_pid,
            id,
            op,
            timeout_ns < 0 ? -1 : Deadline::now_ns() + timeout_ns,
            descriptor,
            std::move(payload)};
    // Only what already waits for the same channel goes first (order per sender).
    bool behind = std::any_of(waiting_.begin(), waiting_.end(), [&](const Entry &w) {
        return w.node == e.node && w.pid == e.pid && w.descriptor == e.descriptor;
    });
    if (!behind && attempt(e, timeout_ns == 0))
        return;
    waiting_.push_back(std::move(e));
}

bool ChannelService::attempt(Entry &e, bool last_chance)
{
    try {
        if (e.op == GatewayOp::attach) {
            Channel ch = Channel::attach(e.descriptor); // gives the transit reference back
            std::string base = base_descriptor(e.descriptor);
            channels_.try_emplace(base, std::move(ch));
            ++refs_[{e.node, e.pid}][base];
            answer(e, DRAGON_OK, 0, {});
            return true;
        }
        if (e.op == GatewayOp::detach) {
            release(e.node, e.pid, base_descriptor(e.descriptor), 1);
            return true; // no answer: the process does not wait for it
        }
        std::string why;
        Channel *ch = find(e.descriptor, why);
        if (!ch) {
            answer(e, DRAGON_ERR_UNAVAILABLE, 0, why);
            return true;
        }
        switch (e.op) {
        case GatewayOp::send: {
            bool sent;
            if (e.payload.block) {
                sent = ch->try_send_block(e.payload.block, e.payload.block_len);
                if (sent)
                    e.payload.block = nullptr; // the channel owns it now
            } else {
                sent = ch->try_send(e.payload.bytes.data(), e.payload.bytes.size());
            }
            if (sent) {
                answer(e, DRAGON_OK, 0, {});
                return true;
            }
            break;
        }
        case GatewayOp::recv:
            if (auto msg = ch->try_recv()) {
                Payload p;
                p.message = std::move(*msg);
                answer(e, DRAGON_OK, 0, {}, std::move(p));
                return true;
            }
            break;
        case GatewayOp::poll:
            if (ch->readable() || ch->destroyed() || last_chance) {
                answer(e, DRAGON_OK, ch->readable() || ch->destroyed(), {});
                return true;
            }
            break;
        case GatewayOp::size: answer(e, DRAGON_OK, int64_t(ch->size()), {}); return true;
        case GatewayOp::sem_acquire:
            if (ch->sem_acquire(no_wait)) {
                answer(e, DRAGON_OK, 1, {});
                return true;
            }
            if (last_chance) {
                answer(e, DRAGON_OK, 0, {}); // timed out: acquire() returns False
                return true;
            }
            break;
        case GatewayOp::sem_release: answer(e, DRAGON_OK, ch->sem_release(), {}); return true;
        case GatewayOp::sem_value: answer(e, DRAGON_OK, ch->sem_value(), {}); return true;
        case GatewayOp::transit: {
            Payload p;
            p.bytes = ch->transit_descriptor();
            answer(e, DRAGON_OK, 0, {}, std::move(p));
            return true;
        }
        case GatewayOp::mem_read:
        case GatewayOp::mem_write:
            answer(
                e, DRAGON_OK, 0, {},
                access_memory(*ch, e.op == GatewayOp::mem_write, e.payload.view(), e.descriptor));
            return true;
        case GatewayOp::mem_read_locked:
        case GatewayOp::mem_write_locked: {
            // u16 length, the lock's descriptor, then a mem_read or mem_write request.
            std::string_view request = e.payload.view();
            uint16_t name_len = 0;
            if (request.size() >= sizeof name_len)
                std::memcpy(&name_len, request.data(), sizeof name_len);
            if (request.size() < sizeof name_len + name_len)
                throw Error(DRAGON_ERR_INVALID, "a locked memory access names its lock first");
            std::string lock_descriptor(request.substr(sizeof name_len, name_len));
            Channel *lock = find(lock_descriptor, why);
            if (!lock) {
                answer(e, DRAGON_ERR_UNAVAILABLE, 0, why);
                return true;
            }
            if (!lock->sem_acquire(no_wait))
                break; // waits here for the lock, as a remote acquire does
            Payload p;
            try {
                p = access_memory(*ch, e.op == GatewayOp::mem_write_locked,
                                  request.substr(sizeof name_len + name_len), e.descriptor);
            } catch (...) {
                lock->sem_release();
                throw;
            }
            lock->sem_release();
            answer(e, DRAGON_OK, 0, {}, std::move(p));
            return true;
        }
        case GatewayOp::destroy:
            ch->destroy();
            answer(e, DRAGON_OK, 0, {});
            return true;
        default:
            answer(e, DRAGON_ERR_INVALID, 0,
                   std::string("operation ") + op_name(e.op) + " is not a channel operation");
            return true;
        }
    } catch (const Error &err) {
        answer(e, err.status(), 0, err.what());
        return true;
    }
    if (last_chance) {
        answer(e, DRAGON_ERR_TIMEOUT, 0,
               std::string(op_name(e.op)) + " on channel " + e.descriptor + " timed out");
        return true;
    }
    return false;
}

void ChannelService::retry()
{
    const int64_t now = Deadline::now_ns();
    std::deque<Entry> still;
    // (node, pid, descriptor) of the entries still waiting: later ones of the same
    // sender and channel stay behind them.
    std::vector<std::tuple<uint32_t, uint32_t, std::string>> blocked;
    auto queued_behind = [&](const Entry &e) {
        return std::find(blocked.begin(), blocked.end(),
                         std::make_tuple(e.node, e.pid, e.descriptor)) != blocked.end();
    };
    std::deque<Entry> todo = std::exchange(waiting_, {});
    for (auto &e : todo) {
        bool expired = e.deadline_ns >= 0 && now >= e.deadline_ns;
        if (queued_behind(e) && !expired) {
            still.push_back(std::move(e));
            continue;
        }
        if (!attempt(e, expired)) {
            blocked.emplace_back(e.node, e.pid, e.descriptor);
            still.push_back(std::move(e));
        }
    }
    // Requests that arrived during the answers go after those that waited.
    for (auto &e : waiting_)
        still.push_back(std::move(e));
    waiting_ = std::move(still);
}

std::optional<int64_t> ChannelService::next_deadline_in() const
{
    std::optional<int64_t> earliest;
    for (const auto &e : waiting_)
        if (e.deadline_ns >= 0 && (!earliest || e.deadline_ns < *earliest))
            earliest = e.deadline_ns;
    if (!earliest)
        return std::nullopt;
    return std::max<int64_t>(0, *earliest - Deadline::now_ns());
}

void ChannelService::cancel(uint32_t from_node, uint64_t id)
{
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it)
        if (it->node == from_node && it->id == id) {
            if (it->payload.block)
                pool_->free(it->payload.block);
            waiting_.erase(it);
            return;
        }
}

void ChannelService::release(uint32_t node, uint32_t pid, const std::string &base, int count)
{
    auto holder = refs_.find({node, pid});
    if (holder == refs_.end())
        return;
    auto ref = holder->second.find(base);
    if (ref == holder->second.end())
        return;
    ref->second -= count;
    if (ref->second <= 0)
        holder->second.erase(ref);
    if (holder->second.empty())
        refs_.erase(holder);
    for (const auto &[who, held] : refs_)
        if (held.count(base))
            return;
    channels_.erase(base); // our reference goes: freed if it was the last in the job
}

void ChannelService::process_gone(uint32_t node, uint32_t pid)
{
    auto holder = refs_.find({node, pid});
    if (holder == refs_.end())
        return;
    std::map<std::string, int> held = holder->second;
    for (const auto &[base, count] : held)
        release(node, pid, base, count);
}

void ChannelService::node_gone(uint32_t node)
{
    std::vector<uint32_t> pids;
    for (const auto &[who, held] : refs_)
        if (who.first == node)
            pids.push_back(who.second);
    for (uint32_t pid : pids)
        process_gone(node, pid);
    std::erase_if(waiting_, [&](Entry &e) {
        if (e.node != node)
            return false;
        if (e.payload.block)
            pool_->free(e.payload.block);
        return true;
    });
}

} // namespace dragon::node
