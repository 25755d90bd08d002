/* Helpers of the Windows-only tests (see wine_util.h). */
#include "wine_util.h"

#include <stdlib.h>
#include <string.h>

volatile LONG live_allocs;

static void *count_malloc(void *ctx, size_t n)
{
    void *p = malloc(n ? n : 1);
    (void)ctx;
    if (p)
        InterlockedIncrement(&live_allocs);
    return p;
}

static void *count_realloc(void *ctx, void *p, size_t n)
{
    void *q;
    (void)ctx;
    if (!p)
        return count_malloc(ctx, n);
    q = realloc(p, n ? n : 1);
    return q;
}

static void count_free(void *ctx, void *p)
{
    (void)ctx;
    if (p) {
        InterlockedDecrement(&live_allocs);
        free(p);
    }
}

const ior_allocator_t counting = {count_malloc, count_realloc, count_free,
                                  NULL};

static void watchdog(ior_loop_t *loop, void *user)
{
    ((tloop_t *)user)->watchdog_fired = 1;
    ior_loop_stop(loop);
}

void tloop_init(tloop_t *tl)
{
    memset(tl, 0, sizeof(*tl));
    assert_int_equal(ior_loop_new(&tl->loop, NULL), 0);
    assert_int_equal(ior_call_later(tl->loop, WATCHDOG_MS, watchdog, tl, NULL),
                     0);
}

void tloop_run(tloop_t *tl)
{
    assert_int_equal(ior_loop_run(tl->loop), 0);
    assert_false(tl->watchdog_fired);
}

void tloop_free(tloop_t *tl)
{
    assert_int_equal(ior_loop_free(tl->loop), 0);
    assert_int_equal(live_allocs, 0);
}

/* ------------------------------------------------------------------ */
/* A connected pair over loopback                                      */
/* ------------------------------------------------------------------ */

static void c_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    conn_t *c = (conn_t *)user;
    const unsigned char *p = (const unsigned char *)d;
    size_t i;

    for (i = 0; i < n; i++) {
        c->rx_sum += p[i];
        if (c->pattern && p[i] != pattern_byte(c->rx + i))
            c->mismatches++;
    }
    c->rx += n;
    if (c->echo)
        assert_int_equal(ior_transport_write(t, d, n), 0);
    if (c->on_data)
        c->on_data(c);
}

static void c_lost(ior_transport_t *t, void *user, int reason)
{
    conn_t *c = (conn_t *)user;
    (void)t;
    c->lost++;
    c->reason = reason;
    c->t = NULL;
    if (c->pair && c->pair->server.lost && c->pair->client.lost)
        ior_loop_stop(c->pair->tl.loop);
}

const ior_protocol_ops_t conn_ops = {c_data, NULL, NULL, c_lost};

void on_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    pair_t *p = (pair_t *)user;
    (void)l;
    p->server.t = t;
    assert_int_equal(ior_transport_set_protocol(t, &conn_ops, &p->server), 0);
    if (++p->connected == 2)
        ior_loop_stop(p->tl.loop);
}

const ior_listener_ops_t listener_ops = {on_accept, NULL};

void on_connect(ior_loop_t *loop, void *user, ior_transport_t *t, int status,
                int os_error)
{
    (void)os_error;
    pair_t *p = (pair_t *)user;
    assert_int_equal(status, 0);
    p->client.t = t;
    assert_int_equal(ior_transport_set_protocol(t, &conn_ops, &p->client), 0);
    if (++p->connected == 2)
        ior_loop_stop(loop);
}

/* A listener on 127.0.0.1:0 and one connection to it, both sides up. */
void pair_open(pair_t *p)
{
    ior_addr_t a;

    memset(p, 0, sizeof(*p));
    p->server.pair = p->client.pair = p;
    tloop_init(&p->tl);
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(
        ior_tcp_listen(p->tl.loop, &a, NULL, &listener_ops, p, &p->l), 0);
    assert_int_equal(ior_listener_address(p->l, &a), 0);
    assert_true(a.port != 0);
    assert_int_equal(ior_tcp_connect(p->tl.loop, &a, NULL, on_connect, p), 0);
    tloop_run(&p->tl);
    assert_int_equal(p->connected, 2);
}
