/*
 * 10,000 closes with reads and writes in flight, in batches of concurrent
 * connections. The client streams through a registered producer; the
 * server echoes through its own producer that pauses its reading when its
 * queue is full. Each connection ends one of eight ways (lose, abort,
 * peer abort, peer lose, stop_consuming from pause_producing, abort from
 * data_received, pause then abort, half-close against a resetting peer).
 * Every protocol and producer callback checks a "lost"/"stopped" flag and
 * fails on any call after it; at the end no library allocation is left.
 *
 * Also main() of the storm executable.
 */
#include "net_util.h"
#include "../portable.h"
#include "platform.h"
#include "storm_tests.h"
#include "stress_platform.h"
#include "stress_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define CL_TOTAL 10000
#define CL_PARALLEL 48
#define CL_CHUNK 4096
#define CL_CAP (64 * 1024) /* most a client streams to a reading peer */
#define CL_BIG (4 * 1024 * 1024) /* one write_ref to a peer that does
                                    not read: more than loopback holds */
#define CL_MODES 8

typedef struct cl_side {
    ior_transport_t *t;
    struct cl_pair *pair;
    int server;
    int lost, reason;
    int stopped;  /* the producer got stop_producing */
    int paused;   /* producer paused by the transport */
    int closing;  /* this side asked to close */
    uint64_t tx, rx;
    long calls;
} cl_side_t;

typedef struct cl_pair {
    int id;
    int mode;
    int stuck; /* the server does not read until the close: queues fill */
    int released;
    uint16_t port;
    ior_timer_id timer;
    cl_side_t c;
    cl_side_t *s; /* the accepted side, once paired */
} cl_pair_t;

typedef struct cl_ctx {
    nu_loop_t nl;
    ior_listener_t *l;
    ior_addr_t addr;
    int total;
    int started;
    int done; /* pairs whose both sides are lost */
    int lost;
    cl_pair_t *pairs;
    cl_side_t *servers;
    int accepted;
    cl_pair_t **by_port;
    cl_side_t **orphans; /* accepted before their client was known */
    uint64_t bytes;
    long reasons[64];
    long queued_at_close; /* closes asked with bytes still queued */
    long reentrant;       /* closes from inside a callback */
} cl_ctx_t;

static cl_ctx_t *CL;
static uint8_t cl_data[CL_CHUNK];
static uint8_t *cl_big;

/* The release of the big write_ref: exactly once per stuck pair. */
static void cl_release(void *ctx, const void *base, size_t len)
{
    cl_pair_t *p = ctx;
    assert_ptr_equal(base, cl_big);
    assert_int_equal(len, CL_BIG);
    if (p->released++)
        fail_msg("pair %d: write_ref released twice", p->id);
}

#define CL_ALIVE(s, what)                                                    \
    do {                                                                     \
        if ((s)->lost)                                                       \
            fail_msg("pair %d %s: %s after connection_lost",                 \
                     (s)->pair ? (s)->pair->id : -1,                         \
                     (s)->server ? "server" : "client", what);               \
        (s)->calls++;                                                        \
    } while (0)

static void cl_start(void);
static void cl_side_lost(cl_side_t *s);

/* Marks s closing and counts whether bytes were still queued. */
static void cl_closing(cl_side_t *s, int reentrant)
{
    s->closing = 1;
    if (ior_transport_buffered(s->t) > 0)
        CL->queued_at_close++;
    CL->reentrant += reentrant;
}

/* --- the client's streaming producer ----------------------------------- */

static int cl_may_write(const cl_side_t *s)
{
    return s->t != NULL && !s->closing && !s->paused && !s->stopped &&
           (ior_transport_state(s->t) &
            (IOR_TS_DISCONNECTING | IOR_TS_WRITE_DISCONNECTING |
             IOR_TS_DISCONNECTED)) == 0;
}

