/*
 * Producers across the life of a transport (issue 11, defects 1, 2, 4):
 * a pull producer registered after a direct write is still resumed by its
 * drain (rule 3); a transport registered as another's producer is
 * unlinked whichever of the two goes first (rule 5); EOF to a protocol
 * without read_connection_lost stops and forgets the producer, sends what
 * is queued and closes with IOR_EDONE (rule 11).
 */
#include "harness.h"

#include <string.h>

/* rule 3: the OS took the whole write at once (direct path); the drain is
 * still reported from the loop, so a pull producer registered after the
 * write is resumed by it, not only by its registration (Twisted's
 * test_resumeProducingAbort hangs without that second resume). */
static void test_direct_write_drain_resumes_later_pull_producer(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    E.r[0].t = t;
    rec->direct = 8;
    assert_int_equal(ior_transport_write(t, "12345678", 8), 0);
    assert_sent(rec, "12345678", 8);
    assert_int_equal(ior_transport_buffered(t), 0);
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0), 0);
    assert_int_equal(E.r[0].n_resume, 1); /* at registration */
    run_pending();
    assert_int_equal(E.r[0].n_resume, 2); /* the drain of the direct write */
    assert_int_equal(ior_transport_unregister_producer(t), 0);
}

/* rule 3: with nobody registered, the drain of a direct write still comes
 * from the loop and tells nobody; nothing is left pending after it. */
static void test_direct_write_without_producer_reports_nothing(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    rec->direct = 3;
    assert_int_equal(ior_transport_write(t, "abc", 3), 0);
    run_pending();
    assert_sent(rec, "abc", 3);
    assert_null(E.loop->pending_head);
    assert_int_equal(E.p[0].n_lost, 0);
}

static void forward_to(tproto_t *p, const void *d, size_t n)
{
    assert_int_equal(ior_transport_write((ior_transport_t *)p->ctx, d, n), 0);
}

/* rule 5: the producer transport goes first (a relay's inbound side is
 * aborted): its consumer forgets it before its connection_lost, so later
 * writes to the consumer never touch the freed producer. */
static void test_lost_producer_transport_unregisters_itself(void **state)
{
    ior_transport_t *in = env_open(0, &tproto_aware_ops);
    ior_transport_t *out = env_open(1, &tproto_aware_ops);
    static char big[64];
    (void)state;
    memset(big, 'x', sizeof(big));
    E.p[0].ctx = out;
    E.p[0].on_data = forward_to;
    ior_transport_set_buffer_size(out, 4);
    assert_int_equal(ior_transport_register_producer(
                         out, &ior_transport_producer_ops, in, 1),
                     0);
    assert_int_equal(ior_transport_abort_connection(in), 0);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EABORTED);
    assert_false(HAS(out, IOR_TS_PRODUCER));
    /* Over the mark: with the link left, this paused the freed "in". */
    assert_int_equal(ior_transport_write(out, big, sizeof(big)), 0);
    fake_accept(out, sizeof(big));
    run_pending();
    assert_int_equal(E.p[1].n_lost, 0);
    assert_int_equal(ior_transport_abort_connection(out), 0);
    run_pending();
    assert_int_equal(E.p[1].n_lost, 1);
}

/* rule 5: the consumer goes first: it stops its producer (rule 9), which
 * forgets it; the producer may then be registered with another consumer. */
static void test_lost_consumer_releases_its_producer_transport(void **state)
{
    ior_transport_t *in = env_open(0, &tproto_aware_ops);
    ior_transport_t *out = env_open(1, &tproto_aware_ops);
    ior_transport_t *out2 = env_open(2, &tproto_aware_ops);
    (void)state;
    assert_int_equal(ior_transport_register_producer(
                         out, &ior_transport_producer_ops, in, 1),
                     0);
    /* One consumer at a time. */
    assert_int_equal(ior_transport_register_producer(
                         out2, &ior_transport_producer_ops, in, 1),
                     IOR_EBUSY);
    assert_int_equal(ior_transport_unregister_producer(out), 0);
    assert_int_equal(ior_transport_register_producer(
                         out2, &ior_transport_producer_ops, in, 1),
                     0);
    assert_int_equal(ior_transport_abort_connection(out2), 0);
    run_pending();
    assert_int_equal(E.p[2].n_lost, 1);
    /* stop_producing of a transport is lose_connection: "in" closes. */
    fake_accept(in, 0);
    run_pending();
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_false(HAS(out, IOR_TS_PRODUCER));
    assert_int_equal(ior_transport_abort_connection(out), 0);
    run_pending();
    assert_int_equal(E.p[1].n_lost, 1);
}

