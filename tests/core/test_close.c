/*
 * DESIGN rules 6-9: lose_connection, lose_write_connection,
 * abort_connection and connection_lost (exactly once, in order, deferred).
 */
#include "harness.h"

#include <string.h>

/* Runs the pending list until p has seen connection_lost (at most n). */
static void pending_until_lost(tproto_t *p, int n)
{
    while (n-- > 0 && p->n_lost == 0)
        run_pending();
}

/* rule 6: lose_connection stops reading, asks start_writing, marks
 * disconnecting, and closes only after the queue drained (reason done,
 * a graceful close, the transport freed once). */
static void test_lose_connection_closes_after_drain(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    ior_transport_write(t, "data", 4);
    fake_log_clear();
    assert_int_equal(ior_transport_lose_connection(t), 0);
    assert_string_equal(fake_log_only("stop_reading lost"), "stop_reading");
    assert_true(HAS(t, IOR_TS_DISCONNECTING | IOR_TS_CONNECTED));
    run_pending();
    run_pending();
    assert_int_equal(E.p[0].n_lost, 0);
    fake_accept(t, 4);
    assert_int_equal(E.p[0].n_lost, 0);
    pending_until_lost(&E.p[0], 3);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_int_equal(rec->closes, 1);
    assert_int_equal(rec->last_abort, 0);
    assert_int_equal(rec->frees, 1);
    assert_sent(rec, "data", 4);
}

/* rule 6: with an empty queue, start_writing is asked and the close comes
 * from the drain it leads to, never from inside lose_connection. */
