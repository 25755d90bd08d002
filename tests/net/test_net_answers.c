/*
 * One answer on every backend (issue 11, defect 6): each test states a
 * rule decided once in common/ and checks it over real loopback sockets.
 * The same file runs on epoll, poll and IOCP (under Wine).
 */
#include "net_util.h"
#include "platform.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* --- addresses of a transport, kept for its whole life ------------------- */

typedef struct addr_side {
    ior_transport_t *t;
    ior_addr_t host;
    ior_addr_t peer;
    ior_addr_t host_in_lost; /* asked again inside connection_lost */
    ior_addr_t peer_in_lost;
    int lost;
} addr_side_t;

typedef struct addr_ctx {
    nu_loop_t nl;
    ior_listener_t *l;
    ior_addr_t laddr;
    addr_side_t server;
    addr_side_t client;
    int connect_status;
    int lost;
} addr_ctx_t;

static addr_ctx_t *g_actx;

static void side_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    (void)t;
    (void)user;
    (void)d;
    (void)n;
}

static void side_lost(ior_transport_t *t, void *user, int reason)
{
    addr_side_t *s = user;
    (void)reason;
    assert_int_equal(ior_transport_host_address(t, &s->host_in_lost), 0);
    assert_int_equal(ior_transport_peer_address(t, &s->peer_in_lost), 0);
    s->lost++;
    if (++g_actx->lost == 2)
        nu_done(g_actx->nl.loop);
}

static const ior_protocol_ops_t side_proto = {side_data, NULL, NULL, side_lost};

static void side_take(addr_side_t *s, ior_transport_t *t)
{
    s->t = t;
    assert_int_equal(ior_transport_host_address(t, &s->host), 0);
    assert_int_equal(ior_transport_peer_address(t, &s->peer), 0);
    assert_int_equal(ior_transport_set_protocol(t, &side_proto, s), 0);
}

static void addr_accepted(ior_listener_t *l, void *user, ior_transport_t *t)
{
    addr_ctx_t *x = user;
    (void)l;
    side_take(&x->server, t);
    /* The server aborts at once: both sides end, addresses still known. */
    assert_int_equal(ior_transport_abort_connection(t), 0);
}

static const ior_listener_ops_t addr_lops = {addr_accepted, NULL};

static void addr_connected(ior_loop_t *loop, void *user, ior_transport_t *t,
                           int status, int os_error)
{
    addr_ctx_t *x = user;
    (void)loop;
    (void)os_error;
    x->connect_status = status;
    if (status != 0) {
        nu_done(x->nl.loop);
        return;
    }
    side_take(&x->client, t);
}

static int addr_is(const ior_addr_t *a, const char *ip, uint16_t port)
{
    ior_addr_t want;
    assert_int_equal(ior_addr_parse(&want, ip, port), 0);
    return a->family == want.family && a->port == want.port &&
           memcmp(a->bytes, want.bytes, 16) == 0;
}

/* Listens on listen_ip, connects to connect_ip; returns 0 or skips. */
static int addr_run(addr_ctx_t *x, const char *listen_ip,
                    const char *connect_ip)
{
    ior_addr_t a;
    int r;
    memset(x, 0, sizeof(*x));
    g_actx = x;
    nu_loop_init(&x->nl);
    assert_int_equal(ior_addr_parse(&a, listen_ip, 0), 0);
    r = ior_tcp_listen(x->nl.loop, &a, NULL, &addr_lops, x, &x->l);
    if (r != 0) {
        nu_loop_free(&x->nl);
        return r;
    }
    assert_int_equal(ior_listener_address(x->l, &x->laddr), 0);
    assert_int_equal(ior_addr_parse(&a, connect_ip, x->laddr.port), 0);
    assert_int_equal(
        ior_tcp_connect(x->nl.loop, &a, NULL, addr_connected, x), 0);
    nu_loop_run(&x->nl);
    ior_listener_close(x->l);
    nu_loop_free(&x->nl);
    return 0;
}

/*
 * An IPv4 client of a dual-stack listener on :: is IPv4 everywhere:
 * 127.0.0.1, never ::ffff:127.0.0.1, as peer (server side) and as host
 * (server side, the listener being a wildcard) - on every backend.
 */
static void test_dual_stack_listener_reports_ipv4_client_as_ipv4(void **state)
{
    addr_ctx_t *x = calloc(1, sizeof(*x));
    int r;
    (void)state;
    r = addr_run(x, "::", "127.0.0.1");
    if (r != 0) {
        free(x);
        print_message("SKIP: cannot listen on :: (%s)\n", ior_strerror(r));
        skip();
    }
    assert_int_equal(x->connect_status, 0);
    assert_true(addr_is(&x->server.peer, "127.0.0.1", x->client.host.port));
    assert_true(addr_is(&x->server.host, "127.0.0.1", x->laddr.port));
    assert_true(addr_is(&x->client.peer, "127.0.0.1", x->laddr.port));
    assert_true(addr_is(&x->client.host, "127.0.0.1", x->client.host.port));
    free(x);
}

