#include "hsta_endpoint.hpp"

#include "hsta_proof.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace hsta {

namespace {

// How long close() waits for peers to answer BYE when its own deadline is shorter.
constexpr int64_t kByeGraceNs = 1'000'000'000;

void set_error(dragon_error *err, const std::string &text)
{
    if (err)
        std::snprintf(err->message, sizeof err->message, "%s", text.c_str());
}

int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string node(uint32_t i)
{
    return "node " + std::to_string(i);
}

} // namespace

// ---------------------------------------------------------------- open and close

dragon_status Endpoint::open(const dragon_host *host, const dragon_transport_config *config,
                             Endpoint **out, dragon_error *err)
{
    if (!host || host->struct_size < offsetof(dragon_host, hmac_sha256) + sizeof(void *) ||
        !host->hmac_sha256) {
        set_error(err, "hsta needs the framework's hmac_sha256 service (plugin ABI 1.1 or later)");
        return DRAGON_ERR_UNAVAILABLE;
    }
    if (!config || !out || config->num_nodes == 0 || config->node_index >= config->num_nodes) {
        set_error(err,
                  "hsta: bad endpoint configuration (node index must be below the node count)");
        return DRAGON_ERR_INVALID;
    }
    if (!config->job_secret || config->job_secret_len < 16) {
        set_error(err, "hsta: the job secret must be at least 16 bytes");
        return DRAGON_ERR_INVALID;
    }
    if (!config->on_message || !config->on_peer) {
        set_error(err, "hsta: on_message and on_peer callbacks are required");
        return DRAGON_ERR_INVALID;
    }
    auto *ep = new (std::nothrow) Endpoint();
    if (!ep) {
        set_error(err, "hsta: out of memory");
        return DRAGON_ERR_NO_MEMORY;
    }
    std::string error;
    bool ok = false;
    try {
        ok = ep->init(host, config, error);
    } catch (const std::exception &e) {
        error = std::string("hsta: ") + e.what();
    }
    if (!ok) {
        set_error(err, error);
        delete ep;
        bool invalid = error.find("network prefix") != std::string::npos;
        return invalid ? DRAGON_ERR_INVALID : DRAGON_ERR_UNAVAILABLE;
    }
    *out = ep;
    return DRAGON_OK;
}

