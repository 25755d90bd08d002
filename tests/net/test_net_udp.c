/*
 * UDP over loopback through ior.h only, the same file for every backend:
 * echo (IPv4, IPv6), 10,000 datagrams with loss counted, truncation and
 * the bounded send queue; connected UDP, multicast and pausing are in
 * test_net_udp_modes.c, and main() of the executable is here.
 * Peers run on the same loop; every test has the nu_loop watchdog, and a
 * "no progress" timer turns a lost datagram into a counted loss instead of
 * a hang.
 */
#include "net_util.h"
#include "udp_tests.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* An echo peer: every datagram goes back where it came from. */
static void echo_dgram(ior_udp_t *u, void *user, const void *data, size_t len,
                       const ior_addr_t *from, int truncated)
{
    int r;
    (void)user;
    assert_false(truncated);
    r = ior_udp_send_to(u, data, len, from);
    assert_int_equal(r, 0);
}

const ior_udp_ops_t udp_echo_ops = {echo_dgram, NULL, NULL};

int udp_open(ior_loop_t *loop, const char *ip, const ior_udp_options_t *o,
             const ior_udp_ops_t *ops, void *user, ior_udp_t **out,
             ior_addr_t *bound)
{
    ior_addr_t a;
    int r;
    assert_int_equal(ior_addr_parse(&a, ip, 0), 0);
    r = ior_udp_listen(loop, &a, o, ops, user, out);
    if (r == 0 && bound != NULL) {
        assert_int_equal(ior_udp_address(*out, bound), 0);
        assert_true(bound->port != 0);
    }
    return r;
}

int udp_addr_equal(const ior_addr_t *a, const ior_addr_t *b)
{
    size_t n = a->family == IOR_AF_INET ? 4 : 16;
    return a->family == b->family && a->port == b->port &&
           memcmp(a->bytes, b->bytes, n) == 0;
}

/* --- echo ----------------------------------------------------------------- */

typedef struct uecho {
    ior_loop_t *loop;
    ior_addr_t server;
    int got;
    int closed_in_callback;
} uecho_t;

static const char hello[] = "hello, udp";

static void client_dgram(ior_udp_t *u, void *user, const void *data, size_t len,
                         const ior_addr_t *from, int truncated)
{
    uecho_t *e = user;
    assert_false(truncated);
    assert_int_equal(len, strlen(hello));
    assert_memory_equal(data, hello, len);
    assert_true(udp_addr_equal(from, &e->server));
    e->got++;
    /* Closing from inside its own callback is allowed. */
    ior_udp_close(u);
    e->closed_in_callback = 1;
    nu_done(e->loop);
}

static const ior_udp_ops_t client_ops = {client_dgram, NULL, NULL};

static void echo_run(const char *ip)
{
    nu_loop_t nl;
    uecho_t e;
    ior_udp_t *server;
    ior_udp_t *client;
    ior_udp_options_t o;
    int r;
    memset(&e, 0, sizeof(e));
    memset(&o, 0, sizeof(o));
    o.ipv6_only = 1;
    nu_loop_init(&nl);
    e.loop = nl.loop;
    r = udp_open(nl.loop, ip, &o, &udp_echo_ops, NULL, &server, &e.server);
    if (r != 0 && strchr(ip, ':') != NULL) {
        nu_loop_free(&nl);
        print_message("SKIP: cannot bind UDP on %s (%s); no IPv6 here\n", ip,
                      ior_strerror(r));
        skip();
    }
    assert_int_equal(r, 0);
    assert_int_equal(udp_open(nl.loop, ip, &o, &client_ops, &e, &client, NULL),
                     0);
    assert_int_equal(ior_udp_send_to(client, hello, strlen(hello), &e.server),
                     0);
    /* The client closes itself; the server keeps the loop alive: stop it. */
    nu_loop_run(&nl);
    assert_int_equal(e.got, 1);
    ior_udp_close(server);
    nu_loop_free(&nl);
}

/* A datagram sent to an echo peer over 127.0.0.1 comes back intact. */
static void test_udp_echo_ipv4(void **state)
{
    (void)state;
    echo_run("127.0.0.1");
}

