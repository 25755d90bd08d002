/*
 * Connect to several addresses and by name, as RFC 8305 "Happy Eyeballs"
 * (issue 14, part 4), on every backend: fall-through on a refusal, the
 * last failure when all fail, the attempt delay and the cancel of the
 * loser, the overall timeout, ior_loop_free, and a name.
 */
#include "tools_tests.h"
#include "net_util.h"
#include "platform.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct cm_ctx {
    nu_loop_t nl;
    nu_server_t s4, s6;
    int calls;
    int status;
    int os_error;
    ior_addr_t peer;
    uint64_t started, elapsed;
} cm_ctx_t;

static void cm_done(ior_loop_t *loop, void *user, ior_transport_t *t,
                    int status, int os_error)
{
    cm_ctx_t *x = user;
    x->calls++;
    x->status = status;
    x->os_error = os_error;
    x->elapsed = ior_loop_now(loop) - x->started;
    if (t != NULL)
        assert_int_equal(ior_transport_peer_address(t, &x->peer), 0);
    /* No protocol: the transport closes when this returns. */
    nu_done(loop);
}

static cm_ctx_t *cm_new(void)
{
    cm_ctx_t *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    nu_loop_init(&x->nl);
    x->started = ior_loop_now(x->nl.loop);
    return x;
}

static void cm_free(cm_ctx_t *x)
{
    nu_server_close(&x->s4);
    nu_server_close(&x->s6);
    nu_loop_free(&x->nl);
    nu_server_free_conns(&x->s4);
    nu_server_free_conns(&x->s6);
    free(x);
}

/* A loopback port nobody listens on (listened on, then closed). */
static uint16_t closed_port(void)
{
    uint16_t port;
    intptr_t h;
    assert_int_equal(nu_platform_listen_noaccept(1, &port, &h), 0);
    nu_platform_close_socket(h);
    return port;
}

/* An IPv6 refusal first, then IPv4 with a server: the refusal starts the
 * next attempt and the IPv4 one connects. */
void test_connect_addrs_falls_through_a_refusal(void **state)
{
    cm_ctx_t *x = cm_new();
    ior_addr_t a[2];
    (void)state;
    assert_int_equal(nu_server_start(&x->s4, x->nl.loop, "127.0.0.1", 0, 0),
                     0);
    assert_int_equal(ior_addr_parse(&a[0], "::1", closed_port()), 0);
    a[1] = x->s4.addr;
    assert_int_equal(
        ior_tcp_connect_addrs(x->nl.loop, a, 2, NULL, cm_done, x), 0);
    assert_int_equal(x->calls, 0); /* never inside the call */
    nu_loop_run(&x->nl);
    assert_int_equal(x->calls, 1);
    assert_int_equal(x->status, 0);
    assert_int_equal(x->peer.family, IOR_AF_INET);
    assert_int_equal(x->peer.port, x->s4.addr.port);
    cm_free(x);
}

/* Every address refused: the last attempt's failure and its OS error. */
void test_connect_addrs_all_refused_reports_the_last(void **state)
{
    cm_ctx_t *x = cm_new();
    ior_addr_t a[3];
    (void)state;
    assert_int_equal(ior_addr_parse(&a[0], "127.0.0.1", closed_port()), 0);
    assert_int_equal(ior_addr_parse(&a[1], "127.0.0.1", closed_port()), 0);
    assert_int_equal(ior_addr_parse(&a[2], "::1", closed_port()), 0);
    assert_int_equal(
        ior_tcp_connect_addrs(x->nl.loop, a, 3, NULL, cm_done, x), 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->calls, 1);
    assert_int_equal(x->status, IOR_ECONNREFUSED);
    assert_int_equal(x->os_error, nu_platform_refused_os_error());
    cm_free(x);
}

/*
 * A listener that never accepts, its backlog filled by raw connects:
 * further SYNs get no answer (where the platform drops them; else the
 * test is skipped, as test_connect_timeout_on_full_backlog).
 */
typedef struct blackhole {
    intptr_t l;
    intptr_t fill[4];
    ior_addr_t addr;
} blackhole_t;

static void blackhole_open(blackhole_t *b)
{
    uint16_t port;
    int i;
    assert_int_equal(nu_platform_listen_noaccept(1, &port, &b->l), 0);
    for (i = 0; i < 4; i++)
        assert_int_equal(nu_platform_connect_start(port, &b->fill[i]), 0);
    assert_int_equal(ior_addr_parse(&b->addr, "127.0.0.1", port), 0);
}

static void blackhole_close(blackhole_t *b)
{
    int i;
    for (i = 0; i < 4; i++)
        nu_platform_close_socket(b->fill[i]);
    nu_platform_close_socket(b->l);
}

/*
 * The attempt delay and the overall timeout: an address that never
 * answers alone ends with IOR_ETIMEDOUT at the timeout (os_error 0);
 * followed by one with a server, the second attempt starts after
 * IOR_CONNECT_ATTEMPT_DELAY_MS and wins, and the first is cancelled.
 */