bool Endpoint::init(const dragon_host *host, const dragon_transport_config *config,
                    std::string &error)
{
    host_ = host;
    size_t n = std::min<size_t>(config->struct_size, sizeof config_);
    std::memcpy(&config_, config, n);
    config_.network_prefix = nullptr; // not needed after init, and not ours to keep
    secret_.assign(static_cast<const char *>(config->job_secret), config->job_secret_len);
    config_.job_secret = nullptr;

    if (const char *v = host->param ? host->param(host->ctx, "max_outstanding") : nullptr) {
        long m = std::atol(v);
        if (m < 1) {
            error =
                "hsta: max_outstanding must be at least 1 (DRAGON_TRANSPORT_HSTA_MAX_OUTSTANDING)";
            return false;
        }
        options_.max_outstanding = static_cast<uint32_t>(m);
    }
    if (const char *v = host->param ? host->param(host->ctx, "eager_threshold") : nullptr) {
        // The framework validated the text; only the suffix (powers of 1024) is left to read.
        char *end = nullptr;
        unsigned long long n = std::strtoull(v, &end, 10);
        const char *units = "KMGT";
        if (end && *end)
            if (const char *u = std::strchr(units, *end & ~0x20))
                n <<= 10 * (u - units + 1);
        options_.eager_threshold = n;
    }

    Settings settings;
    if (!choose_settings(host, config->network_prefix, config->num_nodes, settings, error))
        return false;
    if (make_context(settings, &context_, error) != UCS_OK)
        return false;

    ucp_worker_params_t wp{};
    wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    wp.thread_mode = UCS_THREAD_MODE_SINGLE; // the framework serializes calls per endpoint
    ucs_status_t s = ucp_worker_create(context_, &wp, &worker_);
    if (s != UCS_OK) {
        error = std::string("hsta: UCX cannot create a worker: ") + ucs_status_string(s);
        return false;
    }
    ucp_worker_attr_t attr{};
    attr.field_mask = UCP_WORKER_ATTR_FIELD_MAX_AM_HEADER;
    if (ucp_worker_query(worker_, &attr) != UCS_OK ||
        attr.max_am_header < kDataPrefix + DRAGON_TRANSPORT_HEADER_MAX) {
        error = "hsta: UCX's active messages carry headers of " +
                std::to_string(attr.max_am_header) + " bytes, fewer than the " +
                std::to_string(kDataPrefix + DRAGON_TRANSPORT_HEADER_MAX) + " hsta needs";
        return false;
    }
    max_am_header_ = attr.max_am_header;

    ucp_address_t *addr = nullptr;
    size_t addr_len = 0;
    s = ucp_worker_get_address(worker_, &addr, &addr_len);
    if (s != UCS_OK) {
        error = std::string("hsta: UCX cannot give the worker's address: ") + ucs_status_string(s);
        return false;
    }
    address_.assign(reinterpret_cast<unsigned char *>(addr),
                    reinterpret_cast<unsigned char *>(addr) + addr_len);
    ucp_worker_release_address(worker_, addr);
    if (address_.size() > DRAGON_TRANSPORT_ADDRESS_MAX) {
        error = "hsta: the UCX worker address (" + std::to_string(address_.size()) +
                " bytes) exceeds DRAGON_TRANSPORT_ADDRESS_MAX: restrict UCX_TLS";
        return false;
    }

    for (unsigned id : {AM_DATA, AM_CONTROL}) {
        ucp_am_handler_param_t hp{};
        hp.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                        UCP_AM_HANDLER_PARAM_FIELD_ARG | UCP_AM_HANDLER_PARAM_FIELD_FLAGS;
        hp.id = id;
        hp.cb = id == AM_DATA ? &Endpoint::on_data : &Endpoint::on_control;
        hp.arg = this;
        hp.flags = UCP_AM_FLAG_WHOLE_MSG;
        s = ucp_worker_set_am_recv_handler(worker_, &hp);
        if (s != UCS_OK) {
            error =
                std::string("hsta: UCX refused an active-message handler: ") + ucs_status_string(s);
            return false;
        }
    }

    s = ucp_worker_get_efd(worker_, &worker_fd_);
    if (s != UCS_OK) {
        error = std::string("hsta: UCX gives no event descriptor for its worker: ") +
                ucs_status_string(s);
        return false;
    }
    event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (event_fd_ < 0 || epoll_fd_ < 0) {
        error = std::string("hsta: cannot create its event descriptors: ") + std::strerror(errno);
        return false;
    }
    for (int f : {worker_fd_, event_fd_}) {
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.fd = f;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, f, &e) != 0) {
            error = std::string("hsta: epoll_ctl failed: ") + std::strerror(errno);
            return false;
        }
    }

    peers_.resize(config_.num_nodes);
    for (uint32_t i = 0; i < config_.num_nodes; ++i) {
        peers_[i].owner = this;
        peers_[i].index = i;
    }
    return true;
}

Endpoint::~Endpoint()
{
    dead_ = true;
    for (Peer &p : peers_)
        if (p.ep)
            close_ep(p);
    if (worker_)
        ucp_worker_destroy(worker_);
    if (context_)
        ucp_cleanup(context_);
    if (epoll_fd_ >= 0)
        ::close(epoll_fd_);
    if (event_fd_ >= 0)
        ::close(event_fd_);
    std::fill(secret_.begin(), secret_.end(), '\0');
}

