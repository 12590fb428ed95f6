#include "gateway.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "dataplane/holders.hpp"
#include "dataplane/process_alive.hpp"

#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <unistd.h>

namespace dragon::node {
namespace {

void close_fd(int &fd)
{
    if (fd >= 0)
        close(fd);
    fd = -1;
}

} // namespace

Gateway::Gateway(uint32_t self, uint32_t num_nodes, std::shared_ptr<Pool> pool,
                 TransportEndpoint &endpoint, const std::string &socket_path,
                 const std::string &warm_socket, std::function<std::string(uint32_t)> describe,
                 LaneSetup lanes)
    : self_(self), num_nodes_(num_nodes), pool_(pool), endpoint_(endpoint),
      describe_(std::move(describe)), lost_(num_nodes, false), lost_reason_(num_nodes),
      service_(pool, [this](uint32_t node, const GatewayReply &reply,
                            Payload payload) { answer_request(node, reply, std::move(payload)); }),
      watch_(pool), starts_(
                        warm_socket,
                        [this](uint32_t node, uint64_t id, pid_t pid, const std::string &error) {
                            PeerHeader h;
                            h.kind = PeerKind::reply;
                            h.op = GatewayOp::start;
                            h.id = id;
                            h.status = error.empty() ? DRAGON_OK : DRAGON_ERR_UNAVAILABLE;
                            h.value = pid;
                            h.text_len = uint32_t(error.size());
                            send_peer(node, h, {}, {}, error);
                        },
                        [this](uint32_t node, uint64_t id, int code) {
                            PeerHeader h;
                            h.kind = PeerKind::exited;
                            h.op = GatewayOp::start;
                            h.id = id;
                            h.value = code;
                            send_peer(node, h, {}, {});
                        }),
      socket_(
          socket_path,
          [this](GatewayClient &c, ClientRequest r) { on_client_request(c, std::move(r)); },
          [this](GatewayClient &c) { on_client_closed(c); }),
      lanes_(
          lanes.listen_fd, lanes.key,
          [this](GatewayClient &c, ClientRequest r) { on_lane_request(c, std::move(r)); },
          [this](GatewayClient &c) { on_lane_closed(c); }, lane_large_min,
          [this](size_t n) { return pool_->try_allocate(n); },
          [this](void *block) { pool_->free(block); }),
      lane_addresses_(std::move(lanes.addresses)), lane_key_(std::move(lanes.key)),
      last_heard_ns_(num_nodes, Deadline::now_ns())
{
}

std::optional<int64_t> Gateway::next_deadline_in() const
{
    int64_t to_heartbeat = std::max<int64_t>(0, next_heartbeat_ns_ - Deadline::now_ns());
    auto entry = service_.next_deadline_in();
    return entry ? std::min(*entry, to_heartbeat) : to_heartbeat;
}

void Gateway::send_heartbeats()
{
    int64_t now = Deadline::now_ns();
    if (now < next_heartbeat_ns_)
        return;
    next_heartbeat_ns_ = now + heartbeat_period_ns;
    PeerHeader h;
    h.kind = PeerKind::heartbeat;
    for (uint32_t node = 0; node < num_nodes_; ++node)
        if (node != self_ && !lost_[node])
            send_peer(node, h, {}, {});
}

std::vector<std::pair<uint32_t, std::string>> Gateway::take_silent_peers()
{
    std::vector<std::pair<uint32_t, std::string>> silent;
    if (stopping_)
        return silent;
    int64_t now = Deadline::now_ns();
    for (uint32_t node = 0; node < num_nodes_; ++node) {
        if (node == self_ || lost_[node] || now - last_heard_ns_[node] < silence_limit_ns)
            continue;
        silent.emplace_back(node, "nothing came from it for " +
                                      std::to_string(silence_limit_ns / 1'000'000'000) +
                                      " s, heartbeats included: its host or the network "
                                      "between us is down");
    }
    return silent;
}

Gateway::~Gateway()
{
    for (auto &[id, f] : forwarded_)
        close_fd(f.sentinel);
    for (auto *list : {&unsent_, &in_flight_})
        for (auto &o : *list)
            drop_block(o.payload);
}

std::string Gateway::take_block(const std::string &encoded, Payload &payload)
{
    uint64_t handle = 0, len = 0;
    if (encoded.size() != 16 && encoded.size() != 32)
        return "a block reference of " + std::to_string(encoded.size()) +
               " bytes (16, or 32 with its record, expected)";
    std::memcpy(&handle, encoded.data(), 8);
    std::memcpy(&len, encoded.data() + 8, 8);
    try {
        void *block = pool_->pointer_of(handle);
        if (len > pool_->block_size(block))
            return "a block of " + std::to_string(pool_->block_size(block)) +
                   " bytes cannot hold " + std::to_string(len);
        // The block is recorded as the sending process's until we take it over: if
        // that process died first, its releaser has freed it.
        auto record = decode_block_record(std::string_view(encoded).substr(16));
        if (record && !take_block_in_hand(*pool_, *record, handle))
            return "its process died before this node took the block (freed with it)";
        payload.block = block;
        payload.block_len = len;
    } catch (const Error &e) {
        return e.what();
    }
    return {};
}

std::vector<std::string> Gateway::environment() const
{
    std::vector<std::string> env{"DRAGON_GATEWAY_SOCKET=" + socket_.path()};
    const char *lanes = std::getenv("DRAGON_LANES");
    const auto on = lanes && *lanes ? text::parse_bool(lanes) : std::optional<bool>(true);
    if (on == false)
        return env; // the processes do not use lanes
    if (!on)
        log::warning("DRAGON_LANES=", lanes,
                     " is neither on nor off: lanes stay on (set it to "
                     "off to send every remote operation through the process's own node)");
    env.push_back("DRAGON_LANE_ADDRESSES=" + lane_addresses_);
    env.push_back("DRAGON_LANE_KEY=" + text::to_hex(lane_key_));
    return env;
}

std::vector<std::pair<int, short>> Gateway::poll_set() const
{
    auto set = socket_.poll_set();
    for (auto &p : lanes_.poll_set())
        set.push_back(p);
    set.emplace_back(watch_.fd(), POLLIN);
    for (auto &p : starts_.poll_set())
        set.push_back(p);
    return set;
}

void Gateway::handle(int fd, short revents)
{
    if (fd == watch_.fd()) {
        watch_.drain(); // tick() retries
        return;
    }
    socket_.handle(fd, revents);
    lanes_.handle(fd, revents);
    starts_.handle(fd, revents);
}

void Gateway::drop_block(Payload &payload)
{
    if (payload.block)
        pool_->free(std::exchange(payload.block, nullptr));
}

void Gateway::reply_to_client(int fd, uint64_t id, int32_t status, int64_t value, std::string text,
                              std::string payload, uint16_t flags)
{
    GatewayReply r;
    r.id = id;
    r.flags = flags;
    r.status = status;
    r.value = value;
    r.text = std::move(text);
    r.payload = std::move(payload);
    socket_.send(fd, encode_client_reply(r));
}

void Gateway::on_lane_request(GatewayClient &client, ClientRequest request)
{
    auto refuse = [&](const std::string &why) {
        if (request.block)
            pool_->free(request.block);
        GatewayReply r;
        r.id = request.id;
        r.status = DRAGON_ERR_INVALID;
        r.text = why;
        lanes_.send(client.fd, encode_client_reply(r));
    };
    switch (request.op) {
    case GatewayOp::send:
    case GatewayOp::recv:
    case GatewayOp::poll:
    case GatewayOp::size:
    case GatewayOp::sem_acquire:
    case GatewayOp::sem_release:
    case GatewayOp::sem_value:
    case GatewayOp::mem_read:
    case GatewayOp::mem_write:
    case GatewayOp::mem_read_locked:
    case GatewayOp::mem_write_locked: break;
    default:
        return refuse(std::string(op_name(request.op)) +
                      " does not travel on a lane: ask your own node's gateway");
    }
    if (request.target_node != self_)
        return refuse("a lane reaches node " + std::to_string(self_) + " only, not node " +
                      std::to_string(request.target_node));
    if (client.node >= num_nodes_)
        return refuse("this lane's process says it runs on node " + std::to_string(client.node) +
                      ", which is not a node of this job");
    if (request.flags & payload_is_block)
        return refuse("a pool block of another node cannot travel on a lane");
    if (request.block && request.op != GatewayOp::send)
        return refuse(std::string("a ") + op_name(request.op) + " request of " +
                      std::to_string(request.block_len) + " bytes");
    const uint64_t id = next_lane_id_++;
    lane_requests_[id] = {client.fd, request.id, client.node};
    Payload payload;
    payload.bytes = std::move(request.payload);
    payload.block = request.block; // a large message, read straight into a block
    payload.block_len = request.block_len;
    service_.request(client.node, uint32_t(client.pid), id, request.op, request.timeout_ns,
                     request.descriptor, std::move(payload));
}

void Gateway::on_lane_closed(GatewayClient &client)
{
    // Its process gave up (an interrupted call drops its lane) or is gone.
    for (auto it = lane_requests_.begin(); it != lane_requests_.end();) {
        if (it->second.client_fd != client.fd) {
            ++it;
            continue;
        }
        service_.cancel(it->second.node, it->first);
        it = lane_requests_.erase(it);
    }
}

void Gateway::answer_lane(const GatewayReply &reply, Payload payload)
{
    auto it = lane_requests_.find(reply.id);
    if (it == lane_requests_.end()) {
        drop_block(payload);
        return;
    }
    GatewayReply r = reply;
    r.id = it->second.client_id;
    if (r.payload.empty() && payload.size() >= lane_large_min) {
        // A large message goes from where it lies; the frame keeps it until written.
        const void *data = payload.data();
        const size_t len = payload.size();
        lanes_.send(it->second.client_fd, encode_client_reply(r, len),
                    keep_until_written(std::move(payload)), data, len);
        lane_requests_.erase(it);
        return;
    }
    if (r.payload.empty() && payload.size())
        r.payload.assign(payload.view());
    drop_block(payload);
    lanes_.send(it->second.client_fd, encode_client_reply(r));
    lane_requests_.erase(it);
}

std::shared_ptr<const void> Gateway::keep_until_written(Payload payload)
{
    auto held = std::make_shared<Payload>(std::move(payload));
    if (!held->block)
        return held; // bytes, or a received message that frees itself
    return std::shared_ptr<const void>(
        held.get(), [held, pool = pool_](const void *) { pool->free(held->block); });
}

void Gateway::on_client_request(GatewayClient &client, ClientRequest request)
{
    const uint32_t node = request.target_node;
    auto refuse = [&](int32_t status, const std::string &why) {
        if (request.op != GatewayOp::detach)
            reply_to_client(client.fd, request.id, status, 0, why);
    };
    if (node >= num_nodes_ || node == self_)
        return refuse(DRAGON_ERR_INVALID, "node " + std::to_string(node) +
                                              " is not another node of this job (" +
                                              std::to_string(num_nodes_) + " nodes; this is node " +
                                              std::to_string(self_) + ")");
    if (lost_[node])
        return refuse(DRAGON_ERR_PEER_LOST, describe_(node) + " was lost: " + lost_reason_[node]);
    if (request.op == GatewayOp::attach)
        holders_.insert(uint32_t(client.pid));
    forward(client, std::move(request));
}

void Gateway::forward(GatewayClient &client, ClientRequest request)
{
    PeerHeader h;
    h.kind = PeerKind::request;
    h.op = request.op;
    h.origin_pid = uint32_t(client.pid);
    h.value = request.timeout_ns;
    if (request.op != GatewayOp::detach) {
        h.id = next_id_++;
        Forwarded f{client.fd, request.id, request.target_node, request.op};
        if (request.op == GatewayOp::start && !client.fds.empty()) {
            f.sentinel = client.fds.front();
            client.fds.pop_front();
        }
        forwarded_[h.id] = f;
    }
    Payload payload;
    if (request.flags & payload_is_block) {
        // The process wrote the message into a block of our pool: it goes from there.
        std::string why = take_block(request.payload, payload);
        if (!why.empty()) {
            log::warning("gateway: process ", client.pid, " named a bad block: ", why);
            forwarded_.erase(h.id);
            if (request.op != GatewayOp::detach)
                reply_to_client(client.fd, request.id, DRAGON_ERR_INVALID, 0,
                                "bad message block: " + why);
            return;
        }
    } else {
        payload.bytes = std::move(request.payload);
    }
    const uint64_t id = h.id;
    send_peer(request.target_node, h, request.descriptor, std::move(payload), {},
              [this, id](dragon_status status, const std::string &why) {
                  auto it = forwarded_.find(id);
                  if (it == forwarded_.end())
                      return;
                  reply_to_client(it->second.client_fd, it->second.client_id, status, 0, why);
                  close_fd(it->second.sentinel);
                  forwarded_.erase(it);
              });
}

void Gateway::on_client_closed(GatewayClient &client)
{
    for (auto it = forwarded_.begin(); it != forwarded_.end();) {
        Forwarded &f = it->second;
        if (f.client_fd != client.fd) {
            ++it;
            continue;
        }
        // A remote child outlives its parent's connection only as an orphan would:
        // its parent sentinel closes. A pending channel operation is withdrawn.
        PeerHeader h;
        h.kind = PeerKind::cancel;
        h.op = f.op;
        h.id = it->first;
        if (!lost_[f.node])
            send_peer(f.node, h, {}, {});
        close_fd(f.sentinel);
        it = forwarded_.erase(it);
    }
}

void Gateway::send_peer(uint32_t node, const PeerHeader &header, const std::string &descriptor,
                        Payload payload, std::string prefix,
                        std::function<void(dragon_status, const std::string &)> failed)
{
    if (stopping_) {
        drop_block(payload);
        return;
    }
    Outgoing o;
    o.node = node;
    o.header = encode_peer_header(header, descriptor);
    o.payload = std::move(payload);
    o.prefix = std::move(prefix);
    o.failed = std::move(failed);
    unsent_.push_back(std::move(o));
    pump();
}

void Gateway::pump()
{
    while (!unsent_.empty()) {
        Outgoing &o = unsent_.front();
        if (lost_[o.node]) {
            if (o.failed)
                o.failed(DRAGON_ERR_PEER_LOST,
                         describe_(o.node) + " was lost: " + lost_reason_[o.node]);
            drop_block(o.payload);
            unsent_.pop_front();
            continue;
        }
        dragon_transport_iov iov[2];
        size_t count = 0;
        if (!o.prefix.empty())
            iov[count++] = {o.prefix.data(), o.prefix.size()};
        if (o.payload.size())
            iov[count++] = {o.payload.data(), o.payload.size()};
        auto completion = std::make_unique<TransportCompletion>();
        dragon_status s = endpoint_.send(o.node, o.header.data(), o.header.size(),
                                         std::span(iov, count), *completion);
        if (s == DRAGON_ERR_AGAIN)
            return; // in order: the rest waits behind it
        if (s == DRAGON_ERR_PEER_LOST) {
            if (o.failed)
                o.failed(s, describe_(o.node) + " was lost");
            drop_block(o.payload);
            unsent_.pop_front();
            continue;
        }
        o.completion = std::move(completion);
        in_flight_.splice(in_flight_.end(), unsent_, unsent_.begin());
    }
}

void Gateway::tick()
{
    // Sends whose completion fired: their buffers may go now (not inside the
    // completion, which runs in the transport's progress).
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
        if (!it->completion->done()) {
            ++it;
            continue;
        }
        if (it->completion->status() != DRAGON_OK && it->failed)
            it->failed(it->completion->status(),
                       describe_(it->node) + ": " + it->completion->reason());
        drop_block(it->payload);
        it = in_flight_.erase(it);
    }
    std::erase_if(placements_, [](const Placement &p) { return p.done; });
    send_heartbeats();
    pump();
    // What waits is retried after the stamp, so a change the watch did not see yet is
    // seen by the retry; with nothing waiting there is nothing to retry or watch.
    if (service_.waiting()) {
        uint32_t stamp = watch_.stamp();
        service_.retry();
        if (service_.waiting())
            watch_.watch_from(stamp);
    }
    if (!service_.waiting())
        watch_.idle();
    release_dead_holders();
}

void Gateway::release_dead_holders()
{
    int64_t now = Deadline::now_ns();
    if (now < next_holder_check_ns_)
        return;
    next_holder_check_ns_ = now + 500'000'000;
    for (auto it = holders_.begin(); it != holders_.end();) {
        if (!process_dead(*it)) {
            ++it;
            continue;
        }
        PeerHeader h;
        h.kind = PeerKind::process_gone;
        h.origin_pid = *it;
        for (uint32_t node = 0; node < num_nodes_; ++node)
            if (node != self_ && !lost_[node])
                send_peer(node, h, {}, {});
        it = holders_.erase(it);
    }
}

void Gateway::on_message(const dragon_transport_message &m)
{
    if (m.peer < num_nodes_)
        last_heard_ns_[m.peer] = Deadline::now_ns();
    std::string descriptor, why;
    auto h = parse_peer_header(m.header, m.header_len, descriptor, why);
    if (!h) {
        log::warning("gateway: ", why, " from ", describe_(m.peer), "; ignored");
        if (!m.payload && m.payload_len) { // discarded; the completion still fires
            placements_.emplace_back();
            Placement *raw = &placements_.back();
            raw->completion = std::make_unique<TransportCompletion>(
                [raw](dragon_status, const std::string &) { raw->done = true; });
            endpoint_.receive_into(m.token, nullptr, 0, *raw->completion);
        }
        return;
    }
    if (m.payload || m.payload_len == 0) {
        Payload p;
        p.bytes.assign(static_cast<const char *>(m.payload), m.payload_len);
        deliver(m.peer, *h, descriptor, std::move(p));
        return;
    }
    // A large payload: placed straight into a pool block when it is a message for a
    // channel here (the channel then takes the block itself), else into memory.
    placements_.emplace_back();
    Placement &pl = placements_.back();
    pl.header = *h;
    pl.descriptor = descriptor;
    pl.from = m.peer;
    void *dest = nullptr;
    // A message for a channel here, or one received for a process here (which takes
    // the block itself).
    if ((h->kind == PeerKind::request && h->op == GatewayOp::send) ||
        (h->kind == PeerKind::reply && h->text_len == 0 && forwarded_.count(h->id)))
        pl.payload.block = pool_->try_allocate(m.payload_len);
    if (pl.payload.block) {
        pl.payload.block_len = m.payload_len;
        dest = pl.payload.block;
    } else {
        pl.payload.bytes.resize(m.payload_len);
        dest = pl.payload.bytes.data();
    }
    Placement *raw = &pl;
    pl.completion = std::make_unique<TransportCompletion>(
        [this, raw](dragon_status status, const std::string &) {
            raw->done = true;
            if (status == DRAGON_OK && !stopping_) {
                deliver(raw->from, raw->header, raw->descriptor, std::move(raw->payload));
            } else if (raw->payload.block) {
                pool_->free(raw->payload.block);
            }
            raw->payload = {};
        });
    endpoint_.receive_into(m.token, dest, m.payload_len, *pl.completion);
}

void Gateway::deliver(uint32_t from, const PeerHeader &h, const std::string &descriptor,
                      Payload payload)
{
    switch (h.kind) {
    case PeerKind::request:
        if (h.op == GatewayOp::start) {
            starts_.start(from, h.id, std::move(payload.bytes));
        } else if (h.op == GatewayOp::signal) {
            std::string why;
            bool ok = starts_.signal(from, pid_t(std::stol(descriptor.empty() ? "0" : descriptor)),
                                     int(h.value), why);
            GatewayReply r;
            r.id = h.id;
            r.status = ok ? DRAGON_OK : DRAGON_ERR_NOT_FOUND;
            r.text = why;
            answer_request(from, r, {});
        } else {
            service_.request(from, h.origin_pid, h.id, h.op, h.value, descriptor,
                             std::move(payload));
        }
        return;
    case PeerKind::reply:
    case PeerKind::exited: on_reply(from, h, std::move(payload)); return;
    case PeerKind::cancel:
        service_.cancel(from, h.id);
        starts_.parent_gone(from, h.id);
        return;
    case PeerKind::process_gone: service_.process_gone(from, h.origin_pid); return;
    case PeerKind::heartbeat: return; // on_message noted it
    }
    log::warning("gateway: unknown message kind ", int(h.kind), " from ", describe_(from));
}

void Gateway::on_reply(uint32_t from, const PeerHeader &h, Payload payload)
{
    auto it = forwarded_.find(h.id);
    if (it == forwarded_.end() || it->second.node != from) {
        drop_block(payload);
        return; // its process went away meanwhile
    }
    Forwarded &f = it->second;
    if (payload.block) { // the process takes the block itself
        std::string ref(16, '\0');
        uint64_t handle = pool_->handle_of(payload.block), len = payload.block_len;
        std::memcpy(ref.data(), &handle, 8);
        std::memcpy(ref.data() + 8, &len, 8);
        payload.block = nullptr;
        reply_to_client(f.client_fd, f.client_id, h.status, h.value, {}, std::move(ref),
                        payload_is_block);
        forwarded_.erase(it);
        return;
    }
    std::string &bytes = payload.bytes;
    size_t text_len = std::min<size_t>(h.text_len, bytes.size());
    std::string text = bytes.substr(0, text_len);
    bytes.erase(0, text_len);
    if (h.kind == PeerKind::exited) {
        reply_to_client(f.client_fd, f.client_id, DRAGON_OK, h.value, {});
        close_fd(f.sentinel); // the parent's sentinel turns readable
        forwarded_.erase(it);
        return;
    }
    reply_to_client(f.client_fd, f.client_id, h.status, h.value, std::move(text), std::move(bytes));
    if (f.op == GatewayOp::start && h.status == DRAGON_OK)
        return; // started: its exit comes later
    close_fd(f.sentinel);
    forwarded_.erase(it);
}

void Gateway::answer_request(uint32_t node, const GatewayReply &reply, Payload payload)
{
    if (reply.id & lane_id_bit)
        return answer_lane(reply, std::move(payload));
    PeerHeader h;
    h.kind = PeerKind::reply;
    h.id = reply.id;
    h.status = reply.status;
    h.value = reply.value;
    h.text_len = uint32_t(reply.text.size());
    if (!reply.payload.empty())
        payload.bytes = reply.payload;
    send_peer(node, h, {}, std::move(payload), reply.text);
}

void Gateway::on_peer_lost(uint32_t node, const std::string &reason)
{
    if (node >= num_nodes_ || lost_[node])
        return;
    lost_[node] = true;
    lost_reason_[node] = reason;
    const std::string why = describe_(node) + " was lost: " + reason;
    for (auto it = forwarded_.begin(); it != forwarded_.end();) {
        if (it->second.node != node) {
            ++it;
            continue;
        }
        reply_to_client(it->second.client_fd, it->second.client_id, DRAGON_ERR_PEER_LOST, 0, why);
        close_fd(it->second.sentinel);
        it = forwarded_.erase(it);
    }
    service_.node_gone(node);
    std::erase_if(lane_requests_, [node](const auto &r) { return r.second.node == node; });
    starts_.node_gone(node);
}

} // namespace dragon::node
