/*
 * Dragon transport plugins: move messages between the dragon-node daemons of
 * one job, one endpoint per node.
 *
 * Wire-up: each node opens its endpoint, publishes the bytes from `address`
 * through PMIx, and connects to its peers with theirs. Before accepting
 * anything from a peer, an endpoint must verify that the peer knows
 * `config->job_secret` (how is the plugin's choice).
 */
#ifndef DRAGON_TRANSPORT_H
#define DRAGON_TRANSPORT_H

#include <dragon/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DRAGON_TRANSPORT_ADDRESS_MAX 1024

typedef struct dragon_transport_config {
    uint32_t struct_size;
    uint32_t node_index; /* this node, 0 .. num_nodes-1 */
    uint32_t num_nodes;
    const char *job_secret;     /* shared by all nodes of the job */
    uint16_t port;              /* 0: any free port */
    const char *network_prefix; /* CIDR to pick the interface from, or NULL for any */
} dragon_transport_config;

/** Opaque to the framework. */
typedef struct dragon_transport_endpoint dragon_transport_endpoint;

/** Called by progress() for each complete message received. `data` is valid during the call only.
 */
typedef void (*dragon_transport_recv_fn)(void *arg, uint32_t from_node, const void *data,
                                         size_t len);

typedef struct dragon_transport_ops {
    size_t struct_size; /* sizeof(dragon_transport_ops) as the plugin was built */

    dragon_status (*open)(const dragon_host *host, const dragon_transport_config *config,
                          dragon_transport_endpoint **out, dragon_error *err);

    /** Bytes that let a peer connect here; *len is in/out (capacity, then length). */
    dragon_status (*address)(dragon_transport_endpoint *ep, void *buf, size_t *len,
                             dragon_error *err);

    dragon_status (*connect)(dragon_transport_endpoint *ep, uint32_t peer_node, const void *address,
                             size_t len, int64_t timeout_ns, dragon_error *err);

    /** Send one message; returns once the buffer may be reused. */
    dragon_status (*send)(dragon_transport_endpoint *ep, uint32_t peer_node, const void *data,
                          size_t len, int64_t timeout_ns, dragon_error *err);

    /** Deliver received messages to `fn`, waiting up to timeout_ns for the first. */
    dragon_status (*progress)(dragon_transport_endpoint *ep, dragon_transport_recv_fn fn, void *arg,
                              int64_t timeout_ns, dragon_error *err);

    dragon_status (*close)(dragon_transport_endpoint *ep, dragon_error *err);
} dragon_transport_ops;

#ifdef __cplusplus
}
#endif

#endif /* DRAGON_TRANSPORT_H */
