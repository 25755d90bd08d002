/*
 * The net suite, the loop: timers, call_from_thread from several threads,
 * and a flood of I/O that must not starve a timer.
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

/* --- timers ----------------------------------------------------------------
 */

typedef struct tm_ctx {
    char order[8];
    int n;
} tm_ctx_t;

typedef struct tm_item {
    tm_ctx_t *ctx;
    char name;
    int last;
} tm_item_t;

static void tm_fire(ior_loop_t *loop, void *user)
{
    tm_item_t *it = user;
    it->ctx->order[it->ctx->n++] = it->name;
    if (it->last)
        nu_done(loop);
}

/*
 * Timers fire by deadline, equal deadlines in scheduling order; a
 * cancelled timer never fires; cancelling twice or after firing is
 * IOR_ENOENT.
 */
void test_timers_fire_in_order_and_cancel(void **state)
{
    nu_loop_t nl;
    tm_ctx_t ctx;
    tm_item_t a = {&ctx, 'A', 1}, b = {&ctx, 'B', 0}, c = {&ctx, 'C', 0},
              d = {&ctx, 'D', 0}, e = {&ctx, 'E', 0};
    ior_timer_id ia, ie;
    (void)state;
    memset(&ctx, 0, sizeof(ctx));
    nu_loop_init(&nl);
    assert_int_equal(ior_call_later(nl.loop, 60, tm_fire, &a, &ia), 0);
    assert_int_equal(ior_call_later(nl.loop, 20, tm_fire, &b, NULL), 0);
    assert_int_equal(ior_call_later(nl.loop, 40, tm_fire, &c, NULL), 0);
    assert_int_equal(ior_call_later(nl.loop, 20, tm_fire, &d, NULL), 0);
    assert_int_equal(ior_call_later(nl.loop, 30, tm_fire, &e, &ie), 0);
    assert_int_equal(ior_timer_cancel(nl.loop, ie), 0);
    assert_int_equal(ior_timer_cancel(nl.loop, ie), IOR_ENOENT);
    nu_loop_run(&nl);
    assert_string_equal(ctx.order, "BDCA");
    assert_int_equal(ior_timer_cancel(nl.loop, ia), IOR_ENOENT);
    assert_true(ior_loop_now(nl.loop) >= 60);
    nu_loop_free(&nl);
}

/* --- call_from_thread
 * --------------------------------------------------------- */

#define CFT_THREADS 4
#define CFT_CALLS 1000

typedef struct cft_ctx cft_ctx_t;

typedef struct cft_item {
    cft_ctx_t *ctx;
    int thread;
    int seq;
} cft_item_t;

struct cft_ctx {
    ior_loop_t *loop;
    cft_item_t items[CFT_THREADS][CFT_CALLS];
    int next[CFT_THREADS];
    int total;
    int out_of_order;
    int failures;
};

static void cft_call(ior_loop_t *loop, void *user)
{
    cft_item_t *it = user;
    cft_ctx_t *x = it->ctx;
    if (it->seq != x->next[it->thread])
        x->out_of_order++;
    x->next[it->thread] = it->seq + 1;
    if (++x->total == CFT_THREADS * CFT_CALLS)
        nu_done(loop);
}

typedef struct cft_arg {
    cft_ctx_t *ctx;
    int thread;
} cft_arg_t;

static void cft_thread(void *p)
{
    cft_arg_t *a = p;
    cft_ctx_t *x = a->ctx;
    int i;
    for (i = 0; i < CFT_CALLS; i++) {
        cft_item_t *it = &x->items[a->thread][i];
        it->ctx = x;
        it->thread = a->thread;
        it->seq = i;
        if (ior_loop_call_from_thread(x->loop, cft_call, it) != 0)
            x->failures++; /* read after join */
    }
}

