/*
 * The net suite, many connections: closing with I/O in flight 1,000
 * times without a leak, freeing a loop with live connections, and 500
 * connections at once.
 */
#include "net_tests.h"
#include "net_util.h"
#include "platform.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* --- close with reads and writes in flight ------------------------------ */

#define CIF_TOTAL 1000
#define CIF_PARALLEL 8
#define CIF_CHUNK 65536

typedef struct cif_ctx {
    nu_server_t s;
    nu_conn_t conns[CIF_TOTAL];
    int started;
    int finished;
} cif_ctx_t;

static void cif_start(cif_ctx_t *x, ior_loop_t *loop);

static void cif_check_done(cif_ctx_t *x, ior_loop_t *loop)
{
    if (x->finished == CIF_TOTAL && x->s.lost == x->s.accepted)
        nu_done(loop);
}

static void cif_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_write(c->t, nu_pattern(0), CIF_CHUNK), 0);
}

/* First echo bytes: queue more, then close one of four ways. */
static void cif_data(nu_conn_t *c, const void *data, size_t len)
{
    (void)data;
    if (c->rx != len || c->t == NULL)
        return;
    assert_int_equal(ior_transport_write(c->t, nu_pattern(1), CIF_CHUNK), 0);
    switch (c->tag % 4) {
    case 0:
        assert_int_equal(ior_transport_abort_connection(c->t), 0);
        break;
    case 1:
        assert_int_equal(ior_transport_lose_connection(c->t), 0);
        break;
    case 2:
        /* Paused with data held, then aborted. */
        assert_int_equal(ior_transport_pause_producing(c->t), 0);
        assert_int_equal(ior_transport_abort_connection(c->t), 0);
        break;
    default:
        break; /* the server resets this one */
    }
}

static void cif_lost(nu_conn_t *c)
{
    cif_ctx_t *x = c->user;
    x->finished++;
    cif_start(x, c->loop);
    cif_check_done(x, c->loop);
}

static void cif_server_data(nu_conn_t *c, const void *data, size_t len)
{
    (void)data;
    (void)len;
    if (c->tag % 4 == 3 && c->t != NULL)
        assert_int_equal(ior_transport_abort_connection(c->t), 0);
}

static void cif_server_lost(nu_conn_t *c)
{
    cif_check_done(c->user, c->loop);
}

static void cif_accept(nu_server_t *s, nu_conn_t *c)
{
    c->user = s->user;
    c->tag = s->accepted - 1;
    c->on_data = cif_server_data;
    c->on_lost = cif_server_lost;
}

static void cif_start(cif_ctx_t *x, ior_loop_t *loop)
{
    nu_conn_t *c;
    if (x->started == CIF_TOTAL)
        return;
    c = &x->conns[x->started];
    c->tag = x->started++;
    c->user = x;
    c->on_connect = cif_connected;
    c->on_data = cif_data;
    c->on_lost = cif_lost;
    nu_connect(loop, &x->s.addr, c, 0);
}

/*
 * Closing 1,000 connections with reads and writes in flight (abort, lose,
 * abort while paused, peer reset) leaves no library allocation behind.
 */
void test_close_in_flight_1000_times_no_leaks(void **state)
{
    nu_loop_t nl;
    cif_ctx_t *x = calloc(1, sizeof(*x));
    int i;
    (void)state;
    nu_loop_init(&nl);
    x->s.on_accept = cif_accept;
    x->s.user = x;
    assert_int_equal(nu_server_start(&x->s, nl.loop, "127.0.0.1", NU_ECHO, 0),
                     0);
    for (i = 0; i < CIF_PARALLEL; i++)
        cif_start(x, nl.loop);
    nu_loop_run(&nl);
    assert_int_equal(x->finished, CIF_TOTAL);
    assert_int_equal(x->s.accepted, CIF_TOTAL);
    for (i = 0; i < CIF_TOTAL; i++) {
        assert_int_equal(x->conns[i].lost, 1);
        assert_int_equal(x->conns[i].data_after_lost, 0);
        if (i % 4 == 0 || i % 4 == 2)
            assert_int_equal(x->conns[i].reason, IOR_EABORTED);
    }
    nu_server_close(&x->s);
    nu_loop_free(&nl);
    nu_server_free_conns(&x->s);
    free(x);
}

/* --- freeing a loop with live connections --------------------------------- */

#define LIVE_CONNS 20

typedef struct live_ctx {
    nu_server_t s;
    nu_conn_t conns[LIVE_CONNS];
    int with_data;
} live_ctx_t;

static void live_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_write(c->t, nu_pattern(0), NU_PATTERN_MAX),
                     0);
}

