/*
 * uds: a third-party Dragon transport plugin in plain C, over Unix-domain stream
 * sockets, for the nodes of a job that share one host (simulated nodes, containers
 * sharing a file system). Written against the installed headers only; read it beside
 * <dragon/transport.h>, whose contract it keeps.
 *
 *   address   the path of this endpoint's socket, in a private 0700 directory
 *             $TMPDIR/dragon-<job>-uds-XXXXXX (removed by close, or by dragon-cleanup
 *             after a crash). Path sockets work across network namespaces.
 *   wiring    of two nodes, the one with the smaller index dials; the other accepts.
 *   security  before anything else both sides prove the job secret by challenge and
 *             response: HMAC-SHA-256 (host->hmac_sha256) over both fresh nonces and
 *             both indices, with one label per role. A failed proof is logged, and the
 *             connection refused.
 *   frames    a fixed head (magic, version, type, lengths), the header, the payload.
 *             Payloads up to EAGER_THRESHOLD arrive inline, straight from the read
 *             buffer; larger ones are read from the socket directly into the buffer
 *             that receive_into() names (DIRECT_PLACEMENT).
 *   progress  callbacks run only in progress() and close(): everything else leaves a
 *             note and makes the eventfd readable. One epoll set is the pollable fd.
 *   close     flushes queued sends (up to the deadline), says goodbye (peers see
 *             PEER_CLOSED), cancels the rest.
 * It ignores config->port and config->network_prefix: there are no interfaces here.
 */
#define _GNU_SOURCE
#include <dragon/transport.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAGIC 0x53445544u /* "DUDS" */
#define FRAME_VERSION 1
#define EAGER_THRESHOLD (64u * 1024u)
#define MAX_MESSAGE (1ull << 34) /* 16 GiB, far above any pool block */
#define MAX_IOV 16
#define MAX_QUEUED 4096 /* sends queued per peer before send() says AGAIN */
#define NONCE_LEN 16
#define PATH_MAX_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

enum frame_type { HELLO = 1, CHALLENGE = 2, PROOF = 3, MESSAGE = 4, GOODBYE = 5 };

struct frame_head {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t header_len;
    uint32_t reserved;
    uint64_t payload_len;
};

/* The header of the three handshake frames. */
struct hello {
    uint32_t index; /* the sender's node index */
    uint32_t num_nodes;
    unsigned char nonce[NONCE_LEN]; /* HELLO, CHALLENGE */
    unsigned char proof[32];        /* CHALLENGE, PROOF */
};

/* A queued send: frame head and header copied, payload pieces by reference. */
struct out {
    struct out *next;
    unsigned char head[sizeof(struct frame_head) + DRAGON_TRANSPORT_HEADER_MAX];
    size_t head_len;
    dragon_transport_iov pieces[MAX_IOV];
    size_t count;
    size_t total, sent;
    dragon_transport_completion *completion;
};

enum phase { WAIT_CHALLENGE, WAIT_HELLO, WAIT_PROOF, READY, GONE };

/* One socket; an accepted one learns its peer from HELLO. */
struct conn {
    int fd;
    int peer; /* -1 until known */
    enum phase phase;
    int want_write;
    unsigned char my_nonce[NONCE_LEN], their_nonce[NONCE_LEN];
    /* Bytes read and not yet consumed: in[in_start, in_end). Large enough for a whole
     * frame head + header + eager payload, so inline payloads are delivered from here. */
    unsigned char in[sizeof(struct frame_head) + DRAGON_TRANSPORT_HEADER_MAX + EAGER_THRESHOLD];
    size_t in_start, in_end;
    /* A large payload being read: into `dest`, or thrown away when dest is NULL. */
    int in_payload;
    unsigned char *dest;
    uint64_t need, got;
    dragon_transport_completion *placed; /* fires when the payload is in */
    int decided;                         /* receive_into was called in this callback */
};

struct peer {
    char path[PATH_MAX_LEN];
    int dial_later;          /* its listen queue was full: dial again from progress() */
    struct conn *conn;       /* the authenticated connection */
    int state;               /* the last dragon_transport_peer_state reported, or 0 */
    struct out *head, *tail; /* queued sends */
    size_t queued;
};

/* A callback waiting for progress() or close() to run it. */
struct note {
    dragon_transport_completion *completion; /* a completion, or a peer event: */
    int peer, state;
    dragon_status status;
    char reason[200];
};

struct dragon_transport_endpoint {
    const dragon_host *host;
    dragon_transport_config config;
    unsigned char secret[256];
    char dir[PATH_MAX_LEN], path[PATH_MAX_LEN];
    int listen_fd, epoll_fd, event_fd;
    struct peer *peers;
    struct conn **conns; /* every connection ever made, freed by close() */
    size_t num_conns;
    struct note *notes;
    size_t num_notes, cap_notes;
    struct conn *delivering; /* the connection whose message callback is running */
    size_t events;
};