/* The same over ::1 (skipped when the host has no IPv6 loopback). */
static void test_udp_echo_ipv6(void **state)
{
    (void)state;
    echo_run("::1");
}

/* --- Stall detection shared by the longer tests --------------------------- */

/*
 * A timer that stops the loop when a counter has not moved for one period:
 * a lost datagram then ends the test as a counted loss, not a hang.
 */
typedef struct stall {
    ior_loop_t *loop;
    const unsigned *counter;
    unsigned last;
    int stalled;
    ior_timer_id id;
} stall_t;

#define STALL_MS 2000

static void on_stall_check(ior_loop_t *loop, void *user)
{
    stall_t *s = user;
    s->id = 0;
    if (*s->counter == s->last) {
        s->stalled = 1;
        nu_done(loop);
        return;
    }
    s->last = *s->counter;
    assert_int_equal(ior_call_later(loop, STALL_MS, on_stall_check, s, &s->id),
                     0);
}

static void stall_start(stall_t *s, ior_loop_t *loop, const unsigned *counter)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->counter = counter;
    s->last = *counter;
    assert_int_equal(ior_call_later(loop, STALL_MS, on_stall_check, s, &s->id),
                     0);
}

static void stall_stop(stall_t *s)
{
    if (s->id != 0)
        (void)ior_timer_cancel(s->loop, s->id);
    s->id = 0;
}

/* --- 10,000 datagrams ----------------------------------------------------- */

#define FLOOD_N 10000u
#define FLOOD_WINDOW 64u
#define FLOOD_LEN 200u

typedef struct flood {
    ior_loop_t *loop;
    ior_udp_t *client;
    ior_addr_t server;
    unsigned sent;
    unsigned got;
    unsigned dup;
    unsigned bad;
    unsigned char seen[FLOOD_N];
} flood_t;

static void flood_fill(unsigned char *buf, uint32_t seq)
{
    memcpy(buf, nu_pattern(seq), FLOOD_LEN);
    memcpy(buf, &seq, sizeof(seq));
}

/* Keeps at most FLOOD_WINDOW datagrams outstanding. */
static void flood_send(flood_t *f)
{
    unsigned char buf[FLOOD_LEN];
    while (f->sent < FLOOD_N && f->sent - f->got < FLOOD_WINDOW) {
        flood_fill(buf, f->sent);
        assert_int_equal(ior_udp_send_to(f->client, buf, FLOOD_LEN, &f->server),
                         0);
        f->sent++;
    }
}

static void flood_dgram(ior_udp_t *u, void *user, const void *data, size_t len,
                        const ior_addr_t *from, int truncated)
{
    flood_t *f = user;
    unsigned char want[FLOOD_LEN];
    uint32_t seq;
    (void)u;
    (void)from;
    assert_false(truncated);
    assert_int_equal(len, FLOOD_LEN);
    memcpy(&seq, data, sizeof(seq));
    assert_true(seq < f->sent);
    flood_fill(want, seq);
    if (memcmp(want, data, FLOOD_LEN) != 0)
        f->bad++;
    if (f->seen[seq])
        f->dup++;
    f->seen[seq] = 1;
    f->got++;
    if (f->got == FLOOD_N) {
        nu_done(f->loop);
        return;
    }
    flood_send(f);
}

static const ior_udp_ops_t flood_ops = {flood_dgram, NULL, NULL};

