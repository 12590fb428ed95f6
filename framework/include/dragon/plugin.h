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
 *   - function tables only grow at the end, and each table records its own
 *     size, so a framework can tell which entries an older plugin provides.
 */
#ifndef DRAGON_PLUGIN_H
#define DRAGON_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DRAGON_PLUGIN_ABI_MAJOR 1
#define DRAGON_PLUGIN_ABI_MINOR 0

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
    DRAGON_ERR_INTERNAL = 8     /* anything else; the message says what */
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

    void *reserved[8]; /* zero; room to grow without breaking abi_major */
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
