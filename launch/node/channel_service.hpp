// The owner's side of the gateway: performs the channel operations that processes
// of other nodes ask for, against the channels in this node's pool, and answers
// each with its true outcome (done, timed out, destroyed, no such channel).
//
// An operation that cannot proceed now (receive from an empty channel, send to a
// full one, acquire at zero, poll with a timeout) waits here as an entry with its
// deadline; the node's loop calls retry() when the pool changes (pool_watch.hpp) or
// a deadline passes. Entries are retried in arrival order.
//
// References: a remote process that attaches a channel is counted here per
// (node, pid), and this dragon-node holds one reference of its own for them all;
// detach, the process's end (process_gone) or its node's loss give them back.
#pragma once

#include "gateway_protocol.hpp"

#include "dataplane/channel.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace dragon::node {

// A message payload: bytes, or a block of the pool (owned: freed unless sent on).
struct Payload {
    std::string bytes;
    void *block = nullptr;
    size_t block_len = 0;
    std::optional<Message> message; // a received message, kept until sent
    const void *data() const;
    size_t size() const;
    std::string_view view() const;
};

class ChannelService {
public:
    // How answers leave: to `node`, for request `id`.
    using Answer = std::function<void(uint32_t node, const GatewayReply &reply, Payload payload)>;
    ChannelService(std::shared_ptr<Pool> pool, Answer answer);
    ~ChannelService();

    void request(uint32_t from_node, uint32_t from_pid, uint64_t id, GatewayOp op,
                 int64_t timeout_ns, const std::string &descriptor, Payload payload);
    void cancel(uint32_t from_node, uint64_t id);
    void process_gone(uint32_t node, uint32_t pid);
    void node_gone(uint32_t node);

    // Retries every waiting entry; answers those done or past their deadline.
    void retry();
    bool waiting() const { return !waiting_.empty(); }
    // Nanoseconds until the earliest deadline of a waiting entry (nullopt: none).
    std::optional<int64_t> next_deadline_in() const;

private:
    struct Entry {
        uint32_t node, pid;
        uint64_t id;
        GatewayOp op;
        int64_t deadline_ns; // monotonic; -1: none
        std::string descriptor;
        Payload payload;
    };
    // True when the entry is finished (answered).
    bool attempt(Entry &e, bool last_chance);
    Channel *find(const std::string &descriptor, std::string &why);
    void answer(const Entry &e, int32_t status, int64_t value, std::string text,
                Payload payload = {});
    void release(uint32_t node, uint32_t pid, const std::string &base, int count);

    std::shared_ptr<Pool> pool_;
    Answer answer_;
    std::map<std::string, Channel> channels_; // base descriptor -> our reference
    // (node, pid) -> base descriptor -> references taken by attach
    std::map<std::pair<uint32_t, uint32_t>, std::map<std::string, int>> refs_;
    std::deque<Entry> waiting_;
};

// "dragon-channel:<plugin>:<segment>:<handle>:<serial>" of a descriptor that may carry
// a transit sender (":<slot>.<id>") after it.
std::string base_descriptor(const std::string &descriptor);

} // namespace dragon::node
