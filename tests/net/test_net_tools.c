/*
 * What tool builders reach for next (issue 14), on real loops of every
 * backend (epoll, poll, IOCP under Wine): repeating timers and restart
 * against the loop's own clock, and SO_REUSEPORT listeners. The poll
 * handle, connect by name and file sending have files of their own in
 * this program (tools_tests.h).
 */
#include "tools_tests.h"
#include "../portable.h"
#include "net_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* --- repeating timers -------------------------------------------------- */

#define TT_PERIOD 5
#define TT_FIRINGS 6

typedef struct tt_ctx {
    nu_loop_t nl;
    ior_timer_id every;
    ior_timer_id once;
    uint64_t start;
    uint64_t at[TT_FIRINGS];
    int n;
    int once_fired;
    uint64_t once_at[3];
} tt_ctx_t;

static void tt_check_done(tt_ctx_t *x)
{
    if (x->n == TT_FIRINGS && x->once_fired == 3)
        nu_done(x->nl.loop);
}

static void tt_every(ior_loop_t *loop, void *user)
{
    tt_ctx_t *x = user;
    assert_true(x->n < TT_FIRINGS);
    x->at[x->n++] = ior_loop_now(loop);
    if (x->n == TT_FIRINGS)
        assert_int_equal(ior_timer_cancel(loop, x->every), 0);
    tt_check_done(x);
}

static void tt_once(ior_loop_t *loop, void *user)
{
    tt_ctx_t *x = user;
    x->once_at[x->once_fired++] = ior_loop_now(loop);
    if (x->once_fired < 3)
        assert_int_equal(ior_timer_restart(loop, x->once, TT_PERIOD), 0);
    tt_check_done(x);
}

/* A repeating timer fires TT_FIRINGS times with one handle, the k-th
 * never before start + k periods of loop time, until its callback cancels
 * it; a one-shot timer restarted from its own callback fires three times,
 * likewise; afterwards both handles are stale. */
static void test_timers_repeat_and_restart_on_the_loop(void **state)
{
    tt_ctx_t *x = calloc(1, sizeof(*x));
    int i;
    (void)state;
    assert_non_null(x);
    nu_loop_init(&x->nl);
    x->start = ior_loop_now(x->nl.loop);
    assert_int_equal(ior_call_every(x->nl.loop, TT_PERIOD, TT_PERIOD,
                                    tt_every, x, &x->every),
                     0);
    assert_int_equal(ior_call_later(x->nl.loop, TT_PERIOD, tt_once, x,
                                    &x->once),
                     0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->n, TT_FIRINGS);
    for (i = 0; i < TT_FIRINGS; i++)
        assert_true(x->at[i] >= x->start + (uint64_t)(i + 1) * TT_PERIOD);
    for (i = 0; i < 3; i++)
        assert_true(x->once_at[i] >= x->start + (uint64_t)(i + 1) * TT_PERIOD);
    print_message("tools: repeating timer fired at +%llu .. +%llu ms\n",
                  (unsigned long long)(x->at[0] - x->start),
                  (unsigned long long)(x->at[TT_FIRINGS - 1] - x->start));
    assert_int_equal(ior_timer_cancel(x->nl.loop, x->every), IOR_ENOENT);
    assert_int_equal(ior_timer_restart(x->nl.loop, x->once, 1), IOR_ENOENT);
    nu_loop_free(&x->nl);
    free(x);
}

/* --- SO_REUSEPORT ------------------------------------------------------ */

#define RP_CLIENTS 32

#ifndef _WIN32

typedef struct rp_ctx {
    nu_loop_t nl;
    nu_server_t a, b;
    nu_conn_t c[RP_CLIENTS];
    int connected;
} rp_ctx_t;

static void rp_maybe_done(rp_ctx_t *x)
{
    if (x->connected == RP_CLIENTS &&
        x->a.accepted + x->b.accepted == RP_CLIENTS)
        nu_done(x->nl.loop);
}

static void rp_accept(nu_server_t *s, nu_conn_t *c)
{
    (void)c;
    rp_maybe_done(s->user);
}

static void rp_connected(nu_conn_t *c)
{
    rp_ctx_t *x = c->user;
    assert_int_equal(c->connect_status, 0);
    x->connected++;
    rp_maybe_done(x);
}

