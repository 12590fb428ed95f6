/*
 * Dragon plugin ABI: what every plugin shares.
 *
 * A plugin is a shared library that exports exactly one C symbol,
 * DRAGON_PLUGIN_ENTRY_SYMBOL, returning a pointer to a static
 * dragon_plugin_descriptor. Nothing else crosses the boundary: no C++ types,
 * no exceptions, no ownership of memory. Strings returned by a plugin must
 * stay valid for as long as the library is loaded.
 *
 * Compatibility rules (checked by the loader in one place):
 *   - abi_major must equal DRAGON_PLUGIN_ABI_MAJOR of the framework;
 *   - abi_minor must be <= the framework's minor (a newer plugin may rely on
 *     host services an older framework lacks);
 *   - each kind has its own interface version (DRAGON_<KIND>_INTERFACE_MAJOR/MINOR
 *     in its header), recorded in the descriptor: the interface major must equal
 *     the framework's for that kind, so changing one kind's table never touches
 *     plugins of the other kinds;
 *   - each kind's function table starts with a frozen mandatory prefix (what the
 *     first release of that interface major requires: DRAGON_<KIND>_OPS_MANDATORY_SIZE);
 *     entries appended later are optional. The framework treats an entry past the
 *     plugin's ops_size, or NULL, as absent and checks before calling it, so a
 *     plugin built against an older, shorter table still loads, and one built
 *     against a newer, longer table loads too (its extra entries are ignored).
 */
#ifndef DRAGON_PLUGIN_H
#define DRAGON_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DRAGON_PLUGIN_ABI_MAJOR 1
#define DRAGON_PLUGIN_ABI_MINOR 1

/** Name of the one symbol a plugin exports. */
#define DRAGON_PLUGIN_ENTRY_SYMBOL "dragon_plugin_entry"

/** Longest text the framework copies out of an error or probe buffer. */
#define DRAGON_MESSAGE_MAX 512

typedef enum dragon_plugin_kind {
    DRAGON_PLUGIN_LAUNCHER = 1,  /* starts dragon-node on every node (dragon/launcher.h) */
    DRAGON_PLUGIN_TRANSPORT = 2, /* moves messages between nodes (dragon/transport.h) */
    DRAGON_PLUGIN_MEMORY = 3     /* provides shared-memory segments (dragon/memory.h) */
} dragon_plugin_kind;

/** Outcome of every plugin call. Details go in a dragon_error. */
typedef enum dragon_status {
    DRAGON_OK = 0,
    DRAGON_ERR_INVALID = 1,     /* bad argument */
    DRAGON_ERR_NOT_FOUND = 2,   /* named object does not exist */
    DRAGON_ERR_EXISTS = 3,      /* named object already exists */
    DRAGON_ERR_NO_MEMORY = 4,   /* out of memory, pages or space */
    DRAGON_ERR_PERMISSION = 5,  /* the OS refused access */
    DRAGON_ERR_TIMEOUT = 6,     /* a deadline passed */
    DRAGON_ERR_UNAVAILABLE = 7, /* the plugin cannot run here */
    DRAGON_ERR_INTERNAL = 8,    /* anything else; the message says what */
    /* Since ABI 1.1 (used by transports): */
    DRAGON_ERR_AGAIN = 9,      /* no resources now; nothing was taken: progress, then retry */
    DRAGON_ERR_PEER_LOST = 10, /* the peer failed, went away or was refused */
    DRAGON_ERR_CANCELED = 11,  /* withdrawn before completion (cancel, or close) */
    DRAGON_ERR_TRUNCATED = 12  /* the data did not fit the buffer given */
} dragon_status;

/** Filled by a failing call: one sentence with the cause and, where known, the fix. */
typedef struct dragon_error {
    char message[DRAGON_MESSAGE_MAX];
} dragon_error;

typedef enum dragon_log_level {
    DRAGON_LOG_ERROR = 0,
    DRAGON_LOG_WARNING = 1,
    DRAGON_LOG_INFO = 2,
    DRAGON_LOG_DEBUG = 3
} dragon_log_level;

typedef enum dragon_param_type {
    DRAGON_PARAM_STRING = 0,
    DRAGON_PARAM_INT = 1,  /* signed decimal */
    DRAGON_PARAM_SIZE = 2, /* bytes; accepts suffixes K, M, G, T (powers of 1024) */
    DRAGON_PARAM_BOOL = 3  /* 1/0, true/false, yes/no, on/off */
} dragon_param_type;