static void test_lose_connection_with_empty_queue_closes_on_next_drain(
    void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    ior_transport_t *u = env_open(1, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    assert_int_equal(ior_transport_lose_connection(t), 0);
    assert_int_equal(E.p[0].n_lost, 0);
    assert_int_equal(rec->start_writing, 1);
    pending_until_lost(&E.p[0], 3); /* the deferred drain */
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_int_equal(rec->last_abort, 0);
    /* The same through a completion with nothing written. */
    assert_int_equal(ior_transport_lose_connection(u), 0);
    fake_accept(u, 0);
    assert_int_equal(E.p[1].n_lost, 0);
    pending_until_lost(&E.p[1], 3);
    assert_int_equal(E.p[1].n_lost, 1);
    assert_int_equal(E.p[1].reason, IOR_EDONE);
}

static void lose_in_lost(tproto_t *p, int reason)
{
    (void)reason;
    assert_int_equal(ior_transport_lose_connection(p->t), IOR_ENOTCONN);
    assert_int_equal(ior_transport_lose_write_connection(p->t),
                     IOR_ENOTCONN);
    assert_int_equal(ior_transport_abort_connection(p->t), 0);
}

/* rule 6: repeated lose_connection returns 0; once lost, IOR_ENOTCONN. */
static void test_lose_connection_repeated_and_after_lost(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.p[0].on_lost = lose_in_lost;
    assert_int_equal(ior_transport_lose_connection(t), 0);
    assert_int_equal(ior_transport_lose_connection(t), 0);
    assert_int_equal(ior_transport_lose_connection(NULL), IOR_EINVAL);
    pending_until_lost(&E.p[0], 3);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
}

/* rule 6: when the write side is already closed, lose_connection closes
 * now: no further drain is needed. */
static void test_lose_connection_after_half_close_closes_now(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    int sw;
    (void)state;
    ior_transport_lose_write_connection(t);
    pending_until_lost(&E.p[0], 2);
    assert_true(HAS(t, IOR_TS_WRITE_DISCONNECTED));
    sw = rec->start_writing;
    assert_int_equal(ior_transport_lose_connection(t), 0);
    assert_int_equal(E.p[0].n_lost, 0);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_int_equal(rec->start_writing, sw);
}

/* rule 7: lose_write_connection half-closes once the queue drained;
 * reading continues; repeated calls return 0. */
static void test_lose_write_connection_half_closes_after_drain(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    ior_transport_write(t, "last words", 10);
    assert_int_equal(ior_transport_lose_write_connection(t), 0);
    assert_int_equal(ior_transport_lose_write_connection(t), 0);
    assert_true(HAS(t, IOR_TS_WRITE_DISCONNECTING));
    run_pending();
    assert_int_equal(rec->shutdown_write, 0);
    ior__core_read(t, "still", 5);
    fake_accept(t, 10);
    run_pending();
    assert_int_equal(rec->shutdown_write, 1);
    assert_int_equal(E.p[0].n_write_lost, 1);
    assert_true(HAS(t, IOR_TS_WRITE_DISCONNECTED | IOR_TS_CONNECTED));
    ior__core_read(t, " open", 5);
    assert_received(&E.p[0], "still open", 10);
    assert_sent(rec, "last words", 10);
    assert_int_equal(E.p[0].n_lost, 0);
}

/* rule 7 and 11: after our half-close, the peer's EOF (half-close aware
 * protocol) leaves both directions closed: the transport closes (done). */
static void test_half_close_then_eof_closes_done(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    ior_transport_lose_write_connection(t);
    pending_until_lost(&E.p[0], 2);
    assert_int_equal(E.p[0].n_write_lost, 1);
    ior__core_read_eof(t);
    assert_int_equal(E.p[0].n_read_lost, 1);
    assert_int_equal(E.p[0].n_lost, 0);
    pending_until_lost(&E.p[0], 3);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
}

/* rule 8: abort discards the queue (releases run from the loop, before
 * connection_lost), resets the connection and reports IOR_EABORTED, all
 * deferred; repeated aborts return 0; nothing is sent. */
static void test_abort_discards_queue_and_reports_aborted(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    ior_transport_write_ref(t, "one", 3, trel_cb, &E.rel[0]);
    ior_transport_write(t, "two", 3);
    ior_transport_write_ref(t, "three", 5, trel_cb, &E.rel[1]);
    fake_log_clear();
    assert_int_equal(ior_transport_abort_connection(t), 0);
    assert_int_equal(ior_transport_abort_connection(t), 0);
    assert_int_equal(ior_transport_abort_connection(NULL), IOR_EINVAL);
    assert_int_equal(E.rel[0].n + E.rel[1].n + E.p[0].n_lost, 0);
    run_pending();
    assert_log_only("release lost close_abort close free",
                    "close_abort release release lost:EABORTED free");
    assert_int_equal(E.rel[0].n, 1);
    assert_int_equal(E.rel[1].n, 1);
    assert_int_equal(rec->sent_len, 0);
    assert_int_equal(ior_transport_abort_connection(NULL), IOR_EINVAL);
}

/* rule 8: no data_received once abort_connection has returned. */
static void test_abort_stops_data_received(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    ior__core_read(t, "a", 1);
    ior_transport_abort_connection(t);
    ior__core_read(t, "b", 1);
    ior__core_read_eof(t);
    run_pending();
    assert_received(&E.p[0], "a", 1);
    assert_int_equal(E.p[0].n_read_lost, 0);
    assert_int_equal(E.p[0].n_lost, 1);
}

/* Release order: each callback appends its buffer's first byte. */
static char rel_order[8];
static size_t rel_order_n;

static void order_cb(void *ctx, const void *base, size_t len)
{
    (void)len;
    trel_cb(ctx, base, len);
    if (rel_order_n < sizeof(rel_order) - 1)
        rel_order[rel_order_n++] = *(const char *)base;
}

/* rule 8 and 9: a send in flight when the close runs holds connection_lost
 * back until the OS gives its chunks back; the chunks behind it wait too,
 * so every release callback runs in the order written (libuv keeps that
 * order: test-tcp-write-queue-order), all before connection_lost. */
static void test_abort_waits_for_send_in_flight(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    rel_order_n = 0;
    memset(rel_order, 0, sizeof(rel_order));
    ior_transport_write_ref(t, "flying", 6, order_cb, &E.rel[0]);
    assert_int_equal(fake_send_begin(t), 6);
    ior_transport_write_ref(t, "queued", 6, order_cb, &E.rel[1]);
    ior_transport_abort_connection(t);
    run_pending();
    run_pending();
    assert_int_equal(rec->closes, 1);
    assert_int_equal(rec->last_abort, 1);
    assert_int_equal(E.rel[0].n, 0); /* the OS still holds it */
    assert_int_equal(E.rel[1].n, 0); /* written after it: waits its turn */
    assert_int_equal(E.p[0].n_lost, 0);
    assert_int_equal(rec->frees, 0);
    fake_log_clear();
    fake_send_end(t, 0); /* the cancelled completion */
    pending_until_lost(&E.p[0], 3);
    assert_log_only("release lost free",
                    "release release lost:EABORTED free");
    assert_string_equal(rel_order, "fq");
    assert_int_equal(E.rel[0].n, 1);
    assert_int_equal(E.rel[1].n, 1);
}

/* rule 8: abort while a graceful close is pending still aborts. */
static void test_abort_while_disconnecting(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    ior_transport_write(t, "pending", 7);
    ior_transport_lose_connection(t);
    ior_transport_abort_connection(t);
    pending_until_lost(&E.p[0], 3);
    assert_int_equal(E.p[0].reason, IOR_EABORTED);
    assert_int_equal(rec->last_abort, 1);
    assert_int_equal(rec->sent_len, 0);
}

/* rule 9: connection_lost comes after: flags set, stop_producing, the
 * handle closed (reading and writing stopped), the queue released; the
 * transport is freed once, after connection_lost returns. */
static void test_connection_lost_order(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.r[0].t = t;
    ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1);
    ior_transport_write_ref(t, "x", 1, trel_cb, &E.rel[0]);
    ior_transport_abort_connection(t);
    fake_log_clear();
    run_pending();
    assert_log_only("stop close close_abort release lost free",
                    "stop close_abort release lost:EABORTED free");
    assert_true(E.p[0].state_at_lost & IOR_TS_DISCONNECTED);
    assert_false(E.p[0].state_at_lost & IOR_TS_CONNECTED);
    assert_false(E.p[0].state_at_lost & IOR_TS_PRODUCER);
    assert_int_equal(fake_rec_at(0)->frees, 1);
    env_free_loop();
    assert_int_equal(E.r[0].n_stop, 1);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(fake_rec_at(0)->frees, 1);
}

