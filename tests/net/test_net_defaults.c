/*
 * Safe defaults (issue 7, part 5): a port someone listens on cannot be
 * taken by a second listener (SO_EXCLUSIVEADDRUSE on Windows), nothing
 * ior opens is inherited by child processes, and max_buffer refuses a
 * write with IOR_ENOBUFS and queues none of it. Also main() of the faults
 * executable.
 */
#include "faults_tests.h"
#include "../portable.h"
#include "net_util.h"
#include "platform.h"
#include "stress_platform.h"
#include "stress_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void df_noop_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    (void)l;
    (void)user;
    (void)t; /* left without a protocol: closed by the listener */
}

static const ior_listener_ops_t df_listener = {df_noop_accept, NULL};

/*
 * While ior listens on a port, a second ior listener on the same address
 * or on the wildcard fails with IOR_EADDRINUSE, and a plain socket with
 * SO_REUSEADDR cannot bind it either. Once closed, the port is free.
 */
void test_second_listen_on_same_port_is_refused(void **state)
{
    nu_loop_t nl;
    ior_listener_t *l1, *l2 = NULL;
    ior_addr_t a, any;
    int r;
    (void)state;
    nu_loop_init(&nl);
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(
        ior_tcp_listen(nl.loop, &a, NULL, &df_listener, NULL, &l1), 0);
    assert_int_equal(ior_listener_address(l1, &a), 0);
    r = ior_tcp_listen(nl.loop, &a, NULL, &df_listener, NULL, &l2);
    assert_int_equal(r, IOR_EADDRINUSE);
    assert_null(l2);
    assert_int_equal(ior_addr_parse(&any, "0.0.0.0", a.port), 0);
    r = ior_tcp_listen(nl.loop, &any, NULL, &df_listener, NULL, &l2);
    print_message("defaults: second listen on %u: %s; on the wildcard: %s\n",
                  a.port, ior_err_name(IOR_EADDRINUSE), ior_err_name(r));
    assert_int_equal(r, IOR_EADDRINUSE); /* Windows' WSAEACCES included */
    assert_int_equal(sp_bind_reuseaddr(a.port), 1);
    ior_listener_close(l1);
    /* Free again: a listener (with ior's own options) can take it. */
    assert_int_equal(
        ior_tcp_listen(nl.loop, &a, NULL, &df_listener, NULL, &l2), 0);
    ior_listener_close(l2);
    nu_loop_free(&nl);
}

/* --- a listener restarted while its connections live -------------------- */

typedef struct rs_ctx {
    nu_server_t s;
    nu_conn_t c;
} rs_ctx_t;

static void rs_accept(nu_server_t *s, nu_conn_t *c)
{
    rs_ctx_t *x = s->user;
    if (x->c.connected)
        nu_done(c->loop);
}

static void rs_connected(nu_conn_t *c)
{
    rs_ctx_t *x = c->user;
    assert_int_equal(c->connect_status, 0);
    if (x->s.accepted == 1)
        nu_done(c->loop);
}

/*
 * A server with IOR_LISTEN_* flags accepts one connection and closes its
 * listener while that connection stays open (a server restarting); the
 * answer of a new listener with the same flags on the same port.
 */
static int restart_answer(unsigned flags)
{
    nu_loop_t nl;
    rs_ctx_t *x = calloc(1, sizeof(*x));
    ior_listen_options_t o;
    ior_listener_t *again = NULL;
    ior_addr_t a;
    int r;
    assert_non_null(x);
    nu_loop_init(&nl);
    x->s.on_accept = rs_accept;
    x->s.user = x;
    x->s.listen_flags = flags;
    assert_int_equal(nu_server_start(&x->s, nl.loop, "127.0.0.1", 0, 0), 0);
    x->c.user = x;
    x->c.on_connect = rs_connected;
    nu_connect(nl.loop, &x->s.addr, &x->c, 0);
    nu_loop_run(&nl);
    a = x->s.addr;
    nu_server_close(&x->s);
    memset(&o, 0, sizeof(o));
    o.flags = flags;
    r = ior_tcp_listen(nl.loop, &a, &o, &df_listener, NULL, &again);
    if (r == 0)
        ior_listener_close(again);
    nu_loop_free(&nl); /* closes both ends of the connection */
    nu_server_free_conns(&x->s);
    free(x);
    return r;
}

/*
 * By default an IOCP listener holds its port with SO_EXCLUSIVEADDRUSE,
 * and Microsoft documents the price: while a connection it accepted is
 * open, no new exclusive listener binds that port (IOR_EADDRINUSE).
 * IOR_LISTEN_QUICK_RESTART, on the old listener and the new one, lets the
 * restart bind. POSIX listeners use SO_REUSEADDR, so both restarts bind
 * there. Wine 8 keeps Linux's rule for both (0): the refusal is verified
 * only on the Windows runner (docs/windows.md).
 */
