/*
 * UDP over loopback, the part in test_net_udp_modes.c: connected UDP,
 * multicast and pausing.
 *
 * IOR_TEST_ON_WINDOWS (0 or 1) comes from CMake: the one platform fact the
 * tests need (Wine 8 stops receiving on a UDP socket after an ICMP error).
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

#ifdef _WIN32
#include <winsock2.h>
#include <windows.h>
#endif

/*
 * 1 when this Windows program runs under Wine (its ntdll exports
 * wine_get_version), 0 on real Windows and elsewhere: what Wine cannot
 * run is skipped only there, so the Windows runner still runs it.
 */
static int under_wine(void)
{
#ifdef _WIN32
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    return ntdll != NULL &&
           GetProcAddress(ntdll, "wine_get_version") != NULL;
#else
    return 0;
#endif
}

#ifndef IOR_TEST_ON_WINDOWS
#define IOR_TEST_ON_WINDOWS 0
#endif

/* --- connected UDP -------------------------------------------------------- */

typedef struct refused {
    ior_loop_t *loop;
    ior_udp_t *u;
    ior_addr_t echo;
    int refused;
    int got;
} refused_t;

static void ref_dgram(ior_udp_t *u, void *user, const void *data, size_t len,
                      const ior_addr_t *from, int truncated)
{
    refused_t *c = user;
    (void)u;
    assert_false(truncated);
    assert_true(c->refused >= 1);
    assert_true(udp_addr_equal(from, &c->echo));
    /* "pong" may have waited in the queue and gone to the new peer. */
    if (len == 4 && memcmp(data, "pong", 4) == 0)
        return;
    assert_int_equal(len, 5);
    assert_memory_equal(data, "again", 5);
    c->got++;
    nu_done(c->loop);
}

static void ref_refused(ior_udp_t *u, void *user)
{
    refused_t *c = user;
    c->refused++;
    if (c->refused > 1)
        return;
    /* Still usable: point it at a live peer and talk. */
    assert_int_equal(ior_udp_connect(u, &c->echo), 0);
    assert_int_equal(ior_udp_write(u, "again", 5), 0);
}

static const ior_udp_ops_t ref_ops = {ref_dgram, ref_refused, NULL};

/*
 * A connected socket whose peer port is closed gets connection_refused
 * (ICMP port unreachable) and stays usable.
 */
void test_udp_connected_refused_then_usable(void **state)
{
    nu_loop_t nl;
    refused_t c;
    ior_udp_t *gone;
    ior_udp_t *echo;
    ior_addr_t closed;
    (void)state;
    if (under_wine()) {
        print_message("SKIP: Wine 8 stops polling a UDP socket after an "
                      "ICMP error, so a refused socket cannot be shown "
                      "usable (runs on the Windows runner)\n");
        skip();
    }
    memset(&c, 0, sizeof(c));
    nu_loop_init(&nl);
    c.loop = nl.loop;
    /* A port that was just ours and is now closed. */
    assert_int_equal(udp_open(nl.loop, "127.0.0.1", NULL, &udp_echo_ops, NULL,
                              &gone, &closed),
                     0);
    ior_udp_close(gone);
    assert_int_equal(udp_open(nl.loop, "127.0.0.1", NULL, &udp_echo_ops, NULL,
                              &echo, &c.echo),
                     0);
    assert_int_equal(
        udp_open(nl.loop, "127.0.0.1", NULL, &ref_ops, &c, &c.u, NULL), 0);
    assert_int_equal(ior_udp_write(c.u, "x", 1), IOR_ENOTCONN);
    assert_int_equal(ior_udp_connect(c.u, &closed), 0);
    assert_int_equal(ior_udp_send_to(c.u, "x", 1, &closed), IOR_ESTATE);
    assert_int_equal(ior_udp_write(c.u, "ping", 4), 0);
    /*
     * Where the ICMP error is already pending (Linux loopback), this send
     * only collects it: the datagram waits in the queue and goes out after
     * connection_refused has been reported from the loop.
     */
    assert_int_equal(ior_udp_write(c.u, "pong", 4), 0);
    nu_loop_run(&nl);
    assert_true(c.refused >= 1);
    assert_int_equal(c.got, 1);
    ior_udp_close(c.u);
    ior_udp_close(echo);
    nu_loop_free(&nl);
}

