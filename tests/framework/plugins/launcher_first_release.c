/* A launcher built against launcher interface 1.0 as first released: its table ends
 * with release (no allocation entry) and it knows nothing of request flags. It must
 * load, with its optional entries absent. Never available: nothing is ever launched. */
#include <dragon/launcher.h>

#include <stdio.h>

struct first_release_ops {
    size_t struct_size;
    dragon_status (*node_count)(const dragon_host *, uint32_t *, dragon_error *);
    dragon_status (*start)(const dragon_host *, const dragon_launch_request *, dragon_launch **,
                           dragon_error *);
    dragon_status (*wait)(dragon_launch *, int64_t, uint32_t *, int *, dragon_error *);
    dragon_status (*signal)(dragon_launch *, int, dragon_error *);
    void (*release)(dragon_launch *);
};

static dragon_status refuse(dragon_error *err)
{
    snprintf(err->message, sizeof err->message, "test launcher: not supported");
    return DRAGON_ERR_UNAVAILABLE;
}

static dragon_status node_count(const dragon_host *h, uint32_t *out, dragon_error *e)
{
    (void)h, (void)out;
    return refuse(e);
}

static dragon_status start(const dragon_host *h, const dragon_launch_request *r, dragon_launch **o,
                           dragon_error *e)
{
    (void)h, (void)r, (void)o;
    return refuse(e);
}

static dragon_status wait_next(dragon_launch *l, int64_t t, uint32_t *n, int *c, dragon_error *e)
{
    (void)l, (void)t, (void)n, (void)c;
    return refuse(e);
}

static dragon_status signal_all(dragon_launch *l, int s, dragon_error *e)
{
    (void)l, (void)s;
    return refuse(e);
}

static void release(dragon_launch *l)
{
    (void)l;
}

static void probe(const dragon_host *h, dragon_probe_result *out)
{
    (void)h;
    out->available = 0;
    snprintf(out->reason, sizeof out->reason, "a loader test plugin, never available");
}

static const struct first_release_ops ops = {sizeof ops, node_count, start,
                                             wait_next,  signal_all, release};

static const dragon_plugin_descriptor descriptor = {DRAGON_PLUGIN_ABI_MAJOR,
                                                    DRAGON_PLUGIN_ABI_MINOR,
                                                    DRAGON_PLUGIN_LAUNCHER,
                                                    "first_release",
                                                    "1.0.0",
                                                    "launcher interface 1.0 table",
                                                    NULL,
                                                    0,
                                                    probe,
                                                    &ops,
                                                    sizeof ops,
                                                    1,
                                                    0,
                                                    0,
                                                    {0}};

DRAGON_PLUGIN_DEFINE(descriptor)
