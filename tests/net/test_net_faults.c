/*
 * Faults: a listener whose process runs out of descriptors keeps serving
 * once they free up and does not spin meanwhile (CPU time measured); slow
 * peers (one that never sends, one that trickles a byte every 10 ms, one
 * that never reads) do not hold up the echo round trips of others.
 *
 * The safe defaults (test_net_defaults.c) and main() are in the same
 * executable.
 */
#include "faults_tests.h"
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

/* --- a server that records accept errors ------------------------------ */

typedef struct fx_server {
    ior_listener_t *l;
    ior_addr_t addr;
    nu_conn_t *conns;
    int accepted;
    int accept_errors;
    int last_error;
    void (*on_accept)(struct fx_server *s, nu_conn_t *c);
    void *user;
} fx_server_t;

static void fx_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    fx_server_t *s = user;
    nu_conn_t *c = calloc(1, sizeof(*c));
    (void)l;
    assert_non_null(c);
    c->next = s->conns;
    s->conns = c;
    s->accepted++;
    nu_conn_attach(c, t, NU_ECHO);
    if (s->on_accept != NULL)
        s->on_accept(s, c);
}

static void fx_accept_error(ior_listener_t *l, void *user, int err)
{
    fx_server_t *s = user;
    (void)l;
    s->accept_errors++;
    s->last_error = err;
}

static const ior_listener_ops_t fx_listener = {fx_accept, fx_accept_error};

static void fx_listen(fx_server_t *s, ior_loop_t *loop)
{
    assert_int_equal(ior_addr_parse(&s->addr, "127.0.0.1", 0), 0);
    assert_int_equal(ior_tcp_listen(loop, &s->addr, NULL, &fx_listener, s,
                                    &s->l),
                     0);
    assert_int_equal(ior_listener_address(s->l, &s->addr), 0);
}

static int fx_all_lost(const fx_server_t *s)
{
    const nu_conn_t *c;
    for (c = s->conns; c != NULL; c = c->next)
        if (!c->lost)
            return 0;
    return 1;
}

static void fx_free_conns(fx_server_t *s)
{
    while (s->conns != NULL) {
        nu_conn_t *c = s->conns;
        s->conns = c->next;
        free(c);
    }
}

/* --- descriptor exhaustion ------------------------------------------------ */

#define EX_STUCK_CLIENTS 5
#define EX_STUCK_STEP_MS 60
#define EX_AFTER_CLIENTS 5

typedef struct ex_ctx {
    nu_loop_t nl;
    fx_server_t s;
    nu_conn_t stuck[EX_STUCK_CLIENTS];
    nu_conn_t after[EX_AFTER_CLIENTS];
    int nstuck;
    int refused_connects; /* ior_tcp_connect said IOR_EMFILE */
    int phase;            /* 0: out of descriptors, 1: freed */
    uint64_t wall0, cpu0, wall_us, cpu_us;
    int accepted_while_stuck;
    int accept_errors_while_stuck;
} ex_ctx_t;

static ex_ctx_t *EX;

static void ex_check_done(void)
{
    int i;
    if (EX->phase != 1)
        return;
    for (i = 0; i < EX->nstuck; i++)
        if (!EX->stuck[i].lost)
            return;
    for (i = 0; i < EX_AFTER_CLIENTS; i++)
        if (!EX->after[i].lost)
            return;
    if (fx_all_lost(&EX->s))
        nu_done(EX->nl.loop);
}

static void ex_connected(nu_conn_t *c)
{
    if (c->connect_status != 0) { /* shed before it completed */
        c->lost = 1;
        ex_check_done();
        return;
    }
    assert_int_equal(ior_transport_write(c->t, "ping", 4), 0);
}

