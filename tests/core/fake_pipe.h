/*
 * The pipe, stdio and process OS actions of common/seam.h for the fake
 * backends: they record what the core asked, so the core's checks
 * (common/pipe.c, process.c) are tested without handles or children.
 */
#ifndef IOR_TEST_FAKE_PIPE_H
#define IOR_TEST_FAKE_PIPE_H

#include "core.h"

typedef struct fake_pipe {
    /* Makes the transport of ior__os_pipe_open; NULL: IOR_ENOTSUP. */
    ior_transport_t *(*make)(ior_loop_t *loop);
    int dup_result;   /* what ior__os_stdio_dup returns */
    int spawn_result; /* what ior__os_process_start returns (ENOMEM: alloc) */
    int kill_result;  /* what ior__os_process_kill returns */
    /* What the core asked. */
    int opens, dups, handle_closes, spawns, kills;
    intptr_t last_handle;
    int last_which, last_signum;
} fake_pipe_t;

extern fake_pipe_t fake_pipe;

void fake_pipe_reset(void);

#endif