void test_connect_addrs_delay_timeout_and_cancel(void **state)
{
    cm_ctx_t *x = cm_new();
    ior_connect_options_t o = {300, NULL};
    blackhole_t b;
    ior_addr_t a[2];
    (void)state;
    blackhole_open(&b);
    assert_int_equal(
        ior_tcp_connect_addrs(x->nl.loop, &b.addr, 1, &o, cm_done, x), 0);
    nu_loop_run(&x->nl);
    if (x->status != IOR_ETIMEDOUT) {
        print_message("SKIP: a connect to a full backlog ended with %s, not "
                      "a timeout; this platform does not drop SYNs\n",
                      ior_err_name(x->status));
        blackhole_close(&b);
        cm_free(x);
        skip();
        return;
    }
    assert_int_equal(x->os_error, 0);
    assert_true(x->elapsed + 50 >= 300);
    /* Now the delay: the silent address first, the server second. */
    x->calls = 0;
    x->started = ior_loop_now(x->nl.loop);
    assert_int_equal(nu_server_start(&x->s6, x->nl.loop, "::1", 0, 0), 0);
    a[0] = b.addr;
    a[1] = x->s6.addr;
    o.timeout_ms = 10000;
    assert_int_equal(ior_tcp_connect_addrs(x->nl.loop, a, 2, &o, cm_done, x),
                     0);
    nu_loop_run(&x->nl);
    print_message("tools: happy eyeballs: the second address won after "
                  "%llu ms\n", (unsigned long long)x->elapsed);
    assert_int_equal(x->calls, 1);
    assert_int_equal(x->status, 0);
    assert_int_equal(x->peer.family, IOR_AF_INET6);
    assert_true(x->elapsed + 10 >= IOR_CONNECT_ATTEMPT_DELAY_MS);
    assert_true(x->elapsed < 10000);
    /* The cancelled attempt leaves nothing behind (nu_loop_free checks). */
    blackhole_close(&b);
    cm_free(x);
}

/* ior_loop_free with attempts running: IOR_ECANCELED, once. */
void test_connect_addrs_loop_free_cancels(void **state)
{
    cm_ctx_t *x = cm_new();
    blackhole_t b;
    ior_addr_t a[2];
    (void)state;
    blackhole_open(&b);
    a[0] = b.addr;
    a[1] = b.addr;
    assert_int_equal(ior_tcp_connect_addrs(x->nl.loop, a, 2, NULL, cm_done, x),
                     0);
    nu_loop_free(&x->nl);
    blackhole_close(&b);
    assert_int_equal(x->calls, 1);
    assert_int_equal(x->status, IOR_ECANCELED);
    free(x);
}

/* By name: "localhost" reaches a server on 127.0.0.1 whatever order the
 * resolver gives; "" is IOR_ENAME through the callback. */
void test_connect_name(void **state)
{
    cm_ctx_t *x = cm_new();
    (void)state;
    assert_int_equal(nu_server_start(&x->s4, x->nl.loop, "127.0.0.1", 0, 0),
                     0);
    assert_int_equal(ior_tcp_connect_name(x->nl.loop, "localhost",
                                          x->s4.addr.port, NULL, cm_done, x),
                     0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->status, 0);
    assert_int_equal(x->peer.family, IOR_AF_INET);
    assert_int_equal(x->peer.port, x->s4.addr.port);
    x->calls = 0;
    assert_int_equal(
        ior_tcp_connect_name(x->nl.loop, "", 80, NULL, cm_done, x), 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->calls, 1);
    assert_int_equal(x->status, IOR_ENAME);
    cm_free(x);
}

/* NULLs, no address, a bad family: IOR_EINVAL; a bind address of another
 * family than every address: IOR_EAFNOSUPPORT; the callback never runs. */
void test_connect_many_bad_input(void **state)
{
    cm_ctx_t *x = cm_new();
    ior_addr_t a[1], bind4, bad;
    ior_connect_options_t o = {0, NULL};
    (void)state;
    assert_int_equal(ior_addr_parse(&a[0], "::1", 9), 0);
    assert_int_equal(ior_addr_parse(&bind4, "127.0.0.1", 0), 0);
    memset(&bad, 0, sizeof(bad));
    o.bind = &bind4;
    assert_int_equal(ior_tcp_connect_addrs(NULL, a, 1, NULL, cm_done, x),
                     IOR_EINVAL);
    assert_int_equal(
        ior_tcp_connect_addrs(x->nl.loop, NULL, 1, NULL, cm_done, x),
        IOR_EINVAL);
    assert_int_equal(ior_tcp_connect_addrs(x->nl.loop, a, 0, NULL, cm_done, x),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_connect_addrs(x->nl.loop, a, 1, NULL, NULL, x),
                     IOR_EINVAL);
    assert_int_equal(
        ior_tcp_connect_addrs(x->nl.loop, &bad, 1, NULL, cm_done, x),
        IOR_EINVAL);
    assert_int_equal(ior_tcp_connect_addrs(x->nl.loop, a, 1, &o, cm_done, x),
                     IOR_EAFNOSUPPORT);
    assert_int_equal(ior_tcp_connect_name(x->nl.loop, NULL, 1, NULL, cm_done,
                                          x),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_connect_name(x->nl.loop, "localhost", 1, NULL,
                                          NULL, x),
                     IOR_EINVAL);
    assert_int_equal(x->calls, 0);
    cm_free(x);
}
