/*
 * TCP entry points, checked once in the core (common/tcp*.c): argument
 * and family checks, option defaults, the accept policy, the connect
 * timeout and its precedence, the wildcard mapping, the kept addresses
 * and the socket-option checks. The "OS" is fake_os_stubs.c.
 */
#include "harness.h"

#include "fake_os_stubs.h"

#include <string.h>

static int tcp_setup(void **state)
{
    fake_tcp_reset();
    return env_setup(state);
}

#define TCP_TEST(f) cmocka_unit_test_setup_teardown(f, tcp_setup, env_teardown)

static int n_accepted;
static int n_accept_error;
static int last_accept_error;
static ior_transport_t *accepted_t;

static void on_accepted(ior_listener_t *l, void *user, ior_transport_t *t)
{
    (void)l;
    (void)user;
    n_accepted++;
    accepted_t = t;
    fake_log("accepted");
    E.p[0].t = t;
    assert_int_equal(ior_transport_set_protocol(t, &tproto_plain_ops, &E.p[0]),
                     0);
}

static void on_accept_error(ior_listener_t *l, void *user, int err)
{
    (void)l;
    (void)user;
    n_accept_error++;
    last_accept_error = err;
}

static const ior_listener_ops_t lops = {on_accepted, on_accept_error};
static const ior_listener_ops_t lops_null = {NULL, NULL};

static int n_connect;
static int connect_status;
static int connect_os_error;
static ior_transport_t *connect_t;

static void on_connect(ior_loop_t *loop, void *user, ior_transport_t *t,
                       int status, int os_error)
{
    (void)loop;
    (void)user;
    n_connect++;
    connect_status = status;
    connect_os_error = os_error;
    connect_t = t;
    fake_log("connected");
    if (t != NULL)
        E.p[0].t = t;
    if (t != NULL)
        assert_int_equal(
            ior_transport_set_protocol(t, &tproto_plain_ops, &E.p[0]), 0);
}

static void reset_counts(void)
{
    n_accepted = n_accept_error = last_accept_error = 0;
    n_connect = connect_status = connect_os_error = 0;
    accepted_t = connect_t = NULL;
}

static ior_addr_t addr(const char *ip, uint16_t port)
{
    ior_addr_t a;
    assert_int_equal(ior_addr_parse(&a, ip, port), 0);
    return a;
}

/* A family other than IOR_AF_INET/IOR_AF_INET6 (0 included) is IOR_EINVAL
 * for listen and connect, before the backend is asked anything. */
static void test_bad_family_is_einval_before_the_os(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 80);
    ior_listener_t *l = NULL;
    (void)state;
    reset_counts();
    a.family = 0;
    assert_int_equal(ior_tcp_listen(E.loop, &a, NULL, &lops, NULL, &l),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_connect(E.loop, &a, NULL, on_connect, NULL),
                     IOR_EINVAL);
    a.family = 99;
    assert_int_equal(ior_tcp_listen(E.loop, &a, NULL, &lops, NULL, &l),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_connect(E.loop, &a, NULL, on_connect, NULL),
                     IOR_EINVAL);
    assert_int_equal(fake_tcp.listens, 0);
    assert_int_equal(fake_tcp.connects, 0);
    assert_null(l);
    /* A valid family reaches the "OS" (which refuses: ENOTSUP). */
    a.family = IOR_AF_INET;
    assert_int_equal(ior_tcp_listen(E.loop, &a, NULL, &lops, NULL, &l),
                     IOR_ENOTSUP);
    assert_int_equal(fake_tcp.listens, 1);
    assert_int_equal(n_connect, 0);
}

/* NULL loop, address, ops, out or connection_accepted: IOR_EINVAL. */
static void test_listen_null_arguments_are_einval(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 0);
    ior_listener_t *l = NULL;
    (void)state;
    assert_int_equal(ior_tcp_listen(NULL, &a, NULL, &lops, NULL, &l),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_listen(E.loop, NULL, NULL, &lops, NULL, &l),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_listen(E.loop, &a, NULL, NULL, NULL, &l),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_listen(E.loop, &a, NULL, &lops, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_listen(E.loop, &a, NULL, &lops_null, NULL, &l),
                     IOR_EINVAL);
    assert_int_equal(ior_listener_address(NULL, &a), IOR_EINVAL);
    ior_listener_close(NULL);
    assert_int_equal(fake_tcp.listens, 0);
}