/* 10,000 datagrams through an echo peer, 64 outstanding: none lost. */
static void test_udp_10000_datagrams_counted_no_loss(void **state)
{
    nu_loop_t nl;
    flood_t *f = calloc(1, sizeof(*f));
    ior_udp_t *server;
    stall_t st;
    uint64_t t0;
    uint64_t ms;
    (void)state;
    assert_non_null(f);
    nu_loop_init(&nl);
    f->loop = nl.loop;
    assert_int_equal(udp_open(nl.loop, "127.0.0.1", NULL, &udp_echo_ops, NULL,
                              &server, &f->server),
                     0);
    assert_int_equal(
        udp_open(nl.loop, "127.0.0.1", NULL, &flood_ops, f, &f->client, NULL),
        0);
    t0 = ior_loop_now(nl.loop);
    flood_send(f);
    stall_start(&st, nl.loop, &f->got);
    nu_loop_run(&nl);
    stall_stop(&st);
    ms = ior_loop_now(nl.loop) - t0;
    print_message("udp: %u sent, %u echoed, %u lost, %u duplicated in %lu ms "
                  "(%lu round trips/s)\n",
                  f->sent, f->got, f->sent - f->got, f->dup, (unsigned long)ms,
                  (unsigned long)(ms ? (uint64_t)f->got * 1000u / ms : 0));
    assert_int_equal(f->sent, FLOOD_N);
    assert_int_equal(f->got, FLOOD_N); /* loss counted: zero expected */
    assert_int_equal(f->dup, 0);
    assert_int_equal(f->bad, 0);
    assert_int_equal(ior_udp_send_queue_size(f->client), 0);
    ior_udp_close(f->client);
    ior_udp_close(server);
    nu_loop_free(&nl);
    free(f);
}

/* --- truncation ----------------------------------------------------------- */

typedef struct trunc_ctx {
    ior_loop_t *loop;
    int n;
} trunc_ctx_t;

static void trunc_dgram(ior_udp_t *u, void *user, const void *data, size_t len,
                        const ior_addr_t *from, int truncated)
{
    trunc_ctx_t *c = user;
    (void)u;
    (void)from;
    assert_int_equal(len, 100);
    if (c->n == 0) {
        /* 300 bytes sent: the first 100 arrive, flagged truncated. */
        assert_true(truncated);
        assert_memory_equal(data, nu_pattern(0), 100);
    } else {
        /* Exactly max_packet_size bytes is not truncated. */
        assert_false(truncated);
        assert_memory_equal(data, nu_pattern(7), 100);
        nu_done(c->loop);
    }
    c->n++;
}

static const ior_udp_ops_t trunc_ops = {trunc_dgram, NULL, NULL};

/* A datagram beyond max_packet_size arrives cut, with truncated set. */
static void test_udp_oversized_datagram_reported_truncated(void **state)
{
    nu_loop_t nl;
    trunc_ctx_t c;
    ior_udp_options_t o;
    ior_udp_t *rx;
    ior_udp_t *tx;
    ior_addr_t rx_addr;
    (void)state;
    memset(&c, 0, sizeof(c));
    memset(&o, 0, sizeof(o));
    o.max_packet_size = 100;
    nu_loop_init(&nl);
    c.loop = nl.loop;
    assert_int_equal(
        udp_open(nl.loop, "127.0.0.1", &o, &trunc_ops, &c, &rx, &rx_addr), 0);
    assert_int_equal(
        udp_open(nl.loop, "127.0.0.1", NULL, &udp_echo_ops, NULL, &tx, NULL),
        0);
    assert_int_equal(ior_udp_send_to(tx, nu_pattern(0), 300, &rx_addr), 0);
    assert_int_equal(ior_udp_send_to(tx, nu_pattern(7), 100, &rx_addr), 0);
    nu_loop_run(&nl);
    assert_int_equal(c.n, 2);
    ior_udp_close(rx);
    ior_udp_close(tx);
    nu_loop_free(&nl);
}

/* --- the bounded send queue ----------------------------------------------- */

#define QF_LIMIT 4000u
#define QF_N 32u
#define QF_LEN 1000u

typedef struct qfull {
    ior_loop_t *loop;
    ior_udp_t *tx;
    unsigned accepted;
    unsigned got;
    unsigned bad;
    unsigned char acc[QF_N];
    unsigned char seen[QF_N];
} qfull_t;

static void qf_fill(unsigned char *buf, unsigned seq)
{
    memcpy(buf, nu_pattern(seq * 13u), QF_LEN);
    buf[0] = (unsigned char)seq;
}

static void qf_dgram(ior_udp_t *u, void *user, const void *data, size_t len,
                     const ior_addr_t *from, int truncated)
{
    qfull_t *q = user;
    unsigned char want[QF_LEN];
    unsigned seq = ((const unsigned char *)data)[0];
    (void)u;
    (void)from;
    assert_false(truncated);
    assert_int_equal(len, QF_LEN);
    assert_true(seq < QF_N);
    assert_true(q->acc[seq]); /* a refused datagram never goes out */
    assert_false(q->seen[seq]);
    qf_fill(want, seq);
    if (memcmp(want, data, QF_LEN) != 0)
        q->bad++;
    q->seen[seq] = 1;
    q->got++;
    if (q->got == q->accepted)
        nu_done(q->loop);
}

