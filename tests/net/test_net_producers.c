/*
 * Producers and release callbacks over real loopback sockets (issue 11,
 * defects 1 to 4). The same file runs on epoll, poll and IOCP (Wine):
 *   - a pull producer registered after a write the OS took at once is
 *     resumed by that write's drain (rule 3; Twisted's
 *     test_resumeProducingAbort);
 *   - a transport registered as another's producer (a relay) is unlinked
 *     when either of the two goes (rule 5), so nothing touches freed
 *     memory (the ASan and valgrind runs check that);
 *   - release callbacks run in the order written, also on abort while a
 *     send is in flight (the peer does not read, so an overlapped send
 *     stays pending on IOCP);
 *   - EOF to a protocol without read_connection_lost stops a pull
 *     producer, sends what is queued and closes with IOR_EDONE (rule 11).
 */
#include "net_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* --- defect 1: the drain of a direct write resumes a pull producer ------- */

typedef struct resume_ctx {
    nu_loop_t nl;
    nu_server_t s;
    nu_conn_t c;
    size_t bytes;
    int in_register;
    int resumes;
    int lost;
} resume_ctx_t;

static void resume_count_lost(nu_conn_t *c)
{
    resume_ctx_t *x = c->user;
    if (++x->lost == 2)
        nu_done(c->loop);
}

static void rp_pause(void *user)
{
    (void)user;
    fail_msg("pause_producing of a pull producer");
}

/* The first resume comes from the registration; the second only from the
 * drain of what was written before it: then the producer is done. */
static void rp_resume(void *user)
{
    resume_ctx_t *x = user;
    x->resumes++;
    if (x->in_register)
        return;
    assert_int_equal(ior_transport_unregister_producer(x->c.t), 0);
    assert_int_equal(ior_transport_lose_connection(x->c.t), 0);
}

static void rp_stop(void *user)
{
    (void)user;
    fail_msg("stop_producing of a producer that unregistered itself");
}

static const ior_producer_ops_t rp_ops = {rp_pause, rp_resume, rp_stop};

static void resume_connected(nu_conn_t *c)
{
    resume_ctx_t *x = c->user;
    size_t off = 0;
    assert_int_equal(c->connect_status, 0);
    while (off < x->bytes) {
        size_t n = x->bytes - off;
        if (n > NU_PATTERN_MAX)
            n = NU_PATTERN_MAX;
        assert_int_equal(ior_transport_write(c->t, nu_pattern(off), n), 0);
        off += n;
    }
    x->in_register = 1;
    assert_int_equal(ior_transport_register_producer(c->t, &rp_ops, x, 0), 0);
    x->in_register = 0;
    assert_int_equal(x->resumes, 1);
}

static void resume_accept(nu_server_t *s, nu_conn_t *c)
{
    c->user = s->user;
    c->on_lost = resume_count_lost;
}

static void run_resume_after_direct_write(size_t bytes)
{
    resume_ctx_t x;
    memset(&x, 0, sizeof(x));
    x.bytes = bytes;
    nu_loop_init(&x.nl);
    x.s.on_accept = resume_accept;
    x.s.user = &x;
    assert_int_equal(nu_server_start(&x.s, x.nl.loop, "127.0.0.1", 0, 0), 0);
    x.c.user = &x;
    x.c.on_connect = resume_connected;
    x.c.on_lost = resume_count_lost;
    nu_connect(x.nl.loop, &x.s.addr, &x.c, 0);
    nu_loop_run(&x.nl);
    assert_int_equal(x.resumes, 2);
    assert_int_equal(x.c.reason, IOR_EDONE);
    assert_non_null(x.s.conns);
    assert_int_equal(x.s.conns->rx, bytes);
    assert_int_equal(x.s.conns->rx_hash, nu_pattern_hash(bytes));
    assert_int_equal(x.s.conns->reason, IOR_EDONE);
    nu_server_close(&x.s);
    nu_loop_free(&x.nl);
    nu_server_free_conns(&x.s);
}

/* 6 bytes: the OS surely takes them inside ior_transport_write. */
static void test_pull_producer_resumed_by_drain_of_small_direct_write(
    void **state)
{
    (void)state;
    run_resume_after_direct_write(6);
}

/* Twisted's test_resumeProducingAbort writes 762,000 bytes first. */
static void test_pull_producer_resumed_by_drain_of_762000_bytes(void **state)
{
    (void)state;
    run_resume_after_direct_write(762000);
}

