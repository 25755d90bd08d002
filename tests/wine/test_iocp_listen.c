/*
 * Listeners under Wine: loop free closes a listener with AcceptEx posted,
 * peers that reset before we accept never stop it, a port in use is
 * refused.
 */
#include "wine_util.h"

#include <stdlib.h>
#include <string.h>

/* ior_loop_free with a listener (AcceptEx posted) and a live pair. */
static void test_loop_free_closes_listener_and_transports(void **state)
{
    pair_t p;

    (void)state;
    pair_open(&p);
    assert_int_equal(ior_transport_write(p.client.t, "abc", 3), 0);
    tloop_free(&p.tl);
    assert_int_equal(p.client.lost, 1);
    assert_int_equal(p.server.lost, 1);
    assert_int_equal(p.client.reason, IOR_EABORTED);
}

/* ------------------------------------------------------------------ */
/* Listener resilience                                                 */
/* ------------------------------------------------------------------ */

typedef struct reset_ctx {
    tloop_t tl;
    int accepted;
    int accept_errors;
    int hello;
} reset_ctx_t;

static void r_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    reset_ctx_t *x = (reset_ctx_t *)user;
    (void)t;
    if (n == 5 && memcmp(d, "hello", 5) == 0) {
        x->hello = 1;
        ior_loop_stop(x->tl.loop);
    }
}

static const ior_protocol_ops_t reset_proto = {r_data, NULL, NULL, NULL};

static void r_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    reset_ctx_t *x = (reset_ctx_t *)user;
    (void)l;
    x->accepted++;
    assert_int_equal(ior_transport_set_protocol(t, &reset_proto, x), 0);
}

static void r_accept_error(ior_listener_t *l, void *user, int err)
{
    (void)l;
    (void)err;
    ((reset_ctx_t *)user)->accept_errors++;
}

static const ior_listener_ops_t reset_listener_ops = {r_accept, r_accept_error};

static void r_connect(ior_loop_t *loop, void *user, ior_transport_t *t,
                      int status, int os_error)
{
    (void)os_error;
    (void)loop;
    assert_int_equal(status, 0);
    assert_int_equal(ior_transport_set_protocol(t, &reset_proto, user), 0);
    assert_int_equal(ior_transport_write(t, "hello", 5), 0);
}

/* Connects a plain socket and resets it at once (linger 0). */
static void connect_and_reset(const ior_addr_t *a)
{
    struct sockaddr_in sin;
    struct linger lg;
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);

    assert_true(s != INVALID_SOCKET);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(a->port);
    memcpy(&sin.sin_addr, a->bytes, 4);
    assert_int_equal(connect(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
    lg.l_onoff = 1;
    lg.l_linger = 0;
    setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof(lg));
    closesocket(s);
}

/*
 * Peers that reset before or while we accept (Wine completes such an
 * AcceptEx with WSAENOTCONN) never stop the listener and are not errors.
 */
static void test_listener_survives_peers_that_reset(void **state)
{
    reset_ctx_t x;
    ior_listener_t *l;
    ior_addr_t a;
    int i;

    (void)state;
    memset(&x, 0, sizeof(x));
    tloop_init(&x.tl);
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(
        ior_tcp_listen(x.tl.loop, &a, NULL, &reset_listener_ops, &x, &l), 0);
    assert_int_equal(ior_listener_address(l, &a), 0);
    /* More resets than AcceptEx requests posted ahead. */
    for (i = 0; i < 40; i++)
        connect_and_reset(&a);
    assert_int_equal(ior_tcp_connect(x.tl.loop, &a, NULL, r_connect, &x), 0);
    tloop_run(&x.tl);
    assert_true(x.hello);
    assert_int_equal(x.accept_errors, 0);
    ior_listener_close(l);
    tloop_free(&x.tl);
}

/* A second listener on a port in use fails with IOR_EADDRINUSE. */
static void test_listen_on_port_in_use_fails(void **state)
{
    tloop_t tl;
    ior_listener_t *l1;
    ior_listener_t *l2 = NULL;
    ior_addr_t a;

    (void)state;
    tloop_init(&tl);
    assert_int_equal(ior_addr_parse(&a, "127.0.0.1", 0), 0);
    assert_int_equal(
        ior_tcp_listen(tl.loop, &a, NULL, &listener_ops, NULL, &l1), 0);
    assert_int_equal(ior_listener_address(l1, &a), 0);
    assert_int_equal(
        ior_tcp_listen(tl.loop, &a, NULL, &listener_ops, NULL, &l2),
        IOR_EADDRINUSE);
    assert_null(l2);
    ior_listener_close(l1);
    tloop_free(&tl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_free_closes_listener_and_transports),
        cmocka_unit_test(test_listener_survives_peers_that_reset),
        cmocka_unit_test(test_listen_on_port_in_use_fails),
    };
    ior_set_allocator(&counting);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