/* Options: backlog 0 or absent is 511, dual-stack unless ipv6_only. */
static void test_listen_defaults_backlog_511_dual_stack(void **state)
{
    ior_addr_t a = addr("::", 0);
    ior_addr_t got;
    ior_listen_options_t o;
    ior_listener_t *l = NULL;
    (void)state;
    fake_tcp.enabled = 1;
    assert_int_equal(ior_tcp_listen(E.loop, &a, NULL, &lops, NULL, &l), 0);
    assert_int_equal(fake_tcp.last_backlog, 511);
    assert_int_equal(fake_tcp.last_v6only, 0);
    assert_int_equal(fake_tcp.starts, 1);
    assert_int_equal(ior_listener_address(l, &got), 0);
    assert_int_equal(got.port, 4242);
    ior_listener_close(l);
    memset(&o, 0, sizeof(o));
    o.ipv6_only = 7;
    assert_int_equal(ior_tcp_listen(E.loop, &a, &o, &lops, NULL, &l), 0);
    assert_int_equal(fake_tcp.last_backlog, 511);
    assert_int_equal(fake_tcp.last_v6only, 1);
    ior_listener_close(l);
    o.backlog = 5;
    assert_int_equal(ior_tcp_listen(E.loop, &a, &o, &lops, NULL, &l), 0);
    assert_int_equal(fake_tcp.last_backlog, 5);
    assert_int_equal(fake_tcp.listen_flags, 0);
    ior_listener_close(l);
    assert_int_equal(fake_tcp.listener_closes, 3);
}

/* IOR_LISTEN_QUICK_RESTART and IOR_LISTEN_REUSEPORT reach the backend;
 * unknown bits are IOR_EINVAL before the backend is asked. */
static void test_listen_flags_checked(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 0);
    ior_listen_options_t o;
    ior_listener_t *l = NULL;
    (void)state;
    fake_tcp.enabled = 1;
    memset(&o, 0, sizeof(o));
    o.flags = IOR_LISTEN_QUICK_RESTART;
    assert_int_equal(ior_tcp_listen(E.loop, &a, &o, &lops, NULL, &l), 0);
    assert_int_equal(fake_tcp.listen_flags, IOR_LISTEN_QUICK_RESTART);
    ior_listener_close(l);
    l = NULL;
    o.flags = IOR_LISTEN_REUSEPORT;
    assert_int_equal(ior_tcp_listen(E.loop, &a, &o, &lops, NULL, &l), 0);
    assert_int_equal(fake_tcp.listen_flags, IOR_LISTEN_REUSEPORT);
    ior_listener_close(l);
    l = NULL;
    o.flags = 0x4u;
    assert_int_equal(ior_tcp_listen(E.loop, &a, &o, &lops, NULL, &l),
                     IOR_EINVAL);
    assert_null(l);
    assert_int_equal(fake_tcp.listens, 2);
}

/* A listener whose start fails is closed again and nothing is left. */
static void test_listen_start_failure_leaves_nothing(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 0);
    ior_listener_t *l = NULL;
    (void)state;
    fake_tcp.enabled = 1;
    fake_tcp.start_result = IOR_ENOMEM;
    assert_int_equal(ior_tcp_listen(E.loop, &a, NULL, &lops, NULL, &l),
                     IOR_ENOMEM);
    assert_null(l);
    assert_int_equal(fake_tcp.listener_closes, 1);
    assert_int_equal(ior__loop_alive(E.loop), 0);
}

/* connection_accepted runs first, then the transport begins (reads). */
static void test_accept_calls_user_then_begins(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 0);
    ior_addr_t host = addr("::ffff:127.0.0.1", 4242);
    ior_addr_t peer = addr("::ffff:127.0.0.1", 5555);
    ior_addr_t got;
    ior_listener_t *l = NULL;
    ior_transport_t *t;
    (void)state;
    reset_counts();
    fake_tcp.enabled = 1;
    assert_int_equal(ior_tcp_listen(E.loop, &a, NULL, &lops, NULL, &l), 0);
    t = fake_transport_new(E.loop);
    ior__core_tcp_addrs(t, &host, &peer);
    fake_log_clear();
    ior__core_accepted(l, t);
    assert_int_equal(n_accepted, 1);
    assert_log_only("accepted start_reading", "accepted start_reading");
    /* IPv4-mapped addresses are reported as IPv4. */
    assert_int_equal(ior_transport_peer_address(t, &got), 0);
    assert_int_equal(got.family, IOR_AF_INET);
    assert_int_equal(got.port, 5555);
    assert_int_equal(got.bytes[0], 127);
    assert_int_equal(got.bytes[3], 1);
    assert_int_equal(ior_transport_host_address(t, &got), 0);
    assert_int_equal(got.family, IOR_AF_INET);
    assert_int_equal(got.port, 4242);
    ior_listener_close(l);
}

