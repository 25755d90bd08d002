/*
 * Poll handles (issue 14, part 2) over sockets the test owns, as another
 * library would: each test states one rule of ior.h and checks it on the
 * backend the program runs on (epoll, poll, IOCP's AFD poll under Wine).
 */
#include "tools_tests.h"
#include "net_util.h"
#include "platform.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define PT_MAX_CALLS 64

typedef struct pt_ctx {
    nu_loop_t nl;
    intptr_t a, b;  /* a is watched; b is the peer */
    ior_poll_t *p;
    unsigned seen[PT_MAX_CALLS];
    int status[PT_MAX_CALLS];
    int calls;
    int step;
    void (*on_event)(struct pt_ctx *x, int status, unsigned events);
    ior_timer_id quiet;
    int quiet_done;
} pt_ctx_t;

static void pt_cb(ior_poll_t *p, void *user, int status, unsigned events)
{
    pt_ctx_t *x = user;
    assert_ptr_equal(p, x->p);
    assert_true(x->calls < PT_MAX_CALLS);
    x->seen[x->calls] = events;
    x->status[x->calls] = status;
    x->calls++;
    if (x->on_event != NULL)
        x->on_event(x, status, events);
}

static pt_ctx_t *pt_new(int udp)
{
    pt_ctx_t *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    nu_loop_init(&x->nl);
    if (udp)
        assert_int_equal(nu_platform_udp_pair(&x->a, &x->b), 0);
    else
        assert_int_equal(nu_platform_tcp_pair(&x->a, &x->b), 0);
    assert_int_equal(ior_poll_open(x->nl.loop, x->a, pt_cb, x, &x->p), 0);
    return x;
}

static void pt_free(pt_ctx_t *x)
{
    if (x->p != NULL)
        ior_poll_close(x->p);
    nu_loop_free(&x->nl);
    if (x->a != -1)
        nu_platform_close_socket(x->a);
    if (x->b != -1)
        nu_platform_close_socket(x->b);
    free(x);
}

/* Ends the loop after a quiet window in which no callback may come. */
static void pt_quiet_over(ior_loop_t *loop, void *user)
{
    pt_ctx_t *x = user;
    x->quiet_done = 1;
    nu_done(loop);
}

static void pt_send(intptr_t h, const char *s)
{
    assert_int_equal(nu_platform_send(h, s, strlen(s)), (long)strlen(s));
}

static void pt_send_later(ior_loop_t *loop, void *user)
{
    pt_ctx_t *x = user;
    (void)loop;
    pt_send(x->b, "ping");
}

/* --- readable, level-triggered ----------------------------------------- */

