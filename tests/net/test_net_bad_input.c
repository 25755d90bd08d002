/*
 * Bad input to the functions each backend implements, on every backend
 * (issue 7, part 4): NULL pointers, unknown names, malformed and unset
 * addresses, lengths beyond the OS call, calls from inside the wrong
 * callback and on transports that are closing. Each returns its
 * documented IOR_E* code and nothing crashes; tests/README.md has the
 * table. The consumer core's own functions are covered against the fake
 * backend by tests/core/test_bad_input.c.
 */
#include "net_util.h"
#include "platform.h"
#include "stress_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void bi_timer(ior_loop_t *loop, void *user)
{
    (void)loop;
    (void)user;
}

static int bi_inner_run, bi_inner_free;

static void bi_inside(ior_loop_t *loop, void *user)
{
    (void)user;
    bi_inner_run = ior_loop_run(loop);
    bi_inner_free = ior_loop_free(loop);
}

/* Loop, timers, errors, allocator: NULLs, unknown names, stale handles. */
static void test_bad_loop_timer_error_allocator_calls(void **state)
{
    ior_loop_options_t o = {"no-such-backend", 0};
    ior_allocator_t half = {NULL, NULL, NULL, NULL};
    ior_loop_t *loop = (ior_loop_t *)&o, *other;
    ior_timer_id id;
    char buf[8];
    long total;
    (void)state;
    assert_int_equal(ior_loop_new(NULL, NULL), IOR_EINVAL);
    assert_int_equal(ior_loop_new(&loop, &o), IOR_ENOTSUP);
    assert_null(loop);
    assert_null(ior_loop_backend(NULL));
    assert_int_equal(ior_loop_run(NULL), IOR_EINVAL);
    assert_int_equal(ior_loop_free(NULL), IOR_EINVAL);
    ior_loop_stop(NULL);
    assert_int_equal(ior_loop_now(NULL), 0);
    assert_int_equal(ior_loop_stop_on_interrupt(NULL), IOR_EINVAL);
    assert_int_equal(ior_loop_call_from_thread(NULL, bi_timer, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_call_later(NULL, 1, bi_timer, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_timer_cancel(NULL, 1), IOR_EINVAL);
    /* The allocator refuses a half-filled table and keeps the old one. */
    assert_int_equal(ior_set_allocator(&half), IOR_EINVAL);
    half.malloc_fn = NULL;
    total = nu_alloc_total();
    assert_int_equal(ior_loop_new(&loop, NULL), 0);
    assert_true(nu_alloc_total() > total); /* still the counting one */
    assert_int_equal(ior_loop_call_from_thread(loop, NULL, NULL), IOR_EINVAL);
    assert_int_equal(ior_call_later(loop, 1, NULL, NULL, NULL), IOR_EINVAL);
    assert_int_equal(ior_timer_cancel(loop, 0), IOR_ENOENT);
    assert_int_equal(ior_call_later(loop, 1000, bi_timer, NULL, &id), 0);
    /* A handle of one loop means nothing to another. */
    assert_int_equal(ior_loop_new(&other, NULL), 0);
    assert_int_equal(ior_timer_cancel(other, id), IOR_ENOENT);
    assert_int_equal(ior_loop_free(other), 0);
    assert_int_equal(ior_timer_cancel(loop, id), 0);
    assert_int_equal(ior_timer_cancel(loop, id), IOR_ENOENT); /* stale */
    /* run and free from inside a callback of the loop. */
    assert_int_equal(ior_call_later(loop, 0, bi_inside, NULL, NULL), 0);
    assert_int_equal(ior_loop_run(loop), 0);
    assert_int_equal(bi_inner_run, IOR_ESTATE);
    assert_int_equal(bi_inner_free, IOR_ESTATE);
    assert_int_equal(ior_loop_free(loop), 0);
    /* Error names and messages for codes that do not exist. */
    assert_string_equal(ior_strerror(0), "success");
    assert_string_equal(ior_strerror(1), "unknown error");
    assert_string_equal(ior_strerror(-999), "unknown error");
    assert_string_equal(ior_err_name(0), "OK");
    assert_string_equal(ior_err_name(-999), "UNKNOWN");
    memset(buf, 'x', sizeof(buf));
    assert_ptr_equal(ior_os_strerror(2, buf, 0), buf);
    assert_int_equal(buf[0], 'x'); /* len 0: nothing written */
    assert_ptr_equal(ior_os_strerror(2, buf, 1), buf);
    assert_int_equal(buf[0], '\0');
    assert_ptr_equal(ior_os_strerror(-12345, buf, sizeof(buf)), buf);
    assert_non_null(memchr(buf, '\0', sizeof(buf)));
}

/* Addresses: NULLs, malformed text, unset family, buffers too small. */
static void test_bad_addresses(void **state)
{
    static const char *const bad[] = {
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4",
        "::g", "1:2:3:4:5:6:7:8:9", "fe80::1%", "example.com", "-1.0.0.0",
        "1.2.3.4:80", "[::1]"};
    ior_addr_t a, unset;
    char buf[IOR_ADDR_STRLEN];
    size_t i;
    (void)state;
    memset(&unset, 0, sizeof(unset));
    assert_int_equal(ior_addr_parse(NULL, "1.2.3.4", 0), IOR_EINVAL);
    assert_int_equal(ior_addr_parse(&a, NULL, 0), IOR_EINVAL);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = ior_addr_parse(&a, bad[i], 80);
        if (r != IOR_EINVAL)
            fail_msg("ior_addr_parse(\"%s\") = %s, want EINVAL", bad[i],
                     ior_err_name(r));
    }
    assert_int_equal(ior_addr_format(NULL, buf, sizeof(buf)), IOR_EINVAL);
    assert_int_equal(ior_addr_format(&unset, buf, sizeof(buf)), IOR_EINVAL);
    assert_int_equal(ior_addr_format_ip(&unset, buf, sizeof(buf)),
                     IOR_EINVAL);
    assert_int_equal(ior_addr_parse(&a, "255.255.255.255", 65535), 0);
    assert_int_equal(ior_addr_format(&a, NULL, 10), IOR_EINVAL);
    assert_int_equal(ior_addr_format(&a, buf, 0), IOR_ERANGE);
    assert_int_equal(ior_addr_format(&a, buf, 5), IOR_ERANGE);
    assert_int_equal(ior_addr_format_ip(&a, buf, 5), IOR_ERANGE);
    assert_int_equal(ior_addr_format(&a, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "255.255.255.255:65535");
    a.family = 99;
    assert_int_equal(ior_addr_format(&a, buf, sizeof(buf)), IOR_EINVAL);
}

static void bi_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    (void)l;
    (void)user;
    (void)t;
}

static const ior_listener_ops_t bi_lops = {bi_accept, NULL};
static const ior_listener_ops_t bi_lops_null = {NULL, NULL};

static void bi_connect_cb(ior_loop_t *loop, void *user, ior_transport_t *t,
                          int status, int os_error)
{
    (void)os_error;
    int *out = user;
    *out = status;
    ior_loop_stop(loop);
    if (t != NULL)
        (void)ior_transport_abort_connection(t); /* no protocol: closed */
}

/* TCP listen and connect: NULLs, unset or unknown families, port 0. */
static void test_bad_tcp_listen_and_connect(void **state)
{
    nu_loop_t nl;
    ior_listener_t *l = NULL;
    ior_addr_t a, unset, odd;
    ior_connect_options_t bind_v6 = {0, NULL};
    int port0 = 1, r;
    (void)state;
    nu_loop_init(&nl);
    memset(&unset, 0, sizeof(unset));
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    odd = a;
    odd.family = 99;
    assert_int_equal(ior_tcp_listen(NULL, &a, NULL, &bi_lops, NULL, &l),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_listen(nl.loop, NULL, NULL, &bi_lops, NULL, &l),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_listen(nl.loop, &a, NULL, NULL, NULL, &l),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_listen(nl.loop, &a, NULL, &bi_lops, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(
        ior_tcp_listen(nl.loop, &a, NULL, &bi_lops_null, NULL, &l),
        IOR_EINVAL);
    /* Neither IOR_AF_INET nor IOR_AF_INET6 (0 included): EINVAL, as libuv. */
    r = ior_tcp_listen(nl.loop, &unset, NULL, &bi_lops, NULL, &l);
    assert_int_equal(r, IOR_EINVAL);
    r = ior_tcp_listen(nl.loop, &odd, NULL, &bi_lops, NULL, &l);
    assert_int_equal(r, IOR_EINVAL);
    assert_null(l);
    assert_int_equal(ior_listener_address(NULL, &a), IOR_EINVAL);
    ior_listener_close(NULL);

    assert_int_equal(ior_tcp_connect(NULL, &a, NULL, bi_connect_cb, &port0),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_connect(nl.loop, NULL, NULL, bi_connect_cb,
                                     &port0),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_connect(nl.loop, &a, NULL, NULL, NULL),
                     IOR_EINVAL);
    r = ior_tcp_connect(nl.loop, &unset, NULL, bi_connect_cb, &port0);
    assert_int_equal(r, IOR_EINVAL);
    r = ior_tcp_connect(nl.loop, &odd, NULL, bi_connect_cb, &port0);
    assert_int_equal(r, IOR_EINVAL);
    /* Binding an IPv4 connect to an IPv6 address: EINVAL on every backend. */
    assert_int_equal(ior_addr_parse(&odd, "::1", 0), 0);
    bind_v6.bind = &odd;
    r = ior_tcp_connect(nl.loop, &a, &bind_v6, bi_connect_cb, &port0);
    assert_int_equal(r, IOR_EINVAL);
    assert_int_equal(port0, 1); /* a refused call calls nothing */
    /* Port 0: refused at once, or the callback reports an error. */
    r = ior_tcp_connect(nl.loop, &a, NULL, bi_connect_cb, &port0);
    if (r == 0) {
        assert_int_equal(port0, 1); /* never from inside the call */
        nu_loop_run(&nl);
        print_message("bad input: connect to port 0 -> callback %s\n",
                      ior_err_name(port0));
        assert_true(port0 < 0);
    } else {
        print_message("bad input: connect to port 0 -> %s\n",
                      ior_err_name(r));
        assert_true(r < 0);
    }
    nu_loop_free(&nl);
}

/* --- a real connection in closing states -------------------------------- */

typedef struct bi_ctx {
    nu_server_t s;
    nu_conn_t c;
    int phase;
} bi_ctx_t;

static void bi_prod(void *user)
{
    (void)user;
}

static const ior_producer_ops_t bi_producer = {bi_prod, bi_prod, bi_prod};

/* Backend calls on a live transport, then after half-close and abort. */
static void bi_connected(nu_conn_t *c)
{
    ior_transport_t *t = c->t;
    ior_addr_t a;
    unsigned st;
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_host_address(t, NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_peer_address(t, NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_host_address(NULL, &a), IOR_EINVAL);
    assert_int_equal(ior_transport_peer_address(NULL, &a), IOR_EINVAL);
    assert_int_equal(ior_transport_set_nodelay(NULL, 1), IOR_EINVAL);
    assert_int_equal(ior_transport_set_keepalive(NULL, 1, 0), IOR_EINVAL);
    /* Keepalive idle time beyond Linux's 32767 s: ERANGE everywhere. */
    assert_int_equal(ior_transport_set_keepalive(t, 1, 0xffffffffu),
                     IOR_ERANGE);
    assert_int_equal(ior_transport_set_keepalive(t, 1, 32768), IOR_ERANGE);
    assert_int_equal(ior_transport_set_keepalive(t, 1, 32767), 0);
    assert_int_equal(ior_transport_register_producer(t, &bi_producer, c, 1),
                     0);
    assert_int_equal(ior_transport_register_producer(t, &bi_producer, c, 1),
                     IOR_EBUSY);
    assert_int_equal(ior_transport_unregister_producer(t), 0);
    assert_int_equal(ior_transport_unregister_producer(t), IOR_ENOENT);
    /* Half-close: writes refused, the socket calls still work. */
    assert_int_equal(ior_transport_lose_write_connection(t), 0);
    st = ior_transport_state(t);
    assert_int_equal(ior_transport_write(t, "x", 1), IOR_ESHUTDOWN);
    assert_int_equal(ior_transport_state(t), st);
    assert_int_equal(ior_transport_host_address(t, &a), 0);
    assert_int_equal(ior_transport_set_nodelay(t, 1), 0);
    /*
     * Abort: writes and socket options refused (ENOTCONN); the addresses
     * stay what they were (kept by the core, no OS call).
     */
    {
        ior_addr_t host, peer, h2, p2;
        assert_int_equal(ior_transport_host_address(t, &host), 0);
        assert_int_equal(ior_transport_peer_address(t, &peer), 0);
        assert_int_equal(ior_transport_abort_connection(t), 0);
        assert_int_equal(ior_transport_write(t, "x", 1), IOR_ENOTCONN);
        assert_int_equal(ior_transport_abort_connection(t), 0);
        assert_int_equal(ior_transport_host_address(t, &h2), 0);
        assert_memory_equal(&h2, &host, sizeof(host));
        assert_int_equal(ior_transport_peer_address(t, &p2), 0);
        assert_memory_equal(&p2, &peer, sizeof(peer));
        assert_int_equal(ior_transport_set_nodelay(t, 1), IOR_ENOTCONN);
        assert_int_equal(ior_transport_set_keepalive(t, 1, 10), IOR_ENOTCONN);
        assert_int_equal(ior_transport_lose_connection(t), IOR_ENOTCONN);
        assert_int_equal(ior_transport_pause_producing(t), IOR_ENOTCONN);
        assert_int_equal(ior_transport_resume_producing(t), IOR_ENOTCONN);
    }
    assert_int_equal(c->lost, 0); /* connection_lost comes from the loop */
}

static void bi_lost(nu_conn_t *c)
{
    bi_ctx_t *x = c->user;
    if (++x->phase == 2)
        nu_done(c->loop);
}

static void bi_server_accept(nu_server_t *s, nu_conn_t *c)
{
    c->user = s->user;
    c->on_lost = bi_lost;
}

/*
 * On a real connection: NULL out-pointers, a second producer (EBUSY),
 * unregister with none (ENOENT), writes after half-close (ESHUTDOWN) and
 * after abort (ENOTCONN); connection_lost still comes exactly once.
 */
static void test_bad_transport_calls_in_closing_states(void **state)
{
    nu_loop_t nl;
    bi_ctx_t *x = calloc(1, sizeof(*x));
    (void)state;
    assert_non_null(x);
    nu_loop_init(&nl);
    x->s.on_accept = bi_server_accept;
    x->s.user = x;
    assert_int_equal(nu_server_start(&x->s, nl.loop, "127.0.0.1", 0, 0), 0);
    x->c.user = x;
    x->c.on_connect = bi_connected;
    x->c.on_lost = bi_lost;
    nu_connect(nl.loop, &x->s.addr, &x->c, 0);
    nu_loop_run(&nl);
    assert_int_equal(x->c.lost, 1);
    assert_int_equal(x->c.reason, IOR_EABORTED);
    nu_server_close(&x->s);
    nu_loop_free(&nl);
    nu_server_free_conns(&x->s);
    free(x);
}

/* --- UDP ---------------------------------------------------------------- */

static void bi_dgram(ior_udp_t *u, void *user, const void *data, size_t len,
                     const ior_addr_t *from, int truncated)
{
    (void)u;
    (void)user;
    (void)data;
    (void)len;
    (void)from;
    (void)truncated;
}

static const ior_udp_ops_t bi_uops = {bi_dgram, NULL, NULL};

/* UDP: NULLs, oversize datagrams, wrong families, unconnected writes. */
static void test_bad_udp_calls(void **state)
{
    nu_loop_t nl;
    ior_udp_t *u = NULL;
    ior_addr_t a, to, v6, unset;
    static char big[65508];
    int r;
    (void)state;
    nu_loop_init(&nl);
    memset(&unset, 0, sizeof(unset));
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(ior_addr_parse(&v6, "::1", 9), 0);
    assert_int_equal(ior_udp_listen(NULL, &a, NULL, &bi_uops, NULL, &u),
                     IOR_EINVAL);
    assert_int_equal(ior_udp_listen(nl.loop, NULL, NULL, &bi_uops, NULL, &u),
                     IOR_EINVAL);
    assert_int_equal(ior_udp_listen(nl.loop, &a, NULL, NULL, NULL, &u),
                     IOR_EINVAL);
    assert_int_equal(ior_udp_listen(nl.loop, &a, NULL, &bi_uops, NULL, NULL),
                     IOR_EINVAL);
    r = ior_udp_listen(nl.loop, &unset, NULL, &bi_uops, NULL, &u);
    assert_int_equal(r, IOR_EINVAL);
    assert_null(u);
    assert_int_equal(ior_udp_listen(nl.loop, &a, NULL, &bi_uops, NULL, &u), 0);
    assert_int_equal(ior_udp_address(NULL, &to), IOR_EINVAL);
    assert_int_equal(ior_udp_address(u, NULL), IOR_EINVAL);
    assert_int_equal(ior_udp_address(u, &to), 0);
    assert_int_equal(ior_udp_send_to(NULL, "x", 1, &to), IOR_EINVAL);
    assert_int_equal(ior_udp_send_to(u, NULL, 1, &to), IOR_EINVAL);
    assert_int_equal(ior_udp_send_to(u, "x", 1, NULL), IOR_EINVAL);
    r = ior_udp_send_to(u, "x", 1, &unset);
    assert_int_equal(r, IOR_EINVAL);
    assert_int_equal(ior_udp_send_to(u, big, sizeof(big), &to), IOR_EMSGSIZE);
    assert_int_equal(ior_udp_send_to(u, "x", 1, &v6), IOR_EAFNOSUPPORT);
    assert_int_equal(ior_udp_send_queue_size(u), 0);
    assert_int_equal(ior_udp_send_queue_size(NULL), 0);
    assert_int_equal(ior_udp_write(u, "x", 1), IOR_ENOTCONN);
    assert_int_equal(ior_udp_write(NULL, "x", 1), IOR_EINVAL);
    assert_int_equal(ior_udp_connect(NULL, &to), IOR_EINVAL);
    assert_int_equal(ior_udp_connect(u, NULL), IOR_EINVAL);
    assert_int_equal(ior_udp_pause_reading(NULL), IOR_EINVAL);
    assert_int_equal(ior_udp_resume_reading(NULL), IOR_EINVAL);
    assert_int_equal(ior_udp_join_group(NULL, &to, NULL), IOR_EINVAL);
    assert_int_equal(ior_udp_join_group(u, NULL, NULL), IOR_EINVAL);
    assert_int_equal(ior_udp_leave_group(u, NULL, NULL), IOR_EINVAL);
    assert_int_equal(ior_udp_set_multicast_ttl(NULL, 1), IOR_EINVAL);
    assert_int_equal(ior_udp_set_multicast_ttl(u, -1), IOR_EINVAL);
    assert_int_equal(ior_udp_set_multicast_ttl(u, 256), IOR_EINVAL);
    assert_int_equal(ior_udp_set_multicast_loop(NULL, 1), IOR_EINVAL);
    assert_int_equal(ior_udp_set_multicast_interface(NULL, NULL), IOR_EINVAL);
    /* Connected: send_to is the wrong call. */
    assert_int_equal(ior_udp_connect(u, &to), 0);
    assert_int_equal(ior_udp_send_to(u, "x", 1, &to), IOR_ESTATE);
    assert_int_equal(ior_udp_send_queue_size(u), 0);
    ior_udp_close(u);
    ior_udp_close(NULL);
    nu_loop_free(&nl);
}

/* --- pipes, stdio, processes, name lookups -------------------------------- */

static void bi_resolved(ior_loop_t *loop, void *user, int status,
                        const ior_addr_t *addrs, size_t n)
{
    (void)loop;
    (void)user;
    (void)status;
    (void)addrs;
    (void)n;
    fail_msg("a refused ior_resolve called back");
}

static void bi_ended(ior_process_t *p, void *user, int code, int sig)
{
    (void)p;
    (void)user;
    (void)code;
    (void)sig;
    fail_msg("a refused ior_process_spawn called back");
}

static const ior_process_ops_t bi_pops = {bi_ended};

/* Handles that are not handles, stdio numbers that do not exist,
 * processes without a program, lookups without a name. */
static void test_bad_pipe_stdio_process_resolve_calls(void **state)
{
    nu_loop_t nl;
    ior_transport_t *t = NULL;
    ior_process_t *p = NULL;
    ior_process_options_t po;
    const char *const no_argv[] = {NULL};
    const char *const argv[] = {"no-such-program-ior-test", NULL};
    static const ior_protocol_ops_t pops = {NULL, NULL, NULL, NULL};
    int r;
    (void)state;
    nu_loop_init(&nl);
    assert_int_equal(ior_pipe_open(NULL, 0, IOR_PIPE_READ, &pops, NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(
        ior_pipe_open(nl.loop, 0, IOR_PIPE_READ, &pops, NULL, NULL),
        IOR_EINVAL);
    assert_int_equal(ior_pipe_open(nl.loop, 0, 0, &pops, NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(ior_pipe_open(nl.loop, 0, 0x10, &pops, NULL, &t),
                     IOR_EINVAL);
    r = ior_pipe_open(nl.loop, -1, IOR_PIPE_READ, &pops, NULL, &t);
    assert_int_equal(r, IOR_EBADF); /* decided in common/pipe.c */
    assert_null(t);
    assert_int_equal(ior_stdio_open(nl.loop, 3, &pops, NULL, &t), IOR_EINVAL);
    assert_int_equal(ior_stdio_open(nl.loop, -1, &pops, NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(ior_stdio_open(NULL, 0, &pops, NULL, &t), IOR_EINVAL);
    assert_int_equal(ior_stdio_open(nl.loop, 0, &pops, NULL, NULL),
                     IOR_EINVAL);
    assert_null(t);

    memset(&po, 0, sizeof(po));
    assert_int_equal(ior_process_spawn(NULL, &po, &bi_pops, NULL, &p),
                     IOR_EINVAL);
    assert_int_equal(ior_process_spawn(nl.loop, NULL, &bi_pops, NULL, &p),
                     IOR_EINVAL);
    assert_int_equal(ior_process_spawn(nl.loop, &po, &bi_pops, NULL, &p),
                     IOR_EINVAL); /* no argv */
    po.argv = no_argv;
    assert_int_equal(ior_process_spawn(nl.loop, &po, &bi_pops, NULL, &p),
                     IOR_EINVAL); /* no argv[0] */
    po.argv = argv;
    assert_int_equal(ior_process_spawn(nl.loop, &po, NULL, NULL, &p),
                     IOR_EINVAL);
    assert_int_equal(ior_process_spawn(nl.loop, &po, &bi_pops, NULL, NULL),
                     IOR_EINVAL);
    r = ior_process_spawn(nl.loop, &po, &bi_pops, NULL, &p);
    print_message("bad input: spawning a program that does not exist: %s\n",
                  ior_err_name(r));
    assert_int_equal(r, IOR_ENOENT);
    assert_null(p);
    assert_int_equal(ior_process_signal(NULL, IOR_SIGTERM), IOR_EINVAL);
    assert_int_equal(ior_process_terminate(NULL), IOR_EINVAL);
    assert_null(ior_process_stdio(NULL, 0));

    assert_int_equal(ior_resolve(NULL, "localhost", 0, 0, bi_resolved, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_resolve(nl.loop, NULL, 0, 0, bi_resolved, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_resolve(nl.loop, "localhost", 0, 0, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(
        ior_resolve(nl.loop, "localhost", 0, 99, bi_resolved, NULL),
        IOR_EINVAL);
    nu_loop_free(&nl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_loop_timer_error_allocator_calls),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_bad_tcp_listen_and_connect),
        cmocka_unit_test(test_bad_transport_calls_in_closing_states),
        cmocka_unit_test(test_bad_udp_calls),
        cmocka_unit_test(test_bad_pipe_stdio_process_resolve_calls),
    };
    ior_loop_t *loop;
    nu_alloc_install();
    if (ior_loop_new(&loop, NULL) == 0) {
        print_message("bad input suite on backend: %s\n",
                      ior_loop_backend(loop));
        ior_loop_free(loop);
    }
    return cmocka_run_group_tests_name("net_bad_input", tests, NULL, NULL);
}
