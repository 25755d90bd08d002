/*
 * DESIGN rule 12: every callback may call any transport function and may
 * free its own state once told it is stopped or lost. No use-after-free
 * (run under ASan and valgrind), no callback after connection_lost (the
 * harness asserts it), no lost byte.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static void abort_in_data(tproto_t *p, const void *d, size_t n)
{
    (void)d;
    (void)n;
    assert_int_equal(ior_transport_abort_connection(p->t), 0);
}

/* rule 12: abort_connection from inside data_received: no more
 * data_received (nor the EOF), one connection_lost(IOR_EABORTED). */
static void test_abort_inside_data_received(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.p[0].on_data = abort_in_data;
    ior__core_read(t, "first", 5);
    ior__core_read(t, "second", 6);
    ior__core_read_eof(t);
    run_pending();
    assert_received(&E.p[0], "first", 5);
    assert_int_equal(E.p[0].n_read_lost, 0);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EABORTED);
    assert_int_equal(E.p[0].rec->last_abort, 1);
}

/* rule 12: abort inside data_received while held data is delivered: the
 * held EOF is not delivered. */
static void test_abort_inside_held_delivery(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    ior_transport_pause_producing(t);
    ior__core_read(t, "held", 4);
    ior__core_read_eof(t);
    E.p[0].on_data = abort_in_data;
    ior_transport_resume_producing(t);
    run_pending();
    run_pending();
    assert_received(&E.p[0], "held", 4);
    assert_int_equal(E.p[0].n_read_lost, 0);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EABORTED);
}

static void echo(tproto_t *p, const void *d, size_t n)
{
    assert_int_equal(ior_transport_write(p->t, d, n), 0);
}

/* rule 12: write from inside data_received (an echo): no byte lost. */
static void test_write_inside_data_received(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.p[0].on_data = echo;
    ior__core_read(t, "ping ", 5);
    fake_accept(t, 2);
    ior__core_read(t, "pong", 4);
    while (ior_transport_buffered(t) > 0)
        fake_accept(t, 3);
    assert_sent(E.p[0].rec, "ping pong", 9);
}

static void lose_in_data(tproto_t *p, const void *d, size_t n)
{
    echo(p, d, n);
    assert_int_equal(ior_transport_lose_connection(p->t), 0);
}

/* rule 12: lose_connection from inside data_received: the reply written
 * first is still sent; later reads are not delivered. */
static void test_lose_inside_data_received(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.p[0].on_data = lose_in_data;
    ior__core_read(t, "quit", 4);
    ior__core_read(t, "ignored", 7);
    fake_accept(t, 4);
    run_pending();
    run_pending();
    assert_received(&E.p[0], "quit", 4);
    assert_sent(E.p[0].rec, "quit", 4);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
}

static void everything_in_lost(tproto_t *p, int reason)
{
    ior_buf_t b = {"s", 1};
    (void)reason;
    assert_int_equal(ior_transport_write(p->t, "w", 1), IOR_ENOTCONN);
    assert_int_equal(ior_transport_write_sequence(p->t, &b, 1),
                     IOR_ENOTCONN);
    assert_int_equal(ior_transport_lose_connection(p->t), IOR_ENOTCONN);
    assert_int_equal(ior_transport_abort_connection(p->t), 0);
    assert_int_equal(ior_transport_unregister_producer(p->t), IOR_ENOENT);
    assert_int_equal(ior_transport_pause_producing(p->t), IOR_ENOTCONN);
    assert_int_equal(ior_transport_stop_consuming(p->t), IOR_ENOTCONN);
    assert_int_equal(ior_transport_buffered(p->t), 0);
    /* The protocol frees its own state: ASan sees any later use. */
    free(p->ctx);
    p->ctx = NULL;
}

/* rule 12: inside connection_lost every transport call is safe and none
 * brings a second callback; the protocol may free its state there. */
static void test_any_call_inside_connection_lost(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.p[0].ctx = malloc(64);
    E.p[0].on_lost = everything_in_lost;
    ior_transport_write(t, "queued", 6);
    ior__core_error(t, IOR_EPIPE, 32);
    run_pending();
    run_pending();
    env_free_loop();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_null(E.p[0].ctx);
}

static void free_self_on_stop(tprod_t *r)
{
    /* Unregistering a producer the core has already forgotten is
     * harmless whatever it returns. */
    (void)ior_transport_unregister_producer(r->t);
    free(r);
}

/* rule 12: a producer may free itself in stop_producing; the core never
 * calls it again. */
static void test_producer_frees_itself_in_stop(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    tprod_t *r = calloc(1, sizeof(*r));
    (void)state;
    assert_non_null(r);
    r->t = t;
    r->on_stop = free_self_on_stop;
    ior_transport_set_buffer_size(t, 2);
    ior_transport_register_producer(t, &tprod_ops, r, 1);
    ior_transport_write(t, "12345", 5);
    ior_transport_abort_connection(t);
    run_pending();
    env_free_loop();
    assert_int_equal(E.p[0].n_lost, 1);
}

static void abort_in_pause(tprod_t *r)
{
    assert_int_equal(ior_transport_abort_connection(r->t), 0);
}

/* rule 12: abort from inside pause_producing (called inside write): the
 * borrowed bytes are released once, connection_lost once, no resume. */
