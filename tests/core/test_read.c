/*
 * DESIGN rule 11: reading. data_received in order and never empty; EOF for
 * half-close aware and unaware protocols; read errors.
 */
#include "harness.h"

#include <string.h>

/* rule 11: bytes reach data_received in order, each call non-empty. */
static void test_data_received_in_order(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    assert_int_equal(ior_transport_state(t), IOR_TS_CONNECTED);
    assert_int_equal(E.p[0].rec->reading, 1);
    ior__core_read(t, "ab", 2);
    ior__core_read(t, "c", 1);
    ior__core_read(t, "defg", 4);
    assert_received(&E.p[0], "abcdefg", 7);
    assert_int_equal(E.p[0].n_data, 3);
}

/* rule 11: a half-close aware protocol gets read_connection_lost on EOF;
 * the transport stays open for writing and reads nothing more. */
static void test_eof_half_close_aware_keeps_writing(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    ior__core_read(t, "question", 8);
    ior__core_read_eof(t);
    assert_int_equal(E.p[0].n_read_lost, 1);
    assert_true(HAS(t, IOR_TS_READ_DISCONNECTED | IOR_TS_CONNECTED));
    assert_int_equal(rec->reading, 0);
    assert_false(ior__core_wants_read(t));
    assert_int_equal(ior_transport_write(t, "answer", 6), 0);
    fake_accept(t, 6);
    run_pending();
    run_pending();
    assert_sent(rec, "answer", 6);
    assert_int_equal(E.p[0].n_lost, 0);
    ior__core_read_eof(t); /* a second EOF is ignored */
    assert_int_equal(E.p[0].n_read_lost, 1);
    ior_transport_lose_connection(t);
    fake_accept(t, 0);
    run_pending();
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
}

/* rule 11: a protocol that is not half-close aware sees EOF as
 * lose_connection: what is queued is still sent, then it closes (done).
 * Twisted differs: it closes at once on EOF and drops the queue; this test
 * would fail under Twisted's behaviour because the sent log would be empty
 * and connection_lost would come before the bytes left. */
static void test_eof_not_aware_sends_queued_then_closes(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_plain_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    ior__core_read(t, "GET", 3);
    ior_transport_write(t, "the whole answer", 16);
    ior__core_read_eof(t);
    assert_int_equal(E.p[0].n_lost, 0);
    assert_true(HAS(t, IOR_TS_DISCONNECTING));
    run_pending();
    assert_int_equal(E.p[0].n_lost, 0);
    fake_accept(t, 10);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 0);
    fake_accept(t, 10);
    run_pending();
    run_pending();
    assert_sent(rec, "the whole answer", 16);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_int_equal(rec->last_abort, 0);
}

/* rule 11: not aware, nothing queued: EOF closes (done) from the loop. */
static void test_eof_not_aware_with_empty_queue_closes_done(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_plain_ops);
    int i;
    (void)state;
    ior__core_read_eof(t);
    assert_int_equal(E.p[0].n_lost, 0);
    for (i = 0; i < 3 && E.p[0].n_lost == 0; i++)
        run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
}

/* rule 11: a read error closes at once (from the loop, not inside the
 * report), drops what is queued unsent, keeps the OS error readable. */
static void test_read_error_closes_at_once_with_os_error(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    ior_transport_write_ref(t, "unsent", 6, trel_cb, &E.rel[0]);
    ior__core_error(t, IOR_ECONNRESET, 104);
    assert_int_equal(E.p[0].n_lost, 0);
    assert_int_equal(ior_transport_os_error(t), 104);
    ior__core_read(t, "late", 4);
    assert_int_equal(ior_transport_write(t, "x", 1), IOR_ENOTCONN);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_ECONNRESET);
    assert_int_equal(E.p[0].os_error_at_lost, 104);
    assert_int_equal(E.p[0].n_data, 0);
    assert_int_equal(E.rel[0].n, 1);
    assert_int_equal(rec->sent_len, 0);
    assert_int_equal(rec->closes, 1);
}

/* rule 11: an error while paused drops the held bytes: none delivered. */
static void test_read_error_while_paused_drops_held_data(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    ior_transport_pause_producing(t);
    ior__core_read(t, "held", 4);
    ior__core_error(t, IOR_ECONNRESET, 54);
    ior_transport_resume_producing(t);
    run_pending();
    run_pending();
    assert_int_equal(E.p[0].n_data, 0);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_ECONNRESET);
}

/* Out of memory while holding bytes never loses them silently: the
 * transport closes with IOR_ENOMEM. */
