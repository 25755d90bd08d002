/*
 * Helpers of the net suite, portable (ior.h and the C library only):
 * a counting allocator, a loop with a watchdog, a checksum and a
 * deterministic byte pattern, and a generic recording connection.
 */
#ifndef IOR_NET_UTIL_H
#define IOR_NET_UTIL_H

#include "ior.h"

#include <stddef.h>
#include <stdint.h>

/* --- Counting allocator (installed once, in main) -------------------- */
void nu_alloc_install(void);
long nu_alloc_live(void);
long nu_alloc_total(void);

/* --- Loop with a watchdog -------------------------------------------- */
#define NU_WATCHDOG_MS 20000

typedef struct nu_loop {
    ior_loop_t *loop;
    ior_timer_id watchdog;
    int fired;        /* the watchdog fired: the test is stuck */
    long live_before; /* allocator count before the loop existed */
} nu_loop_t;

/* Creates a loop (backend from IOR_BACKEND) and arms the watchdog. */
void nu_loop_init(nu_loop_t *nl);
/* Runs until ior_loop_stop (nu_done); fails the test if the watchdog
 * fired. */
void nu_loop_run(nu_loop_t *nl);
/* Frees the loop and checks that every library allocation was freed. */
void nu_loop_free(nu_loop_t *nl);
void nu_done(ior_loop_t *loop);
/* NU_WATCHDOG_MS times the IOR_TEST_TIMEOUT_SCALE environment variable. */
uint64_t nu_watchdog_ms(void);

/* --- Data -------------------------------------------------------------- */
#define NU_FNV_INIT 0xcbf29ce484222325ULL
uint64_t nu_fnv1a(uint64_t h, const void *data, size_t len);
/* The stream pattern: NU_PATTERN_MAX bytes valid from the pointer. */
#define NU_PATTERN_MAX (256 * 1024)
const uint8_t *nu_pattern(uint64_t offset);
uint64_t nu_pattern_hash(uint64_t len);

/* --- A recording connection -------------------------------------------- */
#define NU_ECHO 0x1       /* write back what arrives */
#define NU_HALF_CLOSE 0x2 /* half-close aware (read_connection_lost) */
#define NU_PAUSED 0x4     /* pause reading as soon as connected */

typedef struct nu_conn nu_conn_t;
struct nu_conn {
    ior_transport_t *t; /* NULL once connection_lost ran */
    ior_loop_t *loop;
    unsigned flags;
    uint64_t rx;
    uint64_t rx_hash;
    int eof;        /* read_connection_lost calls */
    int write_lost; /* write_connection_lost calls */
    int lost;       /* connection_lost calls */
    int reason;
    int data_after_lost;
    int connect_status;
    int connect_os_error; /* os_error of the connect callback */
    int connected;
    /* Optional hooks, run after the recording. */
    void (*on_data)(nu_conn_t *c, const void *data, size_t len);
    void (*on_eof)(nu_conn_t *c);
    void (*on_lost)(nu_conn_t *c);
    void (*on_connect)(nu_conn_t *c);
    void *user;
    int tag;         /* free for the test */
    void *server;    /* the nu_server_t that accepted it, or NULL */
    nu_conn_t *next; /* the server's list of accepted connections */
};

/* Adopts t: protocol set, flags applied. */
void nu_conn_attach(nu_conn_t *c, ior_transport_t *t, unsigned flags);

/* Connects c to addr; c->on_connect (if any) runs with the result
 * (c->connect_status), success or not. */
void nu_connect(ior_loop_t *loop, const ior_addr_t *addr, nu_conn_t *c,
                unsigned flags);
/* The same with options; returns what ior_tcp_connect returned. */
int nu_connect_with(ior_loop_t *loop, const ior_addr_t *addr, nu_conn_t *c,
                    unsigned flags, const ior_connect_options_t *opts);

/* The same over local IPC (ior_local_connect). */
int nu_local_connect(ior_loop_t *loop, const char *name, nu_conn_t *c,
                     unsigned flags, const ior_connect_options_t *opts);

/* --- A server: every accepted connection becomes a calloc'd nu_conn ---- */
typedef struct nu_server {
    ior_listener_t *l;
    ior_addr_t addr;
    unsigned flags; /* given to each accepted connection */
    int ipv6_only;  /* listen option, set before nu_server_start */
    unsigned listen_flags; /* IOR_LISTEN_*, set before nu_server_start */
    nu_conn_t *conns;
    int accepted;
    int lost; /* accepted connections that are gone */
    void (*on_accept)(struct nu_server *s, nu_conn_t *c);
    void *user;
} nu_server_t;

/* Listens on ip (port 0); returns 0 or the IOR_E* code. */
int nu_server_start(nu_server_t *s, ior_loop_t *loop, const char *ip,
                    unsigned flags, int backlog);
/* Listens on addr itself (its port too), e.g. a second SO_REUSEPORT one. */
int nu_server_start_at(nu_server_t *s, ior_loop_t *loop, const ior_addr_t *addr,
                       unsigned flags, int backlog);
void nu_server_close(nu_server_t *s);
void nu_server_free_conns(nu_server_t *s);

#endif
