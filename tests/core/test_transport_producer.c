/*
 * DESIGN rule 10: the transport is itself a producer. Pausing stops
 * reading at once; bytes that still arrive are held and delivered first,
 * in order, from the loop after resume_producing.
 */
#include "harness.h"

#include <string.h>

/* rule 10: pause stops reading at once; bytes that arrive are held. */
static void test_pause_stops_reading_and_holds_data(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    assert_int_equal(rec->reading, 1);
    assert_int_equal(ior_transport_pause_producing(t), 0);
    assert_int_equal(rec->reading, 0);
    assert_true(HAS(t, IOR_TS_READING_PAUSED));
    assert_false(ior__core_wants_read(t));
    ior__core_read(t, "held", 4); /* a read already in flight */
    run_pending();
    assert_int_equal(E.p[0].n_data, 0);
}

/* rule 10: resume delivers the held bytes from the loop (not inside the
 * resume call), in order, before any later read; then reading restarts. */
static void test_resume_delivers_held_data_in_order_from_loop(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    ior__core_read(t, "1", 1);
    ior_transport_pause_producing(t);
    ior__core_read(t, "23", 2);
    ior__core_read(t, "45", 2);
    assert_int_equal(ior_transport_resume_producing(t), 0);
    assert_int_equal(E.p[0].n_data, 1); /* not inside resume */
    ior__core_read(t, "6", 1);          /* arrives before the delivery */
    assert_received(&E.p[0], "1", 1);
    run_pending();
    run_pending();
    assert_received(&E.p[0], "123456", 6);
    assert_int_equal(rec->reading, 1);
    assert_true(ior__core_wants_read(t));
    ior__core_read(t, "7", 1);
    assert_received(&E.p[0], "1234567", 7);
}

/* rule 10 and 11: an EOF that arrives while paused is delivered after the
 * held data. */
static void test_eof_while_paused_delivered_after_held_data(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    ior_transport_pause_producing(t);
    ior__core_read(t, "tail", 4);
    ior__core_read_eof(t);
    run_pending();
    assert_int_equal(E.p[0].n_read_lost, 0);
    fake_log_clear();
    ior_transport_resume_producing(t);
    run_pending();
    run_pending();
    assert_log_only("data read_lost", "data read_lost");
    assert_received(&E.p[0], "tail", 4);
    assert_true(HAS(t, IOR_TS_READ_DISCONNECTED));
}

/* rule 10: a pause before the scheduled delivery runs holds it again. */
static void test_pause_again_before_delivery_keeps_holding(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    ior_transport_pause_producing(t);
    ior__core_read(t, "ab", 2);
    ior_transport_resume_producing(t);
    ior_transport_pause_producing(t);
    run_pending();
    assert_int_equal(E.p[0].n_data, 0);
    ior__core_read(t, "cd", 2);
    ior_transport_resume_producing(t);
    run_pending();
    assert_received(&E.p[0], "abcd", 4);
}

static void pause_in_data(tproto_t *p, const void *d, size_t n)
{
    (void)d;
    (void)n;
    assert_int_equal(ior_transport_pause_producing(p->t), 0);
}

/* rule 10: pausing from inside data_received holds the next bytes. */
static void test_pause_inside_data_received_holds_next_bytes(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.p[0].on_data = pause_in_data;
    ior__core_read(t, "x", 1);
    ior__core_read(t, "y", 1);
    assert_received(&E.p[0], "x", 1);
    E.p[0].on_data = NULL;
    ior_transport_resume_producing(t);
    run_pending();
    assert_received(&E.p[0], "xy", 2);
}

/* rule 10: resume does not restart reading once disconnecting. */
static void test_resume_while_disconnecting_does_not_read(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    int sr;
    (void)state;
    ior_transport_write(t, "z", 1);
    ior_transport_pause_producing(t);
    ior_transport_lose_connection(t);
    sr = rec->start_reading;
    assert_int_equal(ior_transport_resume_producing(t), 0);
    assert_int_equal(rec->start_reading, sr);
    assert_false(ior__core_wants_read(t));
}

static void pause_in_lost(tproto_t *p, int reason)
{
    (void)reason;
    assert_int_equal(ior_transport_pause_producing(p->t), IOR_ENOTCONN);
    assert_int_equal(ior_transport_resume_producing(p->t), IOR_ENOTCONN);
}

/* rule 10: once lost, pause and resume answer IOR_ENOTCONN. */
static void test_pause_resume_after_lost_is_enotconn(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.p[0].on_lost = pause_in_lost;
    assert_int_equal(ior_transport_pause_producing(NULL), IOR_EINVAL);
    ior_transport_abort_connection(t);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
}

/* rule 10: stop_producing is lose_connection. */
static void test_stop_producing_is_lose_connection(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    ior_transport_write(t, "bye", 3);
    assert_int_equal(ior_transport_stop_producing(t), 0);
    assert_true(HAS(t, IOR_TS_DISCONNECTING));
    fake_accept(t, 3);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_sent(E.p[0].rec, "bye", 3);
}

static void forward_to_out(tproto_t *p, const void *d, size_t n)
{
    ior_transport_t *out = p->ctx;
    assert_int_equal(ior_transport_write(out, d, n), 0);
}

/* rule 10: a transport registered as the streaming producer of another
 * (a proxy) is paused when the other's queue passes the mark, resumed
 * when it drains, and closed when the other is lost. */
static void test_transport_as_producer_of_another(void **state)
{
    ior_transport_t *in = env_open(0, &tproto_aware_ops);
    ior_transport_t *out = env_open(1, &tproto_aware_ops);
    fake_rec_t *rin = E.p[0].rec;
    (void)state;
    E.p[0].ctx = out;
    E.p[0].on_data = forward_to_out;
    ior_transport_set_buffer_size(out, 4);
    assert_int_equal(ior_transport_register_producer(
                         out, &ior_transport_producer_ops, in, 1),
                     0);
    ior__core_read(in, "abc", 3);
    assert_int_equal(rin->reading, 1);
    ior__core_read(in, "de", 2); /* 5 > 4: in is paused */
    assert_int_equal(rin->reading, 0);
    assert_true(HAS(in, IOR_TS_READING_PAUSED));
    ior__core_read(in, "f", 1); /* held */
    fake_accept(out, 5);        /* resumes in */
    run_pending();
    fake_accept(out, 5);
    assert_sent(E.p[1].rec, "abcdef", 6);
    assert_int_equal(rin->reading, 1);
    ior_transport_abort_connection(out); /* stop_producing(in) */
    run_pending();
    fake_accept(in, 0);
    run_pending();
    run_pending();
    assert_int_equal(E.p[1].n_lost, 1);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_pause_stops_reading_and_holds_data),
        ENV_TEST(test_resume_delivers_held_data_in_order_from_loop),
        ENV_TEST(test_eof_while_paused_delivered_after_held_data),
        ENV_TEST(test_pause_again_before_delivery_keeps_holding),
        ENV_TEST(test_pause_inside_data_received_holds_next_bytes),
        ENV_TEST(test_resume_while_disconnecting_does_not_read),
        ENV_TEST(test_pause_resume_after_lost_is_enotconn),
        ENV_TEST(test_stop_producing_is_lose_connection),
        ENV_TEST(test_transport_as_producer_of_another),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
