/*
 * The net suite: real loopback TCP through ior.h only. The same sources
 * are built for every backend; CTest runs them once per poller natively
 * (IOR_BACKEND=epoll, =poll) and once under Wine (iocp).
 *
 * This file: main, echo, bulk transfer and producers over real sockets.
 */
#include "net_tests.h"
#include "../portable.h"
#include "net_util.h"
#include "platform.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* --- echo ---------------------------------------------------------------- */

static const char echo_msg[] = "hello, ior";

typedef struct echo_ctx {
    nu_server_t s;
    nu_conn_t c;
    ior_addr_t target; /* where the client connects */
} echo_ctx_t;

static void echo_check_done(echo_ctx_t *e)
{
    if (e->c.lost && e->s.accepted == 1 && e->s.lost == 1)
        nu_done(e->c.loop);
}

static void echo_connected(nu_conn_t *c)
{
    echo_ctx_t *e = c->user;
    ior_addr_t peer;
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_peer_address(c->t, &peer), 0);
    assert_int_equal(peer.port, e->target.port);
    assert_int_equal(peer.family, e->target.family);
    assert_int_equal(ior_transport_set_nodelay(c->t, 1), 0);
    assert_int_equal(ior_transport_write(c->t, echo_msg, strlen(echo_msg)), 0);
}