static void ex_data(nu_conn_t *c, const void *data, size_t len)
{
    (void)data;
    (void)len;
    if (c->rx == 4)
        assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

static void ex_lost(nu_conn_t *c)
{
    (void)c;
    ex_check_done();
}

static void ex_server_lost(nu_conn_t *c)
{
    (void)c;
    ex_check_done();
}

static void ex_on_accept(fx_server_t *s, nu_conn_t *c)
{
    (void)s;
    c->on_lost = ex_server_lost;
}

static void ex_client(nu_conn_t *c)
{
    c->on_connect = ex_connected;
    c->on_data = ex_data;
    c->on_lost = ex_lost;
    nu_connect(EX->nl.loop, &EX->s.addr, c, 0);
}

/* Phase 1: descriptors are back; new clients must be served. */
static void ex_free_descriptors(ior_loop_t *loop)
{
    int i;
    (void)loop;
    EX->wall_us = sp_mono_usec() - EX->wall0;
    EX->cpu_us = sp_cpu_usec() - EX->cpu0;
    EX->accepted_while_stuck = EX->s.accepted;
    EX->accept_errors_while_stuck = EX->s.accept_errors;
    sp_fd_restore();
    EX->phase = 1;
    for (i = 0; i < EX_AFTER_CLIENTS; i++)
        ex_client(&EX->after[i]);
}

/*
 * Phase 0: every EX_STUCK_STEP_MS, free one placeholder and let a client
 * take it at once, so the listener meets EMFILE on each accept.
 */
static void ex_step(ior_loop_t *loop, void *user)
{
    (void)user;
    if (EX->nstuck == EX_STUCK_CLIENTS) {
        ex_free_descriptors(loop);
        return;
    }
    assert_int_equal(sp_fd_release_one(), 0);
    ex_client(&EX->stuck[EX->nstuck++]);
    assert_int_equal(ior_call_later(loop, EX_STUCK_STEP_MS, ex_step, NULL,
                                    NULL),
                     0);
}

/* Restores the descriptor limit even when the test failed half-way. */
int fx_exhaustion_teardown(void **state)
{
    (void)state;
    sp_fd_restore();
    return 0;
}

/*
 * Out of descriptors: ior_tcp_connect fails with IOR_EMFILE, the listener
 * reports accept_error(IOR_EMFILE), and the process does not spin (CPU
 * time well under the wall time). Once descriptors are free again the same
 * listener accepts and echoes.
 */
void test_listener_survives_descriptor_exhaustion_without_spinning(
    void **state)
{
    ex_ctx_t *x = calloc(1, sizeof(*x));
    const char *why = NULL;
    nu_conn_t probe;
    int held, i;
    (void)state;
    assert_non_null(x);
    EX = x;
    nu_loop_init(&x->nl);
    fx_listen(&x->s, x->nl.loop);
    x->s.on_accept = ex_on_accept;
    /*
     * Room for one placeholder per stuck client above whatever is open:
     * how many holes lie below the highest open descriptor depends on the
     * environment that started the test (a CI runner may leave none).
     */
    held = sp_fd_exhaust(EX_STUCK_CLIENTS, &why);
    if (held < 0) {
        ior_listener_close(x->s.l);
        nu_loop_free(&x->nl);
        free(x);
        print_message("SKIP: %s\n", why);
        skip();
    }
    assert_true(held >= EX_STUCK_CLIENTS);
    memset(&probe, 0, sizeof(probe));
    assert_int_equal(nu_connect_with(x->nl.loop, &x->s.addr, &probe, 0, NULL),
                     IOR_EMFILE);
    x->wall0 = sp_mono_usec();
    x->cpu0 = sp_cpu_usec();
    assert_int_equal(ior_call_later(x->nl.loop, 0, ex_step, NULL, NULL), 0);
    nu_loop_run(&x->nl);
    print_message("exhaustion: %d placeholders, %d clients while out of "
                  "descriptors: %d accept errors (last %s), %d accepted; "
                  "CPU %llu us in %llu us wall (%.1f%%)\n",
                  held, x->nstuck, x->accept_errors_while_stuck,
                  ior_err_name(x->s.last_error), x->accepted_while_stuck,
                  (unsigned long long)x->cpu_us,
                  (unsigned long long)x->wall_us,
                  x->wall_us ? 100.0 * (double)x->cpu_us / (double)x->wall_us
                             : 0.0);
    assert_true(x->accept_errors_while_stuck >= 1);
    assert_int_equal(x->s.last_error, IOR_EMFILE);
    assert_true(x->wall_us >= (uint64_t)EX_STUCK_CLIENTS * EX_STUCK_STEP_MS *
                                  1000u * 9 / 10);
    /* A spinning loop would burn the whole interval. */
    assert_true(x->cpu_us * 3 < x->wall_us);
    for (i = 0; i < EX_AFTER_CLIENTS; i++) {
        assert_int_equal(x->after[i].connect_status, 0);
        assert_int_equal(x->after[i].rx, 4);
        assert_int_equal(x->after[i].reason, IOR_EDONE);
    }
    ior_listener_close(x->s.l);
    nu_loop_free(&x->nl);
    fx_free_conns(&x->s);
    free(x);
    EX = NULL;
}

/* --- slow peers ------------------------------------------------------------ */

#define SP_NORMAL 8
#define SP_ROUNDS 100
#define SP_MSG 64
#define SP_TRICKLE_MS 10
#define SP_FLOOD (32u << 20) /* beyond what loopback buffers both ways */
#define SP_BOUND_MS 3000

typedef struct sp_ctx {
    nu_loop_t nl;
    fx_server_t s;
    nu_conn_t idle, trickle, deaf;
    nu_conn_t normal[SP_NORMAL];
    nu_conn_t *deaf_server; /* the accepted side the deaf peer stalled */
    uint64_t trickle_tx;
    uint64_t trickle_tx_at_batch_end;
    ior_timer_id trickle_timer;
    int normal_started;
    int normal_done;
    uint64_t t0, batch_us, max_rt_us;
    uint64_t rt_start[SP_NORMAL];
    int closing;
    uint64_t deaf_tx;
    int deaf_released;
} sp_ctx_t;

static sp_ctx_t *SP;

static void sp_start_normal(void);

/* Starts the batch once every slow peer is in place. */
static void sp_maybe_start(void)
{
    if (SP->idle.connected && SP->trickle.rx >= 1 && SP->deaf_server != NULL)
        sp_start_normal();
}

/*
 * Each accepted side registers a producer that pauses its own reading:
 * an echo server that a peer which never reads can only stall, not
 * balloon. Only the deaf peer's side ever pauses before the batch.
 */
static void sp_fwd_pause(void *user)
{
    nu_conn_t *c = user;
    if (SP->deaf_server == NULL && !SP->normal_started)
        SP->deaf_server = c;
    assert_int_equal(ior_transport_pause_producing(c->t), 0);
    sp_maybe_start();
}

static void sp_fwd_resume(void *user)
{
    nu_conn_t *c = user;
    int r = ior_transport_resume_producing(c->t);
    assert_true(r == 0 || r == IOR_ENOTCONN);
}

static void sp_fwd_stop(void *user)
{
    (void)user;
}

static const ior_producer_ops_t sp_fwd = {sp_fwd_pause, sp_fwd_resume,
                                          sp_fwd_stop};

static void sp_check_done(void)
{
    int i;
    if (!SP->idle.lost || !SP->trickle.lost || !SP->deaf.lost)
        return;
    for (i = 0; i < SP_NORMAL; i++)
        if (!SP->normal[i].lost)
            return;
    if (fx_all_lost(&SP->s))
        nu_done(SP->nl.loop);
}

static void sp_lost(nu_conn_t *c)
{
    (void)c;
    sp_check_done();
}

static void sp_accept_hook(fx_server_t *s, nu_conn_t *c)
{
    (void)s;
    c->on_lost = sp_lost;
    assert_int_equal(ior_transport_register_producer(c->t, &sp_fwd, c, 1),
                     0);
}

/* --- the trickle: one byte every SP_TRICKLE_MS ------------------------ */

static void sp_trickle_tick(ior_loop_t *loop, void *user)
{
    (void)user;
    SP->trickle_timer = 0;
    if (SP->trickle.t == NULL || SP->closing)
        return;
    assert_int_equal(
        ior_transport_write(SP->trickle.t, nu_pattern(SP->trickle_tx), 1), 0);
    SP->trickle_tx++;
    assert_int_equal(ior_call_later(loop, SP_TRICKLE_MS, sp_trickle_tick,
                                    NULL, &SP->trickle_timer),
                     0);
}

/* --- closing: every slow peer gets its echo, then closes ---------------- */

static void sp_close_when_echoed(nu_conn_t *c, uint64_t tx)
{
    if (c->t != NULL && c->rx == tx &&
        !(ior_transport_state(c->t) & IOR_TS_DISCONNECTING))
        assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

static void sp_slow_data(nu_conn_t *c, const void *data, size_t len)
{
    (void)data;
    (void)len;
    if (c == &SP->trickle)
        sp_maybe_start();
    if (SP->closing)
        sp_close_when_echoed(c, c == &SP->deaf ? SP->deaf_tx
                                               : SP->trickle_tx);
}

/* The slow peers' state right after the batch: untouched by it. */
static void sp_check_slow_state(void)
{
    unsigned st;
    assert_int_equal(SP->idle.lost, 0);
    assert_int_equal(SP->idle.rx, 0);
    assert_int_equal(ior_transport_state(SP->idle.t), IOR_TS_CONNECTED);
    assert_int_equal(SP->trickle.lost, 0);
    assert_true(SP->trickle.rx <= SP->trickle_tx);
    assert_int_equal(SP->deaf.lost, 0);
    assert_int_equal(SP->deaf.rx, 0);
    assert_true(ior_transport_state(SP->deaf.t) & IOR_TS_READING_PAUSED);
    assert_true(ior_transport_buffered(SP->deaf.t) > 0);
    st = ior_transport_state(SP->deaf_server->t);
    assert_true(st & IOR_TS_READING_PAUSED);
    assert_true(st & IOR_TS_PRODUCER_PAUSED);
    assert_true(ior_transport_buffered(SP->deaf_server->t) > 0);
}

static void sp_begin_closing(void)
{
    sp_check_slow_state();
    SP->closing = 1;
    SP->trickle_tx_at_batch_end = SP->trickle_tx;
    if (SP->trickle_timer != 0)
        assert_int_equal(ior_timer_cancel(SP->nl.loop, SP->trickle_timer),
                         0);
    SP->trickle_timer = 0;
    assert_int_equal(ior_transport_lose_connection(SP->idle.t), 0);
    sp_close_when_echoed(&SP->trickle, SP->trickle_tx);
    /* The deaf peer starts reading: its whole flood comes back. */
    assert_int_equal(ior_transport_resume_producing(SP->deaf.t), 0);
}

/* --- normal clients: sequential round trips --------------------------- */

static void sp_normal_send(nu_conn_t *c)
{
    SP->rt_start[c->tag] = sp_mono_usec();
    assert_int_equal(ior_transport_write(c->t, nu_pattern(c->rx), SP_MSG), 0);
}

static void sp_normal_data(nu_conn_t *c, const void *data, size_t len)
{
    uint64_t rt;
    (void)data;
    (void)len;
    if (c->rx % SP_MSG != 0)
        return;
    rt = sp_mono_usec() - SP->rt_start[c->tag];
    if (rt > SP->max_rt_us)
        SP->max_rt_us = rt;
    if (c->rx < (uint64_t)SP_ROUNDS * SP_MSG) {
        sp_normal_send(c);
        return;
    }
    assert_int_equal(ior_transport_lose_connection(c->t), 0);
    if (++SP->normal_done == SP_NORMAL) {
        SP->batch_us = sp_mono_usec() - SP->t0;
        sp_begin_closing();
    }
}

static void sp_normal_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_set_nodelay(c->t, 1), 0);
    sp_normal_send(c);
}

