/*
 * UDP entry points, checked once in the core (common/udp.c, udp_mcast.c):
 * argument, family, state and size checks and the option defaults. The
 * "OS" is fake_udp.c: a refused call must never reach it.
 */
#include "harness.h"

#include "fake_udp.h"

#include <string.h>

static int udp_setup(void **state)
{
    fake_udp_reset();
    return env_setup(state);
}

#define UDP_TEST(f) cmocka_unit_test_setup_teardown(f, udp_setup, env_teardown)

static const ior_udp_ops_t uops = {NULL, NULL, NULL};

static ior_addr_t addr(const char *ip, uint16_t port)
{
    ior_addr_t a;
    assert_int_equal(ior_addr_parse(&a, ip, port), 0);
    return a;
}

static ior_udp_t *open_udp(const char *ip, const ior_udp_options_t *opts)
{
    ior_addr_t a = addr(ip, 0);
    ior_udp_t *u = NULL;
    assert_int_equal(ior_udp_listen(E.loop, &a, opts, &uops, NULL, &u), 0);
    assert_non_null(u);
    return u;
}

/* A family that is neither IPv4 nor IPv6 (0 included) is IOR_EINVAL. */
static void test_udp_listen_bad_family_is_einval(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 0);
    ior_udp_t *u = NULL;
    (void)state;
    a.family = 0;
    assert_int_equal(ior_udp_listen(E.loop, &a, NULL, &uops, NULL, &u),
                     IOR_EINVAL);
    a.family = 99;
    assert_int_equal(ior_udp_listen(E.loop, &a, NULL, &uops, NULL, &u),
                     IOR_EINVAL);
    assert_null(u);
    assert_int_equal(fake_udp.opens, 0);
}

/* No options: 8192-byte packets, a 1 MiB queue; options override both. */
static void test_udp_listen_defaults_and_options(void **state)
{
    ior_udp_options_t o;
    ior_udp_t *u = open_udp("127.0.0.1", NULL);
    (void)state;
    assert_int_equal(u->max_packet, 8192);
    assert_int_equal(u->q.limit, 1024 * 1024);
    assert_int_equal(u->family, IOR_AF_INET);
    ior_udp_close(u);
    memset(&o, 0, sizeof(o));
    o.max_packet_size = 100;
    o.max_send_queue = 1000;
    o.ipv6_only = 1;
    u = open_udp("::1", &o);
    assert_int_equal(u->max_packet, 100);
    assert_int_equal(u->q.limit, 1000);
    assert_int_equal(u->v6only, 1);
    ior_udp_close(u);
    assert_int_equal(fake_udp.closes, 2);
}

/* A start that fails closes the socket and returns the error, no leak. */
static void test_udp_listen_start_failure_closes(void **state)
{
    ior_addr_t a = addr("127.0.0.1", 0);
    ior_udp_t *u = NULL;
    (void)state;
    fake_udp.start_result = IOR_ENOMEM;
    assert_int_equal(ior_udp_listen(E.loop, &a, NULL, &uops, NULL, &u),
                     IOR_ENOMEM);
    assert_null(u);
    assert_int_equal(fake_udp.closes, 1);
}

/* send_to: each refusal has one code, and the OS is never asked. */
static void test_udp_send_to_checks(void **state)
{
    ior_udp_t *u = open_udp("127.0.0.1", NULL);
    ior_addr_t to = addr("127.0.0.1", 9);
    ior_addr_t to6 = addr("::1", 9);
    static char big[65508];
    (void)state;
    to.family = 0;
    assert_int_equal(ior_udp_send_to(u, "x", 1, &to), IOR_EINVAL);
    to.family = 99;
    assert_int_equal(ior_udp_send_to(u, "x", 1, &to), IOR_EINVAL);
    to.family = IOR_AF_INET;
    assert_int_equal(ior_udp_send_to(u, "x", 1, &to6), IOR_EAFNOSUPPORT);
    assert_int_equal(ior_udp_send_to(u, NULL, 1, &to), IOR_EINVAL);
    assert_int_equal(ior_udp_send_to(u, big, sizeof(big), &to), IOR_EMSGSIZE);
    assert_int_equal(fake_udp.sends, 0);
    assert_int_equal(ior_udp_send_to(u, "x", 1, &to), 0);
    assert_int_equal(fake_udp.sends, 1);
    assert_int_equal(fake_udp.last_to_null, 0);
    ior_udp_close(u);
}

/* A datagram larger than the whole queue is IOR_ENOBUFS, never queued. */
static void test_udp_send_larger_than_queue_is_enobufs(void **state)
{
    ior_udp_options_t o;
    ior_udp_t *u;
    ior_addr_t to = addr("127.0.0.1", 9);
    char buf[200];
    (void)state;
    memset(&o, 0, sizeof(o));
    memset(buf, 'x', sizeof(buf));
    o.max_send_queue = 100;
    u = open_udp("127.0.0.1", &o);
    assert_int_equal(ior_udp_send_to(u, buf, sizeof(buf), &to), IOR_ENOBUFS);
    assert_int_equal(fake_udp.sends, 0);
    ior_udp_close(u);
}

