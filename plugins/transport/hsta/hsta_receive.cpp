// The receive side of an hsta endpoint: data messages (delivered only from peers that
// proved the job secret, on the UCP endpoint they proved it on) and the handshake.
#include "hsta_endpoint.hpp"
#include "hsta_proof.hpp"

#include <cstring>

namespace hsta {

namespace {

std::string node(uint32_t i)
{
    return "node " + std::to_string(i);
}

ucp_ep_h reply_ep_of(const ucp_am_recv_param_t *param)
{
    return (param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) ? param->reply_ep : nullptr;
}

} // namespace

ucs_status_t Endpoint::on_data(void *arg, const void *header, size_t header_len, void *data,
                               size_t len, const ucp_am_recv_param_t *param)
{
    auto *self = static_cast<Endpoint *>(arg);
    uint32_t from = UINT32_MAX;
    if (header && header_len >= kDataPrefix)
        std::memcpy(&from, header, kDataPrefix);
    if (from >= self->peers_.size() || from == self->config_.node_index) {
        self->log(DRAGON_LOG_DEBUG, "hsta: dropped a data message with no valid sender");
        return UCS_OK;
    }
    Peer &p = self->peers_[from];
    // Only a peer that proved the job secret, on the endpoint it proved it on.
    if (!p.their_proof_ok || p.state == Peer::LOST || p.state == Peer::CLOSED ||
        !self->from_peer_ep(p, reply_ep_of(param))) {
        self->log(DRAGON_LOG_DEBUG, "hsta: dropped a data message claiming to be from " +
                                        node(from) + ": not from an authenticated endpoint");
        return UCS_OK;
    }
    const bool rendezvous = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
    dragon_transport_message m{};
    m.peer = from;
    m.header = static_cast<const unsigned char *>(header) + kDataPrefix;
    m.header_len = header_len - kDataPrefix;
    m.payload_len = len;
    m.payload = rendezvous ? nullptr : data;
    m.token = rendezvous && len ? data : nullptr;
    self->current_token_ = m.token;
    self->current_peer_ = from;
    ++self->events_;
    self->config_.on_message(self->config_.callback_arg, &m);
    // A rendezvous payload nobody fetched is dropped by UCX when this returns (its
    // sender completes normally): that is how the contract's discard works.
    self->current_token_ = nullptr;
    return UCS_OK;
}

ucs_status_t Endpoint::on_control(void *arg, const void *header, size_t header_len, void *,
                                  size_t len, const ucp_am_recv_param_t *param)
{
    auto *self = static_cast<Endpoint *>(arg);
    std::optional<Control> c = decode(header, header_len);
    if (!c || len != 0 || c->to != self->config_.node_index || c->from >= self->peers_.size() ||
        c->from == self->config_.node_index) {
        self->log(DRAGON_LOG_DEBUG, "hsta: dropped a malformed handshake message");
        return UCS_OK;
    }
    self->handle_control(*c, reply_ep_of(param));
    return UCS_OK;
}

void Endpoint::handle_control(const Control &c, ucp_ep_h reply_ep)
{
    Peer &p = peers_[c.from];
    if (p.state == Peer::LOST || p.state == Peer::CLOSED)
        return;
    if (c.type == HELLO) {
        // A challenge may arrive before our own connect(): kept with the UCP endpoint it
        // came on, which connect() must turn out to be (UCP pairs both sides' endpoints).
        // After connect(), only the first one on our endpoint counts.
        if (p.connect_called) {
            if (p.have_their_nonce || !from_peer_ep(p, reply_ep))
                return;
        }
        std::memcpy(p.their_nonce, c.value, kNonceSize);
        p.have_their_nonce = true;
        p.hello_ep = reply_ep;
        if (p.connect_called)
            send_proof(p);
        return;
    }
    // Everything else must come on the endpoint we opened to the peer's published address.
    if (!from_peer_ep(p, reply_ep)) {
        log(DRAGON_LOG_DEBUG, "hsta: dropped a handshake message claiming to be from " +
                                  node(c.from) + " on another endpoint");
        return;
    }
    switch (c.type) {
    case PROOF: on_proof(p, c); break;
    case VERDICT:
        if (!p.proof_sent)
            return;
        if (c.value[0] == 1) {
            p.our_proof_accepted = true;
            maybe_connected(p);
        } else {
            lose_peer(p, node(p.index) +
                             " refused our proof of the job secret: this node's "
                             "job secret differs from " +
                             node(p.index) + "'s (are both in the same job?)");
        }
        break;
    case BYE_ACK: p.bye_acked = true; break;
    case BYE:
        if (p.state != Peer::CONNECTED)
            return;
        // Everything it sent before has been delivered (one endpoint is ordered).
        send_control(p, BYE_ACK, nullptr, 0);
        p.state = Peer::CLOSED;
        report_peer(p.index, DRAGON_TRANSPORT_PEER_CLOSED, node(p.index) + " closed its endpoint");
        // Sends from now on fail. Our UCP endpoint to it stays until its side goes
        // (handle_failures) or we close: UCX's keepalive check from the peer, still
        // running until it closes, would otherwise find no endpoint here, and UCX
        // answers that with a new connection to a peer that may already be gone
        // (an ERROR line of UCX's own, "connect(...) failed", at the end of a good run).
        for (Op *op : p.waiting)
            finish(op, DRAGON_ERR_PEER_LOST, (node(p.index) + " closed its endpoint").c_str());
        p.waiting.clear();
        break;
    default: break;
    }
}

void Endpoint::on_proof(Peer &p, const Control &c)
{
    if (p.their_proof_ok || !p.connect_called || !p.have_their_nonce)
        return;
    unsigned char expected[kMacSize];
    compute_proof(host_, secret_.data(), secret_.size(), p.index, config_.node_index, p.my_nonce,
                  p.their_nonce, expected);
    const bool ok = same_mac(expected, c.value);
    unsigned char verdict[1] = {static_cast<unsigned char>(ok ? 1 : 0)};
    send_control(p, VERDICT, verdict, 1);
    if (ok) {
        p.their_proof_ok = true;
        maybe_connected(p);
        return;
    }
    log(DRAGON_LOG_WARNING, "hsta: refused " + node(p.index) +
                                ": its proof of the job secret is wrong (a process of another "
                                "job, or a wrong secret)");
    // The secrets differ, so our proof fails there too: the peer refuses it as we did.
    lose_peer(p, node(p.index) + " refused our proof of the job secret, and its proof was "
                                 "refused here: the two nodes do not hold the same job secret "
                                 "(are both in the same job?)");
}

} // namespace hsta
