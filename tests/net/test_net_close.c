/*
 * The net suite, closing: lose_connection, half-close, abort, peer reset,
 * and connect failures (refused, timed out).
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

typedef struct close_ctx {
    nu_server_t s;
    nu_conn_t c;
    int lost;
    int want_lost; /* nu_done once this many connections are lost */
    int aborted;   /* the client aborted: no data_received after it */
    uint64_t big;
} close_ctx_t;

static void close_lost(nu_conn_t *c)
{
    close_ctx_t *x = c->user;
    if (++x->lost == x->want_lost)
        nu_done(c->loop);
}

static void close_accept(nu_server_t *s, nu_conn_t *c)
{
    c->user = s->user;
    c->on_lost = close_lost;
}

static void close_setup(close_ctx_t *x, nu_loop_t *nl, unsigned sflags)
{
    memset(x, 0, sizeof(*x));
    nu_loop_init(nl);
    x->want_lost = 2;
    x->s.on_accept = close_accept;
    x->s.user = x;
    assert_int_equal(nu_server_start(&x->s, nl->loop, "127.0.0.1", sflags, 0),
                     0);
    x->c.user = x;
    x->c.on_lost = close_lost;
}

static void close_teardown(close_ctx_t *x, nu_loop_t *nl)
{
    nu_server_close(&x->s);
    nu_loop_free(nl);
    nu_server_free_conns(&x->s);
}

/* --- lose_connection with 8 MiB queued ---------------------------------- */

#define LOSE_BYTES ((uint64_t)8 << 20)

static void lose_connected(nu_conn_t *c)
{
    uint64_t off = 0;
    assert_int_equal(c->connect_status, 0);
    while (off < LOSE_BYTES) {
        assert_int_equal(
            ior_transport_write(c->t, nu_pattern(off), NU_PATTERN_MAX), 0);
        off += NU_PATTERN_MAX;
    }
    assert_true(ior_transport_buffered(c->t) > 0);
    assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

static void lose_peer_eof(nu_conn_t *c)
{
    /* EOF comes after every byte. */
    assert_int_equal(c->rx, LOSE_BYTES);
    assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

static void lose_peer_accept(nu_server_t *s, nu_conn_t *c)
{
    close_accept(s, c);
    c->on_eof = lose_peer_eof;
}

/* lose_connection sends all 8 MiB queued, then the peer sees EOF. */
void test_lose_connection_flushes_8mib_then_eof(void **state)
{
    nu_loop_t nl;
    close_ctx_t x;
    (void)state;
    close_setup(&x, &nl, NU_HALF_CLOSE);
    x.s.on_accept = lose_peer_accept;
    x.c.on_connect = lose_connected;
    nu_connect(nl.loop, &x.s.addr, &x.c, 0);
    nu_loop_run(&nl);
    assert_int_equal(x.s.conns->eof, 1);
    assert_int_equal(x.s.conns->rx, LOSE_BYTES);
    assert_true(x.s.conns->rx_hash == nu_pattern_hash(LOSE_BYTES));
    assert_int_equal(x.c.lost, 1);
    assert_int_equal(x.c.reason, IOR_EDONE);
    assert_int_equal(x.s.conns->reason, IOR_EDONE);
    close_teardown(&x, &nl);
}

/* --- half-close ---------------------------------------------------------- */

static void half_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_write(c->t, "ping", 4), 0);
    assert_int_equal(ior_transport_lose_write_connection(c->t), 0);
    assert_int_equal(ior_transport_write(c->t, "x", 1), IOR_ESHUTDOWN);
}

static void half_peer_eof(nu_conn_t *c)
{
    close_ctx_t *x = c->user;
    uint64_t off = 0;
    assert_int_equal(c->rx, 4);
    /* The half-close-aware side keeps writing after read_connection_lost. */
    while (off < x->big) {
        size_t n = x->big - off > 4096 ? 4096 : (size_t)(x->big - off);
        assert_int_equal(ior_transport_write(c->t, nu_pattern(off), n), 0);
        off += n;
    }
    assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

static void half_peer_accept(nu_server_t *s, nu_conn_t *c)
{
    close_accept(s, c);
    c->on_eof = half_peer_eof;
}

static void half_run(uint64_t reply)
{
    nu_loop_t nl;
    close_ctx_t x;
    close_setup(&x, &nl, NU_HALF_CLOSE);
    x.big = reply;
    x.s.on_accept = half_peer_accept;
    x.c.on_connect = half_connected;
    nu_connect(nl.loop, &x.s.addr, &x.c, 0);
    nu_loop_run(&nl);
    assert_int_equal(x.c.write_lost, 1);
    assert_int_equal(x.s.conns->eof, 1);
    assert_int_equal(x.s.conns->rx, 4);
    assert_int_equal(x.c.rx, reply);
    assert_true(x.c.rx_hash == nu_pattern_hash(reply));
    assert_int_equal(x.c.reason, IOR_EDONE);
    assert_int_equal(x.s.conns->reason, IOR_EDONE);
    close_teardown(&x, &nl);
}

/*
 * lose_write_connection: write_connection_lost runs, the peer sees EOF
 * and can still send to us.
 */
void test_lose_write_connection_peer_sees_eof_and_still_sends(void **state)
{
    (void)state;
    half_run(4);
}

/* A half-close-aware protocol gets read_connection_lost and writes 1 MiB. */
void test_half_close_aware_protocol_keeps_writing(void **state)
{
    (void)state;
    half_run((uint64_t)1 << 20);
}

/* --- abort ------------------------------------------------------------------
 */

static void abort_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_write(c->t, nu_pattern(0), NU_PATTERN_MAX),
                     0);
}

