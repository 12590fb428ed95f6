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

/* Interface version of dragon_launcher_ops (see plugin.h for the rules). */
#define DRAGON_LAUNCHER_INTERFACE_MAJOR 1
#define DRAGON_LAUNCHER_INTERFACE_MINOR 1

typedef struct dragon_launch_request {
    uint32_t struct_size;
    uint32_t num_nodes;      /* 0: every node of the allocation */
    const char *const *argv; /* dragon-node command line, NULL-terminated */
    const char *const *envp; /* extra NAME=VALUE entries for every node, NULL-terminated */
    /* Node 0 gets the frontend's stdin; every node's stdout and stderr reach the
     * frontend's (inherited locally; forwarded by the workload manager elsewhere). */

    /* Since interface 1.1 (present when struct_size covers it): DRAGON_LAUNCH_* flags. */
    uint32_t flags;
} dragon_launch_request;

/** Size of a launch request as interface 1.0 defined it (no flags). */
#define DRAGON_LAUNCH_REQUEST_1_0_SIZE offsetof(dragon_launch_request, flags)

/**
 * Since 1.1. The frontend understands DRAGON_LAUNCH_WHOLE_STEP from wait(). A launcher
 * that can only learn the step's aggregate result (srun, mpiexec) must refuse to start
 * for a frontend that does not set this flag.
 */
#define DRAGON_LAUNCH_FLAG_WHOLE_STEP_RESULT 0x1u

/**
 * Since 1.1: wait()'s *node when the launcher reports the step as a whole: every node
 * has ended, and *exit_code is the workload manager's aggregate (the highest exit code
 * of the nodes, or -N when it reports a signal N). Nothing is reported after it.
 */
#define DRAGON_LAUNCH_WHOLE_STEP UINT32_MAX

/** Since 1.1: what the allocation offers, as a launcher sees it before starting. */
typedef struct dragon_allocation_info {
    uint32_t struct_size; /* set by the caller: sizeof(dragon_allocation_info) */
    uint32_t num_nodes;   /* nodes a launch may use (what node_count says) */
    /* Host names, comma-separated, in node order; "..." ends a list that did not fit. */
    char hosts[DRAGON_MESSAGE_MAX];
    /* CPUs granted per node, comma-separated in node order ("4,4,2"); empty if unknown. */
    char cpus_per_node[DRAGON_MESSAGE_MAX];
    /* How the launcher found this out, one sentence ("Slurm job 42: SLURM_JOB_NODELIST"). */
    char source[DRAGON_MESSAGE_MAX];
} dragon_allocation_info;

/** Opaque to the framework. */
typedef struct dragon_launch dragon_launch;

typedef struct dragon_launcher_ops {
    size_t struct_size; /* sizeof(dragon_launcher_ops) as the plugin was built */

    /** Number of nodes this launcher can start on here (for local: the simulated count asked). */
    dragon_status (*node_count)(const dragon_host *host, uint32_t *out, dragon_error *err);

    /**
     * Start one dragon-node per node, each a PMIx client of a server that knows all of
     * them (rank = node index, job size = node count). Returns once all are started
     * (since 1.1: or, through a workload manager that cannot tell, once the step is
     * launched; a node that then fails to start ends the step, which wait reports).
     */
    dragon_status (*start)(const dragon_host *host, const dragon_launch_request *request,
                           dragon_launch **out, dragon_error *err);

    /**
     * Wait up to timeout_ns (negative: no limit, 0: poll) for the next node to end.
     * On DRAGON_OK, *node is its index (since 1.1, when the request set
     * DRAGON_LAUNCH_FLAG_WHOLE_STEP_RESULT: or DRAGON_LAUNCH_WHOLE_STEP) and *exit_code
     * its exit status: 0-255 when the dragon-node exited, -N when it was killed by
     * signal N (a node that dies is not a program that failed: the frontend says which
     * node died). DRAGON_ERR_TIMEOUT: none ended in time. DRAGON_ERR_NOT_FOUND: every node has
     * already been reported.
     */
    dragon_status (*wait)(dragon_launch *launch, int64_t timeout_ns, uint32_t *node, int *exit_code,
                          dragon_error *err);

    /** Deliver a signal to every dragon-node of the launch that is still running. */
    dragon_status (*signal)(dragon_launch *launch, int signum, dragon_error *err);

    /** Release the handle: nodes still running are killed (SIGKILL) and reaped. */
    void (*release)(dragon_launch *launch);

    /* Entries appended after this line are optional (interface 1.1 and later). */

    /**
     * Since 1.1. Describe the allocation: hosts and CPUs per node (dragon-info shows it).
     * The caller zeroes *out and sets its struct_size.
     */
    dragon_status (*allocation)(const dragon_host *host, dragon_allocation_info *out,
                                dragon_error *err);
} dragon_launcher_ops;

/** Frozen mandatory prefix of dragon_launcher_ops: interface 1.0, up to and including release. */
#define DRAGON_LAUNCHER_OPS_MANDATORY_SIZE                                                         \
    (offsetof(dragon_launcher_ops, release) + sizeof(void (*)(void)))

#ifdef __cplusplus
}
#endif

#endif /* DRAGON_LAUNCHER_H */