static void echo_data(nu_conn_t *c, const void *data, size_t len)
{
    (void)data;
    (void)len;
    if (c->rx == strlen(echo_msg))
        assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

static void echo_lost(nu_conn_t *c)
{
    echo_check_done(c->user);
}

static void echo_server_accept(nu_server_t *s, nu_conn_t *c)
{
    c->user = s->user;
    c->on_lost = echo_lost;
}

static void echo_run(const char *ip, const char *connect_ip, int v6only)
{
    nu_loop_t nl;
    echo_ctx_t e;
    int r;
    memset(&e, 0, sizeof(e));
    nu_loop_init(&nl);
    e.s.on_accept = echo_server_accept;
    e.s.user = &e;
    e.s.ipv6_only = v6only;
    r = nu_server_start(&e.s, nl.loop, ip, NU_ECHO, 0);
    if (r != 0 && strchr(ip, ':') != NULL) {
        nu_loop_free(&nl);
        print_message("SKIP: cannot listen on %s (%s); no IPv6 here\n", ip,
                      ior_strerror(r));
        skip();
    }
    assert_int_equal(r, 0);
    assert_int_equal(ior_addr_parse(&e.target, connect_ip, e.s.addr.port), 0);
    e.c.user = &e;
    e.c.on_connect = echo_connected;
    e.c.on_data = echo_data;
    e.c.on_lost = echo_lost;
    nu_connect(nl.loop, &e.target, &e.c, 0);
    nu_loop_run(&nl);
    assert_int_equal(e.c.rx, strlen(echo_msg));
    assert_true(e.c.rx_hash ==
                nu_fnv1a(NU_FNV_INIT, echo_msg, strlen(echo_msg)));
    assert_int_equal(e.c.lost, 1);
    assert_int_equal(e.c.reason, IOR_EDONE);
    assert_int_equal(e.s.conns->lost, 1);
    assert_int_equal(e.s.conns->reason, IOR_EDONE);
    nu_server_close(&e.s);
    nu_loop_free(&nl);
    nu_server_free_conns(&e.s);
}

/* An echo server sends back what a client sends, over 127.0.0.1. */
void test_echo_ipv4(void **state)
{
    (void)state;
    echo_run("127.0.0.1", "127.0.0.1", 0);
}

/* The same over ::1 (skipped when the host has no IPv6 loopback). */
void test_echo_ipv6(void **state)
{
    (void)state;
    echo_run("::1", "::1", 1);
}

/* A dual-stack listener on :: (ipv6_only 0) accepts an IPv4 client. */
void test_echo_dual_stack_accepts_ipv4(void **state)
{
    (void)state;
    echo_run("::", "127.0.0.1", 0);
}

static void v6only_result(nu_conn_t *c)
{
    nu_done(c->loop);
}

/* An IPv6-only listener on :: refuses an IPv4 client. */
void test_ipv6_only_listener_refuses_ipv4(void **state)
{
    nu_loop_t nl;
    nu_server_t s;
    nu_conn_t c;
    ior_addr_t a;
    int r;
    (void)state;
    memset(&s, 0, sizeof(s));
    memset(&c, 0, sizeof(c));
    nu_loop_init(&nl);
    s.ipv6_only = 1;
    r = nu_server_start(&s, nl.loop, "::", 0, 0);
    if (r != 0) {
        nu_loop_free(&nl);
        print_message("SKIP: cannot listen on :: (%s)\n", ior_strerror(r));
        skip();
    }
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", s.addr.port), 0);
    c.on_connect = v6only_result;
    nu_connect(nl.loop, &a, &c, 0);
    nu_loop_run(&nl);
    assert_int_equal(c.connect_status, IOR_ECONNREFUSED);
    assert_int_equal(s.accepted, 0);
    nu_server_close(&s);
    nu_loop_free(&nl);
}

/* An unknown backend name is refused with IOR_ENOTSUP; the loop names
 * the backend it runs, the one IOR_BACKEND asked for when set. */
void test_loop_backend_selection(void **state)
{
    ior_loop_options_t o = {"no-such-backend", 0};
    ior_loop_t *loop = NULL;
    const char *want = test_getenv("IOR_BACKEND");
    (void)state;
    assert_int_equal(ior_loop_new(&loop, &o), IOR_ENOTSUP);
    assert_int_equal(ior_loop_new(&loop, NULL), 0);
    if (want != NULL && want[0] != '\0')
        assert_string_equal(ior_loop_backend(loop), want);
    assert_int_equal(ior_loop_free(loop), 0);
}

/* --- a pattern producer, streaming or pull ----------------------------- */

typedef struct pump {
    nu_conn_t *c;
    uint64_t total;
    uint64_t sent;
    size_t chunk;
    int streaming;
    int paused;
    int pauses;
    int resumes;
    int stopped;
    int finished;
    size_t max_buffered;
    int half_close; /* at the end: lose_write_connection, not lose */
    void (*on_pause)(struct pump *p);
} pump_t;

static void pump_finish(pump_t *p)
{
    p->finished = 1;
    assert_int_equal(ior_transport_unregister_producer(p->c->t), 0);
    if (p->half_close) {
        assert_int_equal(ior_transport_lose_write_connection(p->c->t), 0);
        /* The peer already finished too: nothing is left either way. */
        if (p->c->eof > 0)
            assert_int_equal(ior_transport_lose_connection(p->c->t), 0);
    } else
        assert_int_equal(ior_transport_lose_connection(p->c->t), 0);
}

static int pump_write_one(pump_t *p)
{
    size_t n =
        p->total - p->sent > p->chunk ? p->chunk : (size_t)(p->total - p->sent);
    int r = ior_transport_write(p->c->t, nu_pattern(p->sent), n);
    size_t b;
    if (r != 0)
        return r;
    p->sent += n;
    b = ior_transport_buffered(p->c->t);
    if (b > p->max_buffered)
        p->max_buffered = b;
    return 0;
}

/* Streaming: write until paused; pull: one chunk per resume. */
static void pump_run(pump_t *p)
{
    while (p->c->t != NULL && !p->finished && !p->paused &&
           p->sent < p->total) {
        if (pump_write_one(p) != 0)
            return; /* the connection is going away */
        if (!p->streaming)
            break;
    }
    if (p->c->t != NULL && !p->finished && p->sent == p->total)
        pump_finish(p);
}

static void pump_pause(void *u)
{
    pump_t *p = u;
    assert_true(p->streaming);
    assert_false(p->paused);
    p->paused = 1;
    p->pauses++;
    if (p->on_pause != NULL)
        p->on_pause(p);
}

static void pump_resume(void *u)
{
    pump_t *p = u;
    p->paused = 0;
    p->resumes++;
    pump_run(p);
}

static void pump_stop(void *u)
{
    pump_t *p = u;
    p->stopped++;
}

static const ior_producer_ops_t pump_ops = {pump_pause, pump_resume, pump_stop};

static void pump_start(pump_t *p, nu_conn_t *c, uint64_t total, size_t chunk,
                       int streaming)
{
    p->c = c;
    p->total = total;
    p->chunk = chunk;
    p->streaming = streaming;
    assert_int_equal(
        ior_transport_register_producer(c->t, &pump_ops, p, streaming), 0);
    if (streaming)
        pump_run(p);
}

/* --- 64 MiB each way ----------------------------------------------------- */

#define BULK_BYTES ((uint64_t)64 << 20)

typedef struct bulk_ctx {
    nu_server_t s;
    nu_conn_t c;
    pump_t cp;
    pump_t sp;
    int lost;
} bulk_ctx_t;

static void bulk_eof(nu_conn_t *c)
{
    bulk_ctx_t *b = c->user;
    pump_t *p = c == &b->c ? &b->cp : &b->sp;
    assert_int_equal(c->rx, BULK_BYTES);
    /* Done both ways once our own pump finished (else pump_finish closes). */
    if (p->finished)
        assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

static void bulk_lost(nu_conn_t *c)
{
    bulk_ctx_t *b = c->user;
    if (++b->lost == 2)
        nu_done(c->loop);
}

static void bulk_connected(nu_conn_t *c)
{
    bulk_ctx_t *b = c->user;
    assert_int_equal(c->connect_status, 0);
    b->cp.half_close = 1;
    pump_start(&b->cp, c, BULK_BYTES, 256 * 1024, 1);
}

static void bulk_accept(nu_server_t *s, nu_conn_t *c)
{
    bulk_ctx_t *b = s->user;
    c->user = b;
    c->on_eof = bulk_eof;
    c->on_lost = bulk_lost;
    b->sp.half_close = 1;
    pump_start(&b->sp, c, BULK_BYTES, 256 * 1024, 1);
}

/* 64 MiB each way at once, half-closed at the end, checked by FNV-1a. */
void test_bulk_64mib_each_way_checksummed(void **state)
{
    nu_loop_t nl;
    bulk_ctx_t *b = calloc(1, sizeof(*b));
    uint64_t want = nu_pattern_hash(BULK_BYTES);
    (void)state;
    nu_loop_init(&nl);
    b->s.on_accept = bulk_accept;
    b->s.user = b;
    assert_int_equal(
        nu_server_start(&b->s, nl.loop, "127.0.0.1", NU_HALF_CLOSE, 0), 0);
    b->c.user = b;
    b->c.on_connect = bulk_connected;
    b->c.on_eof = bulk_eof;
    b->c.on_lost = bulk_lost;
    nu_connect(nl.loop, &b->s.addr, &b->c, NU_HALF_CLOSE);
    nu_loop_run(&nl);
    assert_int_equal(b->c.rx, BULK_BYTES);
    assert_true(b->c.rx_hash == want);
    assert_int_equal(b->s.conns->rx, BULK_BYTES);
    assert_true(b->s.conns->rx_hash == want);
    assert_int_equal(b->c.reason, IOR_EDONE);
    assert_int_equal(b->s.conns->reason, IOR_EDONE);
    /* The side that finishes second closes outright (DESIGN rule 3:
     * disconnecting wins over write_disconnecting), so at least one
     * half-close completed and none twice. */
    assert_true(b->c.write_lost + b->s.conns->write_lost >= 1);
    assert_true(b->c.write_lost <= 1 && b->s.conns->write_lost <= 1);
    nu_server_close(&b->s);
    nu_loop_free(&nl);
    nu_server_free_conns(&b->s);
    free(b);
}

/* --- a streaming producer and a peer that does not read ------------------ */

#define FLOW_BYTES ((uint64_t)32 << 20)
#define FLOW_CHUNK 16384

typedef struct flow_ctx {
    nu_server_t s;
    nu_conn_t c;
    pump_t p;
    uint64_t peer_rx_at_pause;
    int lost;
} flow_ctx_t;

static void flow_let_peer_read(ior_loop_t *loop, void *user)
{
    flow_ctx_t *f = user;
    (void)loop;
    assert_int_equal(ior_transport_resume_producing(f->s.conns->t), 0);
}

static void flow_paused(pump_t *p)
{
    flow_ctx_t *f = p->c->user;
    if (p->pauses == 1) {
        f->peer_rx_at_pause = f->s.conns->rx;
        assert_int_equal(
            ior_call_later(p->c->loop, 0, flow_let_peer_read, f, NULL), 0);
    }
}

static void flow_lost(nu_conn_t *c)
{
    flow_ctx_t *f = c->user;
    if (++f->lost == 2)
        nu_done(c->loop);
}

static void flow_connected(nu_conn_t *c)
{
    flow_ctx_t *f = c->user;
    assert_int_equal(c->connect_status, 0);
    f->p.on_pause = flow_paused;
    pump_start(&f->p, c, FLOW_BYTES, FLOW_CHUNK, 1);
}

static void flow_accept(nu_server_t *s, nu_conn_t *c)
{
    c->user = s->user;
    c->on_lost = flow_lost;
}

/*
 * A streaming producer writing to a peer that does not read is paused,
 * never has more than buffer_size plus one write queued, and is resumed
 * and completes once the peer reads.
 */
void test_streaming_producer_paused_by_peer_that_does_not_read(void **state)
{
    nu_loop_t nl;
    flow_ctx_t *f = calloc(1, sizeof(*f));
    (void)state;
    nu_loop_init(&nl);
    f->s.on_accept = flow_accept;
    f->s.user = f;
    assert_int_equal(nu_server_start(&f->s, nl.loop, "127.0.0.1", NU_PAUSED, 0),
                     0);
    f->c.user = f;
    f->c.on_connect = flow_connected;
    f->c.on_lost = flow_lost;
    nu_connect(nl.loop, &f->s.addr, &f->c, 0);
    nu_loop_run(&nl);
    assert_true(f->p.pauses >= 1);
    assert_true(f->p.resumes >= 1);
    assert_int_equal(f->peer_rx_at_pause, 0);
    assert_true(f->p.max_buffered <= 65536 + FLOW_CHUNK);
    assert_int_equal(f->p.sent, FLOW_BYTES);
    assert_int_equal(f->s.conns->rx, FLOW_BYTES);
    assert_true(f->s.conns->rx_hash == nu_pattern_hash(FLOW_BYTES));
    assert_int_equal(f->c.reason, IOR_EDONE);
    assert_int_equal(f->s.conns->reason, IOR_EDONE);
    nu_server_close(&f->s);
    nu_loop_free(&nl);
    nu_server_free_conns(&f->s);
    free(f);
}

/* --- a pull producer ------------------------------------------------------ */

#define PULL_BYTES ((uint64_t)8 << 20)

static void pull_connected(nu_conn_t *c)
{
    flow_ctx_t *f = c->user;
    assert_int_equal(c->connect_status, 0);
    pump_start(&f->p, c, PULL_BYTES, 65536, 0);
}

/* A pull producer is asked for one chunk at a time until it finishes. */
void test_pull_producer_over_socket(void **state)
{
    nu_loop_t nl;
    flow_ctx_t *f = calloc(1, sizeof(*f));
    (void)state;
    nu_loop_init(&nl);
    f->s.on_accept = flow_accept;
    f->s.user = f;
    assert_int_equal(nu_server_start(&f->s, nl.loop, "127.0.0.1", 0, 0), 0);
    f->c.user = f;
    f->c.on_connect = pull_connected;
    f->c.on_lost = flow_lost;
    nu_connect(nl.loop, &f->s.addr, &f->c, 0);
    nu_loop_run(&nl);
    assert_int_equal(f->p.pauses, 0);
    assert_int_equal(f->p.resumes, (int)(PULL_BYTES / 65536));
    assert_int_equal(f->s.conns->rx, PULL_BYTES);
    assert_true(f->s.conns->rx_hash == nu_pattern_hash(PULL_BYTES));
    assert_int_equal(f->c.reason, IOR_EDONE);
    nu_server_close(&f->s);
    nu_loop_free(&nl);
    nu_server_free_conns(&f->s);
    free(f);
}

/* --- main ------------------------------------------------------------------
 */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_ipv4),
        cmocka_unit_test(test_echo_ipv6),
        cmocka_unit_test(test_echo_dual_stack_accepts_ipv4),
        cmocka_unit_test(test_ipv6_only_listener_refuses_ipv4),
        cmocka_unit_test(test_loop_backend_selection),
        cmocka_unit_test(test_bulk_64mib_each_way_checksummed),
        cmocka_unit_test(
            test_streaming_producer_paused_by_peer_that_does_not_read),
        cmocka_unit_test(test_pull_producer_over_socket),
        cmocka_unit_test(test_lose_connection_flushes_8mib_then_eof),
        cmocka_unit_test(
            test_lose_write_connection_peer_sees_eof_and_still_sends),
        cmocka_unit_test(test_half_close_aware_protocol_keeps_writing),
        cmocka_unit_test(test_abort_resets_peer_and_reports_once),
        cmocka_unit_test(test_peer_reset_while_writing),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_connect_timeout_on_full_backlog),
        cmocka_unit_test(test_loop_free_cancels_pending_connect),
        cmocka_unit_test(test_close_in_flight_1000_times_no_leaks),
        cmocka_unit_test(test_loop_free_aborts_live_connections),
        cmocka_unit_test(test_500_concurrent_connections),
        cmocka_unit_test(test_timers_fire_in_order_and_cancel),
        cmocka_unit_test(test_call_from_thread_4_threads),
        cmocka_unit_test(test_completion_flood_does_not_starve_timer),
    };
    ior_loop_t *loop;
    nu_alloc_install();
    nu_platform_raise_fd_limit();
    if (ior_loop_new(&loop, NULL) == 0) {
        print_message("net suite on backend: %s\n", ior_loop_backend(loop));
        ior_loop_free(loop);
    }
    return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