/* A resource error: accept_error once, then a resume after 100 ms. */
static void test_accept_resource_error_reports_and_retries_after_100ms(
    void **state)
{
    ior_addr_t a = addr("127.0.0.1", 0);
    ior_listener_t *l = NULL;
    (void)state;
    reset_counts();
    fake_tcp.enabled = 1;
    assert_int_equal(ior_tcp_listen(E.loop, &a, NULL, &lops, NULL, &l), 0);
    ior__core_accept_failed(l, IOR_EMFILE);
    assert_int_equal(n_accept_error, 1);
    assert_int_equal(last_accept_error, IOR_EMFILE);
    assert_int_equal(fake_tcp.resumes, 0);
    fake_set_now(fake_now() + 99);
    fake_iterate(E.loop);
    assert_int_equal(fake_tcp.resumes, 0);
    fake_set_now(fake_now() + 1);
    fake_iterate(E.loop);
    assert_int_equal(fake_tcp.resumes, 1);
    ior_listener_close(l);
}

static int start_fails_in_start;

/* Closing the listener cancels the retry: no resume, no report after. */
static void test_listener_close_cancels_accept_retry(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 0);
    ior_listener_t *l = NULL;
    (void)state;
    (void)start_fails_in_start;
    reset_counts();
    fake_tcp.enabled = 1;
    assert_int_equal(ior_tcp_listen(E.loop, &a, NULL, &lops, NULL, &l), 0);
    ior__core_accept_failed(l, IOR_ENOBUFS);
    ior_listener_close(l);
    fake_set_now(fake_now() + 1000);
    fake_iterate(E.loop);
    assert_int_equal(fake_tcp.resumes, 0);
    assert_int_equal(n_accept_error, 1);
    assert_int_equal(ior__loop_alive(E.loop), 0);
}

/* connect: NULL arguments and a bind of another family are IOR_EINVAL. */
static void test_connect_checks_arguments_and_bind_family(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 80);
    ior_addr_t b6 = addr("::1", 0);
    ior_connect_options_t o;
    (void)state;
    memset(&o, 0, sizeof(o));
    o.bind = &b6;
    assert_int_equal(ior_tcp_connect(NULL, &a, NULL, on_connect, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_connect(E.loop, NULL, NULL, on_connect, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_connect(E.loop, &a, NULL, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_tcp_connect(E.loop, &a, &o, on_connect, NULL),
                     IOR_EINVAL);
    assert_int_equal(fake_tcp.connects, 0);
}

/* 0.0.0.0 and :: are connected as 127.0.0.1 and ::1 (port kept). */
static void test_connect_maps_wildcard_to_loopback(void **state)
{
    ior_addr_t a = addr("0.0.0.0", 80);
    ior_addr_t want = addr("127.0.0.1", 80);
    (void)state;
    assert_int_equal(ior_tcp_connect(E.loop, &a, NULL, on_connect, NULL),
                     IOR_ENOTSUP);
    assert_memory_equal(&fake_tcp.last_addr, &want, sizeof(want));
    a = addr("::", 81);
    want = addr("::1", 81);
    assert_int_equal(ior_tcp_connect(E.loop, &a, NULL, on_connect, NULL),
                     IOR_ENOTSUP);
    assert_memory_equal(&fake_tcp.last_addr, &want, sizeof(want));
}

/* The OS result goes to the callback as is: status and os_error. */
static void test_connect_failure_passes_os_error(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 80);
    (void)state;
    reset_counts();
    fake_tcp.enabled = 1;
    assert_int_equal(ior_tcp_connect(E.loop, &a, NULL, on_connect, NULL), 0);
    assert_int_equal(fake_tcp.connect_starts, 1);
    assert_int_equal(n_connect, 0); /* never inside ior_tcp_connect */
    fake_connect_finish(NULL, IOR_ECONNREFUSED, 111);
    assert_int_equal(n_connect, 1);
    assert_int_equal(connect_status, IOR_ECONNREFUSED);
    assert_int_equal(connect_os_error, 111);
    assert_int_equal(ior__loop_alive(E.loop), 0);
}

/* The timeout wins over a later OS result: IOR_ETIMEDOUT, os_error 0,
 * once, even when the OS then reports success or another error. */
static void test_connect_timeout_wins_over_later_os_result(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 80);
    ior_connect_options_t o;
    (void)state;
    reset_counts();
    memset(&o, 0, sizeof(o));
    o.timeout_ms = 50;
    fake_tcp.enabled = 1;
    fake_tcp.cancel_defers = 1;
    assert_int_equal(ior_tcp_connect(E.loop, &a, &o, on_connect, NULL), 0);
    fake_set_now(fake_now() + 49);
    fake_iterate(E.loop);
    assert_int_equal(fake_tcp.cancels, 0);
    fake_set_now(fake_now() + 1);
    fake_iterate(E.loop);
    assert_int_equal(fake_tcp.cancels, 1);
    assert_int_equal(n_connect, 0); /* the backend hands it back first */
    fake_connect_finish(NULL, IOR_ECONNREFUSED, 111);
    assert_int_equal(n_connect, 1);
    assert_int_equal(connect_status, IOR_ETIMEDOUT);
    assert_int_equal(connect_os_error, 0);
}