static void sp_start_normal(void)
{
    int i;
    if (SP->normal_started)
        return;
    SP->normal_started = 1;
    SP->t0 = sp_mono_usec();
    for (i = 0; i < SP_NORMAL; i++) {
        nu_conn_t *c = &SP->normal[i];
        c->tag = i;
        c->on_connect = sp_normal_connected;
        c->on_data = sp_normal_data;
        c->on_lost = sp_lost;
        nu_connect(SP->nl.loop, &SP->s.addr, c, 0);
    }
}

/* --- the slow clients ------------------------------------------------------ */

static void sp_idle_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    sp_maybe_start();
}

static void sp_trickle_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    sp_trickle_tick(c->loop, NULL);
}

static void sp_release(void *ctx, const void *base, size_t len)
{
    (void)base;
    (void)len;
    ((sp_ctx_t *)ctx)->deaf_released++;
}

/* The deaf client stops reading, then floods (zero-copy from the pattern). */
static void sp_deaf_connected(nu_conn_t *c)
{
    uint64_t off = 0;
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_pause_producing(c->t), 0);
    while (off < SP_FLOOD) {
        assert_int_equal(ior_transport_write_ref(c->t, nu_pattern(off),
                                                 NU_PATTERN_MAX, sp_release,
                                                 SP),
                         0);
        off += NU_PATTERN_MAX;
    }
    SP->deaf_tx = off;
}