static void test_abort_inside_pause_producing(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.r[0].t = t;
    E.r[0].on_pause = abort_in_pause;
    ior_transport_set_buffer_size(t, 2);
    ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1);
    (void)ior_transport_write_ref(t, "12345", 5, trel_cb, &E.rel[0]);
    assert_int_equal(E.r[0].n_pause, 1);
    assert_int_equal(E.rel[0].n, 0); /* never inside the write */
    run_pending();
    env_free_loop();
    assert_int_equal(E.rel[0].n, 1);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.r[0].n_resume, 0);
    assert_int_equal(E.r[0].n_stop, 1);
}

static void swap_producer(tprod_t *r)
{
    if (r->budget-- <= 0)
        return;
    assert_int_equal(ior_transport_unregister_producer(r->t), 0);
    assert_int_equal(
        ior_transport_register_producer(r->t, &tprod_pull_ops, &E.r[1], 0),
        0);
}

/* rule 12: unregister and register a new producer from inside
 * resume_producing: the new pull producer is resumed at once, the old one
 * is never called again. */
static void test_swap_producer_inside_resume(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.r[0].t = E.r[1].t = t;
    E.r[0].budget = 1;
    E.r[0].on_resume = swap_producer;
    ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0);
    assert_int_equal(E.r[0].n_resume, 1);
    assert_int_equal(E.r[1].n_resume, 1);
    fake_accept(t, 0);
    assert_int_equal(E.r[0].n_resume, 1);
    assert_int_equal(E.r[1].n_resume, 2);
    env_free_loop();
    assert_int_equal(E.r[0].n_stop, 0);
    assert_int_equal(E.r[1].n_stop, 1);
}

static void finish_in_resume(tprod_t *r)
{
    assert_int_equal(ior_transport_write(r->t, "end", 3), 0);
    assert_int_equal(ior_transport_unregister_producer(r->t), 0);
    assert_int_equal(ior_transport_lose_connection(r->t), 0);
}

/* rule 12: a pull producer that writes its last bytes, unregisters and
 * loses the connection from inside resume_producing: the bytes are sent,
 * then the connection closes (done). */
static void test_lose_inside_resume_producing(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.r[0].t = t;
    E.r[0].on_resume = finish_in_resume;
    ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0);
    fake_accept(t, 3);
    run_pending();
    run_pending();
    assert_sent(E.p[0].rec, "end", 3);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_int_equal(E.r[0].n_stop, 0);
}

static void abort_other(tproto_t *p, const void *d, size_t n)
{
    (void)d;
    (void)n;
    assert_int_equal(ior_transport_abort_connection(p->ctx), 0);
}

static void write_in_write_lost(tproto_t *p)
{
    assert_int_equal(ior_transport_write(p->t, "x", 1), IOR_ESHUTDOWN);
    assert_int_equal(ior_transport_abort_connection(p->t), 0);
}

/* rule 12: a callback may act on another transport (abort it from
 * data_received), and on its own from write_connection_lost. */
static void test_callbacks_acting_on_other_transports(void **state)
{
    ior_transport_t *a = env_open(0, &tproto_aware_ops);
    ior_transport_t *b = env_open(1, &tproto_aware_ops);
    ior_transport_t *c = env_open(2, &tproto_aware_ops);
    (void)state;
    E.p[0].ctx = c;
    E.p[0].on_data = abort_other;
    E.p[1].on_write_lost = write_in_write_lost;
    ior_transport_lose_write_connection(b);
    run_pending(); /* b: drain, half-close, abort from write_lost */
    ior__core_read(a, "kill c", 6);
    run_pending();
    run_pending();
    assert_int_equal(E.p[1].n_write_lost, 1);
    assert_int_equal(E.p[1].n_lost, 1);
    assert_int_equal(E.p[1].reason, IOR_EABORTED);
    assert_int_equal(E.p[2].n_lost, 1);
    assert_int_equal(E.p[2].reason, IOR_EABORTED);
    assert_int_equal(E.p[0].n_lost, 0);
}

static void act_in_stop(tprod_t *r)
{
    assert_int_equal(ior_transport_write(r->t, "late", 4), IOR_ENOTCONN);
    assert_int_equal(
        ior_transport_write_ref(r->t, "late", 4, trel_cb, &E.rel[0]),
        IOR_ENOTCONN);
    assert_int_equal(ior_transport_abort_connection(r->t), 0);
    assert_int_equal(
        ior_transport_register_producer(r->t, &tprod_ops, &E.r[1], 1), 0);
}

/* rule 12: inside stop_producing (during the close) writes are refused
 * with nothing queued, abort is harmless, and a producer registered there
 * is stopped at once. */
static void test_calls_inside_stop_producing(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.r[0].t = E.r[1].t = t;
    E.r[0].on_stop = act_in_stop;
    ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1);
    ior_transport_write(t, "q", 1);
    ior__core_error(t, IOR_ECONNRESET, 104);
    run_pending();
    run_pending();
    env_free_loop();
    assert_int_equal(E.r[0].n_stop, 1);
    assert_int_equal(E.r[1].n_stop, 1);
    assert_int_equal(E.rel[0].n, 0);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_ECONNRESET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_abort_inside_data_received),
        ENV_TEST(test_abort_inside_held_delivery),
        ENV_TEST(test_write_inside_data_received),
        ENV_TEST(test_lose_inside_data_received),
        ENV_TEST(test_any_call_inside_connection_lost),
        ENV_TEST(test_producer_frees_itself_in_stop),
        ENV_TEST(test_abort_inside_pause_producing),
        ENV_TEST(test_swap_producer_inside_resume),
        ENV_TEST(test_lose_inside_resume_producing),
        ENV_TEST(test_callbacks_acting_on_other_transports),
        ENV_TEST(test_calls_inside_stop_producing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
