// hsta: the Dragon transport on UCX's UCP (active messages), for the fabrics UCX drives
// (TCP, InfiniBand and RoCE verbs, ...). Chosen automatically (priority 20, above tcp's
// 10) wherever its probe finds libucp usable.
//
// How the transport contract (dragon/transport.h) maps onto UCP
//   transports    with UCP_ERR_HANDLING_MODE_PEER, UCX 1.13's shared-memory transports
//                 carry no active messages: processes on one host talk over tcp (and
//                 cma for rendezvous); a UCX configuration without a network transport
//                 is refused by the probe and by open.
//   endpoint      one UCP context (UCP_FEATURE_AM | UCP_FEATURE_WAKEUP) and one worker
//                 (UCS_THREAD_MODE_SINGLE: the framework serializes calls on an endpoint;
//                 separate endpoints share nothing, so they may run on separate threads).
//   address       the worker's address (ucp_worker_get_address), published through PMIx.
//   connect       ucp_ep_create to the peer's worker address with
//                 UCP_ERR_HANDLING_MODE_PEER and an error callback (-> PEER_LOST), then
//                 the handshake below. Both sides connect; UCP pairs the two endpoints.
//   send          ucp_am_send_nbx(AM_DATA) with the framework's header (after a 4-byte
//                 sender index) as the AM header and the payload as contig or
//                 UCP_DATATYPE_IOV, no copy. Payloads up to eager_threshold are forced
//                 eager (UCP_AM_SEND_FLAG_EAGER) and arrive inline; larger ones go the
//                 way UCX picks, rendezvous for large ones. UCP_AM_SEND_FLAG_REPLY lets
//                 the receiver check the endpoint a message came on. Completions fire
//                 from progress(): one UCX completes at once is queued (and the
//                 endpoint's own eventfd made readable if arm() said OK since).
//   receive       the AM callback (UCP_AM_FLAG_WHOLE_MSG) delivers eager payloads in
//                 place (payload != NULL); a rendezvous message arrives with payload NULL
//                 and a token, and receive_into() calls ucp_am_recv_data_nbx straight
//                 into the framework's buffer (DIRECT_PLACEMENT). Not fetching drops it.
//   order         one UCP endpoint per peer, and UCP AM on one endpoint is ordered.
//   fd / arm      an epoll descriptor holding the worker's event fd (ucp_worker_get_efd)
//                 and the endpoint's eventfd; arm() = pending work ? AGAIN :
//                 ucp_worker_arm (UCS_ERR_BUSY -> AGAIN).
//   flow control  at most max_outstanding unfinished sends per peer; beyond, send()
//                 returns DRAGON_ERR_AGAIN. UCX completes a send only once its data left
//                 (or, for rendezvous, was fetched), so a peer that stops reading makes
//                 sends time out instead of piling up memory.
//   peer failure  the UCP error callback: a killed process's TCP connections close at
//                 once (PEER_LOST within milliseconds); UCX's keepalive (every
//                 keepalive_interval, 0.5 s, unless UCX_KEEPALIVE_INTERVAL is set)
//                 checks idle endpoints where the transport can. A host that vanishes
//                 without closing its sockets is seen only by TCP's retransmission
//                 timeout (see docs/transport-hsta.md).
//   close         BYE (an AM after everything sent), then waits (up to the deadline, and
//                 at least 1 s for the answer) until accepted sends completed and the
//                 peers answered BYE_ACK, then ucp_ep_close_nbx(FORCE); the peer reports
//                 PEER_CLOSED on BYE.
//
// Handshake (one AM_CONTROL message type; nothing from a peer is delivered before it):
//   HELLO(nonce) both ways; PROOF = HMAC-SHA-256(job secret, label | prover | verifier |
//   verifier's nonce | prover's nonce) (host->hmac_sha256); VERDICT(accepted|refused).
//   CONNECTED once our proof was accepted and theirs verified. A wrong proof is logged
//   and refused; both sides report PEER_LOST saying the proof was refused.
//
// UCX's own variables pass through: UCX_TLS (which transports), UCX_NET_DEVICES (which
// devices; when unset and --network-prefix / config->network_prefix is given, hsta sets
// it to the interface holding an address in that prefix, so nodes in separate network
// namespaces use their own veth), UCX_KEEPALIVE_INTERVAL, UCX_RNDV_THRESH and the rest.
// Without a prefix and without UCX_NET_DEVICES, UCX uses every device, lo included (UCX
// 1.13 uses lo only toward peers in the same network namespace).
//
// Parameters (DRAGON_TRANSPORT_HSTA_<NAME>): max_outstanding, eager_threshold,
// keepalive_interval. docs/transport-hsta.md has the whole story.
#include "endpoint_ops.hpp"
#include "hsta_endpoint.hpp"
#include "hsta_ucx_setup.hpp"