dragon_status Endpoint::close(int64_t timeout_ns, dragon_error *err)
{
    const int64_t start = now_ns();
    const int64_t deadline = timeout_ns < 0 ? INT64_MAX : start + timeout_ns;
    in_callbacks_ = true;
    run_deferred();
    // Tell every connected peer, after everything already sent to it; sends still
    // waiting for a handshake never leave.
    for (Peer &p : peers_) {
        while (!p.waiting.empty()) {
            Op *op = p.waiting.front();
            p.waiting.pop_front();
            finish(op, DRAGON_ERR_CANCELED, "the endpoint closed before the peer connected");
        }
        if (p.state == Peer::CONNECTED) {
            send_control(p, BYE, nullptr, 0);
            p.bye_sent = true;
        }
    }
    auto pending_to = [&](const Peer &p) {
        if (!p.ep)
            return false;
        for (const Op &op : ops_)
            if (op.peer == p.index && (!op.fired || op.request))
                return true;
        return false;
    };
    auto any_pending = [&] {
        for (const Peer &p : peers_)
            if (pending_to(p))
                return true;
        return false;
    };
    auto turn = [&] {
        progress_ucx();
        handle_failures();
        run_deferred();
    };
    // A peer that has not yet answered our BYE may still hold unread messages that
    // completed OK here: tearing the UCP endpoint down now could lose them (UCX fails the
    // whole endpoint on the first closed lane, discarding what the others still carry).
    auto unacknowledged = [&] {
        for (const Peer &p : peers_)
            if (p.bye_sent && !p.bye_acked && p.state == Peer::CONNECTED && p.ep)
                return true;
        return false;
    };
    // 1. What was accepted toward live peers leaves (the BYE last) and is acknowledged.
    while ((any_pending() || unacknowledged()) && now_ns() < deadline)
        turn();
    const bool flushed = !any_pending();
    // What already completed OK must arrive even when the deadline is short: the peers'
    // answers to BYE are awaited up to kByeGrace (a peer that stopped reading cannot
    // answer; its endpoint is then torn down).
    const int64_t grace = std::max(deadline, start + kByeGraceNs);
    while (unacknowledged() && now_ns() < grace)
        turn();
    // 2. UCP endpoints close forcibly: what was accepted has left (or the deadline passed,
    //    and the rest is canceled). UCX 1.13 cannot withdraw a flush-mode close once
    //    started, and destroying a worker with one running aborts the process.
    for (Peer &p : peers_)
        if (p.ep)
            close_ep(p);
    // 3. What never completed is canceled; no callback runs after this.
    std::vector<Op *> left;
    for (Op &op : ops_)
        if (!op.fired && op.kind != Op::CONTROL)
            left.push_back(&op);
    for (Op *op : left)
        finish(op, DRAGON_ERR_CANCELED, "the endpoint closed before the operation completed");
    run_deferred();
    in_callbacks_ = false;
    dead_ = true; // the function table deletes the endpoint after close returns
    if (!flushed) {
        set_error(err, "hsta: close timed out before everything was flushed to the peers; the "
                       "rest was canceled");
        return DRAGON_ERR_TIMEOUT;
    }
    return DRAGON_OK;
}

// ---------------------------------------------------------------- small queries

void Endpoint::query(dragon_transport_caps *caps) const
{
    dragon_transport_caps c{};
    c.struct_size = caps->struct_size;
    c.flags = DRAGON_TRANSPORT_CAP_ORDERED | DRAGON_TRANSPORT_CAP_DIRECT_PLACEMENT |
              DRAGON_TRANSPORT_CAP_PEER_FAILURE;
    // UCP active messages have no size limit of their own (rendezvous moves any size);
    // a bound keeps the framework's arithmetic sane.
    c.max_message = uint64_t{1} << 40;
    c.eager_threshold = options_.eager_threshold;
    c.max_iov = kMaxIov;
    c.max_header = DRAGON_TRANSPORT_HEADER_MAX;
    std::memcpy(caps, &c, std::min<size_t>(caps->struct_size, sizeof c));
}

dragon_status Endpoint::address(void *buf, size_t *len, dragon_error *err) const
{
    if (!buf || !len || *len < address_.size()) {
        set_error(err, "hsta: the address buffer is too small (need " +
                           std::to_string(address_.size()) + " bytes)");
        return DRAGON_ERR_INVALID;
    }
    std::memcpy(buf, address_.data(), address_.size());
    *len = address_.size();
    return DRAGON_OK;
}

void Endpoint::log(dragon_log_level level, const std::string &message) const
{
    if (host_ && host_->log)
        host_->log(host_->ctx, level, message.c_str());
}

// ---------------------------------------------------------------- deferred callbacks

void Endpoint::wake()
{
    // Only a caller that armed may be asleep on fd(); one that did not will call arm()
    // first, which sees the queued work. So the eventfd costs no system call per send in
    // a busy loop, or in a send made between progress() and arm().
    if (woken_ || !armed_)
        return;
    uint64_t one = 1;
    if (::write(event_fd_, &one, sizeof one) == sizeof one)
        woken_ = true;
}

void Endpoint::fire_completion(dragon_transport_completion *c, dragon_status s, const char *reason)
{
    if (!c || dead_)
        return;
    if (in_callbacks_ && !in_call_ && deferred_.empty()) {
        ++events_;
        c->fn(c, s, reason ? reason : "");
        return;
    }
    Deferred d;
    d.completion = c;
    d.status = s;
    d.reason = reason ? reason : "";
    deferred_.push_back(std::move(d));
    wake();
}

