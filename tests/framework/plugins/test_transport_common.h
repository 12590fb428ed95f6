/* A transport function table whose entries are never called: the loader tests only
 * look at descriptors and at which entries a table provides. */
#ifndef DRAGON_TEST_TRANSPORT_COMMON_H
#define DRAGON_TEST_TRANSPORT_COMMON_H

#include <dragon/transport.h>

#include <stdio.h>

static dragon_status tt_refuse(dragon_error *err)
{
    snprintf(err->message, sizeof err->message, "test transport: not supported");
    return DRAGON_ERR_UNAVAILABLE;
}

static dragon_status tt_open(const dragon_host *h, const dragon_transport_config *c,
                             dragon_transport_endpoint **o, dragon_error *e)
{
    (void)h, (void)c, (void)o;
    return tt_refuse(e);
}

static void tt_query(dragon_transport_endpoint *ep, dragon_transport_caps *caps)
{
    (void)ep, (void)caps;
}

static dragon_status tt_address(dragon_transport_endpoint *ep, void *b, size_t *l, dragon_error *e)
{
    (void)ep, (void)b, (void)l;
    return tt_refuse(e);
}

static dragon_status tt_connect(dragon_transport_endpoint *ep, uint32_t p, const void *a, size_t l,
                                dragon_error *e)
{
    (void)ep, (void)p, (void)a, (void)l;
    return tt_refuse(e);
}

static dragon_status tt_send(dragon_transport_endpoint *ep, uint32_t p, const void *h, size_t hl,
                             const dragon_transport_iov *iov, size_t n,
                             dragon_transport_completion *c, dragon_error *e)
{
    (void)ep, (void)p, (void)h, (void)hl, (void)iov, (void)n, (void)c;
    return tt_refuse(e);
}

static dragon_status tt_receive_into(dragon_transport_endpoint *ep, void *t, void *b, size_t l,
                                     dragon_transport_completion *c, dragon_error *e)
{
    (void)ep, (void)t, (void)b, (void)l, (void)c;
    return tt_refuse(e);
}

static dragon_status tt_progress(dragon_transport_endpoint *ep, size_t *n, dragon_error *e)
{
    (void)ep, (void)n;
    return tt_refuse(e);
}

static int tt_fd(dragon_transport_endpoint *ep)
{
    (void)ep;
    return -1;
}

static dragon_status tt_arm(dragon_transport_endpoint *ep, dragon_error *e)
{
    (void)ep;
    return tt_refuse(e);
}

static dragon_status tt_close(dragon_transport_endpoint *ep, int64_t t, dragon_error *e)
{
    (void)ep, (void)t;
    return tt_refuse(e);
}

static dragon_status tt_cancel(dragon_transport_endpoint *ep, dragon_transport_completion *c,
                               dragon_error *e)
{
    (void)ep, (void)c;
    return tt_refuse(e);
}

static void tt_probe(const dragon_host *host, dragon_probe_result *out)
{
    (void)host;
    out->available = 1;
}

#define TT_MANDATORY_ENTRIES                                                                       \
    tt_open, tt_query, tt_address, tt_connect, tt_send, tt_receive_into, tt_progress, tt_fd,       \
        tt_arm, tt_close

#define TT_DESCRIPTOR(name_, table, major, minor)                                                  \
    static const dragon_plugin_descriptor descriptor = {                                           \
        .abi_major = DRAGON_PLUGIN_ABI_MAJOR,                                                      \
        .abi_minor = DRAGON_PLUGIN_ABI_MINOR,                                                      \
        .kind = DRAGON_PLUGIN_TRANSPORT,                                                           \
        .name = name_,                                                                             \
        .version = "1.0",                                                                          \
        .description = "test transport",                                                           \
        .probe = tt_probe,                                                                         \
        .ops = &table,                                                                             \
        .ops_size = sizeof table,                                                                  \
        .interface_major = major,                                                                  \
        .interface_minor = minor,                                                                  \
    };                                                                                             \
    DRAGON_PLUGIN_DEFINE(descriptor)

#endif