/* --- multicast ------------------------------------------------------------ */

#define MC_GROUP "239.255.77.77"
#define MC_TRIES 30

typedef struct mcast {
    ior_loop_t *loop;
    ior_udp_t *tx;
    ior_addr_t group; /* with the receiver's port */
    ior_addr_t tx_addr;
    int tries;
    int got;
    ior_timer_id timer;
} mcast_t;

static void mc_send(ior_loop_t *loop, void *user)
{
    mcast_t *m = user;
    m->timer = 0;
    if (m->got)
        return;
    if (m->tries++ == MC_TRIES) {
        nu_done(loop); /* never delivered: the test skips */
        return;
    }
    assert_int_equal(ior_udp_send_to(m->tx, "mcast", 5, &m->group), 0);
    assert_int_equal(ior_call_later(loop, 100, mc_send, m, &m->timer), 0);
}

static void mc_dgram(ior_udp_t *u, void *user, const void *data, size_t len,
                     const ior_addr_t *from, int truncated)
{
    mcast_t *m = user;
    (void)u;
    assert_false(truncated);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "mcast", 5);
    assert_int_equal(from->port, m->tx_addr.port);
    if (m->got++ == 0)
        nu_done(m->loop);
}

static const ior_udp_ops_t mc_ops = {mc_dgram, NULL, NULL};

/* A datagram sent to a joined group on the loopback interface arrives. */
void test_udp_multicast_on_loopback(void **state)
{
    nu_loop_t nl;
    mcast_t m;
    ior_udp_options_t o;
    ior_udp_t *rx;
    ior_addr_t rx_addr;
    ior_addr_t lo;
    int r;
    (void)state;
    memset(&m, 0, sizeof(m));
    memset(&o, 0, sizeof(o));
    o.reuse_address = 1;
    nu_loop_init(&nl);
    m.loop = nl.loop;
    assert_int_equal(ior_addr_parse(&lo, "127.0.0.1", 0), 0);
    assert_int_equal(
        udp_open(nl.loop, "0.0.0.0", &o, &mc_ops, &m, &rx, &rx_addr), 0);
    assert_int_equal(ior_addr_parse(&m.group, MC_GROUP, rx_addr.port), 0);
    r = ior_udp_join_group(rx, &m.group, &lo);
    if (r != 0) {
        ior_udp_close(rx);
        nu_loop_free(&nl);
        print_message("SKIP: cannot join %s on 127.0.0.1 (%s)\n", MC_GROUP,
                      ior_strerror(r));
        skip();
    }
    assert_int_equal(udp_open(nl.loop, "127.0.0.1", NULL, &udp_echo_ops, NULL,
                              &m.tx, &m.tx_addr),
                     0);
    assert_int_equal(ior_udp_set_multicast_interface(m.tx, &lo), 0);
    assert_int_equal(ior_udp_set_multicast_loop(m.tx, 1), 0);
    assert_int_equal(ior_udp_set_multicast_ttl(m.tx, 1), 0);
    mc_send(nl.loop, &m);
    nu_loop_run(&nl);
    if (m.timer != 0)
        (void)ior_timer_cancel(nl.loop, m.timer);
    if (m.got > 0)
        assert_int_equal(ior_udp_leave_group(rx, &m.group, &lo), 0);
    ior_udp_close(rx);
    ior_udp_close(m.tx);
    nu_loop_free(&nl);
    if (m.got == 0) {
        print_message("SKIP: joined %s but nothing was delivered on "
                      "loopback in %d tries\n",
                      MC_GROUP, MC_TRIES);
        skip();
    }
}