void Endpoint::report_peer(uint32_t peer, dragon_transport_peer_state state,
                           const std::string &reason)
{
    if (dead_)
        return;
    if (in_callbacks_ && !in_call_ && deferred_.empty()) {
        ++events_;
        config_.on_peer(config_.callback_arg, peer, state, reason.c_str());
        return;
    }
    Deferred d;
    d.peer = peer;
    d.state = state;
    d.reason = reason;
    deferred_.push_back(std::move(d));
    wake();
}

void Endpoint::run_deferred()
{
    while (!deferred_.empty() && !dead_) {
        Deferred d = std::move(deferred_.front());
        deferred_.pop_front();
        ++events_;
        if (d.completion)
            d.completion->fn(d.completion, d.status, d.reason.c_str());
        else
            config_.on_peer(config_.callback_arg, d.peer, d.state, d.reason.c_str());
    }
}

// ---------------------------------------------------------------- operations

Op *Endpoint::new_op(Op::Kind kind, uint32_t peer)
{
    ops_.emplace_back();
    Op *op = &ops_.back();
    op->self = std::prev(ops_.end());
    op->kind = kind;
    op->owner = this;
    op->peer = peer;
    return op;
}

void Endpoint::release(Op *op)
{
    if (op->fired && !op->request)
        ops_.erase(op->self);
}

void Endpoint::finish(Op *op, dragon_status status, const char *reason)
{
    if (!op->fired) {
        op->fired = true;
        if (op->kind == Op::SEND && op->peer < peers_.size())
            --peers_[op->peer].outstanding;
        if (op->kind != Op::CONTROL)
            fire_completion(op->completion, status, reason);
    }
    release(op);
}

dragon_status Endpoint::connect(uint32_t peer, const void *address, size_t len, dragon_error *err)
{
    InCall guard(in_call_);
    if (peer >= peers_.size() || peer == config_.node_index) {
        set_error(err, "hsta: cannot connect to node " + std::to_string(peer) + " (this is node " +
                           std::to_string(config_.node_index) + " of " +
                           std::to_string(config_.num_nodes) + ")");
        return DRAGON_ERR_INVALID;
    }
    if (!address || len == 0 || len > DRAGON_TRANSPORT_ADDRESS_MAX) {
        set_error(err, "hsta: empty or oversized address for " + node(peer));
        return DRAGON_ERR_INVALID;
    }
    Peer &p = peers_[peer];
    if (p.connect_called) {
        set_error(err, "hsta: connect() was already called for " + node(peer));
        return DRAGON_ERR_INVALID;
    }
    p.connect_called = true;
    if (p.state == Peer::LOST || p.state == Peer::CLOSED)
        return DRAGON_OK; // already reported
    p.state = Peer::HANDSHAKE;

    ucp_ep_params_t ep_params{};
    ep_params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS |
                           UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
    ep_params.address = static_cast<const ucp_address_t *>(address);
    ep_params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
    ep_params.err_handler.cb = &Endpoint::on_ep_error;
    ep_params.err_handler.arg = &p;
    ucs_status_t s = ucp_ep_create(worker_, &ep_params, &p.ep);
    if (s != UCS_OK) {
        p.ep = nullptr;
        lose_peer(p, std::string("UCX cannot reach it at its published address: ") +
                         ucs_status_string(s) +
                         " (check UCX_TLS / UCX_NET_DEVICES and --network-prefix)");
        return DRAGON_OK;
    }
    if (p.have_their_nonce && p.hello_ep != p.ep)
        p.have_their_nonce = false; // came on another endpoint: not from this peer
    make_nonce(p.my_nonce);
    send_control(p, HELLO, p.my_nonce, kNonceSize);
    if (p.have_their_nonce)
        send_proof(p);
    return DRAGON_OK;
}

