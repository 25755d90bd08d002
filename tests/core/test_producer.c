/*
 * DESIGN rules 4 and 5: registering and unregistering producers, and the
 * producer cases the issue lists (self-unregistering, aborting from a
 * callback, a pull producer holding a close back).
 */
#include "harness.h"

#include <string.h>

static ior_transport_t *open0(void)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    int i;
    for (i = 0; i < NPROD; i++)
        E.r[i].t = t;
    return t;
}

/* rule 4: a pull producer gets resume_producing at once. */
static void test_register_pull_producer_resumes_at_once(void **state)
{
    ior_transport_t *t = open0();
    (void)state;
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0), 0);
    assert_int_equal(E.r[0].n_resume, 1);
    assert_true(HAS(t, IOR_TS_PRODUCER));
    assert_false(HAS(t, IOR_TS_STREAMING));
}

/* rule 4: a streaming producer is stored, not resumed, not paused. */
static void test_register_streaming_producer_is_stored_unpaused(void **state)
{
    ior_transport_t *t = open0();
    (void)state;
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1), 0);
    assert_int_equal(E.r[0].n_resume + E.r[0].n_pause + E.r[0].n_stop, 0);
    assert_true(HAS(t, IOR_TS_PRODUCER));
    assert_true(HAS(t, IOR_TS_STREAMING));
    assert_false(HAS(t, IOR_TS_PRODUCER_PAUSED));
}

/* rule 4: invalid producers are refused. */
static void test_register_invalid_producer_is_einval(void **state)
{
    ior_transport_t *t = open0();
    (void)state;
    assert_int_equal(ior_transport_register_producer(t, NULL, &E.r[0], 0),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_register_producer(NULL, &tprod_ops,
                                                     &E.r[0], 1),
                     IOR_EINVAL);
    /* streaming needs pause_producing */
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 1),
        IOR_EINVAL);
    assert_false(HAS(t, IOR_TS_PRODUCER));
}

/* rule 4: a second register_producer fails with IOR_EBUSY and changes
 * nothing: same state, the first producer still in charge, the second
 * never called. */
static void test_register_second_producer_is_ebusy(void **state)
{
    ior_transport_t *t = open0();
    unsigned st;
    (void)state;
    ior_transport_set_buffer_size(t, 4);
    ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1);
    ior_transport_write(t, "123456", 6);
    st = ior_transport_state(t);
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_pull_ops, &E.r[1], 0),
        IOR_EBUSY);
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_ops, &E.r[1], 1),
        IOR_EBUSY);
    assert_int_equal(ior_transport_state(t), st);
    fake_accept(t, 6);
    assert_int_equal(E.r[0].n_resume, 1);
    assert_int_equal(E.r[1].n_resume + E.r[1].n_pause + E.r[1].n_stop, 0);
    env_free_loop();
    assert_int_equal(E.r[0].n_stop, 1);
    assert_int_equal(E.r[1].n_stop, 0);
}

static void register_in_lost(tproto_t *p, int reason)
{
    (void)reason;
    assert_int_equal(
        ior_transport_register_producer(p->t, &tprod_pull_ops, &E.r[1], 0),
        0);
    /* stopped at once, inside the call */
    assert_int_equal(E.r[1].n_stop, 1);
    assert_int_equal(E.r[1].n_resume, 0);
}

/* rule 4: register_producer on a disconnected transport (inside
 * connection_lost) calls stop_producing at once, and only once. */
static void test_register_on_disconnected_transport_stops_at_once(
    void **state)
{
    ior_transport_t *t = open0();
    (void)state;
    E.p[0].on_lost = register_in_lost;
    ior_transport_lose_connection(t);
    fake_accept(t, 0);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.r[1].n_stop, 1);
    env_free_loop();
    assert_int_equal(E.r[1].n_stop, 1);
}

/* rule 4 and 8: after abort_connection only stop_producing may reach a
 * newly registered producer, once; never resume. */