/* --- pausing -------------------------------------------------------------- */

#define PZ_N 20

typedef struct pz {
    ior_loop_t *loop;
    ior_udp_t *rx;
    int paused;
    int got;
    int after_pause; /* deliveries while paused: must stay 0 */
    int phase;
} pz_t;

static void pz_resume(ior_loop_t *loop, void *user)
{
    pz_t *p = user;
    (void)loop;
    /* Nothing arrived while paused, whatever the socket holds. */
    assert_int_equal(p->got, p->phase == 0 ? 0 : 5);
    p->paused = 0;
    p->phase++;
    ior_udp_producer_ops.resume_producing(p->rx);
}

static void pz_dgram(ior_udp_t *u, void *user, const void *data, size_t len,
                     const ior_addr_t *from, int truncated)
{
    pz_t *p = user;
    (void)from;
    assert_false(truncated);
    assert_int_equal(len, 1);
    if (p->paused)
        p->after_pause++;
    assert_int_equal(((const unsigned char *)data)[0], p->got);
    p->got++;
    if (p->got == 5) {
        /* Pausing inside the callback stops the rest of this batch. */
        assert_int_equal(ior_udp_pause_reading(u), 0);
        p->paused = 1;
        assert_int_equal(ior_call_later(p->loop, 100, pz_resume, p, NULL), 0);
    }
    if (p->got == PZ_N)
        nu_done(p->loop);
}

static const ior_udp_ops_t pz_ops = {pz_dgram, NULL, NULL};

/*
 * Paused reading leaves datagrams in the socket: none is delivered while
 * paused (from outside or from inside the callback), all arrive, in order,
 * after resume.
 */
void test_udp_pause_holds_datagrams_until_resume(void **state)
{
    nu_loop_t nl;
    pz_t p;
    ior_udp_t *tx;
    ior_addr_t rx_addr;
    int i;
    (void)state;
    memset(&p, 0, sizeof(p));
    nu_loop_init(&nl);
    p.loop = nl.loop;
    assert_int_equal(
        udp_open(nl.loop, "127.0.0.1", NULL, &pz_ops, &p, &p.rx, &rx_addr), 0);
    ior_udp_producer_ops.pause_producing(p.rx);
    p.paused = 1;
    assert_int_equal(
        udp_open(nl.loop, "127.0.0.1", NULL, &udp_echo_ops, NULL, &tx, NULL),
        0);
    for (i = 0; i < PZ_N; i++) {
        unsigned char b = (unsigned char)i;
        assert_int_equal(ior_udp_send_to(tx, &b, 1, &rx_addr), 0);
    }
    assert_int_equal(ior_call_later(nl.loop, 200, pz_resume, &p, NULL), 0);
    nu_loop_run(&nl);
    assert_int_equal(p.got, PZ_N);
    assert_int_equal(p.after_pause, 0);
    ior_udp_close(tx);
    /* stop_producing closes the socket. */
    ior_udp_producer_ops.stop_producing(p.rx);
    nu_loop_free(&nl);
}

/* ior_loop_free closes UDP sockets still open, without leaks. */
void test_udp_loop_free_closes_open_sockets(void **state)
{
    nu_loop_t nl;
    ior_udp_t *a;
    ior_udp_t *b;
    ior_addr_t a_addr;
    (void)state;
    nu_loop_init(&nl);
    assert_int_equal(
        udp_open(nl.loop, "127.0.0.1", NULL, &udp_echo_ops, NULL, &a, &a_addr),
        0);
    assert_int_equal(
        udp_open(nl.loop, "127.0.0.1", NULL, &udp_echo_ops, NULL, &b, NULL), 0);
    assert_int_equal(ior_udp_send_to(b, "x", 1, &a_addr), 0);
    nu_loop_free(&nl);
}