void test_listen_restart_while_connections_live(void **state)
{
    int exclusive, quick;
#ifdef _WIN32
    int windows = !sp_is_wine();
#else
    int windows = 0;
#endif
    (void)state;
    exclusive = restart_answer(0);
    quick = restart_answer(IOR_LISTEN_QUICK_RESTART);
    print_message("defaults: restart with a live connection: exclusive %s, "
                  "quick restart %s\n",
                  ior_err_name(exclusive), ior_err_name(quick));
    assert_int_equal(quick, 0);
    if (windows)
        assert_int_equal(exclusive, IOR_EADDRINUSE);
    else
        assert_int_equal(exclusive, 0);
}

/* --- nothing inheritable --------------------------------------------------- */

typedef struct ih_ctx {
    nu_server_t s;
    nu_conn_t c;
    ior_udp_t *u;
    int checked;
    int before;
    intptr_t found[64];
    int nfound;
    int seen_before, seen;
} ih_ctx_t;

static void ih_scan(ih_ctx_t *x, ior_loop_t *loop)
{
    const char *why = NULL;
    x->nfound = sp_inheritable(x->found, 64, &x->seen, &why);
    x->checked = 1;
    nu_done(loop);
}

static void ih_accept(nu_server_t *s, nu_conn_t *c)
{
    ih_ctx_t *x = s->user;
    (void)c;
    if (x->c.connected)
        ih_scan(x, c->loop);
}

static void ih_connected(nu_conn_t *c)
{
    ih_ctx_t *x = c->user;
    assert_int_equal(c->connect_status, 0);
    if (x->s.accepted == 1)
        ih_scan(x, c->loop);
}

static void ih_datagram(ior_udp_t *u, void *user, const void *data,
                        size_t len, const ior_addr_t *from, int truncated)
{
    (void)u;
    (void)user;
    (void)data;
    (void)len;
    (void)from;
    (void)truncated;
}

static const ior_udp_ops_t ih_udp_ops = {ih_datagram, NULL, NULL};

/*
 * With a loop, a listener, a connection (both ends) and a UDP socket
 * open, no descriptor (POSIX: beyond 0, 1, 2 and those open before) or
 * socket handle (Windows) is inheritable by a child process.
 */
void test_no_descriptor_or_handle_is_inheritable(void **state)
{
    nu_loop_t nl;
    ih_ctx_t *x = calloc(1, sizeof(*x));
    intptr_t before[64];
    const char *why = NULL;
    ior_addr_t ua;
    int i, j, fresh = 0;
    (void)state;
    assert_non_null(x);
    x->before = sp_inheritable(before, 64, &x->seen_before, &why);
    if (x->before < 0) {
        free(x);
        print_message("SKIP: %s\n", why);
        skip();
    }
    nu_loop_init(&nl);
    x->s.on_accept = ih_accept;
    x->s.user = x;
    assert_int_equal(nu_server_start(&x->s, nl.loop, "127.0.0.1", 0, 0), 0);
    assert_int_equal(ior_addr_parse(&ua, "127.0.0.1", 0), 0);
    assert_int_equal(
        ior_udp_listen(nl.loop, &ua, NULL, &ih_udp_ops, x, &x->u), 0);
    x->c.user = x;
    x->c.on_connect = ih_connected;
    nu_connect(nl.loop, &x->s.addr, &x->c, 0);
    nu_loop_run(&nl);
    assert_true(x->checked);
    for (i = 0; i < x->nfound; i++) {
        for (j = 0; j < x->before; j++)
            if (before[j] == x->found[i])
                break;
        if (j == x->before) {
            print_message("defaults: inheritable: %ld\n", (long)x->found[i]);
            fresh++;
        }
    }
    print_message("defaults: %d descriptors or sockets open before ior (%d "
                  "inheritable), %d after a loop, listener, connection and "
                  "UDP socket: %d new inheritable ones\n",
                  x->seen_before, x->before, x->seen, fresh);
    assert_int_equal(fresh, 0);
    assert_true(x->seen >= x->seen_before + 4); /* the scan sees ours */
    ior_udp_close(x->u);
    nu_server_close(&x->s);
    nu_loop_free(&nl);
    nu_server_free_conns(&x->s);
    free(x);
}

/* --- max_buffer ------------------------------------------------------------ */

#define MB_MAX (256 * 1024)
#define MB_CHUNK (64 * 1024)
#define MB_LIMIT ((uint64_t)256 << 20) /* give up: the OS never fills */

typedef struct mb_ctx {
    nu_server_t s;
    nu_conn_t c;
    uint64_t accepted; /* bytes the writes took */
    size_t queued_at_refusal;
    int refusals;
    int lost;
    int written; /* the client is done writing: the peer may read */
} mb_ctx_t;

static void mb_never_released(void *ctx, const void *base, size_t len)
{
    (void)ctx;
    (void)base;
    (void)len;
    fail_msg("a refused write_ref was released");
}

/* The peer reads once the client is done and the peer is accepted. */
static void mb_let_peer_read(mb_ctx_t *x)
{
    if (x->written && x->s.conns != NULL)
        assert_int_equal(ior_transport_resume_producing(x->s.conns->t), 0);
}

static void mb_lost(nu_conn_t *c)
{
    mb_ctx_t *x = c->user;
    if (++x->lost == 2)
        nu_done(c->loop);
}