static const ior_udp_ops_t qf_ops = {qf_dgram, NULL, NULL};

/*
 * The send queue refuses a whole datagram (IOR_ENOBUFS) when it is full or
 * when the datagram could never fit, queues nothing partial, never exceeds
 * its limit, and everything it accepted arrives.
 */
static void test_udp_send_queue_full_refuses_whole_datagram(void **state)
{
    nu_loop_t nl;
    qfull_t q;
    ior_udp_options_t o;
    ior_udp_t *rx;
    ior_addr_t rx_addr;
    unsigned char buf[QF_LEN + 1];
    unsigned i;
    unsigned pushed_back = 0;
    stall_t st;
    (void)state;
    memset(&q, 0, sizeof(q));
    memset(&o, 0, sizeof(o));
    o.max_send_queue = QF_LIMIT;
    nu_loop_init(&nl);
    q.loop = nl.loop;
    assert_int_equal(
        udp_open(nl.loop, "127.0.0.1", NULL, &qf_ops, &q, &rx, &rx_addr), 0);
    assert_int_equal(
        udp_open(nl.loop, "127.0.0.1", &o, &udp_echo_ops, NULL, &q.tx, NULL),
        0);
    {
        /* Larger than the whole queue: refused even when the OS has room. */
        char *big = calloc(1, 70000);
        assert_non_null(big);
        assert_int_equal(ior_udp_send_to(q.tx, big, QF_LIMIT + 1, &rx_addr),
                         IOR_ENOBUFS);
        assert_int_equal(ior_udp_send_to(q.tx, big, 65508, &rx_addr),
                         IOR_EMSGSIZE);
        free(big);
    }
    assert_int_equal(ior_udp_send_queue_size(q.tx), 0);
    for (i = 0; i < QF_N; i++) {
        size_t before = ior_udp_send_queue_size(q.tx);
        int r;
        qf_fill(buf, i);
        r = ior_udp_send_to(q.tx, buf, QF_LEN, &rx_addr);
        if (r == 0) {
            q.acc[i] = 1;
            q.accepted++;
        } else {
            assert_int_equal(r, IOR_ENOBUFS);
            assert_int_equal(ior_udp_send_queue_size(q.tx), before);
            pushed_back++;
        }
        assert_true(ior_udp_send_queue_size(q.tx) <= QF_LIMIT);
        assert_int_equal(ior_udp_send_queue_size(q.tx) % QF_LEN, 0);
    }
    print_message("udp queue: %u of %u accepted, %u refused (%s)\n", q.accepted,
                  QF_N, pushed_back,
                  pushed_back ? "the OS pushed back"
                              : "the OS took every datagram at once");
    assert_true(q.accepted >= QF_LIMIT / QF_LEN);
    stall_start(&st, nl.loop, &q.got);
    nu_loop_run(&nl);
    stall_stop(&st);
    assert_int_equal(q.got, q.accepted);
    assert_int_equal(q.bad, 0);
    assert_int_equal(ior_udp_send_queue_size(q.tx), 0);
    ior_udp_close(rx);
    ior_udp_close(q.tx);
    nu_loop_free(&nl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_echo_ipv4),
        cmocka_unit_test(test_udp_echo_ipv6),
        cmocka_unit_test(test_udp_10000_datagrams_counted_no_loss),
        cmocka_unit_test(test_udp_oversized_datagram_reported_truncated),
        cmocka_unit_test(test_udp_send_queue_full_refuses_whole_datagram),
        cmocka_unit_test(test_udp_connected_refused_then_usable),
        cmocka_unit_test(test_udp_multicast_on_loopback),
        cmocka_unit_test(test_udp_pause_holds_datagrams_until_resume),
        cmocka_unit_test(test_udp_loop_free_closes_open_sockets),
    };
    nu_alloc_install();
    return cmocka_run_group_tests_name("net_udp", tests, NULL, NULL);
}