/* rule 5: registered while its abort is still pending (not yet lost):
 * linked, then unlinked by its close, before its connection_lost. */
static void test_register_aborting_transport_then_lost(void **state)
{
    ior_transport_t *in = env_open(0, &tproto_aware_ops);
    ior_transport_t *out = env_open(1, &tproto_aware_ops);
    (void)state;
    assert_int_equal(ior_transport_abort_connection(in), 0);
    assert_int_equal(ior_transport_register_producer(
                         out, &ior_transport_producer_ops, in, 1),
                     0);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_false(HAS(out, IOR_TS_PRODUCER));
    assert_int_equal(ior_transport_abort_connection(out), 0);
    run_pending();
    assert_int_equal(E.p[1].n_lost, 1);
}

static void register_in_lost(tproto_t *p, int reason)
{
    ior_transport_t *out = p->ctx;
    (void)reason;
    assert_int_equal(ior_transport_register_producer(
                         out, &ior_transport_producer_ops, p->t, 1),
                     IOR_ENOTCONN);
    assert_false(HAS(out, IOR_TS_PRODUCER));
}

/* rule 5: a transport already lost cannot become a producer: it is freed
 * when its connection_lost returns, so nothing may link to it
 * (IOR_ENOTCONN); asked from inside that connection_lost. */
static void test_register_producer_inside_its_connection_lost(void **state)
{
    ior_transport_t *in = env_open(0, &tproto_aware_ops);
    ior_transport_t *out = env_open(1, &tproto_aware_ops);
    (void)state;
    E.p[0].ctx = out;
    E.p[0].on_lost = register_in_lost;
    assert_int_equal(ior_transport_abort_connection(in), 0);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(ior_transport_abort_connection(out), 0);
    run_pending();
    assert_int_equal(E.p[1].n_lost, 1);
}

/* rule 11 (decision 4): EOF to a protocol without read_connection_lost
 * with a pull producer registered: stop_producing once (and forgotten),
 * the queue is still sent, then connection_lost with IOR_EDONE. */
static void test_eof_stops_pull_producer_and_closes_after_queue(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_plain_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    E.r[0].t = t;
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0), 0);
    assert_int_equal(ior_transport_write(t, "tail", 4), 0);
    ior__core_read_eof(t);
    assert_int_equal(E.r[0].n_stop, 1);
    assert_false(HAS(t, IOR_TS_PRODUCER));
    assert_int_equal(E.p[0].n_lost, 0); /* "tail" is still queued */
    fake_accept(t, 4);
    run_pending();
    run_pending();
    assert_sent(rec, "tail", 4);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_int_equal(E.r[0].n_stop, 1);
}

/* rule 11: the same with a streaming producer, and one that aborts the
 * transport from stop_producing: nothing more happens after the abort. */
static void abort_in_stop(tprod_t *p)
{
    assert_int_equal(ior_transport_abort_connection(p->t), 0);
}

static void test_eof_stop_producing_may_abort(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_plain_ops);
    (void)state;
    E.r[0].t = t;
    E.r[0].on_stop = abort_in_stop;
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1), 0);
    assert_int_equal(ior_transport_write(t, "tail", 4), 0);
    ior__core_read_eof(t);
    run_pending();
    assert_int_equal(E.r[0].n_stop, 1);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EABORTED);
}

/* A half-close aware protocol keeps its producer at EOF (rule 11 is only
 * for protocols without read_connection_lost). */
static void test_eof_to_aware_protocol_keeps_producer(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.r[0].t = t;
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0), 0);
    ior__core_read_eof(t);
    assert_int_equal(E.p[0].n_read_lost, 1);
    assert_int_equal(E.r[0].n_stop, 0);
    assert_true(HAS(t, IOR_TS_PRODUCER));
    assert_int_equal(ior_transport_abort_connection(t), 0);
    run_pending();
    assert_int_equal(E.r[0].n_stop, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_direct_write_drain_resumes_later_pull_producer),
        ENV_TEST(test_direct_write_without_producer_reports_nothing),
        ENV_TEST(test_lost_producer_transport_unregisters_itself),
        ENV_TEST(test_lost_consumer_releases_its_producer_transport),
        ENV_TEST(test_register_aborting_transport_then_lost),
        ENV_TEST(test_register_producer_inside_its_connection_lost),
        ENV_TEST(test_eof_stops_pull_producer_and_closes_after_queue),
        ENV_TEST(test_eof_stop_producing_may_abort),
        ENV_TEST(test_eof_to_aware_protocol_keeps_producer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