static void test_hold_oom_closes_with_enomem(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    ior_transport_pause_producing(t);
    alloc_fail_after(0);
    ior__core_read(t, "held", 4);
    alloc_fail_after(-1);
    assert_int_equal(alloc_failures(), 1);
    ior_transport_resume_producing(t);
    run_pending();
    run_pending();
    assert_int_equal(E.p[0].n_data, 0);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_ENOMEM);
}

/* Accept/connect seam: a transport left without a protocol is aborted
 * when begin runs; nothing leaks. */
static void test_begin_without_protocol_aborts(void **state)
{
    ior_transport_t *t = fake_open(E.loop, NULL, NULL);
    fake_rec_t *rec = fake_rec(t);
    (void)state;
    assert_int_equal(rec->start_reading, 0);
    run_pending();
    assert_int_equal(rec->closes, 1);
    assert_int_equal(rec->last_abort, 1);
    assert_int_equal(rec->frees, 1);
}

/* Accept/connect seam: paused in the accept callback, reading starts only
 * on resume. */
static void test_begin_paused_reads_only_after_resume(void **state)
{
    tproto_t *p = &E.p[0];
    ior_transport_t *t = fake_transport_new(E.loop);
    (void)state;
    p->t = t;
    p->rec = fake_rec(t);
    ior_transport_set_protocol(t, &tproto_aware_ops, p);
    ior_transport_pause_producing(t);
    ior__transport_begin(t);
    assert_int_equal(p->rec->start_reading, 0);
    ior_transport_resume_producing(t);
    run_pending();
    assert_int_equal(p->rec->start_reading, 1);
    assert_true(ior__core_wants_read(t));
}

/* set_protocol may switch protocols: later bytes go to the new one. */
static void test_set_protocol_switches_receiver(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    ior__core_read(t, "old", 3);
    E.p[1].t = t;
    assert_int_equal(ior_transport_set_protocol(t, &tproto_plain_ops,
                                                &E.p[1]),
                     0);
    assert_ptr_equal(ior_transport_user(t), &E.p[1]);
    assert_ptr_equal(ior_transport_loop(t), E.loop);
    ior__core_read(t, "new", 3);
    assert_received(&E.p[0], "old", 3);
    assert_received(&E.p[1], "new", 3);
    assert_int_equal(ior_transport_set_protocol(t, NULL, NULL), IOR_EINVAL);
    env_free_loop();
    assert_int_equal(E.p[1].n_lost, 1);
    assert_int_equal(E.p[0].n_lost, 0);
}

/* rule 11 and 7: aware EOF first, then our half-close: once both
 * directions are closed the transport closes (done). */
static void test_eof_then_half_close_closes_done(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    int i;
    (void)state;
    ior__core_read_eof(t);
    ior_transport_write(t, "reply", 5);
    ior_transport_lose_write_connection(t);
    fake_accept(t, 5);
    for (i = 0; i < 3 && E.p[0].n_lost == 0; i++)
        run_pending();
    assert_int_equal(E.p[0].n_write_lost, 1);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_sent(E.p[0].rec, "reply", 5);
}

/* rule 10 and 11: after EOF, resume_producing does not restart reading. */
static void test_resume_after_eof_does_not_read(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    int sr;
    (void)state;
    ior__core_read_eof(t);
    ior_transport_pause_producing(t);
    sr = rec->start_reading;
    ior_transport_resume_producing(t);
    run_pending();
    assert_int_equal(rec->start_reading, sr);
    assert_int_equal(rec->reading, 0);
}

/* rule 11 and 6: not aware, our write side already shut: EOF closes
 * (done) without another drain. */
static void test_eof_not_aware_after_half_close_closes_done(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_plain_ops);
    int i;
    (void)state;
    ior_transport_lose_write_connection(t);
    run_pending();
    assert_true(HAS(t, IOR_TS_WRITE_DISCONNECTED));
    ior__core_read_eof(t);
    assert_int_equal(E.p[0].n_lost, 0);
    for (i = 0; i < 2 && E.p[0].n_lost == 0; i++)
        run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_data_received_in_order),
        ENV_TEST(test_eof_half_close_aware_keeps_writing),
        ENV_TEST(test_eof_not_aware_sends_queued_then_closes),
        ENV_TEST(test_eof_not_aware_with_empty_queue_closes_done),
        ENV_TEST(test_read_error_closes_at_once_with_os_error),
        ENV_TEST(test_read_error_while_paused_drops_held_data),
        ENV_TEST(test_hold_oom_closes_with_enomem),
        ENV_TEST(test_begin_without_protocol_aborts),
        ENV_TEST(test_begin_paused_reads_only_after_resume),
        ENV_TEST(test_set_protocol_switches_receiver),
        ENV_TEST(test_eof_then_half_close_closes_done),
        ENV_TEST(test_resume_after_eof_does_not_read),
        ENV_TEST(test_eof_not_aware_after_half_close_closes_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