dragon_status Endpoint::send(uint32_t peer, const void *header, size_t header_len,
                             const dragon_transport_iov *payload, size_t count,
                             dragon_transport_completion *completion, dragon_error *err)
{
    InCall guard(in_call_);
    if (peer >= peers_.size() || peer == config_.node_index) {
        set_error(err, "hsta: no peer " + std::to_string(peer) + " to send to (this is node " +
                           std::to_string(config_.node_index) + " of " +
                           std::to_string(config_.num_nodes) + ")");
        return DRAGON_ERR_INVALID;
    }
    if (header_len > DRAGON_TRANSPORT_HEADER_MAX || (header_len && !header) || count > kMaxIov ||
        (count && !payload) || !completion || !completion->fn) {
        set_error(err, "hsta: bad send (header up to " +
                           std::to_string(DRAGON_TRANSPORT_HEADER_MAX) + " bytes, up to " +
                           std::to_string(kMaxIov) + " payload pieces, and a completion)");
        return DRAGON_ERR_INVALID;
    }
    Peer &p = peers_[peer];
    if (p.state == Peer::LOST || p.state == Peer::CLOSED) {
        set_error(err, "hsta: " + node(peer) + " is lost or closed");
        return DRAGON_ERR_PEER_LOST;
    }
    if (p.outstanding >= options_.max_outstanding)
        return DRAGON_ERR_AGAIN;

    Op *op = new_op(Op::SEND, peer);
    op->completion = completion;
    op->am_id = AM_DATA;
    std::memcpy(op->header, &config_.node_index, kDataPrefix);
    if (header_len)
        std::memcpy(op->header + kDataPrefix, header, header_len);
    op->header_len = kDataPrefix + header_len;
    for (size_t i = 0; i < count; ++i) {
        if (payload[i].len == 0)
            continue;
        op->iov[op->iov_count].buffer = const_cast<void *>(payload[i].base);
        op->iov[op->iov_count].length = payload[i].len;
        op->payload_len += payload[i].len;
        ++op->iov_count;
    }
    ++p.outstanding;
    if (p.state != Peer::CONNECTED) {
        p.waiting.push_back(op);
        return DRAGON_OK;
    }
    dragon_status s = post(op);
    if (s != DRAGON_OK) {
        // Nothing was taken: undo, and let the framework hear of the loss from progress().
        op->fired = true;
        --p.outstanding;
        release(op);
        set_error(err, "hsta: " + node(peer) + " is lost");
    }
    return s;
}

dragon_status Endpoint::post(Op *op)
{
    Peer &p = peers_[op->peer];
    ucp_request_param_t rp{};
    rp.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                      UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FIELD_MEMORY_TYPE;
    rp.cb.send = &Endpoint::on_send_done;
    rp.user_data = op;
    rp.memory_type = UCS_MEMORY_TYPE_HOST;
    // REPLY carries the sender's endpoint, which the receiver checks against the peer
    // that proved the secret.
    rp.flags = UCP_AM_SEND_FLAG_REPLY;
    const void *buffer = nullptr;
    size_t count = 0;
    if (op->kind == Op::SEND) {
        if (op->payload_len <= options_.eager_threshold)
            rp.flags |= UCP_AM_SEND_FLAG_EAGER;
        if (op->iov_count == 1) {
            buffer = op->iov[0].buffer;
            count = op->iov[0].length;
        } else if (op->iov_count > 1) {
            rp.op_attr_mask |= UCP_OP_ATTR_FIELD_DATATYPE;
            rp.datatype = ucp_dt_make_iov();
            buffer = op->iov;
            count = op->iov_count;
        }
    } else {
        rp.flags |= UCP_AM_SEND_FLAG_EAGER;
    }
    ucs_status_ptr_t r =
        ucp_am_send_nbx(p.ep, op->am_id, op->header, op->header_len, buffer, count, &rp);
    op->posted = true;
    if (r == nullptr) {
        finish(op, DRAGON_OK, ""); // completes from the next progress() (or now, inside one)
        return DRAGON_OK;
    }
    if (UCS_PTR_IS_ERR(r)) {
        ucs_status_t s = UCS_PTR_STATUS(r);
        failed_.emplace_back(p.index, s);
        wake();
        return DRAGON_ERR_PEER_LOST;
    }
    op->request = r;
    return DRAGON_OK;
}

void Endpoint::on_send_done(void *request, ucs_status_t status, void *user_data)
{
    Op *op = static_cast<Op *>(user_data);
    Endpoint *self = op->owner;
    ucp_request_free(request);
    op->request = nullptr;
    if (status == UCS_OK) {
        self->finish(op, DRAGON_OK, "");
        return;
    }
    std::string why = node(op->peer) + " is lost: " + ucs_status_string(status);
    self->finish(op,
                 status == UCS_ERR_CANCELED && op->peer < self->peers_.size() &&
                         self->peers_[op->peer].state == Peer::CONNECTED
                     ? DRAGON_ERR_CANCELED
                     : DRAGON_ERR_PEER_LOST,
                 why.c_str());
}

