/*
 * The OS actions of common/seam.h that the recording fake does not
 * model as transports: TCP listeners and connect requests (a small
 * controllable fake, so the core's checks, defaults, timeout and accept
 * policy can be tested without sockets), socket options and error text.
 */
#ifndef IOR_TEST_FAKE_OS_STUBS_H
#define IOR_TEST_FAKE_OS_STUBS_H

#include "core.h"

typedef struct fake_tcp {
    /* 0 (default): listen and connect fail with IOR_ENOTSUP in the "OS". */
    int enabled;
    int start_result;  /* what ior__os_listener_start returns */
    int cancel_defers; /* 1: cancel leaves completion to the test */
    /* What the core asked. */
    int listens, starts, resumes, listener_closes;
    int last_backlog, last_v6only;
    unsigned listen_flags;
    ior_addr_t last_addr;
    int connects, connect_starts, cancels, discards;
    int had_bind;
    ior_addr_t last_bind;
    ior__connect_t *connect; /* the last request, until finished */
    int nodelays, keepalives;
    int last_on;
    unsigned last_idle;
} fake_tcp_t;

extern fake_tcp_t fake_tcp;

/* Clears fake_tcp. */
void fake_tcp_reset(void);
/* Completes the last connect as a backend would (then frees it). */
void fake_connect_finish(ior_transport_t *t, int status, int os_error);

/*
 * Regular files for ior_transport_write_file: FAKE_FILE(i) is file i,
 * size[i] bytes long, whose byte at offset k is fake_file_byte(i, k);
 * every other handle is "not an open regular file". Reset by fake_reset.
 */
#define FAKE_NFILES 4
#define FAKE_FILE(i) ((intptr_t)(700 + (i)))
typedef struct fake_files {
    uint64_t size[FAKE_NFILES];
    /* Reads see only this much of file i when nonzero (it shrank). */
    uint64_t shrunk_to[FAKE_NFILES];
    int read_error; /* nonzero: every read fails with this OS error */
    int reads;      /* ior__os_file_read calls */
    size_t max_read; /* the largest len asked of one */
} fake_files_t;

extern fake_files_t fake_files;

unsigned char fake_file_byte(int i, uint64_t at);
void fake_files_reset(void);

#endif