static void live_data(nu_conn_t *c, const void *data, size_t len)
{
    live_ctx_t *x = c->user;
    if (c->rx != len)
        return;
    /* Keep writing so that sends are in flight when the loop is freed. */
    assert_int_equal(ior_transport_write(c->t, data, len), 0);
    if (++x->with_data == LIVE_CONNS)
        nu_done(c->loop);
}

/*
 * ior_loop_free with connections open and I/O in flight: every transport
 * gets connection_lost(IOR_EABORTED) once, the listener closes, no leak.
 */
void test_loop_free_aborts_live_connections(void **state)
{
    nu_loop_t nl;
    live_ctx_t *x = calloc(1, sizeof(*x));
    nu_conn_t *sc;
    int i;
    (void)state;
    nu_loop_init(&nl);
    assert_int_equal(nu_server_start(&x->s, nl.loop, "127.0.0.1", NU_ECHO, 0),
                     0);
    for (i = 0; i < LIVE_CONNS; i++) {
        x->conns[i].user = x;
        x->conns[i].on_connect = live_connected;
        x->conns[i].on_data = live_data;
        nu_connect(nl.loop, &x->s.addr, &x->conns[i], NU_ECHO);
    }
    nu_loop_run(&nl);
    x->s.l = NULL; /* ior_loop_free closes the listener */
    nu_loop_free(&nl);
    for (i = 0; i < LIVE_CONNS; i++) {
        assert_int_equal(x->conns[i].lost, 1);
        assert_int_equal(x->conns[i].reason, IOR_EABORTED);
    }
    for (sc = x->s.conns; sc != NULL; sc = sc->next) {
        assert_int_equal(sc->lost, 1);
    }
    nu_server_free_conns(&x->s);
    free(x);
}

/* --- 500 connections at once ---------------------------------------------- */

#define MANY_CONNS 500
#define MANY_BYTES 1000

typedef struct many_ctx {
    nu_server_t s;
    nu_conn_t conns[MANY_CONNS];
    int lost;
} many_ctx_t;

static void many_check_done(many_ctx_t *x, ior_loop_t *loop)
{
    if (x->lost == MANY_CONNS && x->s.lost == MANY_CONNS)
        nu_done(loop);
}

static void many_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(
        ior_transport_write(c->t, nu_pattern((uint64_t)c->tag), MANY_BYTES), 0);
}

static void many_data(nu_conn_t *c, const void *data, size_t len)
{
    (void)data;
    (void)len;
    if (c->rx == MANY_BYTES)
        assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

static void many_lost(nu_conn_t *c)
{
    many_ctx_t *x = c->user;
    x->lost++;
    many_check_done(x, c->loop);
}

static void many_server_lost(nu_conn_t *c)
{
    many_check_done(c->user, c->loop);
}

static void many_accept(nu_server_t *s, nu_conn_t *c)
{
    c->user = s->user;
    c->on_lost = many_server_lost;
}

/* 500 concurrent connections each echo 1,000 distinct bytes. */
void test_500_concurrent_connections(void **state)
{
    nu_loop_t nl;
    many_ctx_t *x = calloc(1, sizeof(*x));
    unsigned long limit = nu_platform_raise_fd_limit();
    int i;
    (void)state;
    if (limit != 0 && limit < 2 * MANY_CONNS + 64) {
        print_message("SKIP: only %lu descriptors allowed\n", limit);
        free(x);
        skip();
    }
    nu_loop_init(&nl);
    x->s.on_accept = many_accept;
    x->s.user = x;
    assert_int_equal(
        nu_server_start(&x->s, nl.loop, "127.0.0.1", NU_ECHO, 1024), 0);
    for (i = 0; i < MANY_CONNS; i++) {
        nu_conn_t *c = &x->conns[i];
        c->tag = i;
        c->user = x;
        c->on_connect = many_connected;
        c->on_data = many_data;
        c->on_lost = many_lost;
        nu_connect(nl.loop, &x->s.addr, c, 0);
    }
    nu_loop_run(&nl);
    for (i = 0; i < MANY_CONNS; i++) {
        nu_conn_t *c = &x->conns[i];
        assert_int_equal(c->rx, MANY_BYTES);
        assert_true(c->rx_hash ==
                    nu_fnv1a(NU_FNV_INIT, nu_pattern((uint64_t)i), MANY_BYTES));
        assert_int_equal(c->reason, IOR_EDONE);
    }
    assert_int_equal(x->s.accepted, MANY_CONNS);
    nu_server_close(&x->s);
    nu_loop_free(&nl);
    nu_server_free_conns(&x->s);
    free(x);
}