/*
 * Host and peer addresses answer the same for the transport's whole life:
 * inside connection_lost, after an abort, as when it was made.
 */
static void test_addresses_survive_abort_and_connection_lost(void **state)
{
    addr_ctx_t *x = calloc(1, sizeof(*x));
    (void)state;
    assert_int_equal(addr_run(x, "127.0.0.1", "127.0.0.1"), 0);
    assert_int_equal(x->connect_status, 0);
    assert_int_equal(x->server.lost, 1);
    assert_int_equal(x->client.lost, 1);
    assert_memory_equal(&x->server.host_in_lost, &x->server.host,
                        sizeof(ior_addr_t));
    assert_memory_equal(&x->server.peer_in_lost, &x->server.peer,
                        sizeof(ior_addr_t));
    assert_memory_equal(&x->client.host_in_lost, &x->client.host,
                        sizeof(ior_addr_t));
    assert_memory_equal(&x->client.peer_in_lost, &x->client.peer,
                        sizeof(ior_addr_t));
    /* Each side's peer is the other side's host. */
    assert_memory_equal(&x->server.peer, &x->client.host, sizeof(ior_addr_t));
    assert_memory_equal(&x->client.peer, &x->server.host, sizeof(ior_addr_t));
    free(x);
}

/*
 * Connecting to the wildcard 0.0.0.0 connects to 127.0.0.1 on every
 * backend (Windows alone would refuse it with WSAEADDRNOTAVAIL), and the
 * peer address says where it went.
 */
static void test_connect_to_wildcard_reaches_loopback(void **state)
{
    addr_ctx_t *x = calloc(1, sizeof(*x));
    (void)state;
    assert_int_equal(addr_run(x, "127.0.0.1", "0.0.0.0"), 0);
    assert_int_equal(x->connect_status, 0);
    assert_true(addr_is(&x->client.peer, "127.0.0.1", x->laddr.port));
    free(x);
}

/* The same for :: (to ::1), where IPv6 loopback exists. */
static void test_connect_to_ipv6_wildcard_reaches_loopback(void **state)
{
    addr_ctx_t *x = calloc(1, sizeof(*x));
    int r;
    (void)state;
    r = addr_run(x, "::1", "::");
    if (r != 0) {
        free(x);
        print_message("SKIP: cannot listen on ::1 (%s)\n", ior_strerror(r));
        skip();
    }
    assert_int_equal(x->connect_status, 0);
    assert_true(addr_is(&x->client.peer, "::1", x->laddr.port));
    free(x);
}

/* --- options on a transport that is not TCP -------------------------------- */

static void pipe_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    (void)t;
    (void)user;
    (void)d;
    (void)n;
}

static void pipe_lost(ior_transport_t *t, void *user, int reason)
{
    (void)t;
    (void)user;
    (void)reason;
}

static const ior_protocol_ops_t pipe_proto = {pipe_data, NULL, NULL,
                                              pipe_lost};

/*
 * A pipe transport has no TCP options and no addresses: IOR_ENOTSUP for
 * set_nodelay, set_keepalive, host_address and peer_address.
 */
static void test_tcp_calls_on_a_pipe_are_not_supported(void **state)
{
    nu_loop_t nl;
    intptr_t rd, wr;
    ior_transport_t *t = NULL;
    ior_addr_t a;
    (void)state;
    assert_int_equal(nu_platform_pipe(0, &rd, &wr), 0);
    nu_loop_init(&nl);
    assert_int_equal(ior_pipe_open(nl.loop, rd, IOR_PIPE_READ, &pipe_proto,
                                   NULL, &t),
                     0);
    assert_int_equal(ior_transport_set_nodelay(t, 1), IOR_ENOTSUP);
    assert_int_equal(ior_transport_set_keepalive(t, 1, 10), IOR_ENOTSUP);
    assert_int_equal(ior_transport_host_address(t, &a), IOR_ENOTSUP);
    assert_int_equal(ior_transport_peer_address(t, &a), IOR_ENOTSUP);
    nu_loop_free(&nl);
    nu_platform_close_handle(wr);
}

/* --- UDP ------------------------------------------------------------------ */

typedef struct udp_ctx {
    nu_loop_t nl;
    ior_addr_t from;
    int got;
} udp_ctx_t;