/* A refused write: IOR_ENOBUFS, and queue and state as before. */
static void mb_refused(mb_ctx_t *x, size_t len)
{
    ior_transport_t *t = x->c.t;
    size_t before = ior_transport_buffered(t);
    unsigned st = ior_transport_state(t);
    ior_buf_t b[2];
    assert_int_equal(ior_transport_write(t, nu_pattern(x->accepted), len),
                     IOR_ENOBUFS);
    assert_int_equal(ior_transport_write_ref(t, nu_pattern(x->accepted), len,
                                             mb_never_released, NULL),
                     IOR_ENOBUFS);
    b[0].base = nu_pattern(x->accepted);
    b[0].len = 1;
    b[1].base = b[0].base;
    b[1].len = len;
    assert_int_equal(ior_transport_write_sequence(t, b, 2), IOR_ENOBUFS);
    assert_int_equal(ior_transport_buffered(t), before);
    assert_int_equal(ior_transport_state(t), st);
    x->refusals++;
}

static void mb_connected(nu_conn_t *c)
{
    mb_ctx_t *x = c->user;
    size_t room;
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_set_max_buffer(c->t, MB_MAX), 0);
    /* The OS takes what it can; then the queue grows up to the cap. */
    while (x->accepted < MB_LIMIT) {
        int r = ior_transport_write(c->t, nu_pattern(x->accepted), MB_CHUNK);
        if (r == IOR_ENOBUFS)
            break;
        assert_int_equal(r, 0);
        x->accepted += MB_CHUNK;
    }
    assert_true(x->accepted < MB_LIMIT);
    x->queued_at_refusal = ior_transport_buffered(c->t);
    assert_true(x->queued_at_refusal + MB_CHUNK > MB_MAX);
    mb_refused(x, MB_CHUNK);
    /* Exactly the room left is taken; one byte more is not. */
    room = MB_MAX - ior_transport_buffered(c->t);
    if (room > 0) {
        assert_int_equal(
            ior_transport_write(c->t, nu_pattern(x->accepted), room), 0);
        x->accepted += room;
    }
    assert_int_equal(ior_transport_buffered(c->t), MB_MAX);
    mb_refused(x, 1);
    assert_int_equal(ior_transport_lose_connection(c->t), 0);
    /* The peer reads now: everything taken arrives, nothing refused. */
    x->written = 1;
    mb_let_peer_read(x);
}

static void mb_accept(nu_server_t *s, nu_conn_t *c)
{
    c->user = s->user;
    c->on_lost = mb_lost;
    mb_let_peer_read(s->user);
}

/*
 * max_buffer over a real socket to a peer that does not read: once the
 * OS is full the queue fills to the cap, then writes (copy, ref and
 * sequence) fail with IOR_ENOBUFS and change nothing; the peer receives
 * exactly the bytes that were taken.
 */
void test_max_buffer_refuses_write_and_queues_nothing(void **state)
{
    nu_loop_t nl;
    mb_ctx_t *x = calloc(1, sizeof(*x));
    (void)state;
    assert_non_null(x);
    nu_loop_init(&nl);
    x->s.on_accept = mb_accept;
    x->s.user = x;
    assert_int_equal(
        nu_server_start(&x->s, nl.loop, "127.0.0.1", NU_PAUSED, 0), 0);
    x->c.user = x;
    x->c.on_connect = mb_connected;
    x->c.on_lost = mb_lost;
    nu_connect(nl.loop, &x->s.addr, &x->c, 0);
    nu_loop_run(&nl);
    print_message("defaults: max_buffer %d: %llu bytes taken (%lu queued "
                  "when refused), %d refusals, all delivered\n",
                  MB_MAX, (unsigned long long)x->accepted,
                  (unsigned long)x->queued_at_refusal, x->refusals);
    assert_int_equal(x->s.conns->rx, x->accepted);
    assert_true(x->s.conns->rx_hash == nu_pattern_hash(x->accepted));
    assert_int_equal(x->c.reason, IOR_EDONE);
    nu_server_close(&x->s);
    nu_loop_free(&nl);
    nu_server_free_conns(&x->s);
    free(x);
}

/* --- main of the faults executable ---------------------------------------- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_listener_survives_descriptor_exhaustion_without_spinning,
            fx_exhaustion_teardown),
        cmocka_unit_test(test_slow_peers_do_not_delay_other_connections),
        cmocka_unit_test(test_second_listen_on_same_port_is_refused),
        cmocka_unit_test(test_listen_restart_while_connections_live),
        cmocka_unit_test(test_no_descriptor_or_handle_is_inheritable),
        cmocka_unit_test(test_max_buffer_refuses_write_and_queues_nothing),
    };
    ior_loop_t *loop;
    const char *only = test_getenv("IOR_TEST_FILTER");
    if (only != NULL && *only != '\0')
        cmocka_set_test_filter(only);
    nu_alloc_install();
    if (ior_loop_new(&loop, NULL) == 0) {
        print_message("faults suite on backend: %s\n",
                      ior_loop_backend(loop));
        ior_loop_free(loop);
    }
    return cmocka_run_group_tests_name("net_faults", tests, NULL, NULL);
}
