/*
 * Helpers of the Windows-only tests: a counting allocator (leak checks), a
 * loop with a watchdog timer, and a connected pair over loopback.
 */
#ifndef IOR_WINE_UTIL_H
#define IOR_WINE_UTIL_H

#include "iocp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Live allocations made through the library (ior_set_allocator). */
extern volatile LONG live_allocs;
extern const ior_allocator_t counting;

#define WATCHDOG_MS 20000

typedef struct tloop {
    ior_loop_t *loop;
    int watchdog_fired;
} tloop_t;

/* A loop whose watchdog stops it and fails the test after WATCHDOG_MS. */
void tloop_init(tloop_t *tl);
void tloop_run(tloop_t *tl);
/* Frees the loop and checks that nothing the library allocated is left. */
void tloop_free(tloop_t *tl);

struct pair;
typedef struct conn {
    ior_transport_t *t;
    uint64_t rx;
    uint64_t rx_sum;
    int lost;
    int reason;
    int echo;
    int pattern;         /* check every byte against pattern_byte() */
    uint64_t mismatches; /* bytes that were not pattern_byte(offset) */
    void (*on_data)(struct conn *c);
    struct pair *pair;
} conn_t;

typedef struct pair {
    tloop_t tl;
    ior_listener_t *l;
    conn_t server;
    conn_t client;
    int connected;
} pair_t;

/* Records data (count and byte sum), echoes if asked; stops the loop
 * once both sides are lost. */
/* The byte at offset i of a patterned stream: catches loss and reordering. */
static inline unsigned char pattern_byte(uint64_t i)
{
    return (unsigned char)(i * 7u + (i >> 12));
}

extern const ior_protocol_ops_t conn_ops;
/* Accepts into pair->server; stops the loop once both sides are up. */
extern const ior_listener_ops_t listener_ops;
void on_accept(ior_listener_t *l, void *user, ior_transport_t *t);
void on_connect(ior_loop_t *loop, void *user, ior_transport_t *t, int status,
                int os_error);
/* A listener on 127.0.0.1:0 and one connection to it, both sides up. */
void pair_open(pair_t *p);

#endif