dragon_status Endpoint::receive_into(void *token, void *buffer, size_t len,
                                     dragon_transport_completion *completion, dragon_error *err)
{
    InCall guard(in_call_);
    if (!token || token != current_token_ || !completion || !completion->fn) {
        set_error(err, "hsta: receive_into() takes the token of the message being delivered, "
                       "inside the message callback, and a completion");
        return DRAGON_ERR_INVALID;
    }
    current_token_ = nullptr; // one placement per message
    Op *op = new_op(Op::RECV, current_peer_);
    op->completion = completion;
    if (!buffer) { // discard: UCX drops the data when the callback returns
        finish(op, DRAGON_OK, "");
        return DRAGON_OK;
    }
    ucp_request_param_t rp{};
    rp.op_attr_mask =
        UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMORY_TYPE;
    rp.cb.recv_am = &Endpoint::on_recv_done;
    rp.user_data = op;
    rp.memory_type = UCS_MEMORY_TYPE_HOST;
    op->payload_len = len;
    ucs_status_ptr_t r = ucp_am_recv_data_nbx(worker_, token, buffer, len, &rp);
    op->posted = true;
    if (r == nullptr) {
        finish(op, DRAGON_OK, "");
    } else if (UCS_PTR_IS_ERR(r)) {
        finish(op, DRAGON_ERR_PEER_LOST,
               (std::string("UCX could not fetch the payload: ") +
                ucs_status_string(UCS_PTR_STATUS(r)))
                   .c_str());
    } else {
        op->request = r;
    }
    return DRAGON_OK;
}

void Endpoint::on_recv_done(void *request, ucs_status_t status, size_t, void *user_data)
{
    Op *op = static_cast<Op *>(user_data);
    ucp_request_free(request);
    op->request = nullptr;
    if (status == UCS_OK)
        op->owner->finish(op, DRAGON_OK, "");
    else
        op->owner->finish(op, DRAGON_ERR_PEER_LOST,
                          (node(op->peer) +
                           " was lost while its payload was fetched: " + ucs_status_string(status))
                              .c_str());
}

dragon_status Endpoint::cancel(dragon_transport_completion *completion, dragon_error *)
{
    InCall guard(in_call_);
    for (Peer &p : peers_) {
        auto it = std::find_if(p.waiting.begin(), p.waiting.end(),
                               [&](Op *op) { return op->completion == completion; });
        if (it != p.waiting.end()) {
            Op *op = *it;
            p.waiting.erase(it);
            finish(op, DRAGON_ERR_CANCELED, "canceled before it left");
            return DRAGON_OK;
        }
    }
    for (const Op &op : ops_)
        if (op.completion == completion && !op.fired)
            return DRAGON_ERR_AGAIN; // handed to UCX: it completes normally
    return DRAGON_ERR_NOT_FOUND;
}

// ---------------------------------------------------------------- progress and sleep

void Endpoint::progress_ucx()
{
    // Bounded: a peer that never stops sending must not keep progress() from returning.
    for (int i = 0; i < 64 && ucp_worker_progress(worker_) != 0; ++i) {
    }
}

dragon_status Endpoint::progress(size_t *events, dragon_error *)
{
    in_callbacks_ = true;
    armed_ = false;
    events_ = 0;
    if (woken_) {
        uint64_t v;
        if (::read(event_fd_, &v, sizeof v) < 0 && errno != EAGAIN) {
        }
        woken_ = false;
    }
    run_deferred();
    progress_ucx();
    handle_failures();
    run_deferred();
    in_callbacks_ = false;
    if (events)
        *events = events_;
    return DRAGON_OK;
}

dragon_status Endpoint::arm(dragon_error *err)
{
    if (!deferred_.empty() || !failed_.empty())
        return DRAGON_ERR_AGAIN;
    if (woken_) {
        uint64_t v;
        if (::read(event_fd_, &v, sizeof v) < 0 && errno != EAGAIN) {
        }
        woken_ = false;
    }
    ucs_status_t s = ucp_worker_arm(worker_);
    if (s == UCS_OK) {
        armed_ = true;
        return DRAGON_OK;
    }
    if (s == UCS_ERR_BUSY)
        return DRAGON_ERR_AGAIN;
    set_error(err, std::string("hsta: UCX cannot arm its worker: ") + ucs_status_string(s));
    return DRAGON_ERR_INTERNAL;
}