static void sp_slow_client(nu_conn_t *c, void (*on_connect)(nu_conn_t *))
{
    c->on_connect = on_connect;
    c->on_data = sp_slow_data;
    c->on_lost = sp_lost;
    nu_connect(SP->nl.loop, &SP->s.addr, c, 0);
}

/*
 * A peer that never sends, one that sends a byte every 10 ms and one that
 * never reads (its server side stalls and pauses) do not slow 8 x 100
 * echo round trips of other clients; afterwards the slow peers are as they
 * were and each still gets its whole echo, in order.
 */
void test_slow_peers_do_not_delay_other_connections(void **state)
{
    sp_ctx_t *x = calloc(1, sizeof(*x));
    uint64_t bound_us = (uint64_t)SP_BOUND_MS * 1000u *
                        (nu_watchdog_ms() / NU_WATCHDOG_MS);
    int i;
    (void)state;
    assert_non_null(x);
    SP = x;
    nu_loop_init(&x->nl);
    fx_listen(&x->s, x->nl.loop);
    x->s.on_accept = sp_accept_hook;
    sp_slow_client(&x->idle, sp_idle_connected);
    sp_slow_client(&x->trickle, sp_trickle_connected);
    sp_slow_client(&x->deaf, sp_deaf_connected);
    nu_loop_run(&x->nl);
    print_message("slow peers: %d x %d round trips of %d bytes in %llu us "
                  "(slowest %llu us, bound %llu us); trickle sent %llu "
                  "bytes during the batch; the deaf peer's %u MiB came back "
                  "whole\n",
                  SP_NORMAL, SP_ROUNDS, SP_MSG,
                  (unsigned long long)x->batch_us,
                  (unsigned long long)x->max_rt_us,
                  (unsigned long long)bound_us,
                  (unsigned long long)x->trickle_tx_at_batch_end,
                  SP_FLOOD >> 20);
    assert_true(x->batch_us < bound_us);
    for (i = 0; i < SP_NORMAL; i++) {
        assert_int_equal(x->normal[i].rx, (uint64_t)SP_ROUNDS * SP_MSG);
        assert_int_equal(x->normal[i].reason, IOR_EDONE);
    }
    assert_int_equal(x->trickle.rx, x->trickle_tx);
    assert_true(x->trickle.rx_hash == nu_pattern_hash(x->trickle_tx));
    assert_int_equal(x->deaf.rx, x->deaf_tx);
    assert_true(x->deaf.rx_hash == nu_pattern_hash(x->deaf_tx));
    assert_int_equal(x->deaf_released, (int)(SP_FLOOD / NU_PATTERN_MAX));
    assert_int_equal(x->idle.reason, IOR_EDONE);
    ior_listener_close(x->s.l);
    nu_loop_free(&x->nl);
    fx_free_conns(&x->s);
    free(x);
    SP = NULL;
}