static void udp_got(ior_udp_t *u, void *user, const void *data, size_t len,
                    const ior_addr_t *from, int truncated)
{
    udp_ctx_t *x = user;
    (void)u;
    (void)data;
    (void)len;
    (void)truncated;
    x->from = *from;
    x->got++;
    nu_done(x->nl.loop);
}

static const ior_udp_ops_t udp_recv_ops = {udp_got, NULL, NULL};
static const ior_udp_ops_t udp_quiet_ops = {NULL, NULL, NULL};

/*
 * A family that is neither IPv4 nor IPv6 (0 included) is IOR_EINVAL for
 * every UDP call that takes an address.
 */
static void test_udp_bad_family_is_einval_everywhere(void **state)
{
    nu_loop_t nl;
    ior_addr_t a;
    ior_addr_t bad;
    ior_udp_t *u = NULL;
    int f;
    static const uint16_t fams[2] = {0, 99};
    (void)state;
    nu_loop_init(&nl);
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(ior_udp_listen(nl.loop, &a, NULL, &udp_quiet_ops, NULL,
                                    &u),
                     0);
    for (f = 0; f < 2; f++) {
        ior_udp_t *v = NULL;
        bad = a;
        bad.port = 9;
        bad.family = fams[f];
        assert_int_equal(ior_udp_listen(nl.loop, &bad, NULL, &udp_quiet_ops,
                                        NULL, &v),
                         IOR_EINVAL);
        assert_null(v);
        assert_int_equal(ior_udp_send_to(u, "x", 1, &bad), IOR_EINVAL);
        assert_int_equal(ior_udp_connect(u, &bad), IOR_EINVAL);
        assert_int_equal(ior_udp_join_group(u, &bad, NULL), IOR_EINVAL);
        assert_int_equal(ior_udp_leave_group(u, &bad, NULL), IOR_EINVAL);
        assert_int_equal(ior_udp_set_multicast_interface(u, &bad),
                         IOR_EINVAL);
    }
    assert_int_equal(ior_udp_send_queue_size(u), 0);
    ior_udp_close(u);
    nu_loop_free(&nl);
}

/*
 * Multicast: an interface of another family than the group is IOR_EINVAL;
 * an IPv6 group or interface on an IPv4 socket is IOR_EAFNOSUPPORT; a
 * NULL interface ("any") is accepted.
 */
static void test_udp_multicast_families_one_answer(void **state)
{
    nu_loop_t nl;
    ior_addr_t a, g4, g6, i4, i6;
    ior_udp_t *u = NULL;
    (void)state;
    nu_loop_init(&nl);
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(ior_addr_parse(&g4, "239.255.42.1", 0), 0);
    assert_int_equal(ior_addr_parse(&g6, "ff02::4242", 0), 0);
    assert_int_equal(ior_addr_parse(&i4, "127.0.0.1", 0), 0);
    assert_int_equal(ior_addr_parse(&i6, "::1", 0), 0);
    assert_int_equal(ior_udp_listen(nl.loop, &a, NULL, &udp_quiet_ops, NULL,
                                    &u),
                     0);
    assert_int_equal(ior_udp_join_group(u, &g4, &i6), IOR_EINVAL);
    assert_int_equal(ior_udp_leave_group(u, &g4, &i6), IOR_EINVAL);
    assert_int_equal(ior_udp_join_group(u, &g6, &i4), IOR_EINVAL);
    assert_int_equal(ior_udp_join_group(u, &g6, NULL), IOR_EAFNOSUPPORT);
    assert_int_equal(ior_udp_set_multicast_interface(u, &i6),
                     IOR_EAFNOSUPPORT);
    assert_int_equal(ior_udp_set_multicast_interface(u, NULL), 0);
    assert_int_equal(ior_udp_set_multicast_interface(u, &i4), 0);
    ior_udp_close(u);
    nu_loop_free(&nl);
}

/* An IPv4 sender to a dual-stack :: UDP socket is reported as IPv4. */
static void test_udp_dual_stack_reports_ipv4_sender_as_ipv4(void **state)
{
    udp_ctx_t x;
    ior_addr_t any6, a4, srv, to, cli;
    ior_udp_t *server = NULL;
    ior_udp_t *client = NULL;
    int r;
    (void)state;
    memset(&x, 0, sizeof(x));
    nu_loop_init(&x.nl);
    assert_int_equal(ior_addr_parse(&any6, "::", 0), 0);
    assert_int_equal(ior_addr_parse(&a4, "127.0.0.1", 0), 0);
    r = ior_udp_listen(x.nl.loop, &any6, NULL, &udp_recv_ops, &x, &server);
    if (r != 0) {
        nu_loop_free(&x.nl);
        print_message("SKIP: no UDP on :: (%s)\n", ior_strerror(r));
        skip();
    }
    assert_int_equal(ior_udp_listen(x.nl.loop, &a4, NULL, &udp_quiet_ops,
                                    NULL, &client),
                     0);
    assert_int_equal(ior_udp_address(server, &srv), 0);
    assert_int_equal(ior_udp_address(client, &cli), 0);
    to = a4;
    to.port = srv.port;
    assert_int_equal(ior_udp_send_to(client, "ping", 4, &to), 0);
    nu_loop_run(&x.nl);
    assert_int_equal(x.got, 1);
    assert_true(addr_is(&x.from, "127.0.0.1", cli.port));
    ior_udp_close(client);
    ior_udp_close(server);
    nu_loop_free(&x.nl);
}