/* IPv4 to an IPv6-only socket is IOR_EAFNOSUPPORT; dual-stack takes it. */
static void test_udp_ipv4_on_v6only_is_eafnosupport(void **state)
{
    ior_udp_options_t o;
    ior_udp_t *u;
    ior_addr_t to = addr("127.0.0.1", 9);
    (void)state;
    memset(&o, 0, sizeof(o));
    o.ipv6_only = 1;
    u = open_udp("::", &o);
    assert_int_equal(ior_udp_send_to(u, "x", 1, &to), IOR_EAFNOSUPPORT);
    assert_int_equal(ior_udp_connect(u, &to), IOR_EAFNOSUPPORT);
    ior_udp_close(u);
    u = open_udp("::", NULL);
    assert_int_equal(ior_udp_send_to(u, "x", 1, &to), 0);
    ior_udp_close(u);
    assert_int_equal(fake_udp.sends, 1);
}

/* write needs a connect; after it send_to is IOR_ESTATE, write goes. */
static void test_udp_connect_state(void **state)
{
    ior_udp_t *u = open_udp("127.0.0.1", NULL);
    ior_addr_t to = addr("127.0.0.1", 9);
    ior_addr_t bad = to;
    (void)state;
    assert_int_equal(ior_udp_write(u, "x", 1), IOR_ENOTCONN);
    bad.family = 0;
    assert_int_equal(ior_udp_connect(u, &bad), IOR_EINVAL);
    assert_int_equal(fake_udp.connects, 0);
    assert_int_equal(ior_udp_connect(u, &to), 0);
    assert_int_equal(fake_udp.connects, 1);
    assert_int_equal(ior_udp_send_to(u, "x", 1, &to), IOR_ESTATE);
    assert_int_equal(ior_udp_write(u, "xy", 2), 0);
    assert_int_equal(fake_udp.last_to_null, 1);
    assert_int_equal(fake_udp.last_len, 2);
    ior_udp_close(u);
}

/* Pausing twice or resuming twice asks the backend once each. */
static void test_udp_pause_resume_once(void **state)
{
    ior_udp_t *u = open_udp("127.0.0.1", NULL);
    (void)state;
    assert_int_equal(ior_udp_resume_reading(u), 0);
    assert_int_equal(fake_udp.readings, 0);
    assert_int_equal(ior_udp_pause_reading(u), 0);
    assert_int_equal(ior_udp_pause_reading(u), 0);
    assert_int_equal(fake_udp.readings, 1);
    assert_int_equal(u->paused, 1);
    assert_int_equal(ior_udp_resume_reading(u), 0);
    assert_int_equal(ior_udp_resume_reading(u), 0);
    assert_int_equal(fake_udp.readings, 2);
    assert_int_equal(u->paused, 0);
    ior_udp_close(u);
}

/* Multicast: iface of another family EINVAL; IPv6 on IPv4 EAFNOSUPPORT. */
static void test_udp_multicast_checks(void **state)
{
    ior_udp_t *u = open_udp("0.0.0.0", NULL);
    ior_addr_t g = addr("239.1.2.3", 0);
    ior_addr_t g6 = addr("ff02::1", 0);
    ior_addr_t i4 = addr("127.0.0.1", 0);
    ior_addr_t i6 = addr("::1", 0);
    ior_addr_t bad = g;
    (void)state;
    bad.family = 0;
    assert_int_equal(ior_udp_join_group(u, &bad, NULL), IOR_EINVAL);
    assert_int_equal(ior_udp_join_group(u, &g, &i6), IOR_EINVAL);
    assert_int_equal(ior_udp_join_group(u, &g6, NULL), IOR_EAFNOSUPPORT);
    assert_int_equal(ior_udp_leave_group(u, &g6, &i6), IOR_EAFNOSUPPORT);
    assert_int_equal(ior_udp_set_multicast_interface(u, &i6),
                     IOR_EAFNOSUPPORT);
    assert_int_equal(ior_udp_set_multicast_interface(u, &bad), IOR_EINVAL);
    assert_int_equal(ior_udp_set_multicast_ttl(u, -1), IOR_EINVAL);
    assert_int_equal(ior_udp_set_multicast_ttl(u, 256), IOR_EINVAL);
    assert_int_equal(fake_udp.memberships + fake_udp.ifs + fake_udp.ttls, 0);
    assert_int_equal(ior_udp_join_group(u, &g, NULL), 0);
    assert_int_equal(ior_udp_join_group(u, &g, &i4), 0);
    assert_int_equal(fake_udp.memberships, 2);
    assert_int_equal(ior_udp_set_multicast_interface(u, NULL), 0);
    assert_int_equal(fake_udp.last_if_null, 1);
    assert_int_equal(ior_udp_set_multicast_ttl(u, 255), 0);
    assert_int_equal(ior_udp_set_multicast_loop(u, 7), 0);
    assert_int_equal(fake_udp.last_on, 1);
    ior_udp_close(u);
}

/* ior_loop_free closes a UDP socket still open (no leak, one close). */
static void test_udp_closed_by_loop_free(void **state)
{
    (void)state;
    (void)open_udp("127.0.0.1", NULL);
    env_free_loop();
    assert_int_equal(fake_udp.closes, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UDP_TEST(test_udp_listen_bad_family_is_einval),
        UDP_TEST(test_udp_listen_defaults_and_options),
        UDP_TEST(test_udp_listen_start_failure_closes),
        UDP_TEST(test_udp_send_to_checks),
        UDP_TEST(test_udp_send_larger_than_queue_is_enobufs),
        UDP_TEST(test_udp_ipv4_on_v6only_is_eafnosupport),
        UDP_TEST(test_udp_connect_state),
        UDP_TEST(test_udp_pause_resume_once),
        UDP_TEST(test_udp_multicast_checks),
        UDP_TEST(test_udp_closed_by_loop_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