static void test_register_after_abort_only_stops(void **state)
{
    ior_transport_t *t = open0();
    int rc;
    (void)state;
    ior_transport_abort_connection(t);
    rc = ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.r[0].n_resume, 0);
    assert_int_equal(E.r[0].n_stop, rc == 0 ? 1 : 0);
}

/* rule 5: unregister forgets the producer and clears producer_paused, so
 * the next producer starts unpaused. Twisted differs: unregisterProducer
 * leaves producerPaused set; this test would fail under Twisted's
 * behaviour because the next drain would resume the second producer,
 * which was never paused (n_resume would be 1, not 0). */
static void test_unregister_clears_paused_for_next_producer(void **state)
{
    ior_transport_t *t = open0();
    (void)state;
    ior_transport_set_buffer_size(t, 4);
    ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1);
    ior_transport_write(t, "123456", 6);
    assert_true(HAS(t, IOR_TS_PRODUCER_PAUSED));
    assert_int_equal(ior_transport_unregister_producer(t), 0);
    assert_false(HAS(t, IOR_TS_PRODUCER | IOR_TS_PRODUCER_PAUSED));
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_ops, &E.r[1], 1), 0);
    assert_false(HAS(t, IOR_TS_PRODUCER_PAUSED));
    fake_accept(t, 6);
    run_pending();
    assert_int_equal(E.r[1].n_resume, 0);
    assert_int_equal(E.r[0].n_resume, 0); /* forgotten */
    ior_transport_write(t, "123456", 6);
    assert_int_equal(E.r[1].n_pause, 1);  /* and it can be paused */
}

/* rule 5: unregister with none registered is IOR_ENOENT. */
static void test_unregister_without_producer_is_enoent(void **state)
{
    ior_transport_t *t = open0();
    (void)state;
    assert_int_equal(ior_transport_unregister_producer(t), IOR_ENOENT);
    assert_int_equal(ior_transport_unregister_producer(NULL), IOR_EINVAL);
}

/* rule 6 and 5: lose_connection with a pull producer registered keeps the
 * connection open, resuming it on every drain, until it is unregistered;
 * then the close finishes (reason done) and the producer is not stopped. */
static void test_lose_connection_waits_for_pull_producer_unregister(
    void **state)
{
    ior_transport_t *t = open0();
    int i;
    (void)state;
    ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0);
    assert_int_equal(ior_transport_lose_connection(t), 0);
    run_pending(); /* the drain asked for by start_writing: one resume */
    assert_int_equal(E.r[0].n_resume, 2);
    for (i = 0; i < 3; i++) {
        fake_accept(t, 0);
        run_pending();
        assert_int_equal(E.p[0].n_lost, 0);
        assert_true(HAS(t, IOR_TS_CONNECTED | IOR_TS_DISCONNECTING));
    }
    assert_int_equal(E.r[0].n_resume, 5); /* register + 4 drains */
    assert_int_equal(ior_transport_unregister_producer(t), 0);
    run_pending(); /* the drain start_writing asked for */
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_int_equal(E.r[0].n_stop, 0);
}

/* rules 3, 5 and 7: a half-close with a pull producer registered waits
 * for it (each drain resumes it instead); unregistering it asks for a
 * drain, so the half-close finishes. Twisted differs: its
 * unregisterProducer only restarts writing for loseConnection, so this
 * half-close would never finish there. */
static void test_unregister_lets_pending_half_close_finish(void **state)
{
    ior_transport_t *t = open0();
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0);
    assert_int_equal(ior_transport_lose_write_connection(t), 0);
    run_pending();
    fake_accept(t, 0);
    run_pending();
    assert_int_equal(rec->shutdown_write, 0);
    assert_int_equal(E.p[0].n_write_lost, 0);
    assert_int_equal(ior_transport_unregister_producer(t), 0);
    run_pending();
    run_pending();
    assert_int_equal(rec->shutdown_write, 1);
    assert_int_equal(E.p[0].n_write_lost, 1);
    assert_true(HAS(t, IOR_TS_WRITE_DISCONNECTED | IOR_TS_CONNECTED));
}