/* --- name resolution ------------------------------------------------------ */

static int rs_calls;
static int rs_status;
static size_t rs_n;

static void rs_done(ior_loop_t *loop, void *user, int status,
                    const ior_addr_t *addrs, size_t n)
{
    (void)user;
    (void)addrs;
    rs_calls++;
    rs_status = status;
    rs_n = n;
    nu_done(loop);
}

/* ior_resolve(""): IOR_ENAME through the callback on every backend (Wine
 * alone would answer 127.0.0.1). */
static void test_resolve_empty_name_is_ename(void **state)
{
    nu_loop_t nl;
    (void)state;
    rs_calls = 0;
    nu_loop_init(&nl);
    assert_int_equal(ior_resolve(nl.loop, "", 80, 0, rs_done, NULL), 0);
    assert_int_equal(rs_calls, 0);
    nu_loop_run(&nl);
    assert_int_equal(rs_calls, 1);
    assert_int_equal(rs_status, IOR_ENAME);
    assert_int_equal(rs_n, 0);
    nu_loop_free(&nl);
}

/* --- one loop holds the interrupts (SIGINT/SIGTERM, Ctrl-C) -------------- */

/* The same loop again is 0, another IOR_EBUSY until the first is freed:
 * the same answers on every backend (IOCP used to replace the first). */
static void test_stop_on_interrupt_one_loop_per_process(void **state)
{
    nu_loop_t a, b;
    (void)state;
    nu_loop_init(&b); /* b first: a's leak check counts from b's memory */
    nu_loop_init(&a);
    assert_int_equal(ior_loop_stop_on_interrupt(a.loop), 0);
    assert_int_equal(ior_loop_stop_on_interrupt(a.loop), 0);
    assert_int_equal(ior_loop_stop_on_interrupt(b.loop), IOR_EBUSY);
    nu_loop_free(&a);
    assert_int_equal(ior_loop_stop_on_interrupt(b.loop), 0);
    nu_loop_free(&b);
}

/* An unknown backend name is IOR_ENOTSUP and "" means the default, on
 * every platform (IOCP used to refuse ""); the name of the other
 * platform's backend is unknown here. */
static void test_loop_backend_names_one_answer(void **state)
{
    ior_loop_options_t o;
    ior_loop_t *l = NULL;
#ifdef _WIN32
    const char *other = "epoll";
#else
    const char *other = "iocp";
#endif
    (void)state;
    memset(&o, 0, sizeof(o));
    o.backend = "no-such-backend";
    assert_int_equal(ior_loop_new(&l, &o), IOR_ENOTSUP);
    assert_null(l);
    o.backend = other;
    assert_int_equal(ior_loop_new(&l, &o), IOR_ENOTSUP);
    o.backend = "";
    assert_int_equal(ior_loop_new(&l, &o), 0);
    assert_non_null(ior_loop_backend(l));
    assert_int_equal(ior_loop_free(l), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dual_stack_listener_reports_ipv4_client_as_ipv4),
        cmocka_unit_test(test_addresses_survive_abort_and_connection_lost),
        cmocka_unit_test(test_connect_to_wildcard_reaches_loopback),
        cmocka_unit_test(test_connect_to_ipv6_wildcard_reaches_loopback),
        cmocka_unit_test(test_tcp_calls_on_a_pipe_are_not_supported),
        cmocka_unit_test(test_udp_bad_family_is_einval_everywhere),
        cmocka_unit_test(test_udp_multicast_families_one_answer),
        cmocka_unit_test(test_udp_dual_stack_reports_ipv4_sender_as_ipv4),
        cmocka_unit_test(test_resolve_empty_name_is_ename),
        cmocka_unit_test(test_stop_on_interrupt_one_loop_per_process),
        cmocka_unit_test(test_loop_backend_names_one_answer),
    };
    nu_alloc_install();
    return cmocka_run_group_tests_name("answers", tests, NULL, NULL);
}
