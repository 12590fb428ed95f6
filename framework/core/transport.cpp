#include "core/transport.hpp"

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/random_bytes.hpp"
#include "dataplane/spin_phase.hpp"

#include <cstring>
#include <poll.h>

namespace dragon {

TransportCompletion::TransportCompletion(
    std::function<void(dragon_status, const std::string &)> then)
    : then_(std::move(then))
{
    fn = &TransportCompletion::fire;
    arg = this;
}

void TransportCompletion::reset()
{
    done_ = false;
    status_ = DRAGON_OK;
    reason_.clear();
}

void TransportCompletion::fire(dragon_transport_completion *self, dragon_status status,
                               const char *reason)
{
    auto *c = static_cast<TransportCompletion *>(self->arg);
    c->status_ = status;
    c->reason_ = reason ? reason : "";
    c->done_ = true;
    if (c->then_)
        c->then_(status, c->reason_);
}

TransportPlugin::TransportPlugin(const Plugin &plugin) : plugin_(&plugin)
{
    if (plugin.kind() != DRAGON_PLUGIN_TRANSPORT)
        throw Error(DRAGON_ERR_INVALID, "plugin '" + plugin.name() + "' is not a transport plugin");
}

TransportPlugin TransportPlugin::selected()
{
    return TransportPlugin(*Registry::global().select(DRAGON_PLUGIN_TRANSPORT).plugin);
}

TransportPlugin TransportPlugin::named(const std::string &name)
{
    const Plugin *p = Registry::global().find(DRAGON_PLUGIN_TRANSPORT, name);
    if (!p)
        throw Error(DRAGON_ERR_NOT_FOUND, "no transport plugin named '" + name + "' was found");
    return TransportPlugin(*p);
}

namespace {

// C trampolines: the endpoint's handler is the callback argument.
void message_trampoline(void *arg, const dragon_transport_message *message)
{
    static_cast<TransportHandler *>(arg)->on_message(*message);
}

void peer_trampoline(void *arg, uint32_t peer, dragon_transport_peer_state state,
                     const char *reason)
{
    static_cast<TransportHandler *>(arg)->on_peer(peer, state, reason ? reason : "");
}

} // namespace

std::unique_ptr<TransportEndpoint> TransportPlugin::open(const TransportConfig &config,
                                                         TransportHandler &handler) const
{
    if (config.job_secret.size() < 16)
        throw Error(DRAGON_ERR_INVALID, "a transport needs a job secret of at least 16 bytes");
    std::unique_ptr<TransportEndpoint> ep(new TransportEndpoint(*plugin_, config.node_index));
    dragon_transport_config c{};
    c.struct_size = sizeof c;
    c.node_index = config.node_index;
    c.num_nodes = config.num_nodes;
    c.job_secret = config.job_secret.data();
    c.job_secret_len = config.job_secret.size();
    c.port = config.port;
    c.network_prefix = config.network_prefix.c_str();
    c.callback_arg = &handler;
    c.on_message = &message_trampoline;
    c.on_peer = &peer_trampoline;
    dragon_error err{};
    check_plugin_status(ep->ops().open(plugin_->host(), &c, &ep->ep_, &err), err,
                        "transport " + name() + " cannot open an endpoint on node " +
                            std::to_string(config.node_index));
    ep->caps_.struct_size = sizeof ep->caps_;
    ep->ops().query(ep->ep_, &ep->caps_);
    ep->fd_ = ep->ops().fd(ep->ep_);
    return ep;
}

TransportEndpoint::TransportEndpoint(const Plugin &plugin, uint32_t node_index)
    : plugin_(&plugin), node_index_(node_index),
      cancel_(plugin.optional_entry<decltype(dragon_transport_ops::cancel)>(
          offsetof(dragon_transport_ops, cancel)))
{
}

TransportEndpoint::~TransportEndpoint()
{
    try {
        close();
    } catch (const Error &e) {
        log::warning(e.what());
    }
}

std::string TransportEndpoint::what(const std::string &op) const
{
    return "transport " + plugin_name() + " on node " + std::to_string(node_index_) + ": " + op;
}

std::string TransportEndpoint::address()
{
    std::lock_guard lock(mutex_);
    std::string buf(DRAGON_TRANSPORT_ADDRESS_MAX, '\0');
    size_t len = buf.size();
    dragon_error err{};
    check_plugin_status(ops().address(ep_, buf.data(), &len, &err), err, what("address"));
    buf.resize(len);
    return buf;
}

void TransportEndpoint::connect(uint32_t peer, const std::string &address)
{
    std::lock_guard lock(mutex_);
    dragon_error err{};
    check_plugin_status(ops().connect(ep_, peer, address.data(), address.size(), &err), err,
                        what("cannot connect to node " + std::to_string(peer)));
}

dragon_status TransportEndpoint::send(uint32_t peer, const void *header, size_t header_len,
                                      std::span<const dragon_transport_iov> payload,
                                      TransportCompletion &completion)
{
    std::lock_guard lock(mutex_);
    dragon_error err{};
    dragon_status s = ops().send(ep_, peer, header, header_len, payload.data(), payload.size(),
                                 &completion, &err);
    if (s == DRAGON_OK || s == DRAGON_ERR_AGAIN || s == DRAGON_ERR_PEER_LOST)
        return s;
    check_plugin_status(s, err, what("cannot send to node " + std::to_string(peer)));
    return s;
}

void TransportEndpoint::receive_into(void *token, void *buffer, size_t len,
                                     TransportCompletion &completion)
{
    std::lock_guard lock(mutex_);
    dragon_error err{};
    dragon_status s = ops().receive_into(ep_, token, buffer, len, &completion, &err);
    if (s != DRAGON_OK) // the message is built only on failure: this is the hot path
        check_plugin_status(s, err, what("cannot place a payload"));
}

size_t TransportEndpoint::progress()
{
    std::lock_guard lock(mutex_);
    size_t events = 0;
    dragon_error err{};
    dragon_status s = ops().progress(ep_, &events, &err);
    if (s != DRAGON_OK)
        check_plugin_status(s, err, what("progress failed"));
    return events;
}

bool TransportEndpoint::arm()
{
    std::lock_guard lock(mutex_);
    dragon_error err{};
    dragon_status s = ops().arm(ep_, &err);
    if (s == DRAGON_ERR_AGAIN)
        return false;
    if (s != DRAGON_OK)
        check_plugin_status(s, err, what("arm failed"));
    return true;
}

bool TransportEndpoint::wait(const Deadline &deadline)
{
    if (!arm())
        return true;
    // Slices of at most a second keep a caller's deadline honest even if a plugin's fd
    // misbehaves; the lock is not held while asleep.
    int64_t ms = std::min<int64_t>(deadline.remaining_ns() / 1'000'000 + 1, 1000);
    if (deadline.expired())
        return false;
    pollfd p{fd_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(ms));
    return n > 0;
}

bool TransportEndpoint::progress_until(const std::function<bool()> &done, const Deadline &deadline)
{
    // An answer is often microseconds away: look again for a while before paying for a
    // sleep and a wake-up, as the data plane's waits do, and only while a CPU is to spare
    // (on busy cores looking steals the peer's CPU: sleep at once).
    SpinPhase phase;
    while (true) {
        size_t events = progress();
        if (done())
            return true;
        if (deadline.expired())
            return false;
        if (events > 0) {
            phase.restart();
            continue;
        }
        if (phase.keep_polling())
            continue;
        phase.restart();
        wait(deadline);
    }
}

dragon_status TransportEndpoint::cancel(TransportCompletion &completion)
{
    if (!cancel_)
        return DRAGON_ERR_UNAVAILABLE;
    std::lock_guard lock(mutex_);
    dragon_error err{};
    dragon_status s = cancel_(ep_, &completion, &err);
    if (s == DRAGON_OK || s == DRAGON_ERR_AGAIN || s == DRAGON_ERR_NOT_FOUND)
        return s;
    check_plugin_status(s, err, what("cancel failed"));
    return s;
}

void TransportEndpoint::adopt(std::unique_ptr<TransportCompletion> pending)
{
    std::lock_guard lock(mutex_);
    std::erase_if(adopted_, [](const auto &c) { return c->done(); });
    adopted_.push_back(std::move(pending));
}

void TransportEndpoint::close(std::chrono::nanoseconds timeout)
{
    std::lock_guard lock(mutex_);
    if (!ep_)
        return;
    dragon_error err{};
    dragon_transport_endpoint *ep = ep_;
    ep_ = nullptr; // freed by the plugin whatever close returns
    dragon_status s = ops().close(ep, timeout.count(), &err);
    adopted_.clear(); // every completion has fired
    check_plugin_status(s, err, what("close"));
}

void PeerTable::update(uint32_t peer, dragon_transport_peer_state state, const std::string &reason)
{
    if (peer >= states_.size())
        return;
    states_[peer] = state;
    reasons_[peer] = reason;
}

void connect_all(TransportEndpoint &ep, const std::vector<std::string> &addresses,
                 const PeerTable &peers, const Deadline &deadline)
{
    const uint32_t self = ep.node_index();
    for (uint32_t peer = 0; peer < addresses.size(); ++peer)
        if (peer != self)
            ep.connect(peer, addresses[peer]);
    auto settled = [&] {
        for (uint32_t peer = 0; peer < addresses.size(); ++peer)
            if (peer != self && peers.state(peer) != DRAGON_TRANSPORT_PEER_CONNECTED)
                return peers.state(peer) == DRAGON_TRANSPORT_PEER_LOST ||
                       peers.state(peer) == DRAGON_TRANSPORT_PEER_CLOSED;
        return true;
    };
    ep.progress_until(settled, deadline);
    std::string missing;
    for (uint32_t peer = 0; peer < addresses.size(); ++peer) {
        if (peer == self)
            continue;
        if (peers.state(peer) == DRAGON_TRANSPORT_PEER_LOST ||
            peers.state(peer) == DRAGON_TRANSPORT_PEER_CLOSED)
            throw Error(DRAGON_ERR_PEER_LOST, "node " + std::to_string(self) +
                                                  " cannot reach node " + std::to_string(peer) +
                                                  " over transport " + ep.plugin_name() + ": " +
                                                  peers.reason(peer));
        if (peers.state(peer) != DRAGON_TRANSPORT_PEER_CONNECTED)
            missing += (missing.empty() ? "" : ", ") + std::to_string(peer);
    }
    if (!missing.empty())
        throw Error(DRAGON_ERR_TIMEOUT,
                    "node " + std::to_string(self) + " timed out connecting over transport " +
                        ep.plugin_name() + ": node(s) " + missing +
                        " never connected (not started, unreachable at the published address, "
                        "or refused our job secret)");
}

dragon_status send_and_wait(TransportEndpoint &ep, uint32_t peer, const void *header,
                            size_t header_len, std::span<const dragon_transport_iov> payload,
                            const Deadline &deadline, std::string *reason)
{
    auto done = std::make_unique<TransportCompletion>();
    while (true) {
        dragon_status s = ep.send(peer, header, header_len, payload, *done);
        if (s == DRAGON_OK)
            break;
        if (s != DRAGON_ERR_AGAIN) {
            if (reason)
                *reason = status_name(s);
            return s;
        }
        ep.progress();
        if (deadline.expired()) {
            if (reason)
                *reason = "no room to send before the deadline";
            return DRAGON_ERR_TIMEOUT;
        }
        ep.wait(deadline);
    }
    TransportCompletion &c = *done;
    if (ep.progress_until([&] { return c.done(); }, deadline)) {
        if (reason)
            *reason = c.reason();
        return c.status();
    }
    if (reason)
        *reason = "the send did not complete before the deadline";
    // Withdraw it if the plugin can; if it cannot, the message may still leave, and the
    // endpoint keeps the completion until it fires (at the latest in close()).
    if (ep.cancel(c) == DRAGON_OK)
        ep.progress_until([&] { return c.done(); }, Deadline(std::chrono::seconds(1)));
    if (!c.done())
        ep.adopt(std::move(done));
    return DRAGON_ERR_TIMEOUT;
}

std::string make_job_secret()
{
    return random_bytes(32);
}

} // namespace dragon