// ---------------------------------------------------------------- peers

void Endpoint::on_ep_error(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    Peer *p = static_cast<Peer *>(arg);
    if (p->ep != ep)
        return; // an endpoint already being closed
    p->owner->failed_.emplace_back(p->index, status);
    p->owner->wake();
}

void Endpoint::handle_failures()
{
    while (!failed_.empty()) {
        auto [index, status] = failed_.front();
        failed_.erase(failed_.begin());
        Peer &p = peers_[index];
        if (p.state == Peer::CLOSED && p.ep) {
            close_ep(p); // it closed and went away: what we still sent it fails
            continue;
        }
        if (p.state == Peer::LOST || p.state == Peer::CLOSED)
            continue;
        lose_peer(p, std::string("UCX reports the connection failed (") +
                         ucs_status_string(status) +
                         "): the node died, exited or became unreachable");
    }
}

void Endpoint::close_ep(Peer &p)
{
    // Forcibly: UCX purges what is still queued on it (those callbacks run now) and
    // returns no request.
    ucp_request_param_t rp{};
    rp.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    rp.flags = UCP_EP_CLOSE_FLAG_FORCE;
    ucp_ep_h ep = p.ep;
    p.ep = nullptr; // on_ep_error ignores it from now on
    ucs_status_ptr_t r = ucp_ep_close_nbx(ep, &rp);
    if (r && !UCS_PTR_IS_ERR(r))
        ucp_request_free(r); // (UCX 1.13 returns none for a forced close)
}

void Endpoint::lose_peer(Peer &p, const std::string &reason)
{
    p.state = Peer::LOST;
    if (p.ep)
        close_ep(p);
    const std::string why = node(p.index) + " is lost: " + reason;
    std::vector<Op *> mine;
    for (Op &op : ops_)
        if (op.peer == p.index && !op.fired && op.kind != Op::CONTROL)
            mine.push_back(&op);
    p.waiting.clear();
    for (Op *op : mine)
        finish(op, DRAGON_ERR_PEER_LOST, why.c_str());
    report_peer(p.index, DRAGON_TRANSPORT_PEER_LOST, reason);
}

bool Endpoint::from_peer_ep(const Peer &p, ucp_ep_h reply_ep) const
{
    return p.ep != nullptr && reply_ep == p.ep;
}

void Endpoint::send_control(Peer &p, ControlType type, const unsigned char *value, size_t len)
{
    if (!p.ep)
        return;
    Control c;
    c.type = type;
    c.from = config_.node_index;
    c.to = p.index;
    if (value && len)
        std::memcpy(c.value, value, std::min(len, kNonceSize));
    Op *op = new_op(Op::CONTROL, p.index);
    op->am_id = AM_CONTROL;
    encode(c, op->header);
    op->header_len = kControlSize;
    op->fired = true; // nothing to report; the op lives until UCX lets go of it
    if (post(op) != DRAGON_OK)
        release(op);
}

void Endpoint::send_proof(Peer &p)
{
    if (p.proof_sent || !p.have_their_nonce || !p.ep)
        return;
    unsigned char mac[kMacSize];
    compute_proof(host_, secret_.data(), secret_.size(), config_.node_index, p.index, p.their_nonce,
                  p.my_nonce, mac);
    p.proof_sent = true;
    send_control(p, PROOF, mac, kMacSize);
}

void Endpoint::maybe_connected(Peer &p)
{
    if (p.state != Peer::HANDSHAKE || !p.their_proof_ok || !p.our_proof_accepted)
        return;
    p.state = Peer::CONNECTED;
    report_peer(p.index, DRAGON_TRANSPORT_PEER_CONNECTED,
                "authenticated both ways over UCX active messages");
    while (!p.waiting.empty() && p.state == Peer::CONNECTED) {
        Op *op = p.waiting.front();
        p.waiting.pop_front();
        if (post(op) != DRAGON_OK) {
            p.waiting.push_front(op); // failed_ has the loss: lose_peer completes them
            break;
        }
    }
}

} // namespace hsta
