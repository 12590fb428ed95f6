/*
 * Dragon launcher plugins: find the nodes of the allocation and start one
 * dragon-node on each, under a PMIx server (the workload manager's, or one
 * the plugin hosts).
 */
#ifndef DRAGON_LAUNCHER_H
#define DRAGON_LAUNCHER_H

#include <dragon/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dragon_launch_request {
    uint32_t struct_size;
    uint32_t num_nodes;      /* 0: every node of the allocation */
    const char *const *argv; /* dragon-node command line, NULL-terminated */
    const char *const *envp; /* extra NAME=VALUE entries, NULL-terminated */
} dragon_launch_request;

/** Opaque to the framework. */
typedef struct dragon_launch dragon_launch;

typedef struct dragon_launcher_ops {
    size_t struct_size; /* sizeof(dragon_launcher_ops) as the plugin was built */

    /** Number of nodes this launcher can start on here. */
    dragon_status (*node_count)(const dragon_host *host, uint32_t *out, dragon_error *err);

    dragon_status (*start)(const dragon_host *host, const dragon_launch_request *request,
                           dragon_launch **out, dragon_error *err);

    /** Wait up to timeout_ns for every node to end; *exit_status is the first non-zero one. */
    dragon_status (*wait)(dragon_launch *launch, int64_t timeout_ns, int *exit_status,
                          dragon_error *err);

    /** Deliver a signal to every dragon-node of the launch. */
    dragon_status (*signal)(dragon_launch *launch, int signum, dragon_error *err);

    /** Release the handle; any node still running is killed. */
    void (*release)(dragon_launch *launch);
} dragon_launcher_ops;

#ifdef __cplusplus
}
#endif

#endif /* DRAGON_LAUNCHER_H */