/* rule 9: however many ways it is closed at once, connection_lost happens
 * exactly once, with the reason of the first. */
static void test_connection_lost_exactly_once(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    ior_transport_write(t, "q", 1);
    ior__core_error(t, IOR_ECONNRESET, 104);
    ior__core_error(t, IOR_EPIPE, 32);
    ior_transport_lose_connection(t);
    ior_transport_abort_connection(t);
    ior__core_read_eof(t);
    pending_until_lost(&E.p[0], 3);
    run_pending();
    env_free_loop();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_ECONNRESET);
    assert_int_equal(E.p[0].os_error_at_lost, 104);
    assert_int_equal(fake_rec_at(0)->frees, 1);
}

static void count_release(trel_t *r, int exp) { assert_int_equal(r->n, exp); }

/* Every release callback runs exactly once: sent, partly sent, in flight,
 * queued, on abort, on an error close and on ior_loop_free. */
static void test_every_release_runs_exactly_once(void **state)
{
    ior_transport_t *a = env_open(0, &tproto_aware_ops);
    ior_transport_t *b = env_open(1, &tproto_aware_ops);
    ior_transport_t *c = env_open(2, &tproto_aware_ops);
    int i;
    (void)state;
    for (i = 0; i < 3; i++) {
        ior_transport_t *t = i == 0 ? a : i == 1 ? b : c;
        ior_transport_write_ref(t, "sent", 4, trel_cb, &E.rel[0]);
        ior_transport_write_ref(t, "partial", 7, trel_cb, &E.rel[1 + i]);
        fake_accept(t, 6);
        ior_transport_write_ref(t, "queued", 6, trel_cb, &E.rel[4 + i]);
    }
    fake_send_begin(c); /* c has a send in flight */
    ior_transport_abort_connection(a);
    ior__core_error(b, IOR_ECONNRESET, 104);
    run_pending();
    count_release(&E.rel[0], 3);
    count_release(&E.rel[1], 1);
    count_release(&E.rel[2], 1);
    count_release(&E.rel[4], 1);
    count_release(&E.rel[5], 1);
    count_release(&E.rel[3], 0);
    env_free_loop(); /* c: the fake completes the cancelled send */
    for (i = 1; i < 7; i++)
        count_release(&E.rel[i], 1);
    assert_int_equal(E.p[2].n_lost, 1);
    assert_int_equal(E.p[2].reason, IOR_EABORTED);
}

/* rule 8: once abort_connection has returned, no queued byte is handed to
 * the OS any more (the queue is discarded, not flushed), and no producer
 * callback but stop_producing runs, even if a completion drains first. */
static void test_abort_hands_nothing_more_to_the_os(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    E.r[0].t = t;
    ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0);
    ior_transport_write(t, "never sent", 10);
    ior_transport_abort_connection(t);
    assert_int_equal(fake_accept(t, 100), 0);
    run_pending();
    assert_int_equal(rec->sent_len, 0);
    assert_int_equal(E.r[0].n_resume, 1); /* only the one at register */
    assert_int_equal(E.r[0].n_stop, 1);
    assert_int_equal(E.p[0].n_lost, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_lose_connection_closes_after_drain),
        ENV_TEST(test_lose_connection_with_empty_queue_closes_on_next_drain),
        ENV_TEST(test_lose_connection_repeated_and_after_lost),
        ENV_TEST(test_lose_connection_after_half_close_closes_now),
        ENV_TEST(test_lose_write_connection_half_closes_after_drain),
        ENV_TEST(test_half_close_then_eof_closes_done),
        ENV_TEST(test_abort_discards_queue_and_reports_aborted),
        ENV_TEST(test_abort_stops_data_received),
        ENV_TEST(test_abort_waits_for_send_in_flight),
        ENV_TEST(test_abort_while_disconnecting),
        ENV_TEST(test_connection_lost_order),
        ENV_TEST(test_connection_lost_exactly_once),
        ENV_TEST(test_every_release_runs_exactly_once),
        ENV_TEST(test_abort_hands_nothing_more_to_the_os),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