static void unregister_self(tprod_t *r)
{
    assert_int_equal(ior_transport_unregister_producer(r->t), 0);
}

/* A producer that unregisters itself from inside pause_producing: the
 * write completes, the producer is gone, nothing is paused, and no later
 * drain calls it. */
static void test_producer_unregisters_itself_in_pause(void **state)
{
    ior_transport_t *t = open0();
    (void)state;
    ior_transport_set_buffer_size(t, 4);
    E.r[0].on_pause = unregister_self;
    ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1);
    assert_int_equal(ior_transport_write(t, "123456", 6), 0);
    assert_int_equal(E.r[0].n_pause, 1);
    assert_false(HAS(t, IOR_TS_PRODUCER | IOR_TS_PRODUCER_PAUSED));
    assert_int_equal(ior_transport_buffered(t), 6);
    fake_accept(t, 6);
    run_pending();
    assert_int_equal(E.r[0].n_resume, 0);
    assert_sent(E.p[0].rec, "123456", 6);
    env_free_loop();
    assert_int_equal(E.r[0].n_stop, 0);
}

static void abort_in_resume(tprod_t *r)
{
    assert_int_equal(ior_transport_write(r->t, "zz", 2), 0);
    assert_int_equal(ior_transport_abort_connection(r->t), 0);
    assert_int_equal(ior_transport_write(r->t, "no", 2), IOR_ENOTCONN);
}

/* abort_connection from inside resume_producing: no further resume, one
 * stop_producing during the close, connection_lost(IOR_EABORTED) once,
 * the written bytes discarded and the handle reset. */
static void test_abort_inside_resume_producing(void **state)
{
    ior_transport_t *t = open0();
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    ior_transport_write(t, "ab", 2);
    ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1);
    ior_transport_set_buffer_size(t, 1);
    ior_transport_write(t, "c", 1); /* paused */
    E.r[0].on_resume = abort_in_resume;
    fake_log_clear();
    fake_accept(t, 3);
    assert_int_equal(E.r[0].n_resume, 1);
    assert_int_equal(E.r[0].n_stop, 0); /* not inside the abort call */
    assert_int_equal(E.p[0].n_lost, 0);
    run_pending();
    /* "zz" took the queue over the mark of 1: paused inside the write. */
    assert_log_only("resume pause stop lost close close_abort",
                    "resume pause stop close_abort lost:EABORTED");
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(rec->last_abort, 1);
    assert_sent(rec, "abc", 3);
}

/* stop_consuming: unregister (no stop_producing), then lose_connection. */
static void test_stop_consuming_unregisters_then_loses(void **state)
{
    ior_transport_t *t = open0();
    (void)state;
    ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0);
    ior_transport_write(t, "end", 3);
    assert_int_equal(ior_transport_stop_consuming(t), 0);
    assert_false(HAS(t, IOR_TS_PRODUCER));
    assert_true(HAS(t, IOR_TS_DISCONNECTING));
    fake_accept(t, 3);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_int_equal(E.r[0].n_stop, 0);
    assert_int_equal(E.r[0].n_resume, 1);
    assert_sent(E.p[0].rec, "end", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_register_pull_producer_resumes_at_once),
        ENV_TEST(test_register_streaming_producer_is_stored_unpaused),
        ENV_TEST(test_register_invalid_producer_is_einval),
        ENV_TEST(test_register_second_producer_is_ebusy),
        ENV_TEST(test_register_on_disconnected_transport_stops_at_once),
        ENV_TEST(test_register_after_abort_only_stops),
        ENV_TEST(test_unregister_clears_paused_for_next_producer),
        ENV_TEST(test_unregister_without_producer_is_enoent),
        ENV_TEST(test_lose_connection_waits_for_pull_producer_unregister),
        ENV_TEST(test_unregister_lets_pending_half_close_finish),
        ENV_TEST(test_producer_unregisters_itself_in_pause),
        ENV_TEST(test_abort_inside_resume_producing),
        ENV_TEST(test_stop_consuming_unregisters_then_loses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
