/*
 * Dragon transport plugins: move messages between the dragon-node daemons of one
 * job, one endpoint per node. The shape follows UCX's UCP active messages and
 * libfabric: non-blocking sends of a header plus a payload iovec with
 * completions, a receive path that places a large payload into memory the
 * framework gives, a pollable descriptor, and peer-failure events.
 *
 * Life of an endpoint
 *   open()         create it and start listening; never waits for peers.
 *   address()      the bytes a peer needs to reach it (published through PMIx).
 *   connect()      start connecting to one peer; never blocks. The outcome comes
 *                  later as a peer event (CONNECTED, or LOST with the reason).
 *   send()         non-blocking; its completion fires later from progress().
 *   progress()     does the work: reads, writes, runs the callbacks. Never blocks.
 *   fd(), arm()    let the framework sleep in poll()/epoll until progress() has
 *                  work (arm says whether it is safe to sleep now).
 *   close()        orderly: flushes what was accepted to live peers (up to a
 *                  deadline), tells them, fails what remains (CANCELED), frees.
 *
 * Threading and re-entrancy
 *   - Calls on one endpoint are never concurrent: the framework serializes them,
 *     so a plugin needs no lock for one endpoint's own state. Different endpoints
 *     (a test may open several in one process) may be used from different threads
 *     at the same time: keep no unprotected global state.
 *   - Every callback (message, peer event, completion) runs inside progress() or
 *     close(), on the calling thread; never inside open(), connect(), send() or
 *     receive_into(). A callback may call send() and receive_into() on the same
 *     endpoint; it must not call progress(), arm() or close().
 *   - When a call leaves work for progress() (a completion ready, data buffered),
 *     the plugin makes fd() readable (or arm() return DRAGON_ERR_AGAIN), so a
 *     framework asleep on fd() never misses it.
 *
 * Security
 *   Before a plugin delivers anything from a peer, and before it reports the peer
 *   CONNECTED, both sides prove that they know config->job_secret by challenge
 *   and response (host->hmac_sha256 over fresh nonces); the secret itself never
 *   crosses the wire. A peer that fails the proof is refused and logged (host->log).
 *
 * Outcomes
 *   A completion with DRAGON_OK means the payload buffers may be reused and the
 *   message is on its way in order; it will be delivered unless the peer is lost,
 *   which the peer event reports. End-to-end results (did the remote operation
 *   succeed) belong to the protocol above, which answers every request. Every
 *   send that is accepted completes exactly once: DRAGON_OK, DRAGON_ERR_PEER_LOST
 *   (at the latest in the progress() call that reports the loss), or
 *   DRAGON_ERR_CANCELED (cancel, or close).
 */
#ifndef DRAGON_TRANSPORT_H
#define DRAGON_TRANSPORT_H

#include <dragon/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Interface version of dragon_transport_ops (see plugin.h for the rules). Major 2:
 * interface 1 (blocking send, callback-buffer receive) never had a release. */
#define DRAGON_TRANSPORT_INTERFACE_MAJOR 2
#define DRAGON_TRANSPORT_INTERFACE_MINOR 0

/** Largest address a plugin may publish. */
#define DRAGON_TRANSPORT_ADDRESS_MAX 1024
/** Largest header the framework sends; every plugin carries at least this much. */
#define DRAGON_TRANSPORT_HEADER_MAX 256

/** Capability flags (dragon_transport_caps.flags). */
enum {
    /** Messages from this endpoint to one peer reach that peer's message callback
     * in the order they were sent. */
    DRAGON_TRANSPORT_CAP_ORDERED = 1u << 0,
    /** A payload fetched with receive_into() lands directly in the given buffer
     * (rendezvous, RMA, or read straight from the socket): no copy through memory
     * of the plugin. */
    DRAGON_TRANSPORT_CAP_DIRECT_PLACEMENT = 1u << 1,
    /** A peer that dies or becomes unreachable is reported (DRAGON_TRANSPORT_PEER_LOST)
     * by the plugin itself, within a few seconds. */
    DRAGON_TRANSPORT_CAP_PEER_FAILURE = 1u << 2,
    /** Only peers on this host can be reached (e.g. Unix-domain sockets). */
    DRAGON_TRANSPORT_CAP_SAME_HOST_ONLY = 1u << 3
};