static void rd_event(pt_ctx_t *x, int status, unsigned events)
{
    char buf[16];
    assert_int_equal(status, 0);
    assert_int_equal(events, IOR_POLL_READABLE);
    if (x->calls < 3)
        return; /* not read: the next iteration reports it again */
    assert_int_equal(nu_platform_recv(x->a, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(ior_call_later(x->nl.loop, 30, pt_quiet_over, x, NULL),
                     0);
}

/* Data on the socket is IOR_POLL_READABLE (only what was asked), again on
 * each iteration until it is read, and not after: three calls while the
 * bytes wait, none in the 30 ms after the read. */
void test_poll_readable_is_level_triggered(void **state)
{
    pt_ctx_t *x = pt_new(0);
    (void)state;
    x->on_event = rd_event;
    assert_int_equal(ior_poll_start(x->p, IOR_POLL_READABLE), 0);
    assert_int_equal(ior_call_later(x->nl.loop, 0, pt_send_later, x, NULL), 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->calls, 3);
    assert_true(x->quiet_done);
    pt_free(x);
}

/* --- writable, and a change of events from inside the callback ---------- */

static void wr_event(pt_ctx_t *x, int status, unsigned events)
{
    char buf[16];
    assert_int_equal(status, 0);
    if (x->calls == 1) {
        /* A fresh connected socket has room; READABLE was asked too. */
        assert_int_equal(events, IOR_POLL_WRITABLE);
        assert_int_equal(ior_poll_start(x->p, IOR_POLL_READABLE), 0);
        pt_send(x->b, "ping");
        return;
    }
    assert_int_equal(events, IOR_POLL_READABLE);
    assert_int_equal(nu_platform_recv(x->a, buf, sizeof(buf)), 4);
    assert_int_equal(ior_poll_stop(x->p), 0);
    nu_done(x->nl.loop);
}

/* WRITABLE comes at once on a connected socket; switched to READABLE from
 * inside the callback, the handle reports only READABLE next, once the
 * peer's bytes are there (IOCP cancels the request in flight and posts
 * the new mask). */
void test_poll_writable_then_change_events(void **state)
{
    pt_ctx_t *x = pt_new(0);
    (void)state;
    x->on_event = wr_event;
    assert_int_equal(
        ior_poll_start(x->p, IOR_POLL_READABLE | IOR_POLL_WRITABLE), 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->calls, 2);
    pt_free(x);
}

/* --- the peer's FIN and the peer's reset --------------------------------- */

static void eof_event(pt_ctx_t *x, int status, unsigned events)
{
    char buf[16];
    assert_int_equal(status, 0);
    assert_int_equal(events, IOR_POLL_READABLE | IOR_POLL_DISCONNECT);
    assert_int_equal(nu_platform_recv(x->a, buf, sizeof(buf)), 0);
    ior_poll_close(x->p); /* from inside the callback */
    x->p = NULL;
    nu_done(x->nl.loop);
}

/* The peer's half-close is READABLE | DISCONNECT (recv gives 0), the same
 * on every backend; closing the handle inside its callback is safe. */
void test_poll_peer_fin_is_readable_and_disconnect(void **state)
{
    pt_ctx_t *x = pt_new(0);
    (void)state;
    x->on_event = eof_event;
    assert_int_equal(
        ior_poll_start(x->p, IOR_POLL_READABLE | IOR_POLL_DISCONNECT), 0);
    assert_int_equal(nu_platform_shutdown_write(x->b), 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->calls, 1);
    pt_free(x);
}

static void rst_event(pt_ctx_t *x, int status, unsigned events)
{
    assert_int_equal(status, 0);
    if (x->calls == 1) {
        assert_int_equal(events, IOR_POLL_READABLE | IOR_POLL_DISCONNECT);
        /* Now every event: the reset is a state, reported again. */
        assert_int_equal(ior_poll_start(x->p, IOR_POLL_READABLE |
                                                  IOR_POLL_WRITABLE |
                                                  IOR_POLL_DISCONNECT),
                         0);
        return;
    }
    assert_int_equal(events, IOR_POLL_READABLE | IOR_POLL_WRITABLE |
                                 IOR_POLL_DISCONNECT);
    assert_int_equal(ior_poll_stop(x->p), 0);
    nu_done(x->nl.loop);
}

/* A reset by the peer reports every event asked: READABLE | DISCONNECT
 * of those two, and all three once WRITABLE is asked too. */
void test_poll_peer_reset_reports_every_asked_event(void **state)
{
    pt_ctx_t *x = pt_new(0);
    (void)state;
    x->on_event = rst_event;
    /* Only READABLE and DISCONNECT first: WRITABLE would fire at once. */
    assert_int_equal(
        ior_poll_start(x->p, IOR_POLL_READABLE | IOR_POLL_DISCONNECT), 0);
    nu_platform_reset(x->b);
    x->b = -1;
    nu_loop_run(&x->nl);
    assert_int_equal(x->calls, 2);
    pt_free(x);
}

/* --- connect failure and accept ------------------------------------------ */

static void cf_event(pt_ctx_t *x, int status, unsigned events)
{
    assert_int_equal(status, 0);
    assert_true((events & IOR_POLL_WRITABLE) != 0);
    assert_int_equal(nu_platform_socket_error(x->a),
                     nu_platform_refused_os_error());
    ior_poll_close(x->p);
    x->p = NULL;
    nu_done(x->nl.loop);
}

/* A non-blocking connect refused on loopback is WRITABLE, with SO_ERROR
 * saying refused, as a foreign library checks it. */
void test_poll_connect_refused_is_writable(void **state)
{
    pt_ctx_t *x = calloc(1, sizeof(*x));
    uint16_t port;
    intptr_t l;
    (void)state;
    assert_non_null(x);
    x->b = -1;
    nu_loop_init(&x->nl);
    /* A port nobody listens on: listen, note it, close. */
    assert_int_equal(nu_platform_listen_noaccept(1, &port, &l), 0);
    nu_platform_close_socket(l);
    assert_int_equal(nu_platform_connect_start(port, &x->a), 0);
    assert_int_equal(ior_poll_open(x->nl.loop, x->a, pt_cb, x, &x->p), 0);
    x->on_event = cf_event;
    assert_int_equal(ior_poll_start(x->p, IOR_POLL_WRITABLE), 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->calls, 1);
    pt_free(x);
}

typedef struct ac_ctx {
    pt_ctx_t base;
    intptr_t listener;
    nu_conn_t client;
    intptr_t accepted;
} ac_ctx_t;

static void ac_event(pt_ctx_t *x, int status, unsigned events)
{
    ac_ctx_t *y = (ac_ctx_t *)x;
    assert_int_equal(status, 0);
    assert_int_equal(events, IOR_POLL_READABLE);
    assert_int_equal(nu_platform_accept(y->listener, &y->accepted), 0);
    ior_poll_close(x->p);
    x->p = NULL;
    if (y->client.connected)
        nu_done(x->nl.loop);
}

static void ac_connected(nu_conn_t *c)
{
    ac_ctx_t *y = c->user;
    assert_int_equal(c->connect_status, 0);
    if (y->base.p == NULL)
        nu_done(c->loop);
}

/* A listening socket with a connection waiting is READABLE. */
void test_poll_listener_readable_on_connection(void **state)
{
    ac_ctx_t *y = calloc(1, sizeof(*y));
    pt_ctx_t *x = &y->base;
    ior_addr_t to;
    uint16_t port;
    (void)state;
    assert_non_null(y);
    x->a = x->b = -1;
    nu_loop_init(&x->nl);
    assert_int_equal(nu_platform_listen_noaccept(4, &port, &y->listener), 0);
    assert_int_equal(ior_poll_open(x->nl.loop, y->listener, pt_cb, x, &x->p),
                     0);
    x->on_event = ac_event;
    assert_int_equal(ior_poll_start(x->p, IOR_POLL_READABLE), 0);
    assert_int_equal(ior_addr_parse(&to, "127.0.0.1", port), 0);
    y->client.on_connect = ac_connected;
    y->client.user = y;
    nu_connect(x->nl.loop, &to, &y->client, 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->calls, 1);
    if (y->client.t != NULL)
        ior_transport_abort_connection(y->client.t);
    nu_loop_free(&x->nl);
    nu_platform_close_socket(y->accepted);
    nu_platform_close_socket(y->listener);
    free(y);
}

/* --- UDP ------------------------------------------------------------------ */

static void udp_event(pt_ctx_t *x, int status, unsigned events)
{
    char buf[16];
    assert_int_equal(status, 0);
    assert_int_equal(events, IOR_POLL_READABLE);
    assert_int_equal(nu_platform_recv(x->a, buf, sizeof(buf)), 4);
    ior_poll_close(x->p);
    x->p = NULL;
    nu_done(x->nl.loop);
}

/* A datagram waiting on a UDP socket is READABLE. */
void test_poll_udp_readable(void **state)
{
    pt_ctx_t *x = pt_new(1);
    (void)state;
    x->on_event = udp_event;
    assert_int_equal(ior_poll_start(x->p, IOR_POLL_READABLE), 0);
    assert_int_equal(ior_call_later(x->nl.loop, 0, pt_send_later, x, NULL), 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->calls, 1);
    pt_free(x);
}

/* --- lifetime and bad input ------------------------------------------------ */

/*
 * A stopped handle does not keep ior_loop_run running, a started one
 * does; close with a request in flight (outside any callback) and
 * ior_loop_free with a started handle leak nothing (nu_loop_free checks
 * every allocation came back).
 */
void test_poll_lifetime(void **state)
{
    pt_ctx_t *x = pt_new(0);
    ior_poll_t *second;
    intptr_t c, d;
    (void)state;
    /* Stopped: the loop has nothing to wait for but the watchdog timer. */
    ior_timer_cancel(x->nl.loop, x->nl.watchdog);
    assert_int_equal(ior_loop_run(x->nl.loop), 0);
    assert_int_equal(x->calls, 0);
    /* Started and idle, then closed from outside: nothing fires. */
    assert_int_equal(ior_poll_start(x->p, IOR_POLL_READABLE), 0);
    ior_poll_close(x->p);
    x->p = NULL;
    assert_int_equal(ior_loop_run(x->nl.loop), 0);
    assert_int_equal(x->calls, 0);
    /* Left started for ior_loop_free to close. */
    assert_int_equal(nu_platform_tcp_pair(&c, &d), 0);
    assert_int_equal(ior_poll_open(x->nl.loop, c, pt_cb, x, &second), 0);
    assert_int_equal(ior_poll_start(second, IOR_POLL_READABLE), 0);
    pt_free(x);
    nu_platform_close_socket(c);
    nu_platform_close_socket(d);
}

/* One handle per socket and loop (IOR_EBUSY); a closed or non-socket
 * handle is IOR_EBADF; NULLs, -1, no or unknown events IOR_EINVAL. */
void test_poll_bad_input(void **state)
{
    pt_ctx_t *x = pt_new(0);
    ior_poll_t *q = NULL;
    intptr_t rd, wr, dead, other;
    (void)state;
    assert_int_equal(ior_poll_open(x->nl.loop, x->a, pt_cb, x, &q), IOR_EBUSY);
    assert_int_equal(ior_poll_open(NULL, x->b, pt_cb, x, &q), IOR_EINVAL);
    assert_int_equal(ior_poll_open(x->nl.loop, x->b, NULL, x, &q), IOR_EINVAL);
    assert_int_equal(ior_poll_open(x->nl.loop, x->b, pt_cb, x, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_poll_open(x->nl.loop, -1, pt_cb, x, &q), IOR_EINVAL);
    assert_int_equal(nu_platform_tcp_pair(&dead, &other), 0);
    nu_platform_close_socket(dead);
    assert_int_equal(ior_poll_open(x->nl.loop, dead, pt_cb, x, &q), IOR_EBADF);
    nu_platform_close_socket(other);
    assert_int_equal(nu_platform_pipe(0, &rd, &wr), 0);
    assert_int_equal(ior_poll_open(x->nl.loop, rd, pt_cb, x, &q), IOR_EBADF);
    nu_platform_close_handle(rd);
    nu_platform_close_handle(wr);
    assert_int_equal(ior_poll_start(x->p, 0), IOR_EINVAL);
    assert_int_equal(ior_poll_start(x->p, 0x8u), IOR_EINVAL);
    assert_int_equal(ior_poll_start(NULL, IOR_POLL_READABLE), IOR_EINVAL);
    assert_int_equal(ior_poll_stop(NULL), IOR_EINVAL);
    ior_poll_close(NULL);
    assert_null(q);
    pt_free(x);
}