static void abort_data(nu_conn_t *c, const void *data, size_t len)
{
    close_ctx_t *x = c->user;
    (void)data;
    (void)len;
    assert_false(x->aborted); /* no data_received after abort */
    x->aborted = 1;
    assert_int_equal(ior_transport_abort_connection(c->t), 0);
    assert_int_equal(ior_transport_abort_connection(c->t), 0);
    assert_int_equal(c->lost, 0); /* reported from the loop, not inside */
}

/*
 * abort: the peer sees a reset (an error, not a clean close); our
 * connection_lost runs exactly once, with IOR_EABORTED, and no data after.
 */
void test_abort_resets_peer_and_reports_once(void **state)
{
    nu_loop_t nl;
    close_ctx_t x;
    (void)state;
    close_setup(&x, &nl, NU_ECHO);
    x.c.on_connect = abort_connected;
    x.c.on_data = abort_data;
    nu_connect(nl.loop, &x.s.addr, &x.c, 0);
    nu_loop_run(&nl);
    assert_int_equal(x.c.lost, 1);
    assert_int_equal(x.c.reason, IOR_EABORTED);
    assert_int_equal(x.c.data_after_lost, 0);
    assert_int_equal(x.s.conns->lost, 1);
    assert_true(x.s.conns->reason != IOR_EDONE);
    assert_true(x.s.conns->reason < 0);
    close_teardown(&x, &nl);
}

/* --- the peer resets while we write --------------------------------------- */

static void reset_peer_data(nu_conn_t *c, const void *data, size_t len)
{
    (void)data;
    (void)len;
    if (c->lost == 0)
        assert_int_equal(ior_transport_abort_connection(c->t), 0);
}

static void reset_peer_accept(nu_server_t *s, nu_conn_t *c)
{
    close_accept(s, c);
    c->on_data = reset_peer_data;
}

static void reset_write_more(nu_conn_t *c);

static void reset_tick(ior_loop_t *loop, void *user)
{
    (void)loop;
    reset_write_more(user);
}

/* Keep the queue non-empty until the reset arrives. */
static void reset_write_more(nu_conn_t *c)
{
    close_ctx_t *x = c->user;
    if (c->t == NULL)
        return;
    if (ior_transport_buffered(c->t) < 4 * NU_PATTERN_MAX &&
        x->big < ((uint64_t)1 << 30)) {
        if (ior_transport_write(c->t, nu_pattern(x->big), NU_PATTERN_MAX) != 0)
            return;
        x->big += NU_PATTERN_MAX;
    }
    assert_int_equal(ior_call_later(c->loop, 1, reset_tick, c, NULL), 0);
}

static void reset_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    reset_write_more(c);
}

/* A peer that resets while we write: connection_lost once, with an error. */
void test_peer_reset_while_writing(void **state)
{
    nu_loop_t nl;
    close_ctx_t x;
    (void)state;
    close_setup(&x, &nl, 0);
    x.s.on_accept = reset_peer_accept;
    x.c.on_connect = reset_connected;
    nu_connect(nl.loop, &x.s.addr, &x.c, 0);
    nu_loop_run(&nl);
    assert_int_equal(x.c.lost, 1);
    assert_true(x.c.reason < 0);
    assert_true(x.c.reason != IOR_EDONE && x.c.reason != IOR_EABORTED);
    assert_int_equal(x.s.conns->reason, IOR_EABORTED);
    close_teardown(&x, &nl);
}

/* --- connect failures --------------------------------------------------- */

static void refused_result(nu_conn_t *c)
{
    nu_done(c->loop);
}

/*
 * Connecting to a port nobody listens on fails with IOR_ECONNREFUSED, and
 * os_error is the OS's own code (ECONNREFUSED; WSAECONNREFUSED on
 * Windows) with a non-empty ior_os_strerror message.
 */