static void cl_pump(cl_side_t *s)
{
    while (cl_may_write(s) && s->tx < CL_CAP) {
        int r = ior_transport_write(s->t, cl_data, CL_CHUNK);
        if (r != 0) {
            assert_int_equal(r, IOR_ENOTCONN); /* reset under us */
            return;
        }
        s->tx += CL_CHUNK;
        CL->bytes += CL_CHUNK;
    }
}


static void cl_pause(void *user)
{
    cl_side_t *s = user;
    CL_ALIVE(s, "pause_producing");
    if (s->stopped)
        fail_msg("pause_producing after stop_producing");
    s->paused = 1;
    if (!s->server && s->pair->mode == 4 && !s->closing) {
        /* Re-entrant: stop consuming from inside the producer callback. */
        cl_closing(s, 1);
        assert_int_equal(ior_transport_stop_consuming(s->t), 0);
    }
    if (s->server && s->t != NULL)
        (void)ior_transport_pause_producing(s->t);
}

static void cl_resume(void *user)
{
    cl_side_t *s = user;
    CL_ALIVE(s, "resume_producing");
    if (s->stopped)
        fail_msg("resume_producing after stop_producing");
    s->paused = 0;
    if (s->server) {
        if (s->t != NULL && !s->closing)
            (void)ior_transport_resume_producing(s->t);
        return;
    }
    cl_pump(s);
}

static void cl_stop(void *user)
{
    cl_side_t *s = user;
    CL_ALIVE(s, "stop_producing");
    if (s->stopped)
        fail_msg("stop_producing twice");
    s->stopped = 1;
}

static const ior_producer_ops_t cl_producer = {cl_pause, cl_resume, cl_stop};

/* --- protocol ------------------------------------------------------------ */

static void cl_data_cb(ior_transport_t *t, void *user, const void *data,
                       size_t len)
{
    cl_side_t *s = user;
    CL_ALIVE(s, "data_received");
    s->rx += len;
    if (s->server) {
        int mode = s->pair != NULL ? s->pair->mode : -1;
        if (mode == 7 && !s->closing) {
            /* Re-entrant: drop our producer and reset the half-closed
             * client from inside data_received. */
            cl_closing(s, 1);
            assert_int_equal(ior_transport_unregister_producer(t), 0);
            assert_int_equal(ior_transport_abort_connection(t), 0);
            return;
        }
        if (!s->closing) {
            int r = ior_transport_write(t, data, len);
            assert_true(r == 0 || r == IOR_ENOTCONN || r == IOR_ESHUTDOWN);
        }
        return;
    }
    if (s->pair->mode == 5 && !s->closing) {
        cl_closing(s, 1);
        assert_int_equal(ior_transport_abort_connection(t), 0);
    }
}

static void cl_lost_cb(ior_transport_t *t, void *user, int reason)
{
    cl_side_t *s = user;
    (void)t;
    CL_ALIVE(s, "connection_lost");
    s->lost = 1;
    s->reason = reason;
    s->t = NULL;
    CL->reasons[(-reason) & 63]++;
    cl_side_lost(s);
}

static const ior_protocol_ops_t cl_proto = {cl_data_cb, NULL, NULL,
                                            cl_lost_cb};

/* --- closing ------------------------------------------------------------- */

static void cl_side_lost(cl_side_t *s)
{
    cl_pair_t *p = s->pair;
    CL->lost++;
    if (p != NULL && p->c.lost && p->s != NULL && p->s->lost) {
        if (p->timer != 0)
            assert_int_equal(ior_timer_cancel(CL->nl.loop, p->timer), 0);
        p->timer = 0;
        CL->done++;
        cl_start();
    }
    if (CL->lost == 2 * CL->total)
        nu_done(CL->nl.loop);
}

static void cl_close_action(ior_loop_t *loop, cl_pair_t *p);

