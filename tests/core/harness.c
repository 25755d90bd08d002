/*
 * Shared fixtures for the core tests (see harness.h).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

env_t E;

/* ------------------------------------------------------------------ */
/* Protocol                                                            */
/* ------------------------------------------------------------------ */

static void tp_data(ior_transport_t *t, void *user, const void *data,
                    size_t len)
{
    tproto_t *p = user;
    assert_ptr_equal(t, p->t);
    /* Rule 11: never zero bytes. */
    assert_true(len > 0);
    assert_int_equal(p->n_lost, 0);
    assert_true(p->rx_len + len <= RX_CAP);
    memcpy(p->rx + p->rx_len, data, len);
    p->rx_len += len;
    p->n_data++;
    fake_log("data");
    if (p->on_data != NULL)
        p->on_data(p, data, len);
}

static void tp_read_lost(ior_transport_t *t, void *user)
{
    tproto_t *p = user;
    assert_ptr_equal(t, p->t);
    assert_int_equal(p->n_lost, 0);
    p->n_read_lost++;
    fake_log("read_lost");
    if (p->on_read_lost != NULL)
        p->on_read_lost(p);
}

static void tp_write_lost(ior_transport_t *t, void *user)
{
    tproto_t *p = user;
    assert_ptr_equal(t, p->t);
    assert_int_equal(p->n_lost, 0);
    p->n_write_lost++;
    fake_log("write_lost");
    if (p->on_write_lost != NULL)
        p->on_write_lost(p);
}

static void tp_lost(ior_transport_t *t, void *user, int reason)
{
    tproto_t *p = user;
    char ev[64];
    assert_ptr_equal(t, p->t);
    p->n_lost++;
    p->reason = reason;
    p->os_error_at_lost = ior_transport_os_error(t);
    p->state_at_lost = ior_transport_state(t);
    snprintf(ev, sizeof(ev), "lost:%s", ior_err_name(reason));
    fake_log(ev);
    if (p->on_lost != NULL)
        p->on_lost(p, reason);
}

const ior_protocol_ops_t tproto_aware_ops = {tp_data, tp_read_lost,
                                             tp_write_lost, tp_lost};
const ior_protocol_ops_t tproto_plain_ops = {tp_data, NULL, tp_write_lost,
                                             tp_lost};

/* ------------------------------------------------------------------ */
/* Producer                                                            */
/* ------------------------------------------------------------------ */

static void pr_pause(void *user)
{
    tprod_t *r = user;
    r->n_pause++;
    fake_log("pause");
    if (r->on_pause != NULL)
        r->on_pause(r);
}

static void pr_resume(void *user)
{
    tprod_t *r = user;
    r->n_resume++;
    if (r->t != NULL)
        r->state_at_resume = ior_transport_state(r->t);
    fake_log("resume");
    if (r->on_resume != NULL)
        r->on_resume(r);
}

static void pr_stop(void *user)
{
    tprod_t *r = user;
    r->n_stop++;
    fake_log("stop");
    if (r->on_stop != NULL)
        r->on_stop(r);
}

const ior_producer_ops_t tprod_ops = {pr_pause, pr_resume, pr_stop};
const ior_producer_ops_t tprod_pull_ops = {NULL, pr_resume, pr_stop};

void trel_cb(void *ctx, const void *base, size_t len)
{
    trel_t *r = ctx;
    r->n++;
    r->bytes += len;
    r->last_base = base;
    fake_log("release");
}

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */
/* ------------------------------------------------------------------ */

int env_setup(void **state)
{
    int i;
    (void)state;
    alloc_install();
    fake_reset();
    memset(&E, 0, sizeof(E));
    for (i = 0; i < NPROTO; i++) {
        E.p[i].rx = malloc(RX_CAP);
        if (E.p[i].rx == NULL)
            return -1;
    }
    fake_set_now(1000);
    if (ior_loop_new(&E.loop, NULL) != 0)
        return -1;
    return 0;
}

void env_free_loop(void)
{
    if (E.loop != NULL) {
        assert_int_equal(ior_loop_free(E.loop), 0);
        E.loop = NULL;
    }
}

int env_teardown(void **state)
{
    int leaked, i;
    (void)state;
    env_free_loop();
    for (i = 0; i < NPROTO; i++) {
        free(E.p[i].rx);
        E.p[i].rx = NULL;
    }
    leaked = (int)alloc_live();
    fake_cleanup();
    alloc_uninstall();
    if (leaked != 0)
        fprintf(stderr, "teardown: %d allocation(s) leaked\n", leaked);
    if (fake_violations() != 0)
        fprintf(stderr, "teardown: %d seam violation(s)\n",
                fake_violations());
    /* cmocka reports a failing teardown as a failed test. */
    return leaked != 0 || fake_violations() != 0 ? -1 : 0;
}

ior_transport_t *env_open(int i, const ior_protocol_ops_t *ops)
{
    tproto_t *p = &E.p[i];
    ior_transport_t *t = fake_transport_new(E.loop);
    assert_non_null(t);
    p->t = t;
    p->rec = fake_rec(t);
    assert_int_equal(ior_transport_set_protocol(t, ops, p), 0);
    ior__transport_begin(t);
    return t;
}

void run_pending(void)
{
    ior__loop_run_pending(E.loop);
}

void assert_sent(const fake_rec_t *rec, const void *exp, size_t n)
{
    assert_int_equal(rec->sent_len, n);
    if (n > 0)
        assert_memory_equal(rec->sent, exp, n);
}

void assert_received(const tproto_t *p, const void *exp, size_t n)
{
    assert_int_equal(p->rx_len, n);
    if (n > 0)
        assert_memory_equal(p->rx, exp, n);
}