/* ---------- small helpers ---------- */

static void say(struct dragon_transport_endpoint *ep, dragon_log_level level, const char *fmt, ...)
{
    char line[DRAGON_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ep->host->log(ep->host->ctx, level, line);
}

static dragon_status fail(dragon_error *err, dragon_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return status;
}

static void push_note(struct dragon_transport_endpoint *ep, dragon_transport_completion *c,
                      int peer, int state, dragon_status status, const char *reason)
{
    if (ep->num_notes == ep->cap_notes) {
        size_t cap = ep->cap_notes ? ep->cap_notes * 2 : 64;
        struct note *grown = realloc(ep->notes, cap * sizeof *grown);
        if (!grown)
            abort(); /* a completion must fire exactly once: there is no sane way on */
        ep->notes = grown;
        ep->cap_notes = cap;
    }
    struct note *n = &ep->notes[ep->num_notes++];
    n->completion = c;
    n->peer = peer;
    n->state = state;
    n->status = status;
    snprintf(n->reason, sizeof n->reason, "%s", reason);
    uint64_t one = 1;
    ssize_t w = write(ep->event_fd, &one, sizeof one); /* fd() turns readable */
    (void)w;
}

static void complete(struct dragon_transport_endpoint *ep, dragon_transport_completion *c,
                     dragon_status status, const char *reason)
{
    push_note(ep, c, -1, 0, status, reason);
}

static void peer_event(struct dragon_transport_endpoint *ep, int peer, int state,
                       const char *reason)
{
    int old = ep->peers[peer].state;
    if (old == DRAGON_TRANSPORT_PEER_LOST || old == DRAGON_TRANSPORT_PEER_CLOSED)
        return; /* each is reported once, and nothing after it */
    ep->peers[peer].state = state;
    push_note(ep, NULL, peer, state, DRAGON_OK, reason);
}

/* Runs the waiting callbacks in order; they may leave more (a send from a callback). */
static void run_notes(struct dragon_transport_endpoint *ep)
{
    for (size_t i = 0; i < ep->num_notes; ++i) {
        struct note n = ep->notes[i]; /* a copy: a callback may grow the array */
        if (n.completion)
            n.completion->fn(n.completion, n.status, n.reason);
        else
            ep->config.on_peer(ep->config.callback_arg, (uint32_t)n.peer,
                               (dragon_transport_peer_state)n.state, n.reason);
        ep->events++;
    }
    ep->num_notes = 0;
    uint64_t count;
    ssize_t r = read(ep->event_fd, &count, sizeof count);
    (void)r;
}

static void watch_writes(struct dragon_transport_endpoint *ep, struct conn *c, int on)
{
    if (c->want_write == on || c->fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_write = on;
}

static struct conn *new_conn(struct dragon_transport_endpoint *ep, int fd, int peer,
                             enum phase phase)
{
    struct conn **grown = realloc(ep->conns, (ep->num_conns + 1) * sizeof *grown);
    struct conn *c = calloc(1, sizeof *c);
    if (grown)
        ep->conns = grown;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (!grown || !c || epoll_ctl(ep->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        free(c);
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->peer = peer;
    c->phase = phase;
    ep->conns[ep->num_conns++] = c;
    return c;
}

/* Closes the socket. The struct lives on until close(): a caller up the stack may hold it. */
static void drop_conn(struct dragon_transport_endpoint *ep, struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(ep->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->phase = GONE;
}

/* The peer is lost or closed: its queued sends and a payload being placed fail. */
static void end_peer(struct dragon_transport_endpoint *ep, int peer, int state,
                     dragon_status status, const char *reason)
{
    struct peer *p = &ep->peers[peer];
    for (size_t i = 0; i < ep->num_conns; ++i) {
        struct conn *c = ep->conns[i];
        if (c->peer != peer || c->phase == GONE)
            continue;
        if (c->in_payload && c->placed)
            complete(ep, c->placed, status, reason);
        c->in_payload = 0;
        c->placed = NULL;
        drop_conn(ep, c);
    }
    p->conn = NULL;
    for (struct out *o = p->head, *next; o; o = next) {
        next = o->next;
        complete(ep, o->completion, status, reason);
        free(o);
    }
    p->head = p->tail = NULL;
    p->queued = 0;
    peer_event(ep, peer, state, reason);
}

/* A connection failed. Once its peer is known, that peer is lost (unless another
 * connection of it is the authenticated one: a stray duplicate changes nothing). */
static void conn_failed(struct dragon_transport_endpoint *ep, struct conn *c, const char *reason)
{
    int peer = c->peer;
    if (peer >= 0 && (ep->peers[peer].conn == NULL || ep->peers[peer].conn == c))
        end_peer(ep, peer, DRAGON_TRANSPORT_PEER_LOST, DRAGON_ERR_PEER_LOST, reason); /* drops c */
    drop_conn(ep, c);
}

static void refuse(struct dragon_transport_endpoint *ep, struct conn *c, const char *why)
{
    char reason[200];
    snprintf(reason, sizeof reason, "refused: %s", why);
    if (c->peer >= 0)
        say(ep, DRAGON_LOG_WARNING, "uds node %u refused a connection with node %d: %s",
            ep->config.node_index, c->peer, why);
    else
        say(ep, DRAGON_LOG_WARNING, "uds node %u refused a connection: %s", ep->config.node_index,
            why);
    conn_failed(ep, c, reason);
}

/* ---------- sending ---------- */

/* Writes what the socket takes of peer's queue; completions are left as notes. */
static void flush(struct dragon_transport_endpoint *ep, int peer)
{
    struct peer *p = &ep->peers[peer];
    struct conn *c = p->conn;
    if (!c || c->phase != READY)
        return;
    while (p->head) {
        struct out *o = p->head;
        struct iovec iov[MAX_IOV + 1];
        size_t n = 0, skip = o->sent;
        iov[n++] = (struct iovec){o->head, o->head_len};
        for (size_t i = 0; i < o->count; ++i)
            iov[n++] = (struct iovec){(void *)o->pieces[i].base, o->pieces[i].len};
        size_t first = 0;
        while (first < n && skip >= iov[first].iov_len)
            skip -= iov[first++].iov_len;
        iov[first].iov_base = (char *)iov[first].iov_base + skip;
        iov[first].iov_len -= skip;
        struct msghdr msg = {.msg_iov = iov + first, .msg_iovlen = n - first};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                watch_writes(ep, c, 1);
                return;
            }
            char reason[200];
            snprintf(reason, sizeof reason, "writing to node %d failed: %s", peer, strerror(errno));
            conn_failed(ep, c, reason);
            return;
        }
        o->sent += (size_t)w;
        if (o->sent < o->total)
            continue;
        p->head = o->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        complete(ep, o->completion, DRAGON_OK, "sent");
        free(o);
    }
    watch_writes(ep, c, 0);
}

static dragon_status uds_send(dragon_transport_endpoint *ep, uint32_t peer, const void *header,
                              size_t header_len, const dragon_transport_iov *payload,
                              size_t payload_count, dragon_transport_completion *completion,
                              dragon_error *err)
{
    if (peer >= ep->config.num_nodes || peer == ep->config.node_index)
        return fail(err, DRAGON_ERR_INVALID, "uds: no peer %u to send to (nodes 0..%u, this is %u)",
                    peer, ep->config.num_nodes - 1, ep->config.node_index);
    if (header_len > DRAGON_TRANSPORT_HEADER_MAX || (header_len && !header))
        return fail(err, DRAGON_ERR_INVALID, "uds: a header of %zu bytes (the most is %d)",
                    header_len, DRAGON_TRANSPORT_HEADER_MAX);
    if (payload_count > MAX_IOV || (payload_count && !payload) || !completion)
        return fail(err, DRAGON_ERR_INVALID,
                    "uds: %zu payload pieces (the most is %d), or no completion", payload_count,
                    MAX_IOV);
    uint64_t total = 0;
    for (size_t i = 0; i < payload_count; ++i)
        total += payload[i].len;
    if (total > MAX_MESSAGE)
        return fail(err, DRAGON_ERR_INVALID, "uds: a payload of %llu bytes (the most is %llu)",
                    (unsigned long long)total, (unsigned long long)MAX_MESSAGE);
    struct peer *p = &ep->peers[peer];
    if (p->state == DRAGON_TRANSPORT_PEER_LOST || p->state == DRAGON_TRANSPORT_PEER_CLOSED)
        return fail(err, DRAGON_ERR_PEER_LOST, "uds: node %u is gone", peer);
    struct out *o = p->queued < MAX_QUEUED ? malloc(sizeof *o) : NULL;
    if (!o)
        return fail(err, DRAGON_ERR_AGAIN, "uds: %zu sends to node %u are queued", p->queued, peer);
    struct frame_head head = {FRAME_MAGIC, FRAME_VERSION, MESSAGE, (uint32_t)header_len, 0, total};
    memcpy(o->head, &head, sizeof head);
    if (header_len)
        memcpy(o->head + sizeof head, header, header_len);
    o->head_len = sizeof head + header_len;
    memcpy(o->pieces, payload, payload_count * sizeof *payload);
    o->count = payload_count;
    o->total = o->head_len + total;
    o->sent = 0;
    o->completion = completion;
    o->next = NULL;
    if (p->tail)
        p->tail->next = o;
    else
        p->head = o;
    p->tail = o;
    p->queued++;
    flush(ep, (int)peer);
    return DRAGON_OK;
}

/* ---------- the handshake ---------- */

static void proof_of(struct dragon_transport_endpoint *ep, const char *role,
                     const unsigned char *dialer_nonce, const unsigned char *acceptor_nonce,
                     uint32_t dialer, uint32_t acceptor, unsigned char out[32])
{
    unsigned char msg[16 + 2 * NONCE_LEN + 8] = {0};
    snprintf((char *)msg, 16, "%s", role);
    memcpy(msg + 16, dialer_nonce, NONCE_LEN);
    memcpy(msg + 16 + NONCE_LEN, acceptor_nonce, NONCE_LEN);
    memcpy(msg + 16 + 2 * NONCE_LEN, &dialer, 4);
    memcpy(msg + 20 + 2 * NONCE_LEN, &acceptor, 4);
    ep->host->hmac_sha256(ep->secret, ep->config.job_secret_len, msg, sizeof msg, out);
}

static int same_proof(const unsigned char *a, const unsigned char *b)
{
    unsigned char diff = 0; /* every byte compared: the time says nothing */
    for (int i = 0; i < 32; ++i)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

/* Handshake frames are small and go first on a fresh socket: one write takes them. */
static int send_hello(struct conn *c, int type, const struct hello *h)
{
    struct {
        struct frame_head head;
        struct hello body;
    } f = {{FRAME_MAGIC, FRAME_VERSION, (uint16_t)type, sizeof *h, 0, 0}, *h};
    return send(c->fd, &f, sizeof f, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof f ? 0 : -1;
}

static void become_ready(struct dragon_transport_endpoint *ep, struct conn *c)
{
    c->phase = READY;
    ep->peers[c->peer].conn = c;
    peer_event(ep, c->peer, DRAGON_TRANSPORT_PEER_CONNECTED, "authenticated both ways");
    flush(ep, c->peer);
}

/* Acceptor: a dialer says who it is; answer with our nonce and our proof. */
static void on_hello(struct dragon_transport_endpoint *ep, struct conn *c, const struct hello *h)
{
    uint32_t me = ep->config.node_index;
    if (h->index >= me || h->num_nodes != ep->config.num_nodes) {
        refuse(ep, c, "its HELLO names a node that does not dial this one");
        return;
    }
    c->peer = (int)h->index;
    if (ep->peers[c->peer].conn || ep->peers[c->peer].state != 0) {
        c->peer = -1; /* leave the real one alone */
        refuse(ep, c, "that node is already connected, or gone");
        return;
    }
    memcpy(c->their_nonce, h->nonce, NONCE_LEN);
    struct hello reply = {.index = me, .num_nodes = ep->config.num_nodes};
    memcpy(reply.nonce, c->my_nonce, NONCE_LEN);
    proof_of(ep, "acceptor", c->their_nonce, c->my_nonce, h->index, me, reply.proof);
    c->phase = WAIT_PROOF;
    if (send_hello(c, CHALLENGE, &reply) != 0)
        conn_failed(ep, c, "the connection broke during the handshake");
}

/* Dialer: check the acceptor's proof, and give ours (always, so that it can log). */
static void on_challenge(struct dragon_transport_endpoint *ep, struct conn *c,
                         const struct hello *h)
{
    uint32_t me = ep->config.node_index;
    if (h->index != (uint32_t)c->peer) {
        refuse(ep, c, "the node that answered is not the node dialed");
        return;
    }
    struct hello reply = {.index = me, .num_nodes = ep->config.num_nodes};
    proof_of(ep, "dialer", c->my_nonce, h->nonce, me, h->index, reply.proof);
    unsigned char expect[32];
    proof_of(ep, "acceptor", c->my_nonce, h->nonce, me, h->index, expect);
    if (send_hello(c, PROOF, &reply) != 0) {
        conn_failed(ep, c, "the connection broke during the handshake");
        return;
    }
    if (!same_proof(expect, h->proof)) {
        refuse(ep, c, "it could not prove the job secret (a different job, or an impostor)");
        return;
    }
    become_ready(ep, c);
}

/* Acceptor: check the dialer's proof. */
static void on_proof(struct dragon_transport_endpoint *ep, struct conn *c, const struct hello *h)
{
    unsigned char expect[32];
    proof_of(ep, "dialer", c->their_nonce, c->my_nonce, (uint32_t)c->peer, ep->config.node_index,
             expect);
    if (!same_proof(expect, h->proof)) {
        refuse(ep, c, "it could not prove the job secret (a different job, or an impostor)");
        return;
    }
    become_ready(ep, c);
}

static void dial(struct dragon_transport_endpoint *ep, int peer)
{
    struct peer *p = &ep->peers[peer];
    p->dial_later = 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, p->path, sizeof sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        if (e == EAGAIN) { /* its listen queue is full: try again soon */
            p->dial_later = 1;
            return;
        }
        char reason[200];
        snprintf(reason, sizeof reason, "cannot reach node %d at %s: %s", peer, p->path,
                 strerror(e));
        end_peer(ep, peer, DRAGON_TRANSPORT_PEER_LOST, DRAGON_ERR_PEER_LOST, reason);
        return;
    }
    struct conn *c = fd >= 0 ? new_conn(ep, fd, peer, WAIT_CHALLENGE) : NULL;
    if (!c) {
        end_peer(ep, peer, DRAGON_TRANSPORT_PEER_LOST, DRAGON_ERR_PEER_LOST,
                 "out of sockets or memory while dialing");
        return;
    }
    struct hello h = {.index = ep->config.node_index, .num_nodes = ep->config.num_nodes};
    getrandom(c->my_nonce, NONCE_LEN, 0);
    memcpy(h.nonce, c->my_nonce, NONCE_LEN);
    if (send_hello(c, HELLO, &h) != 0)
        conn_failed(ep, c, "the connection broke during the handshake");
}

/* ---------- receiving ---------- */

static void finish_payload(struct dragon_transport_endpoint *ep, struct conn *c)
{
    c->in_payload = 0;
    if (c->placed)
        complete(ep, c->placed, DRAGON_OK, c->dest ? "placed" : "discarded");
    c->placed = NULL;
    c->dest = NULL;
}

static void deliver(struct dragon_transport_endpoint *ep, struct conn *c, const void *header,
                    size_t header_len, const void *payload, uint64_t payload_len)
{
    run_notes(ep); /* what happened before this message (CONNECTED) is reported first */
    dragon_transport_message m = {(uint32_t)c->peer, header, header_len, payload, payload_len, c};
    ep->delivering = c;
    c->decided = 0;
    ep->config.on_message(ep->config.callback_arg, &m);
    ep->delivering = NULL;
    ep->events++;
}

/* Handles every whole frame in c's buffer; returns when more bytes are needed. */
static void consume(struct dragon_transport_endpoint *ep, struct conn *c)
{
    const size_t hs = sizeof(struct frame_head);
    while (c->fd >= 0) {
        size_t avail = c->in_end - c->in_start;
        unsigned char *at = c->in + c->in_start;
        if (c->in_payload) { /* the start of a large payload came with its frame */
            size_t take = avail < c->need - c->got ? avail : (size_t)(c->need - c->got);
            if (take == 0)
                return;
            if (c->dest)
                memcpy(c->dest + c->got, at, take);
            c->got += take;
            c->in_start += take;
            if (c->got == c->need)
                finish_payload(ep, c);
            continue;
        }
        struct frame_head h;
        if (avail < hs)
            return;
        memcpy(&h, at, hs);
        int handshake = h.type == HELLO || h.type == CHALLENGE || h.type == PROOF;
        if (h.magic != FRAME_MAGIC || h.version != FRAME_VERSION ||
            h.header_len > DRAGON_TRANSPORT_HEADER_MAX || h.payload_len > MAX_MESSAGE ||
            (handshake && (h.header_len != sizeof(struct hello) || h.payload_len)) ||
            (handshake != (c->phase != READY)) || h.type > GOODBYE || h.type == 0) {
            refuse(ep, c, "it sent a malformed or unexpected frame");
            return;
        }
        int inline_payload = h.payload_len <= EAGER_THRESHOLD;
        size_t whole = hs + h.header_len + (inline_payload ? h.payload_len : 0);
        if (avail < whole)
            return;
        c->in_start += whole; /* the bytes stay put until the next read */
        if (handshake) {
            struct hello body;
            memcpy(&body, at + hs, sizeof body);
            if (h.type == HELLO && c->phase == WAIT_HELLO)
                on_hello(ep, c, &body);
            else if (h.type == CHALLENGE && c->phase == WAIT_CHALLENGE)
                on_challenge(ep, c, &body);
            else if (h.type == PROOF && c->phase == WAIT_PROOF)
                on_proof(ep, c, &body);
            else
                refuse(ep, c, "a handshake frame out of turn");
        } else if (h.type == GOODBYE) {
            char reason[100];
            snprintf(reason, sizeof reason, "node %d closed its endpoint", c->peer);
            end_peer(ep, c->peer, DRAGON_TRANSPORT_PEER_CLOSED, DRAGON_ERR_PEER_LOST, reason);
            return;
        } else if (inline_payload) {
            deliver(ep, c, at + hs, h.header_len, h.payload_len ? at + whole - h.payload_len : at,
                    h.payload_len);
        } else {
            c->need = h.payload_len; /* for receive_into's length check */
            deliver(ep, c, at + hs, h.header_len, NULL, h.payload_len);
            if (c->fd < 0)
                return;
            if (!c->decided) /* the callback did not ask for it: discard */
                c->dest = NULL, c->placed = NULL;
            c->in_payload = 1;
            c->need = h.payload_len;
            c->got = 0;
        }
    }
}

static void on_readable(struct dragon_transport_endpoint *ep, struct conn *c)
{
    /* A bounded number of reads per call keeps one busy peer from starving the rest. */
    for (int reads = 0; reads < 64 && c->fd >= 0; ++reads) {
        consume(ep, c);
        if (c->fd < 0)
            return;
        unsigned char *to;
        size_t room;
        int direct = c->in_payload && c->in_start == c->in_end;
        if (direct) { /* straight into the framework's buffer (or the scratch, to discard) */
            room = (size_t)(c->need - c->got);
            to = c->dest ? c->dest + c->got : c->in;
            if (!c->dest && room > sizeof c->in)
                room = sizeof c->in;
        } else {
            if (c->in_start == c->in_end)
                c->in_start = c->in_end = 0;
            else if (c->in_start > 0 && c->in_end == sizeof c->in) {
                memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
                c->in_end -= c->in_start;
                c->in_start = 0;
            }
            to = c->in + c->in_end;
            room = sizeof c->in - c->in_end;
        }
        ssize_t n = recv(c->fd, to, room, MSG_DONTWAIT);
        if (n > 0 && direct) {
            c->got += (uint64_t)n;
            if (c->got == c->need)
                finish_payload(ep, c);
        } else if (n > 0) {
            c->in_end += (size_t)n;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            char reason[200];
            if (c->peer >= 0)
                snprintf(reason, sizeof reason,
                         "node %d's connection ended without goodbye (%s): it died or was killed",
                         c->peer, n == 0 ? "end of stream" : strerror(errno));
            else
                snprintf(reason, sizeof reason, "an unidentified caller hung up");
            conn_failed(ep, c, reason);
            return;
        } else if (errno == EAGAIN) {
            return;
        }
    }
    consume(ep, c);
}

static void accept_all(struct dragon_transport_endpoint *ep)
{
    for (;;) {
        int fd = accept4(ep->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct conn *c = new_conn(ep, fd, -1, WAIT_HELLO);
        if (c)
            getrandom(c->my_nonce, NONCE_LEN, 0);
    }
}

/* One round of work: dial, accept, read, write; then the callbacks. */
static void work(struct dragon_transport_endpoint *ep, int timeout_ms)
{
    for (uint32_t i = 0; i < ep->config.num_nodes; ++i)
        if (ep->peers[i].dial_later)
            dial(ep, (int)i);
    struct epoll_event evs[64];
    int n = epoll_wait(ep->epoll_fd, evs, 64, ep->num_notes ? 0 : timeout_ms);
    for (int i = 0; i < n; ++i) {
        void *what = evs[i].data.ptr;
        if (what == &ep->listen_fd)
            accept_all(ep);
        else if (what != &ep->event_fd) {
            struct conn *c = what;
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                on_readable(ep, c);
            if (c->fd >= 0 && (evs[i].events & EPOLLOUT) && c->phase == READY)
                flush(ep, c->peer);
        }
    }
    run_notes(ep);
}

/* ---------- the table ---------- */

static dragon_status uds_open(const dragon_host *host, const dragon_transport_config *config,
                              dragon_transport_endpoint **out, dragon_error *err)
{
    if (host->struct_size < offsetof(dragon_host, hmac_sha256) + sizeof host->hmac_sha256)
        return fail(err, DRAGON_ERR_UNAVAILABLE,
                    "uds needs a framework that offers hmac_sha256 (plugin ABI 1.1 or later)");
    if (config->struct_size < sizeof *config || config->node_index >= config->num_nodes ||
        config->job_secret_len < 16 || config->job_secret_len > 256 || !config->on_message ||
        !config->on_peer)
        return fail(err, DRAGON_ERR_INVALID,
                    "uds: bad configuration (node index past the node count, a job secret "
                    "under 16 or over 256 bytes, or no callbacks)");
    struct dragon_transport_endpoint *ep = calloc(1, sizeof *ep);
    struct peer *peers = calloc(config->num_nodes, sizeof *peers);
    if (!ep || !peers) {
        free(ep);
        free(peers);
        return fail(err, DRAGON_ERR_NO_MEMORY, "uds: out of memory");
    }
    ep->host = host;
    ep->config = *config;
    ep->peers = peers;
    memcpy(ep->secret, config->job_secret, config->job_secret_len);
    ep->listen_fd = ep->epoll_fd = ep->event_fd = -1;

    const char *tmp = getenv("TMPDIR");
    int len = snprintf(ep->dir, sizeof ep->dir, "%s/dragon-%s-uds-XXXXXX",
                       tmp && *tmp ? tmp : "/tmp", host->job_id(host->ctx));
    if (len < 0 || (size_t)len + 12 >= sizeof ep->path) {
        free(peers);
        free(ep);
        return fail(err, DRAGON_ERR_INVALID,
                    "uds: TMPDIR=%s is too long for a socket path (at most %zu bytes in all): "
                    "set TMPDIR to a shorter directory",
                    tmp, sizeof ep->path - 1);
    }
    dragon_status status = DRAGON_ERR_INTERNAL;
    const char *step = "mkdtemp";
    /* mode 0700: only this user reaches the socket (the length was checked above) */
    if (mkdtemp(ep->dir) &&
        snprintf(ep->path, sizeof ep->path, "%s/n%u", ep->dir, config->node_index) > 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        memcpy(sa.sun_path, ep->path, sizeof sa.sun_path);
        step = "socket";
        ep->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ep->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        ep->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &ep->listen_fd};
        struct epoll_event eev = {.events = EPOLLIN, .data.ptr = &ep->event_fd};
        if (ep->listen_fd >= 0 && ep->epoll_fd >= 0 && ep->event_fd >= 0 &&
            (step = "bind", bind(ep->listen_fd, (struct sockaddr *)&sa, sizeof sa) == 0) &&
            (step = "listen", listen(ep->listen_fd, 128) == 0) &&
            epoll_ctl(ep->epoll_fd, EPOLL_CTL_ADD, ep->listen_fd, &lev) == 0 &&
            epoll_ctl(ep->epoll_fd, EPOLL_CTL_ADD, ep->event_fd, &eev) == 0)
            status = DRAGON_OK;
    }
    if (status != DRAGON_OK) {
        fail(err, status, "uds: %s for %s failed: %s", step, ep->dir, strerror(errno));
        for (int *fd = &ep->listen_fd; fd <= &ep->event_fd; ++fd)
            if (*fd >= 0)
                close(*fd);
        unlink(ep->path);
        rmdir(ep->dir);
        free(peers);
        free(ep);
        return status;
    }
    *out = ep;
    return DRAGON_OK;
}

static void uds_query(dragon_transport_endpoint *ep, dragon_transport_caps *caps)
{
    (void)ep;
    dragon_transport_caps mine = {
        .struct_size = caps->struct_size,
        .flags = DRAGON_TRANSPORT_CAP_ORDERED | DRAGON_TRANSPORT_CAP_DIRECT_PLACEMENT |
                 DRAGON_TRANSPORT_CAP_PEER_FAILURE | DRAGON_TRANSPORT_CAP_SAME_HOST_ONLY,
        .max_message = MAX_MESSAGE,
        .eager_threshold = EAGER_THRESHOLD,
        .max_iov = MAX_IOV,
        .max_header = DRAGON_TRANSPORT_HEADER_MAX,
    };
    /* Copy no more than the framework's struct holds (it may be older, and shorter). */
    memcpy(caps, &mine, caps->struct_size < sizeof mine ? caps->struct_size : sizeof mine);
}

static dragon_status uds_address(dragon_transport_endpoint *ep, void *buf, size_t *len,
                                 dragon_error *err)
{
    size_t need = strlen(ep->path);
    if (*len < need)
        return fail(err, DRAGON_ERR_INVALID, "uds: the address needs %zu bytes", need);
    memcpy(buf, ep->path, need);
    *len = need;
    return DRAGON_OK;
}

static dragon_status uds_connect(dragon_transport_endpoint *ep, uint32_t peer, const void *address,
                                 size_t len, dragon_error *err)
{
    if (peer >= ep->config.num_nodes || peer == ep->config.node_index)
        return fail(err, DRAGON_ERR_INVALID,
                    "uds: no peer %u to connect to (nodes 0..%u, this is %u)", peer,
                    ep->config.num_nodes - 1, ep->config.node_index);
    if (!address || len == 0 || len >= PATH_MAX_LEN || memchr(address, '\0', len) ||
        ((const char *)address)[0] != '/')
        return fail(err, DRAGON_ERR_INVALID,
                    "uds: the address of node %u is not a socket path (an absolute path under "
                    "%zu bytes, as address() gives)",
                    peer, PATH_MAX_LEN);
    struct peer *p = &ep->peers[peer];
    if (p->conn || p->state)
        return DRAGON_OK; /* connected, connecting or gone: nothing to start */
    memcpy(p->path, address, len);
    p->path[len] = '\0';
    if (ep->config.node_index < peer) /* the smaller index dials */
        dial(ep, (int)peer);
    return DRAGON_OK;
}

static dragon_status uds_receive_into(dragon_transport_endpoint *ep, void *token, void *buffer,
                                      size_t len, dragon_transport_completion *completion,
                                      dragon_error *err)
{
    struct conn *c = token;
    if (!c || c != ep->delivering || c->decided || !completion)
        return fail(err, DRAGON_ERR_INVALID,
                    "uds: receive_into is valid once, inside the message callback, for a message "
                    "whose payload is NULL (and needs a completion)");
    c->decided = 1;
    c->dest = buffer;
    c->placed = completion;
    if (buffer && len < c->need) { /* nothing placed: the payload is read and dropped */
        char reason[120];
        snprintf(reason, sizeof reason, "a buffer of %zu bytes for a payload of %llu", len,
                 (unsigned long long)c->need);
        complete(ep, completion, DRAGON_ERR_TRUNCATED, reason);
        c->dest = NULL;
        c->placed = NULL;
    }
    return DRAGON_OK;
}

static dragon_status uds_progress(dragon_transport_endpoint *ep, size_t *events, dragon_error *err)
{
    (void)err;
    ep->events = 0;
    work(ep, 0);
    if (events)
        *events = ep->events;
    return DRAGON_OK;
}

static int uds_fd(dragon_transport_endpoint *ep)
{
    return ep->epoll_fd;
}

static dragon_status uds_arm(dragon_transport_endpoint *ep, dragon_error *err)
{
    for (uint32_t i = 0; i < ep->config.num_nodes; ++i)
        if (ep->peers[i].dial_later)
            return fail(err, DRAGON_ERR_AGAIN, "uds: a dial is waiting");
    /* epoll is level-triggered: a socket with bytes, or a note (eventfd), keeps it readable. */
    return ep->num_notes ? fail(err, DRAGON_ERR_AGAIN, "uds: callbacks are waiting") : DRAGON_OK;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int anything_queued(struct dragon_transport_endpoint *ep)
{
    for (uint32_t i = 0; i < ep->config.num_nodes; ++i)
        if (ep->peers[i].head && ep->peers[i].conn)
            return 1;
    return 0;
}

static dragon_status uds_close(dragon_transport_endpoint *ep, int64_t timeout_ns, dragon_error *err)
{
    (void)err;
    int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
    /* Flush to the live peers, still reading (and delivering) so that nobody blocks. */
    work(ep, 0);
    while (anything_queued(ep) && now_ns() < deadline) {
        int64_t left_ms = (deadline - now_ns()) / 1000000 + 1;
        work(ep, left_ms > 100 ? 100 : (int)left_ms);
    }
    for (uint32_t i = 0; i < ep->config.num_nodes; ++i) {
        struct peer *p = &ep->peers[i];
        struct conn *c = p->conn;
        char reason[120];
        snprintf(reason, sizeof reason, "node %u closed its endpoint before this was sent",
                 ep->config.node_index);
        /* Goodbye only between whole frames: after a partial one the peer sees a loss. */
        if (c && c->fd >= 0 && (!p->head || p->head->sent == 0)) {
            struct frame_head bye = {FRAME_MAGIC, FRAME_VERSION, GOODBYE, 0, 0, 0};
            ssize_t w = send(c->fd, &bye, sizeof bye, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
        }
        for (struct out *o = p->head, *next; o; o = next) {
            next = o->next;
            complete(ep, o->completion, DRAGON_ERR_CANCELED, reason);
            free(o);
        }
        p->head = p->tail = NULL;
    }
    for (size_t i = 0; i < ep->num_conns; ++i) {
        struct conn *c = ep->conns[i];
        if (c->in_payload && c->placed)
            complete(ep, c->placed, DRAGON_ERR_CANCELED, "the endpoint closed mid-payload");
        drop_conn(ep, c);
        free(c);
    }
    run_notes(ep); /* the last callbacks: every pending completion fires before we return */
    close(ep->listen_fd);
    close(ep->epoll_fd);
    close(ep->event_fd);
    unlink(ep->path);
    rmdir(ep->dir);
    free(ep->conns);
    free(ep->notes);
    free(ep->peers);
    free(ep);
    return DRAGON_OK;
}

static void probe(const dragon_host *host, dragon_probe_result *out)
{
    (void)host;
    out->available = 1;
    out->priority = 0; /* same host only: never an automatic choice */
}

static const dragon_transport_ops ops = {
    .struct_size = sizeof(dragon_transport_ops),
    .open = uds_open,
    .query = uds_query,
    .address = uds_address,
    .connect = uds_connect,
    .send = uds_send,
    .receive_into = uds_receive_into,
    .progress = uds_progress,
    .fd = uds_fd,
    .arm = uds_arm,
    .close = uds_close,
};

static const dragon_plugin_descriptor descriptor = {
    .abi_major = DRAGON_PLUGIN_ABI_MAJOR,
    .abi_minor = DRAGON_PLUGIN_ABI_MINOR,
    .kind = DRAGON_PLUGIN_TRANSPORT,
    .name = "uds",
    .version = "0.1.0",
    .description = "example third-party transport: Unix-domain sockets, nodes on one host",
    .probe = probe,
    .ops = &ops,
    .ops_size = sizeof ops,
    .interface_major = DRAGON_TRANSPORT_INTERFACE_MAJOR,
    .interface_minor = DRAGON_TRANSPORT_INTERFACE_MINOR,
};

DRAGON_PLUGIN_DEFINE(descriptor)