/* The close moment: act, then let a stuck server read what is left. */
static void cl_timer(ior_loop_t *loop, void *user)
{
    cl_pair_t *p = user;
    p->timer = 0;
    if (p->s == NULL) { /* not accepted yet: try again soon */
        assert_int_equal(ior_call_later(loop, 1, cl_timer, p, &p->timer), 0);
        return;
    }
    cl_close_action(loop, p);
    if (p->stuck && p->s->t != NULL && p->mode != 2) {
        int r = ior_transport_resume_producing(p->s->t);
        assert_true(r == 0 || r == IOR_ENOTCONN);
    }
}

static void cl_close_action(ior_loop_t *loop, cl_pair_t *p)
{
    cl_side_t *c = &p->c;
    cl_side_t *s = p->s;
    if (p->mode == 2 || p->mode == 3) {
        if (s->t == NULL || s->closing)
            return;
        cl_closing(s, 0);
        if (p->mode == 2)
            assert_int_equal(ior_transport_abort_connection(s->t), 0);
        else
            assert_int_equal(ior_transport_lose_connection(s->t), 0);
        return;
    }
    if (c->t == NULL || c->closing)
        return;
    switch (p->mode) {
    case 0:
        cl_closing(c, 0);
        assert_int_equal(ior_transport_lose_connection(c->t), 0);
        break;
    case 4: /* not paused by now: stop consuming from here */
        cl_closing(c, 0);
        assert_int_equal(ior_transport_stop_consuming(c->t), 0);
        break;
    case 5: /* no echo yet: wait for it, unless none can come */
        if (p->stuck) {
            cl_closing(c, 0);
            assert_int_equal(ior_transport_abort_connection(c->t), 0);
        } else {
            assert_int_equal(
                ior_call_later(loop, 1, cl_timer, p, &p->timer), 0);
        }
        break;
    case 6:
        assert_int_equal(ior_transport_pause_producing(c->t), 0);
        cl_closing(c, 0);
        assert_int_equal(ior_transport_abort_connection(c->t), 0);
        break;
    case 7:
        cl_closing(c, 0);
        assert_int_equal(ior_transport_lose_write_connection(c->t), 0);
        break;
    default:
        cl_closing(c, 0);
        assert_int_equal(ior_transport_abort_connection(c->t), 0);
        break;
    }
}

/* --- connecting and pairing ------------------------------------------- */

static cl_side_t **cl_srv_by_port;

static void cl_link(cl_pair_t *p, cl_side_t *s)
{
    p->s = s;
    s->pair = p;
    if (p->stuck)
        assert_int_equal(ior_transport_pause_producing(s->t), 0);
}

static void cl_connected(ior_loop_t *loop, void *user, ior_transport_t *t,
                         int status, int os_error)
{
    (void)os_error;
    cl_pair_t *p = user;
    cl_side_t *c = &p->c;
    ior_addr_t a;
    if (status != 0)
        fail_msg("connect %d: %s", p->id, ior_err_name(status));
    c->t = t;
    c->pair = p;
    assert_int_equal(ior_transport_set_protocol(t, &cl_proto, c), 0);
    assert_int_equal(ior_transport_host_address(t, &a), 0);
    p->port = a.port;
    if (cl_srv_by_port[a.port] != NULL) {
        cl_link(p, cl_srv_by_port[a.port]);
        cl_srv_by_port[a.port] = NULL;
    } else {
        CL->by_port[a.port] = p;
    }
    assert_int_equal(ior_transport_set_buffer_size(t, 16384), 0);
    assert_int_equal(ior_transport_register_producer(t, &cl_producer, c, 1),
                     0);
    if (p->stuck) {
        assert_int_equal(
            ior_transport_write_ref(t, cl_big, CL_BIG, cl_release, p), 0);
        c->tx += CL_BIG;
    }
    cl_pump(c);
    assert_int_equal(ior_call_later(loop, (uint64_t)(p->id % 4), cl_timer, p,
                                    &p->timer),
                     0);
}