/* --- defect 2: a relay's producer transport goes first, or its consumer -- */

/*
 * Two connections through one server: client a <-> accepted sa, client
 * b <-> accepted sb. Client b (the consumer) gets sa as its streaming
 * producer, as a relay forwarding sa's bytes to b would.
 */
typedef struct relay_ctx {
    nu_loop_t nl;
    nu_server_t s;
    nu_conn_t a, b;
    nu_conn_t *sa, *sb;
    int ready;     /* b connected and sb accepted */
    int lost;      /* connection_lost calls of all four */
    int producer_first;
    int checked;   /* the after-loss check ran */
} relay_ctx_t;

#define RELAY_BYTES ((size_t)256 * 1024)

static void relay_lost(nu_conn_t *c)
{
    relay_ctx_t *x = c->user;
    if (++x->lost == 4)
        nu_done(c->loop);
}

/* From the loop, after sa's connection_lost returned and sa was freed. */
static void relay_after_producer_lost(ior_loop_t *loop, void *user)
{
    relay_ctx_t *x = user;
    size_t off = 0;
    (void)loop;
    assert_false(ior_transport_state(x->b.t) & IOR_TS_PRODUCER);
    /* Far over the mark: a producer left behind would be paused here. */
    assert_int_equal(ior_transport_set_buffer_size(x->b.t, 1024), 0);
    while (off < RELAY_BYTES) {
        assert_int_equal(
            ior_transport_write(x->b.t, nu_pattern(off), NU_PATTERN_MAX), 0);
        off += NU_PATTERN_MAX;
    }
    assert_int_equal(ior_transport_lose_connection(x->b.t), 0);
    x->checked = 1;
}

static void relay_sa_lost(nu_conn_t *c)
{
    relay_ctx_t *x = c->user;
    if (x->producer_first) {
        /* Unlinked before this connection_lost. */
        assert_false(ior_transport_state(x->b.t) & IOR_TS_PRODUCER);
        assert_int_equal(c->reason, IOR_EABORTED);
        assert_int_equal(
            ior_call_later(c->loop, 0, relay_after_producer_lost, x, NULL),
            0);
    } else {
        /* The consumer went first: stop_producing is lose_connection. */
        assert_int_equal(c->reason, IOR_EDONE);
        x->checked = 1;
    }
    relay_lost(c);
}

static void relay_start(relay_ctx_t *x)
{
    assert_int_equal(ior_transport_register_producer(
                         x->b.t, &ior_transport_producer_ops, x->sa->t, 1),
                     0);
    /* The producer transport serves one consumer at a time. */
    assert_int_equal(ior_transport_register_producer(
                         x->sb->t, &ior_transport_producer_ops, x->sa->t, 1),
                     IOR_EBUSY);
    if (x->producer_first)
        assert_int_equal(ior_transport_abort_connection(x->sa->t), 0);
    else
        assert_int_equal(ior_transport_abort_connection(x->b.t), 0);
}

static void relay_b_connected(nu_conn_t *c)
{
    relay_ctx_t *x = c->user;
    assert_int_equal(c->connect_status, 0);
    if (++x->ready == 2)
        relay_start(x);
}

static void relay_a_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
}

static void relay_accept(nu_server_t *s, nu_conn_t *c)
{
    relay_ctx_t *x = s->user;
    c->user = x;
    if (x->sa == NULL) {
        x->sa = c;
        c->on_lost = relay_sa_lost;
        /* Only now the second client: the accept order is then known. */
        x->b.user = x;
        x->b.on_connect = relay_b_connected;
        x->b.on_lost = relay_lost;
        nu_connect(c->loop, &s->addr, &x->b, 0);
        return;
    }
    x->sb = c;
    c->on_lost = relay_lost;
    if (++x->ready == 2)
        relay_start(x);
}

