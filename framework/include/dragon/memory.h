/*
 * Dragon memory plugins: named shared-memory segments.
 *
 * The framework composes segment names; a plugin stores and finds them.
 * Names are at most DRAGON_SEGMENT_NAME_MAX-1 bytes, start with "dragon-",
 * contain no '/', and are scoped to one job and user by the framework.
 * Segments are created with mode 0600 and exclusively: creating a name that
 * exists fails with DRAGON_ERR_EXISTS and leaves the existing one untouched.
 */
#ifndef DRAGON_MEMORY_H
#define DRAGON_MEMORY_H

#include <dragon/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Interface version of dragon_memory_ops (see plugin.h for the rules). */
#define DRAGON_MEMORY_INTERFACE_MAJOR 1
#define DRAGON_MEMORY_INTERFACE_MINOR 0

#define DRAGON_SEGMENT_NAME_MAX 128

/** A mapping of a segment in the calling process. */
typedef struct dragon_segment {
    void *addr;  /* start of the mapping; aligned to page_size */
    size_t size; /* mapped bytes: the requested size rounded up to page_size */
    int fd;      /* backing descriptor, or -1 if the plugin keeps none */
    char name[DRAGON_SEGMENT_NAME_MAX];
    uintptr_t plugin_data; /* private to the plugin */
} dragon_segment;

typedef struct dragon_memory_ops {
    size_t struct_size; /* sizeof(dragon_memory_ops) as the plugin was built */

    /** Granularity of segment sizes and alignment of their addresses. */
    size_t (*page_size)(const dragon_host *host);

    /** Create and map a new segment of at least `size` bytes, zero-filled. */
    dragon_status (*create)(const dragon_host *host, const char *name, size_t size,
                            dragon_segment *out, dragon_error *err);

    /** Map an existing segment created by any process of the same user. */
    dragon_status (*attach)(const dragon_host *host, const char *name, dragon_segment *out,
                            dragon_error *err);

    /** Unmap; the segment lives on for others. */
    dragon_status (*detach)(const dragon_host *host, dragon_segment *seg, dragon_error *err);

    /** Remove the name; existing mappings stay valid until detached. */
    dragon_status (*unlink)(const dragon_host *host, const char *name, dragon_error *err);

    /**
     * Call `fn` once for each segment name this plugin holds on this node
     * that starts with `prefix` and that belongs to the calling user (for
     * dragon-cleanup, the frontend's sweep and leak checks: another user's
     * segment under a name of ours is never listed, so never removed).
     */
    dragon_status (*list)(const dragon_host *host, const char *prefix,
                          void (*fn)(void *arg, const char *name), void *arg, dragon_error *err);

    /* Entries appended after this line are optional (interface 1.1 and later). */
} dragon_memory_ops;

/** Frozen mandatory prefix of dragon_memory_ops: interface 1.0, up to and including list. */
#define DRAGON_MEMORY_OPS_MANDATORY_SIZE                                                           \
    (offsetof(dragon_memory_ops, list) + sizeof(void (*)(void)))

#ifdef __cplusplus
}
#endif

#endif /* DRAGON_MEMORY_H */