static void noop_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    (void)l;
    (void)user;
    (void)t;
}

static const ior_listener_ops_t noop_listener = {noop_accept, NULL};

#endif

/*
 * POSIX: two listeners with IOR_LISTEN_REUSEPORT share one port, a third
 * without it is refused (IOR_EADDRINUSE), and every connection is
 * accepted by exactly one of the two; on Linux, which hashes connections
 * across the group, both get some of RP_CLIENTS (each of 2^32 outcomes
 * but two has both). Windows: IOR_ENOTSUP, the listener is not made.
 */
static void test_listen_reuseport(void **state)
{
#ifdef _WIN32
    nu_loop_t nl;
    nu_server_t a;
    (void)state;
    memset(&a, 0, sizeof(a));
    nu_loop_init(&nl);
    a.listen_flags = IOR_LISTEN_REUSEPORT;
    assert_int_equal(nu_server_start(&a, nl.loop, "127.0.0.1", 0, 0),
                     IOR_ENOTSUP);
    assert_null(a.l);
    nu_loop_free(&nl);
#else
    rp_ctx_t *x = calloc(1, sizeof(*x));
    ior_listen_options_t o = {0, 0, IOR_LISTEN_REUSEPORT};
    ior_listener_t *third = NULL;
    int i;
    (void)state;
    assert_non_null(x);
    nu_loop_init(&x->nl);
    x->a.listen_flags = IOR_LISTEN_REUSEPORT;
    x->b.listen_flags = IOR_LISTEN_REUSEPORT;
    x->a.on_accept = x->b.on_accept = rp_accept;
    x->a.user = x->b.user = x;
    assert_int_equal(nu_server_start(&x->a, x->nl.loop, "127.0.0.1", 0, 0), 0);
    /* The second listener of the group: on the first one's port. */
    assert_int_equal(ior_tcp_listen(x->nl.loop, &x->a.addr, &o, &noop_listener,
                                    NULL, &third),
                     0);
    ior_listener_close(third);
    o.flags = 0;
    assert_int_equal(ior_tcp_listen(x->nl.loop, &x->a.addr, &o, &noop_listener,
                                    NULL, &third),
                     IOR_EADDRINUSE);
    assert_int_equal(nu_server_start_at(&x->b, x->nl.loop, &x->a.addr, 0, 0),
                     0);
    assert_int_equal(x->b.addr.port, x->a.addr.port);
    for (i = 0; i < RP_CLIENTS; i++) {
        x->c[i].on_connect = rp_connected;
        x->c[i].user = x;
        nu_connect(x->nl.loop, &x->a.addr, &x->c[i], 0);
    }
    nu_loop_run(&x->nl);
    print_message("tools: reuseport: %d and %d of %d connections\n",
                  x->a.accepted, x->b.accepted, RP_CLIENTS);
    assert_int_equal(x->a.accepted + x->b.accepted, RP_CLIENTS);
#ifdef __linux__
    assert_true(x->a.accepted > 0);
    assert_true(x->b.accepted > 0);
#endif
    for (i = 0; i < RP_CLIENTS; i++)
        if (x->c[i].t != NULL)
            ior_transport_abort_connection(x->c[i].t);
    nu_server_close(&x->a);
    nu_server_close(&x->b);
    nu_loop_free(&x->nl);
    nu_server_free_conns(&x->a);
    nu_server_free_conns(&x->b);
    free(x);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_repeat_and_restart_on_the_loop),
        cmocka_unit_test(test_listen_reuseport),
        TOOLS_POLL_TESTS
        TOOLS_CONNECT_TESTS
        TOOLS_LOCAL_TESTS
        TOOLS_FILE_TESTS
    };
    ior_loop_t *loop;
    const char *only = test_getenv("IOR_TEST_FILTER");
    if (only != NULL && *only != '\0')
        cmocka_set_test_filter(only);
    nu_alloc_install();
    if (ior_loop_new(&loop, NULL) == 0) {
        print_message("tools suite on backend: %s\n", ior_loop_backend(loop));
        ior_loop_free(loop);
    }
    return cmocka_run_group_tests_name("net_tools", tests, NULL, NULL);
}