/** What an endpoint can do; filled by query(). */
typedef struct dragon_transport_caps {
    uint32_t struct_size; /* set by the framework: sizeof as it was built */
    uint32_t flags;       /* DRAGON_TRANSPORT_CAP_* */
    /** Largest header + payload of one send. */
    uint64_t max_message;
    /** Payloads up to this size always arrive inline in the message callback;
     * larger ones may arrive as a token for receive_into(). */
    uint64_t eager_threshold;
    /** Most payload iovec entries one send takes (at least 4). */
    uint32_t max_iov;
    /** Largest header one send takes (at least DRAGON_TRANSPORT_HEADER_MAX). */
    uint32_t max_header;
} dragon_transport_caps;

/** One piece of a payload. */
typedef struct dragon_transport_iov {
    const void *base;
    size_t len;
} dragon_transport_iov;

/**
 * A pending operation's completion, owned by the framework: it must stay valid and
 * untouched until `fn` has been called, exactly once, from progress() or close().
 * `status` is DRAGON_OK or the failure; `reason` (never NULL) says why in words,
 * valid during the call only.
 */
typedef struct dragon_transport_completion dragon_transport_completion;
struct dragon_transport_completion {
    void (*fn)(dragon_transport_completion *self, dragon_status status, const char *reason);
    void *arg; /* the framework's */
};

/** A message as the message callback sees it. Everything is valid during the call only. */
typedef struct dragon_transport_message {
    uint32_t peer; /* sender's node index */
    const void *header;
    size_t header_len;
    /** The whole payload, or NULL when payload_len > 0 and the payload must be fetched
     * with receive_into(token, ...) during this callback. */
    const void *payload;
    size_t payload_len;
    void *token;
} dragon_transport_message;

typedef void (*dragon_transport_message_fn)(void *arg, const dragon_transport_message *message);

typedef enum dragon_transport_peer_state {
    /** Authenticated both ways: messages flow. Reported once per peer. */
    DRAGON_TRANSPORT_PEER_CONNECTED = 1,
    /** Failed, unreachable, refused our proof, or died: nothing more will come from
     * it and every send to it fails with DRAGON_ERR_PEER_LOST. Reported once, after
     * every send to it and every receive_into from it has completed, so that the
     * framework may free what it kept for the peer. */
    DRAGON_TRANSPORT_PEER_LOST = 2,
    /** Closed its endpoint in order: everything it sent has been delivered. Sends to
     * it fail with DRAGON_ERR_PEER_LOST from now on. Reported once. */
    DRAGON_TRANSPORT_PEER_CLOSED = 3
} dragon_transport_peer_state;

/** A peer's state changed; `reason` (never NULL) is valid during the call only. */
typedef void (*dragon_transport_peer_fn)(void *arg, uint32_t peer,
                                         dragon_transport_peer_state state, const char *reason);

typedef struct dragon_transport_config {
    uint32_t struct_size; /* sizeof as the framework was built */
    uint32_t node_index;  /* this node, 0 .. num_nodes-1 */
    uint32_t num_nodes;
    /** Shared by every node of the job; at least 16 random bytes. Never send it. */
    const void *job_secret;
    size_t job_secret_len;
    uint16_t port;              /* listen here; 0: an ephemeral port */
    const char *network_prefix; /* IPv4 CIDR choosing the interface; NULL or "": any */
    /** Callbacks, run inside progress() and close() with `callback_arg`. */
    void *callback_arg;
    dragon_transport_message_fn on_message;
    dragon_transport_peer_fn on_peer;
} dragon_transport_config;

/** Opaque to the framework. */
typedef struct dragon_transport_endpoint dragon_transport_endpoint;