/* 4 threads post 1,000 calls each: all run on the loop, each in order. */
void test_call_from_thread_4_threads(void **state)
{
    nu_loop_t nl;
    cft_ctx_t *x = calloc(1, sizeof(*x));
    cft_arg_t args[CFT_THREADS];
    nu_thread_t *th[CFT_THREADS];
    int i;
    (void)state;
    nu_loop_init(&nl);
    x->loop = nl.loop;
    for (i = 0; i < CFT_THREADS; i++) {
        args[i].ctx = x;
        args[i].thread = i;
        assert_int_equal(nu_thread_start(&th[i], cft_thread, &args[i]), 0);
    }
    nu_loop_run(&nl);
    for (i = 0; i < CFT_THREADS; i++)
        nu_thread_join(th[i]);
    assert_int_equal(x->failures, 0);
    assert_int_equal(x->total, CFT_THREADS * CFT_CALLS);
    assert_int_equal(x->out_of_order, 0);
    nu_loop_free(&nl);
    free(x);
}

/* --- a flood does not starve a timer
 * ------------------------------------------ */

#define FLOOD_CONNS 32
#define FLOOD_MSG 4096

typedef struct flood_ctx {
    nu_server_t s;
    nu_conn_t conns[FLOOD_CONNS];
    int flowing; /* connections that received their first echo */
    int fired;
    uint64_t rx_at_fire;
    uint64_t resume_target; /* phase 2: stop once rx reaches it */
} flood_ctx_t;

static uint64_t flood_rx(flood_ctx_t *x)
{
    uint64_t n = 0;
    int i;
    for (i = 0; i < FLOOD_CONNS; i++)
        n += x->conns[i].rx;
    return n;
}

static void flood_timer(ior_loop_t *loop, void *user)
{
    flood_ctx_t *x = user;
    x->fired = 1;
    x->rx_at_fire = flood_rx(x);
    nu_done(loop);
}

static void flood_data(nu_conn_t *c, const void *data, size_t len)
{
    flood_ctx_t *x = c->user;
    (void)data;
    if (x->resume_target != 0 && flood_rx(x) >= x->resume_target) {
        x->resume_target = 0;
        nu_done(c->loop);
    }
    /* Once every connection ping-pongs, the timer must still get its turn. */
    if (c->rx == len && ++x->flowing == FLOOD_CONNS)
        assert_int_equal(ior_call_later(c->loop, 50, flood_timer, x, NULL), 0);
}

static void flood_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_write(c->t, nu_pattern(0), FLOOD_MSG), 0);
}

/*
 * 32 connections echo to each other endlessly; a 50 ms timer still fires
 * (the loop caps the I/O it dispatches per iteration).
 */
void test_completion_flood_does_not_starve_timer(void **state)
{
    nu_loop_t nl;
    flood_ctx_t *x = calloc(1, sizeof(*x));
    uint64_t rx_before;
    int i;
    (void)state;
    nu_loop_init(&nl);
    assert_int_equal(nu_server_start(&x->s, nl.loop, "127.0.0.1", NU_ECHO, 0),
                     0);
    for (i = 0; i < FLOOD_CONNS; i++) {
        x->conns[i].user = x;
        x->conns[i].on_connect = flood_connected;
        x->conns[i].on_data = flood_data;
        nu_connect(nl.loop, &x->s.addr, &x->conns[i], NU_ECHO);
    }
    nu_loop_run(&nl);
    assert_true(x->fired);
    assert_true(x->rx_at_fire > 0);
    /* The flood was still going: it continues when the loop runs again. */
    rx_before = flood_rx(x);
    x->resume_target = rx_before + 64 * FLOOD_MSG;
    nu_loop_run(&nl);
    assert_true(flood_rx(x) > rx_before);
    nu_server_close(&x->s);
    nu_loop_free(&nl);
    for (i = 0; i < FLOOD_CONNS; i++)
        assert_int_equal(x->conns[i].lost, 1);
    nu_server_free_conns(&x->s);
    free(x);
}
