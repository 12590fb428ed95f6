/* Pieces shared by the test plugins: a memory function table that is never
 * called (the loader tests only look at descriptors) and a probe. */
#ifndef DRAGON_TEST_PLUGIN_COMMON_H
#define DRAGON_TEST_PLUGIN_COMMON_H

#include <dragon/memory.h>

#include <stdio.h>

static size_t test_page_size(const dragon_host *host)
{
    (void)host;
    return 4096;
}

static dragon_status test_unsupported(dragon_error *err)
{
    snprintf(err->message, sizeof err->message, "test plugin: not supported");
    return DRAGON_ERR_UNAVAILABLE;
}

static dragon_status test_create(const dragon_host *h, const char *n, size_t s, dragon_segment *o,
                                 dragon_error *e)
{
    (void)h, (void)n, (void)s, (void)o;
    return test_unsupported(e);
}

static dragon_status test_attach(const dragon_host *h, const char *n, dragon_segment *o,
                                 dragon_error *e)
{
    (void)h, (void)n, (void)o;
    return test_unsupported(e);
}

static dragon_status test_detach(const dragon_host *h, dragon_segment *s, dragon_error *e)
{
    (void)h, (void)s;
    return test_unsupported(e);
}

static dragon_status test_unlink(const dragon_host *h, const char *n, dragon_error *e)
{
    (void)h, (void)n;
    return test_unsupported(e);
}

static dragon_status test_list(const dragon_host *h, const char *p,
                               void (*fn)(void *, const char *), void *a, dragon_error *e)
{
    (void)h, (void)p, (void)fn, (void)a, (void)e;
    return DRAGON_OK;
}

static const dragon_memory_ops test_memory_ops = {sizeof(dragon_memory_ops),
                                                  test_page_size,
                                                  test_create,
                                                  test_attach,
                                                  test_detach,
                                                  test_unlink,
                                                  test_list};

static void test_probe_available(const dragon_host *host, dragon_probe_result *out)
{
    (void)host;
    out->available = 1;
}

/* A test plugin whose descriptor differs from a good one only in ABI, kind and name. */
#define DRAGON_TEST_PLUGIN(abi_major_, kind_, name_)                                               \
    static const dragon_plugin_descriptor descriptor = {                                           \
        .abi_major = abi_major_,                                                                   \
        .abi_minor = DRAGON_PLUGIN_ABI_MINOR,                                                      \
        .kind = kind_,                                                                             \
        .name = name_,                                                                             \
        .version = "1.0",                                                                          \
        .description = "test",                                                                     \
        .probe = test_probe_available,                                                             \
        .ops = &test_memory_ops,                                                                   \
        .ops_size = sizeof test_memory_ops,                                                        \
        .interface_major = DRAGON_MEMORY_INTERFACE_MAJOR,                                          \
        .interface_minor = DRAGON_MEMORY_INTERFACE_MINOR,                                          \
    };                                                                                             \
    DRAGON_PLUGIN_DEFINE(descriptor)

#endif