#include <dragon/transport.h>

#include <cstdio>

namespace {

using hsta::Endpoint;

// Cheap and side-effect free: reads UCX's configuration and initializes a UCP context
// (which lists UCX's transports and devices and fails if none gives active messages with
// wake-up). No worker is created, so nothing listens and nothing blocks.
void probe(const dragon_host *host, dragon_probe_result *out)
{
    if (!host || host->struct_size < offsetof(dragon_host, hmac_sha256) + sizeof(void *) ||
        !host->hmac_sha256) {
        out->available = 0;
        std::snprintf(out->reason, sizeof out->reason,
                      "the framework lacks the hmac_sha256 host service (plugin ABI < 1.1)");
        return;
    }
    hsta::Settings settings;
    std::string error;
    if (!hsta::choose_settings(host, nullptr, 1, settings, error)) {
        out->available = 0;
        std::snprintf(out->reason, sizeof out->reason, "%s", error.c_str());
        return;
    }
    ucp_context_h context = nullptr;
    if (hsta::make_context(settings, &context, error) != UCS_OK) {
        out->available = 0;
        std::snprintf(out->reason, sizeof out->reason, "%s", error.c_str());
        return;
    }
    ucp_cleanup(context);
    out->available = 1;
    out->priority = 20;
}

const dragon_param_def params[] = {
    {"max_outstanding", DRAGON_PARAM_INT, "256",
     "unfinished sends per peer before send() says DRAGON_ERR_AGAIN (flow control)"},
    {"eager_threshold", DRAGON_PARAM_SIZE, "8K",
     "payloads up to this size are sent eagerly and arrive inline; larger may use rendezvous"},
    {"keepalive_interval", DRAGON_PARAM_STRING, "0.5s",
     "UCX_KEEPALIVE_INTERVAL hsta sets unless the user did: how soon a dead peer is seen"},
};

const dragon_transport_ops &ops = dragon::transport::EndpointOps<Endpoint>::table;

const dragon_plugin_descriptor descriptor = {
    .abi_major = DRAGON_PLUGIN_ABI_MAJOR,
    .abi_minor = DRAGON_PLUGIN_ABI_MINOR,
    .kind = DRAGON_PLUGIN_TRANSPORT,
    .name = "hsta",
    .version = "1.0.0",
    .description = "UCX UCP active messages (shared memory, TCP, InfiniBand, ...): eager and "
                   "rendezvous into the framework's buffers, peer-failure detection",
    .params = params,
    .num_params = sizeof params / sizeof params[0],
    .probe = probe,
    .ops = &ops,
    .ops_size = sizeof ops,
    .interface_major = DRAGON_TRANSPORT_INTERFACE_MAJOR,
    .interface_minor = DRAGON_TRANSPORT_INTERFACE_MINOR,
    .reserved32 = 0,
    .reserved = {},
};

} // namespace

DRAGON_PLUGIN_DEFINE(descriptor)