void test_connect_refused(void **state)
{
    nu_loop_t nl;
    nu_server_t s;
    nu_conn_t c;
    (void)state;
    memset(&s, 0, sizeof(s));
    memset(&c, 0, sizeof(c));
    nu_loop_init(&nl);
    assert_int_equal(nu_server_start(&s, nl.loop, "127.0.0.1", 0, 0), 0);
    nu_server_close(&s);
    c.on_connect = refused_result;
    nu_connect(nl.loop, &s.addr, &c, 0);
    assert_int_equal(c.connect_status, 1); /* never from inside connect */
    nu_loop_run(&nl);
    assert_int_equal(c.connect_status, IOR_ECONNREFUSED);
    assert_int_equal(c.connect_os_error, nu_platform_refused_os_error());
    {
        char msg[256];
        ior_os_strerror(c.connect_os_error, msg, sizeof(msg));
        print_message("refused: os_error %d: %s\n", c.connect_os_error, msg);
        assert_true(msg[0] != '\0');
    }
    nu_loop_free(&nl);
}

#define TIMEOUT_TRIES 32
#define TIMEOUT_MS 300

typedef struct tmo_ctx {
    ior_addr_t addr;
    nu_conn_t conns[TIMEOUT_TRIES];
    int n;
    int status; /* the first failure */
    int os_error; /* its os_error */
    uint64_t started;
    uint64_t elapsed;
} tmo_ctx_t;

static void tmo_next(tmo_ctx_t *t, ior_loop_t *loop);

static void tmo_result(nu_conn_t *c)
{
    tmo_ctx_t *t = c->user;
    if (c->connect_status == 0 && t->n < TIMEOUT_TRIES) {
        tmo_next(t, c->loop);
        return;
    }
    t->status = c->connect_status;
    t->os_error = c->connect_os_error;
    t->elapsed = ior_loop_now(c->loop) - t->started;
    nu_done(c->loop);
}

static void tmo_next(tmo_ctx_t *t, ior_loop_t *loop)
{
    nu_conn_t *c = &t->conns[t->n++];
    ior_connect_options_t o = {TIMEOUT_MS, NULL};
    c->user = t;
    c->on_connect = tmo_result;
    c->connect_status = 1;
    t->started = ior_loop_now(loop);
    assert_int_equal(ior_tcp_connect(loop, &t->addr, &o, NULL, c),
                     IOR_EINVAL); /* a NULL callback is refused */
    assert_int_equal(nu_connect_with(loop, &t->addr, c, 0, &o), 0);
}

/*
 * A listener that never accepts, with backlog 1, fills up; the next
 * connect gets no answer and times out with IOR_ETIMEDOUT. A platform
 * that refuses instead of dropping the SYN is skipped with a message.
 */
void test_connect_timeout_on_full_backlog(void **state)
{
    nu_loop_t nl;
    tmo_ctx_t *t = calloc(1, sizeof(*t));
    intptr_t h;
    uint16_t port;
    (void)state;
    assert_int_equal(nu_platform_listen_noaccept(1, &port, &h), 0);
    assert_int_equal(ior_addr_parse(&t->addr, "127.0.0.1", port), 0);
    nu_loop_init(&nl);
    tmo_next(t, nl.loop);
    nu_loop_run(&nl);
    nu_loop_free(&nl);
    nu_platform_close_socket(h);
    if (t->status == IOR_ETIMEDOUT) {
        assert_true(t->elapsed + 50 >= TIMEOUT_MS);
        assert_int_equal(t->os_error, 0); /* the library's own status */
        free(t);
        return;
    }
    print_message("SKIP: after %d connects to a full backlog the result was "
                  "%s, not a timeout; this platform does not drop SYNs\n",
                  t->n, t->status == 0 ? "success" : ior_err_name(t->status));
    free(t);
    skip();
}

/* ior_loop_free cancels a connect still in progress: IOR_ECANCELED. */
void test_loop_free_cancels_pending_connect(void **state)
{
    nu_loop_t nl;
    nu_conn_t c;
    ior_addr_t a;
    intptr_t h;
    uint16_t port;
    (void)state;
    memset(&c, 0, sizeof(c));
    assert_int_equal(nu_platform_listen_noaccept(1, &port, &h), 0);
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", port), 0);
    nu_loop_init(&nl);
    nu_connect(nl.loop, &a, &c, 0);
    nu_loop_free(&nl);
    nu_platform_close_socket(h);
    assert_int_equal(c.connect_status, IOR_ECANCELED);
    assert_int_equal(c.connect_os_error, 0); /* the library's own status */
}