static void run_relay(int producer_first)
{
    relay_ctx_t x;
    memset(&x, 0, sizeof(x));
    x.producer_first = producer_first;
    nu_loop_init(&x.nl);
    x.s.on_accept = relay_accept;
    x.s.user = &x;
    assert_int_equal(nu_server_start(&x.s, x.nl.loop, "127.0.0.1", 0, 0), 0);
    x.a.user = &x;
    x.a.on_connect = relay_a_connected;
    x.a.on_lost = relay_lost;
    nu_connect(x.nl.loop, &x.s.addr, &x.a, 0);
    nu_loop_run(&x.nl);
    assert_int_equal(x.checked, 1);
    if (producer_first) {
        /* b's bytes all reached sb, then b's close. */
        assert_int_equal(x.sb->rx, RELAY_BYTES);
        assert_int_equal(x.sb->rx_hash, nu_pattern_hash(RELAY_BYTES));
        assert_int_equal(x.b.reason, IOR_EDONE);
    } else {
        /* sa was stopped: a saw its clean close. */
        assert_int_equal(x.b.reason, IOR_EABORTED);
        assert_int_equal(x.a.reason, IOR_EDONE);
    }
    nu_server_close(&x.s);
    nu_loop_free(&x.nl);
    nu_server_free_conns(&x.s);
}

static void test_relay_producer_lost_first_is_unregistered(void **state)
{
    (void)state;
    run_relay(1);
}

static void test_relay_consumer_lost_first_stops_producer(void **state)
{
    (void)state;
    run_relay(0);
}

/* --- defect 3: release callbacks in write order on abort ----------------- */

#define ORDER_CHUNK ((size_t)64 * 1024)
#define ORDER_CHUNKS 512 /* 32 MiB: more than loopback buffers hold */

typedef struct order_ctx {
    nu_loop_t nl;
    nu_server_t s;
    nu_conn_t c;
    int next;     /* the index the next release must have */
    int released; /* release callbacks so far */
    int released_at_lost;
    int out_of_order;
    int lost;
    int idx[ORDER_CHUNKS];
} order_ctx_t;

static order_ctx_t *g_order;

static void order_release(void *ctx, const void *base, size_t len)
{
    order_ctx_t *x = g_order;
    int i = *(const int *)ctx;
    (void)base;
    assert_int_equal(len, ORDER_CHUNK);
    if (i != x->next)
        x->out_of_order++;
    x->next = i + 1;
    x->released++;
}

static void order_lost(nu_conn_t *c)
{
    order_ctx_t *x = c->user;
    if (c == &x->c) {
        x->released_at_lost = x->released;
        /* The server never reads, so it may never see the reset. */
        if (x->s.conns != NULL && x->s.conns->t != NULL)
            assert_int_equal(ior_transport_abort_connection(x->s.conns->t),
                             0);
    }
    if (++x->lost == 2)
        nu_done(c->loop);
}

/* One loop turn after the writes: the queued send is posted by then. */
static void order_abort(ior_loop_t *loop, void *user)
{
    order_ctx_t *x = user;
    (void)loop;
    /* The peer reads nothing: what the OS took is released, the rest
     * waits (on IOCP part of it in an overlapped send). */
    assert_true(ior_transport_buffered(x->c.t) > 0);
    assert_true(x->released < ORDER_CHUNKS);
    assert_int_equal(ior_transport_abort_connection(x->c.t), 0);
}

static void order_connected(nu_conn_t *c)
{
    order_ctx_t *x = c->user;
    int i;
    assert_int_equal(c->connect_status, 0);
    for (i = 0; i < ORDER_CHUNKS; i++) {
        x->idx[i] = i;
        assert_int_equal(ior_transport_write_ref(
                             c->t, nu_pattern((uint64_t)i * ORDER_CHUNK),
                             ORDER_CHUNK, order_release, &x->idx[i]),
                         0);
    }
    assert_int_equal(ior_call_later(c->loop, 0, order_abort, x, NULL), 0);
}

static void order_accept(nu_server_t *s, nu_conn_t *c)
{
    order_ctx_t *x = s->user;
    c->user = x;
    c->on_lost = order_lost;
    /* Accepted only after the client was lost: nobody else ends it. */
    if (x->c.lost > 0)
        assert_int_equal(ior_transport_abort_connection(c->t), 0);
}

static void test_release_in_write_order_on_abort_with_send_in_flight(
    void **state)
{
    order_ctx_t *x = calloc(1, sizeof(*x));
    (void)state;
    assert_non_null(x);
    g_order = x;
    nu_loop_init(&x->nl);
    x->s.on_accept = order_accept;
    x->s.user = x;
    assert_int_equal(
        nu_server_start(&x->s, x->nl.loop, "127.0.0.1", NU_PAUSED, 0), 0);
    x->c.user = x;
    x->c.on_connect = order_connected;
    x->c.on_lost = order_lost;
    nu_connect(x->nl.loop, &x->s.addr, &x->c, 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->c.reason, IOR_EABORTED);
    assert_int_equal(x->released, ORDER_CHUNKS);
    assert_int_equal(x->released_at_lost, ORDER_CHUNKS);
    assert_int_equal(x->out_of_order, 0);
    nu_server_close(&x->s);
    nu_loop_free(&x->nl);
    nu_server_free_conns(&x->s);
    free(x);
}