typedef struct dragon_transport_ops {
    size_t struct_size; /* sizeof(dragon_transport_ops) as the plugin was built */

    /* ---- interface 2.0, mandatory ---- */

    /** Create an endpoint and start listening. A network_prefix that matches no
     * interface fails here (DRAGON_ERR_INVALID), naming the interfaces there are. */
    dragon_status (*open)(const dragon_host *host, const dragon_transport_config *config,
                          dragon_transport_endpoint **out, dragon_error *err);

    /** Fill *caps (its struct_size says how much the framework reads). */
    void (*query)(dragon_transport_endpoint *ep, dragon_transport_caps *caps);

    /** Bytes that let a peer connect here; *len is in/out (capacity, then length). */
    dragon_status (*address)(dragon_transport_endpoint *ep, void *buf, size_t *len,
                             dragon_error *err);

    /** Start connecting to `peer` (!= this node) at `address`. Returns at once; the
     * outcome is a peer event. Which side opens a connection is the plugin's affair:
     * the framework calls connect() for every peer on every node. */
    dragon_status (*connect)(dragon_transport_endpoint *ep, uint32_t peer, const void *address,
                             size_t len, dragon_error *err);

    /**
     * Send `header` (copied before returning) and the payload pieces (not copied:
     * untouched until the completion fires) to `peer`, as one message. A peer not
     * yet connected is fine: the message waits for the connection.
     *   DRAGON_OK             accepted; `completion` will fire.
     *   DRAGON_ERR_AGAIN      no resources now (queue full); nothing was taken.
     *   DRAGON_ERR_PEER_LOST  the peer is lost or closed; nothing was taken.
     *   DRAGON_ERR_INVALID    unknown peer, too big, too many pieces; nothing taken.
     */
    dragon_status (*send)(dragon_transport_endpoint *ep, uint32_t peer, const void *header,
                          size_t header_len, const dragon_transport_iov *payload,
                          size_t payload_count, dragon_transport_completion *completion,
                          dragon_error *err);

    /**
     * Only inside the message callback, for a message whose payload is NULL: place the
     * payload into `buffer` (len >= payload_len), or discard it when buffer is NULL.
     * `completion` fires when the data is there (DRAGON_OK), or with the failure
     * (DRAGON_ERR_PEER_LOST, DRAGON_ERR_TRUNCATED if len < payload_len: nothing placed).
     * A message callback that returns without calling this discards the payload.
     * Completions of receive_into may fire after later messages of the same peer
     * were delivered: the framework orders by message callback.
     */
    dragon_status (*receive_into)(dragon_transport_endpoint *ep, void *token, void *buffer,
                                  size_t len, dragon_transport_completion *completion,
                                  dragon_error *err);

    /** Do pending work and run callbacks; never blocks. *events (may be NULL) gets
     * how many callbacks ran. An error return means the endpoint is broken. */
    dragon_status (*progress)(dragon_transport_endpoint *ep, size_t *events, dragon_error *err);

    /** A descriptor that turns readable when progress() has work (after arm()). Stable
     * for the endpoint's life; the framework only polls it, never reads or closes it. */
    int (*fd)(dragon_transport_endpoint *ep);

    /** Prepare to sleep on fd(): DRAGON_OK means nothing is pending and the fd will
     * turn readable when something arrives; DRAGON_ERR_AGAIN means call progress()
     * first (work is already there). */
    dragon_status (*arm)(dragon_transport_endpoint *ep, dragon_error *err);

    /**
     * Orderly close, waiting up to timeout_ns (negative: no limit) to flush accepted
     * sends to live peers and to tell them (they see PEER_CLOSED). Completions still
     * pending fire before it returns (CANCELED if not flushed); no callback runs after.
     * Frees the endpoint whatever it returns.
     */
    dragon_status (*close)(dragon_transport_endpoint *ep, int64_t timeout_ns, dragon_error *err);

    /* ---- optional entries (past the mandatory prefix; may be absent or NULL) ---- */

    /** Withdraw an accepted send that has not started on the wire: its completion
     * fires with DRAGON_ERR_CANCELED from the next progress(). DRAGON_ERR_AGAIN if it
     * has started (it then completes normally); DRAGON_ERR_NOT_FOUND if unknown. */
    dragon_status (*cancel)(dragon_transport_endpoint *ep, dragon_transport_completion *completion,
                            dragon_error *err);
} dragon_transport_ops;

/** Frozen mandatory prefix of dragon_transport_ops: interface 2.0, up to and including close. */
#define DRAGON_TRANSPORT_OPS_MANDATORY_SIZE                                                        \
    (offsetof(dragon_transport_ops, close) + sizeof(void (*)(void)))

#ifdef __cplusplus
}
#endif

#endif /* DRAGON_TRANSPORT_H */