/* On success: the callback first, then the transport begins; the peer
 * is the target, so it is known without an OS call. */
static void test_connect_success_calls_user_then_begins(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 80);
    ior_addr_t host = addr("127.0.0.1", 3333);
    ior_addr_t got;
    ior_transport_t *t;
    (void)state;
    reset_counts();
    fake_tcp.enabled = 1;
    assert_int_equal(ior_tcp_connect(E.loop, &a, NULL, on_connect, NULL), 0);
    t = fake_transport_new(E.loop);
    ior__core_tcp_addrs(t, &host, NULL);
    fake_log_clear();
    fake_connect_finish(t, 0, 0);
    assert_log_only("connected start_reading", "connected start_reading");
    assert_ptr_equal(connect_t, t);
    assert_int_equal(connect_status, 0);
    assert_int_equal(ior_transport_peer_address(t, &got), 0);
    assert_memory_equal(&got, &a, sizeof(a));
    assert_int_equal(ior_transport_host_address(t, &got), 0);
    assert_memory_equal(&got, &host, sizeof(host));
}

/* ior_loop_free cancels a pending connect: IOR_ECANCELED, os_error 0. */
static void test_loop_free_cancels_connect(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 80);
    ior_connect_options_t o;
    (void)state;
    reset_counts();
    memset(&o, 0, sizeof(o));
    o.timeout_ms = 1000;
    fake_tcp.enabled = 1;
    assert_int_equal(ior_tcp_connect(E.loop, &a, &o, on_connect, NULL), 0);
    env_free_loop();
    assert_int_equal(n_connect, 1);
    assert_int_equal(connect_status, IOR_ECANCELED);
    assert_int_equal(connect_os_error, 0);
}

/* Out of memory for the timeout timer: IOR_ENOMEM, the request is
 * discarded, no callback ever. */
static void test_connect_timer_oom_discards_request(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 80);
    ior_connect_options_t o;
    int r;
    long n;
    (void)state;
    reset_counts();
    memset(&o, 0, sizeof(o));
    o.timeout_ms = 1000;
    fake_tcp.enabled = 1;
    /* Attempt 0 is the request, 1 the timer heap. */
    for (n = 0; n < 2; n++) {
        alloc_fail_after(n);
        r = ior_tcp_connect(E.loop, &a, &o, on_connect, NULL);
        assert_int_equal(r, IOR_ENOMEM);
    }
    alloc_fail_after(-1);
    assert_int_equal(fake_tcp.discards, 1);
    assert_int_equal(n_connect, 0);
    assert_int_equal(ior__loop_alive(E.loop), 0);
}

/* Options: NULL EINVAL; not TCP ENOTSUP; idle > 32767 ERANGE; after an
 * abort ENOTCONN, while the addresses stay as they were. */