/* --- defect 4: EOF with a pull producer registered ----------------------- */

#define EOF_CHUNK ((size_t)16 * 1024)

typedef struct eofp_ctx {
    nu_loop_t nl;
    nu_server_t s;
    nu_conn_t c;
    uint64_t written;
    int resumes_after_stop;
    int stops;
    int lost;
} eofp_ctx_t;

static void eofp_pause(void *user)
{
    (void)user;
    fail_msg("pause_producing of a pull producer");
}

/* An endless source: a chunk on every resume, never unregistered. */
static void eofp_resume(void *user)
{
    eofp_ctx_t *x = user;
    if (x->stops > 0) {
        x->resumes_after_stop++;
        return;
    }
    assert_int_equal(ior_transport_write(x->c.t, nu_pattern(x->written),
                                         EOF_CHUNK),
                     0);
    x->written += EOF_CHUNK;
}

static void eofp_stop(void *user)
{
    eofp_ctx_t *x = user;
    x->stops++;
}

static const ior_producer_ops_t eofp_ops = {eofp_pause, eofp_resume,
                                            eofp_stop};

static void eofp_lost(nu_conn_t *c)
{
    eofp_ctx_t *x = c->user;
    if (++x->lost == 2)
        nu_done(c->loop);
}

static void eofp_connected(nu_conn_t *c)
{
    eofp_ctx_t *x = c->user;
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_register_producer(c->t, &eofp_ops, x, 0),
                     0);
}

static void eofp_server_eof(nu_conn_t *c)
{
    assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

/* The server half-closes at once and reads until the client's EOF. */
static void eofp_accept(nu_server_t *s, nu_conn_t *c)
{
    c->user = s->user;
    c->on_lost = eofp_lost;
    c->on_eof = eofp_server_eof;
    assert_int_equal(ior_transport_lose_write_connection(c->t), 0);
}

static void test_eof_stops_pull_producer_sends_queue_then_done(void **state)
{
    eofp_ctx_t x;
    (void)state;
    memset(&x, 0, sizeof(x));
    nu_loop_init(&x.nl);
    x.s.on_accept = eofp_accept;
    x.s.user = &x;
    assert_int_equal(
        nu_server_start(&x.s, x.nl.loop, "127.0.0.1", NU_HALF_CLOSE, 0), 0);
    x.c.user = &x;
    x.c.on_connect = eofp_connected;
    x.c.on_lost = eofp_lost;
    nu_connect(x.nl.loop, &x.s.addr, &x.c, 0); /* not half-close aware */
    nu_loop_run(&x.nl);
    assert_int_equal(x.stops, 1);
    assert_int_equal(x.resumes_after_stop, 0);
    assert_int_equal(x.c.reason, IOR_EDONE);
    assert_true(x.written >= EOF_CHUNK);
    assert_non_null(x.s.conns);
    assert_int_equal(x.s.conns->rx, x.written);
    assert_int_equal(x.s.conns->rx_hash, nu_pattern_hash(x.written));
    assert_int_equal(x.s.conns->eof, 1);
    assert_int_equal(x.s.conns->reason, IOR_EDONE);
    nu_server_close(&x.s);
    nu_loop_free(&x.nl);
    nu_server_free_conns(&x.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_pull_producer_resumed_by_drain_of_small_direct_write),
        cmocka_unit_test(test_pull_producer_resumed_by_drain_of_762000_bytes),
        cmocka_unit_test(test_relay_producer_lost_first_is_unregistered),
        cmocka_unit_test(test_relay_consumer_lost_first_stops_producer),
        cmocka_unit_test(
            test_release_in_write_order_on_abort_with_send_in_flight),
        cmocka_unit_test(test_eof_stops_pull_producer_sends_queue_then_done),
    };
    nu_alloc_install();
    return cmocka_run_group_tests_name("producers", tests, NULL, NULL);
}
