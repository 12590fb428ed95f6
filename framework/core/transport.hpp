// C++ face of the transport plugins (dragon/transport.h): a selected plugin, RAII
// endpoints whose calls are serialized as the contract promises plugins, completions
// a caller can wait on, and the blocking helpers (connect every peer, send with a
// deadline) that dragon-node, the conformance suite and the benchmarks share.
#pragma once

#include "core/registry.hpp"
#include "dataplane/deadline.hpp"

#include <dragon/transport.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace dragon {

struct TransportConfig {
    uint32_t node_index = 0;
    uint32_t num_nodes = 1;
    std::string job_secret; // raw bytes, at least 16
    uint16_t port = 0;      // 0: ephemeral
    std::string network_prefix;
};

// What the framework does with what an endpoint delivers. Runs inside progress()/close()
// with the endpoint's lock held: it may call send() and receive_into() on it.
class TransportHandler {
public:
    virtual ~TransportHandler() = default;
    virtual void on_message(const dragon_transport_message &message) = 0;
    virtual void on_peer(uint32_t peer, dragon_transport_peer_state state,
                         const std::string &reason) = 0;
};

// A pending send or placement. Must outlive the operation (until done()).
class TransportCompletion : public dragon_transport_completion {
public:
    // `then`, if given, runs when the operation completes (inside progress()/close()).
    explicit TransportCompletion(std::function<void(dragon_status, const std::string &)> then = {});
    TransportCompletion(const TransportCompletion &) = delete;
    TransportCompletion &operator=(const TransportCompletion &) = delete;

    bool done() const { return done_; }
    dragon_status status() const { return status_; }
    const std::string &reason() const { return reason_; }
    // Ready for another operation (only once done()).
    void reset();

private:
    static void fire(dragon_transport_completion *self, dragon_status status, const char *reason);
    std::function<void(dragon_status, const std::string &)> then_;
    bool done_ = false;
    dragon_status status_ = DRAGON_OK;
    std::string reason_;
};

class TransportEndpoint;

class TransportPlugin {
public:
    explicit TransportPlugin(const Plugin &plugin);
    // The plugin DRAGON_TRANSPORT_AGENT selects in the global registry. Throws dragon::Error.
    static TransportPlugin selected();
    // A plugin by name from the global registry, even if it would not be selected.
    static TransportPlugin named(const std::string &name);

    const std::string &name() const { return plugin_->name(); }
    const Plugin &plugin() const { return *plugin_; }

    // Opens an endpoint that reports to `handler` (which must outlive it). Throws.
    std::unique_ptr<TransportEndpoint> open(const TransportConfig &config,
                                            TransportHandler &handler) const;

private:
    const Plugin *plugin_;
};

class TransportEndpoint {
public:
    TransportEndpoint(const TransportEndpoint &) = delete;
    TransportEndpoint &operator=(const TransportEndpoint &) = delete;
    // Closes (up to 2 s) if close() was not called.
    ~TransportEndpoint();

    const std::string &plugin_name() const { return plugin_->name(); }
    uint32_t node_index() const { return node_index_; }
    const dragon_transport_caps &caps() const { return caps_; }
    bool has(uint32_t cap_flag) const { return (caps_.flags & cap_flag) != 0; }

    std::string address();
    // Starts connecting; the outcome is a peer event. Throws on bad input.
    void connect(uint32_t peer, const std::string &address);

    // DRAGON_OK (accepted: `completion` will fire), DRAGON_ERR_AGAIN or
    // DRAGON_ERR_PEER_LOST (nothing taken). Throws on anything else (bad input).
    dragon_status send(uint32_t peer, const void *header, size_t header_len,
                       std::span<const dragon_transport_iov> payload,
                       TransportCompletion &completion);
    // Inside on_message only. buffer == nullptr discards.
    void receive_into(void *token, void *buffer, size_t len, TransportCompletion &completion);

    // Runs pending work and callbacks; returns how many ran. Throws if the endpoint broke.
    size_t progress();
    // Sleeps until progress() has work or the deadline passes; false on timeout. Does
    // not hold the endpoint's lock while asleep, so other threads may send meanwhile.
    bool wait(const Deadline &deadline);
    // progress() and wait() until `done()` holds or the deadline passes; returns done().
    bool progress_until(const std::function<bool()> &done, const Deadline &deadline);

    int fd() const { return fd_; }
    // True: armed, nothing pending, safe to sleep on fd(). False: call progress() first.
    bool arm();

    // Whether the plugin offers cancel (an optional entry).
    bool can_cancel() const { return cancel_ != nullptr; }
    // DRAGON_OK, DRAGON_ERR_AGAIN (already on the wire), DRAGON_ERR_NOT_FOUND; or
    // DRAGON_ERR_UNAVAILABLE when the plugin has no cancel.
    dragon_status cancel(TransportCompletion &completion);

    // Keeps a completion of an operation the caller gave up on (a send that timed out and
    // cannot be canceled) until it fires or the endpoint closes.
    void adopt(std::unique_ptr<TransportCompletion> pending);

    // Orderly close; idempotent. Pending completions fire before it returns.
    void close(std::chrono::nanoseconds timeout = std::chrono::seconds(2));
    bool closed() const { return ep_ == nullptr; }

private:
    friend class TransportPlugin;
    TransportEndpoint(const Plugin &plugin, uint32_t node_index);
    const dragon_transport_ops &ops() const { return plugin_->ops<dragon_transport_ops>(); }
    std::string what(const std::string &op) const;

    const Plugin *plugin_;
    uint32_t node_index_;
    dragon_transport_endpoint *ep_ = nullptr;
    dragon_transport_caps caps_{};
    int fd_ = -1;
    decltype(dragon_transport_ops::cancel) cancel_ = nullptr;
    std::vector<std::unique_ptr<TransportCompletion>> adopted_;
    std::recursive_mutex mutex_;
};

// Peer states as a handler saw them: a handler keeps one and feeds on_peer into it.
class PeerTable {
public:
    explicit PeerTable(uint32_t num_nodes) : states_(num_nodes), reasons_(num_nodes) {}
    void update(uint32_t peer, dragon_transport_peer_state state, const std::string &reason);
    // 0 until the first event for that peer.
    int state(uint32_t peer) const { return peer < states_.size() ? states_[peer] : 0; }
    const std::string &reason(uint32_t peer) const { return reasons_.at(peer); }
    uint32_t size() const { return static_cast<uint32_t>(states_.size()); }

private:
    std::vector<int> states_;
    std::vector<std::string> reasons_;
};

// Calls connect() for every peer in `addresses` (indexed by node; this node's entry is
// skipped) and progresses until each is CONNECTED in `peers` (which the endpoint's
// handler updates). Throws dragon::Error naming every node that did not connect by the
// deadline, or the first one lost, with the plugin's reason.
void connect_all(TransportEndpoint &ep, const std::vector<std::string> &addresses,
                 const PeerTable &peers, const Deadline &deadline);

// Sends and waits for the completion, retrying DRAGON_ERR_AGAIN, up to the deadline.
// Returns the completion's status, or DRAGON_ERR_TIMEOUT (the message was not taken, or
// was withdrawn with cancel; if the plugin cannot cancel, it may still leave later, and
// the payload buffers must then stay valid until the endpoint is closed).
dragon_status send_and_wait(TransportEndpoint &ep, uint32_t peer, const void *header,
                            size_t header_len, std::span<const dragon_transport_iov> payload,
                            const Deadline &deadline, std::string *reason = nullptr);

// A 32-byte job secret from the kernel's random source.
std::string make_job_secret();

} // namespace dragon