static void cl_accepted(ior_listener_t *l, void *user, ior_transport_t *t)
{
    cl_side_t *s;
    ior_addr_t a;
    (void)l;
    (void)user;
    assert_true(CL->accepted < CL->total);
    s = &CL->servers[CL->accepted++];
    s->t = t;
    s->server = 1;
    assert_int_equal(ior_transport_set_protocol(t, &cl_proto, s), 0);
    assert_int_equal(ior_transport_register_producer(t, &cl_producer, s, 1),
                     0);
    assert_int_equal(ior_transport_peer_address(t, &a), 0);
    if (CL->by_port[a.port] != NULL) {
        cl_link(CL->by_port[a.port], s);
        CL->by_port[a.port] = NULL;
    } else {
        cl_srv_by_port[a.port] = s;
    }
}

static const ior_listener_ops_t cl_listener = {cl_accepted, NULL};

static void cl_start(void)
{
    cl_pair_t *p;
    if (CL->started == CL->total)
        return;
    p = &CL->pairs[CL->started];
    p->id = CL->started++;
    p->mode = p->id % CL_MODES;
    p->stuck = p->id % 64 < CL_MODES; /* one pair in eight, every mode */
    assert_int_equal(
        ior_tcp_connect(CL->nl.loop, &CL->addr, NULL, cl_connected, p), 0);
}

/* Wine needs ~16 s for 10,000 connections: three times the usual
 * watchdog (nu_loop_run still reports it). */
static void cl_watchdog(ior_loop_t *loop, void *user)
{
    nu_loop_t *nl = user;
    nl->fired = 1;
    nl->watchdog = 0;
    ior_loop_stop(loop);
}

/* Shortly before the watchdog: say which pairs are stuck, and how. */
static void cl_dump_stuck(ior_loop_t *loop, void *user)
{
    int i, shown = 0;
    (void)loop;
    (void)user;
    for (i = 0; i < CL->started && shown < 16; i++) {
        cl_pair_t *p = &CL->pairs[i];
        cl_side_t *s = p->s;
        if (p->c.lost && s != NULL && s->lost)
            continue;
        shown++;
        print_message("closes: stuck pair %d mode %d%s: client lost %d state "
                      "0x%x queued %lu | server lost %d state 0x%x queued "
                      "%lu\n",
                      p->id, p->mode, p->stuck ? " (peer not reading)" : "",
                      p->c.lost, ior_transport_state(p->c.t),
                      (unsigned long)ior_transport_buffered(p->c.t),
                      s ? s->lost : -1, s ? ior_transport_state(s->t) : 0u,
                      s ? (unsigned long)ior_transport_buffered(s->t) : 0ul);
    }
}

/*
 * 10,000 connections closed eight ways with producer writes and echoes in
 * flight: connection_lost once per side, no callback after it or after
 * stop_producing, and no library allocation left.
 */