static void test_tcp_options_checked_in_the_core(void **state)
{
    ior_addr_t host = addr("10.0.0.1", 1);
    ior_addr_t peer = addr("10.0.0.2", 2);
    ior_addr_t got;
    ior_transport_t *t = env_open(0, &tproto_plain_ops);
    (void)state;
    assert_int_equal(ior_transport_set_nodelay(NULL, 1), IOR_EINVAL);
    assert_int_equal(ior_transport_set_keepalive(NULL, 1, 1), IOR_EINVAL);
    assert_int_equal(ior_transport_host_address(NULL, &got), IOR_EINVAL);
    assert_int_equal(ior_transport_peer_address(t, NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_set_nodelay(t, 1), IOR_ENOTSUP);
    assert_int_equal(ior_transport_set_keepalive(t, 1, 1), IOR_ENOTSUP);
    assert_int_equal(ior_transport_host_address(t, &got), IOR_ENOTSUP);
    assert_int_equal(ior_transport_peer_address(t, &got), IOR_ENOTSUP);
    ior__core_tcp_addrs(t, &host, &peer);
    assert_int_equal(ior_transport_set_keepalive(t, 1, 32768), IOR_ERANGE);
    assert_int_equal(ior_transport_set_keepalive(t, 1, 0xffffffffu),
                     IOR_ERANGE);
    assert_int_equal(fake_tcp.keepalives, 0);
    assert_int_equal(ior_transport_set_keepalive(t, 1, 32767), 0);
    assert_int_equal(fake_tcp.last_idle, 32767);
    assert_int_equal(ior_transport_set_keepalive(t, 0, 0xffffffffu), 0);
    assert_int_equal(fake_tcp.last_idle, 0);
    assert_int_equal(ior_transport_set_nodelay(t, 5), 0);
    assert_int_equal(fake_tcp.last_on, 1);
    assert_int_equal(ior_transport_abort_connection(t), 0);
    assert_int_equal(ior_transport_set_nodelay(t, 1), IOR_ENOTCONN);
    assert_int_equal(ior_transport_set_keepalive(t, 1, 1), IOR_ENOTCONN);
    assert_int_equal(ior_transport_host_address(t, &got), 0);
    assert_memory_equal(&got, &host, sizeof(host));
    assert_int_equal(ior_transport_peer_address(t, &got), 0);
    assert_memory_equal(&got, &peer, sizeof(peer));
    run_pending();
}

/* ior_os_strerror: len 0 writes nothing; otherwise always terminated. */
static void test_os_strerror_bounds(void **state)
{
    char buf[8] = "xxxxxxx";
    (void)state;
    assert_ptr_equal(ior_os_strerror(1, buf, 0), buf);
    assert_int_equal(buf[0], 'x');
    assert_ptr_equal(ior_os_strerror(1, NULL, 5), NULL);
    ior_os_strerror(1, buf, 1);
    assert_int_equal(buf[0], '\0');
    ior_os_strerror(1, buf, sizeof(buf));
    assert_int_equal(buf[sizeof(buf) - 1], '\0');
    assert_string_equal(buf, "fake os");
}

static int loopback(const char *ip)
{
    ior_addr_t a;
    assert_int_equal(ior_addr_parse(&a, ip, 0), 0);
    return ior__addr_is_loopback(&a);
}

/* What counts as loopback (IOCP then connects without SYN retries):
 * 127.0.0.0/8, ::1 and 127.x mapped into IPv6; nothing else. */
static void test_loopback_addresses(void **state)
{
    ior_addr_t none;
    (void)state;
    assert_int_equal(loopback("127.0.0.1"), 1);
    assert_int_equal(loopback("127.255.3.4"), 1);
    assert_int_equal(loopback("128.0.0.1"), 0);
    assert_int_equal(loopback("10.0.0.1"), 0);
    assert_int_equal(loopback("::1"), 1);
    assert_int_equal(loopback("::2"), 0);
    assert_int_equal(loopback("::"), 0);
    assert_int_equal(loopback("::ffff:127.0.0.1"), 1);
    assert_int_equal(loopback("::ffff:10.0.0.1"), 0);
    memset(&none, 0, sizeof(none));
    assert_int_equal(ior__addr_is_loopback(&none), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TCP_TEST(test_loopback_addresses),
        TCP_TEST(test_bad_family_is_einval_before_the_os),
        TCP_TEST(test_listen_null_arguments_are_einval),
        TCP_TEST(test_listen_defaults_backlog_511_dual_stack),
        TCP_TEST(test_listen_flags_checked),
        TCP_TEST(test_listen_start_failure_leaves_nothing),
        TCP_TEST(test_accept_calls_user_then_begins),
        TCP_TEST(test_accept_resource_error_reports_and_retries_after_100ms),
        TCP_TEST(test_listener_close_cancels_accept_retry),
        TCP_TEST(test_connect_checks_arguments_and_bind_family),
        TCP_TEST(test_connect_maps_wildcard_to_loopback),
        TCP_TEST(test_connect_failure_passes_os_error),
        TCP_TEST(test_connect_timeout_wins_over_later_os_result),
        TCP_TEST(test_connect_success_calls_user_then_begins),
        TCP_TEST(test_loop_free_cancels_connect),
        TCP_TEST(test_connect_timer_oom_discards_request),
        TCP_TEST(test_tcp_options_checked_in_the_core),
        TCP_TEST(test_os_strerror_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