/**
 * A parameter a plugin registers. Its value is read from the environment
 * variable DRAGON_<KIND>_<PLUGIN>_<NAME> (upper-cased), else the default.
 */
typedef struct dragon_param_def {
    const char *name; /* lower case, e.g. "dir" */
    dragon_param_type type;
    const char *default_value; /* text form; validated against type */
    const char *help;          /* one line */
} dragon_param_def;

/**
 * Services the framework offers a plugin. Passed to every entry that needs
 * it; `ctx` identifies the calling plugin and must be passed back unchanged.
 */
typedef struct dragon_host {
    uint32_t struct_size; /* sizeof(dragon_host) of the framework; append-only */
    void *ctx;
    /** Log one line on behalf of the plugin. */
    void (*log)(void *ctx, dragon_log_level level, const char *message);
    /** Current text value of one of the plugin's own parameters; NULL if it registered none by that
     * name. */
    const char *(*param)(void *ctx, const char *name);
    /** Job identifier used to scope named resources (segment names and the like). */
    const char *(*job_id)(void *ctx);
    /**
     * Since ABI 1.1 (check struct_size first). HMAC-SHA-256 of `msg` under `key` into
     * out[32]: how plugins prove the job secret to each other by challenge and response,
     * so that the secret itself never crosses the wire. Pure function, thread-safe.
     */
    void (*hmac_sha256)(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        unsigned char out[32]);
} dragon_host;

/** What a probe reports. */
typedef struct dragon_probe_result {
    int available;                   /* non-zero: can run here */
    int priority;                    /* higher is preferred in automatic selection */
    char reason[DRAGON_MESSAGE_MAX]; /* when unavailable: why, and how to fix it */
} dragon_probe_result;

/** The descriptor a plugin returns from its entry point. */
typedef struct dragon_plugin_descriptor {
    uint16_t abi_major;  /* DRAGON_PLUGIN_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor;  /* DRAGON_PLUGIN_ABI_MINOR the plugin was built against */
    uint32_t kind;       /* a dragon_plugin_kind */
    const char *name;    /* [a-z0-9_]+, unique within its kind */
    const char *version; /* free form, e.g. "1.2.0" */
    const char *description;

    const dragon_param_def *params; /* may be NULL when num_params is 0 */
    size_t num_params;

    /** Can the plugin run here? Must be cheap, side-effect free and never block. */
    void (*probe)(const dragon_host *host, dragon_probe_result *out);

    /** The kind's function table (dragon_memory_ops, ...), and its size as built. */
    const void *ops;
    size_t ops_size;

    /* Since ABI 1.1: the kind's interface version the table was built against
     * (DRAGON_<KIND>_INTERFACE_MAJOR/MINOR). Both 0 (a plugin built before 1.1):
     * read as interface 1.0. */
    uint16_t interface_major;
    uint16_t interface_minor;
    uint32_t reserved32; /* zero */

    void *reserved[7]; /* zero; room to grow without breaking abi_major */
} dragon_plugin_descriptor;

typedef const dragon_plugin_descriptor *(*dragon_plugin_entry_fn)(void);

#if defined(__GNUC__)
#define DRAGON_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define DRAGON_PLUGIN_EXPORT
#endif

/**
 * Defines the entry point of a plugin. Use once per plugin library:
 *     DRAGON_PLUGIN_DEFINE(my_descriptor)
 */
#ifdef __cplusplus
#define DRAGON_PLUGIN_DEFINE(descriptor)                                                           \
    extern "C" DRAGON_PLUGIN_EXPORT const dragon_plugin_descriptor *dragon_plugin_entry(void)      \
    {                                                                                              \
        return &(descriptor);                                                                      \
    }
#else
#define DRAGON_PLUGIN_DEFINE(descriptor)                                                           \
    DRAGON_PLUGIN_EXPORT const dragon_plugin_descriptor *dragon_plugin_entry(void)                 \
    {                                                                                              \
        return &(descriptor);                                                                      \
    }
#endif

#ifdef __cplusplus
}
#endif

#endif /* DRAGON_PLUGIN_H */