void test_10000_closes_in_flight_no_leak_no_late_callback(void **state)
{
    cl_ctx_t *x = calloc(1, sizeof(*x));
    ior_listen_options_t lo = {1024, 0, 0};
    uint64_t t0, cpu0;
    ior_timer_id dump;
    long calls = 0;
    int i;
    (void)state;
    assert_non_null(x);
    CL = x;
    x->total = sx_scaled(CL_TOTAL, 16);
    x->pairs = calloc((size_t)x->total, sizeof(*x->pairs));
    x->servers = calloc((size_t)x->total, sizeof(*x->servers));
    x->by_port = calloc(65536, sizeof(*x->by_port));
    cl_srv_by_port = calloc(65536, sizeof(*cl_srv_by_port));
    assert_true(x->pairs && x->servers && x->by_port && cl_srv_by_port);
    for (i = 0; i < CL_CHUNK; i++)
        cl_data[i] = (uint8_t)(i * 31 + 7);
    cl_big = calloc(1, CL_BIG);
    assert_non_null(cl_big);
    nu_loop_init(&x->nl);
    assert_int_equal(ior_addr_parse(&x->addr, "127.0.0.1", 0), 0);
    assert_int_equal(
        ior_tcp_listen(x->nl.loop, &x->addr, &lo, &cl_listener, x, &x->l), 0);
    assert_int_equal(ior_listener_address(x->l, &x->addr), 0);
    t0 = sp_mono_usec();
    cpu0 = sp_cpu_usec();
    for (i = 0; i < CL_PARALLEL; i++)
        cl_start();
    assert_int_equal(ior_timer_cancel(x->nl.loop, x->nl.watchdog), 0);
    assert_int_equal(ior_call_later(x->nl.loop, 3 * nu_watchdog_ms(),
                                    cl_watchdog, &x->nl, &x->nl.watchdog),
                     0);
    assert_int_equal(ior_call_later(x->nl.loop, 3 * nu_watchdog_ms() - 1000,
                                    cl_dump_stuck, NULL, &dump),
                     0);
    nu_loop_run(&x->nl);
    assert_int_equal(ior_timer_cancel(x->nl.loop, dump), 0);
    assert_int_equal(x->done, x->total);
    assert_int_equal(x->accepted, x->total);
    for (i = 0; i < x->total; i++) {
        cl_pair_t *p = &x->pairs[i];
        assert_int_equal(p->c.lost, 1);
        assert_non_null(p->s);
        assert_int_equal(p->s->lost, 1);
        assert_int_equal(p->c.stopped, p->mode == 4 ? 0 : 1);
        assert_int_equal(p->s->stopped, p->mode == 7 ? 0 : 1);
        if (p->mode == 1 || p->mode == 6)
            assert_int_equal(p->c.reason, IOR_EABORTED);
        if (p->mode == 2)
            assert_int_equal(p->s->reason, IOR_EABORTED);
        calls += p->c.calls + p->s->calls;
        assert_int_equal(p->released, p->stuck);
    }
    print_message("closes: %d connections (%d at a time), %llu bytes "
                  "queued, %ld closes with bytes queued, %ld from inside "
                  "callbacks, %ld callbacks, %llu ms wall, %llu ms CPU\n",
                  x->total, CL_PARALLEL, (unsigned long long)x->bytes,
                  x->queued_at_close, x->reentrant, calls,
                  (unsigned long long)((sp_mono_usec() - t0) / 1000),
                  (unsigned long long)((sp_cpu_usec() - cpu0) / 1000));
    for (i = 0; i < 64; i++)
        if (x->reasons[i] != 0)
            print_message("closes:   lost with %-12s %ld\n", ior_err_name(-i),
                          x->reasons[i]);
    ior_listener_close(x->l);
    nu_loop_free(&x->nl);
    free(x->pairs);
    free(x->servers);
    free(x->by_port);
    free(cl_srv_by_port);
    cl_srv_by_port = NULL;
    free(cl_big);
    cl_big = NULL;
    free(x);
    CL = NULL;
}

/* --- main of the storm executable ----------------------------------------- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storm_1000_connections_random_faults),
        cmocka_unit_test(test_10000_closes_in_flight_no_leak_no_late_callback),
    };
    ior_loop_t *loop;
    const char *only = test_getenv("IOR_TEST_FILTER");
    if (only != NULL && *only != '\0')
        cmocka_set_test_filter(only); /* e.g. "*storm*" */
    nu_alloc_install();
    nu_platform_raise_fd_limit();
    if (ior_loop_new(&loop, NULL) == 0) {
        print_message("storm suite on backend: %s (IOR_TEST_SCALE=%d)\n",
                      ior_loop_backend(loop), sx_scale());
        ior_loop_free(loop);
    }
    return cmocka_run_group_tests_name("net_storm", tests, NULL, NULL);
}
