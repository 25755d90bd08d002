/*
 * DESIGN rules 1 and 2: write, write_ref, write_sequence, the refusals,
 * out-of-memory on the write path, max_buffer and the high-water pause.
 */
#include "harness.h"

#include <string.h>

/* rule 1: a write is copied, counted in buffered and asks start_writing. */
static void test_write_copies_and_requests_start_writing(void **state)
{
    char data[] = "hello";
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    assert_int_equal(ior_transport_write(t, data, 5), 0);
    assert_int_equal(ior_transport_buffered(t), 5);
    assert_true(rec->start_writing >= 1);
    memcpy(data, "XXXXX", 5); /* the copy must not see this */
    assert_int_equal(fake_accept(t, 100), 5);
    assert_sent(rec, "hello", 5);
    assert_int_equal(ior_transport_buffered(t), 0);
}

/* rule 1: bytes leave in write order, whatever the OS accepts each time. */
static void test_write_bytes_sent_in_order_across_partial_sends(void **state)
{
    unsigned char exp[3000];
    size_t i, off = 0, step = 1;
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    for (i = 0; i < sizeof(exp); i++)
        exp[i] = (unsigned char)(i * 7 + 3);
    /* Writes of varied sizes, interleaved with partial sends. */
    while (off < sizeof(exp)) {
        size_t n = (off % 5) * 37 + 1;
        if (n > sizeof(exp) - off)
            n = sizeof(exp) - off;
        assert_int_equal(ior_transport_write(t, exp + off, n), 0);
        off += n;
        fake_accept(t, step);
        step = step * 3 % 101 + 1;
    }
    while (ior_transport_buffered(t) > 0)
        assert_true(fake_accept(t, 13) > 0);
    assert_sent(rec, exp, sizeof(exp));
}

/* rule 1: len 0 does nothing: no queue, no start_writing, returns 0. */
static void test_write_zero_length_does_nothing(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    int before = rec->start_writing;
    ior_buf_t empty = {"x", 0};
    (void)state;
    assert_int_equal(ior_transport_write(t, "x", 0), 0);
    assert_int_equal(ior_transport_write(t, NULL, 0), 0);
    assert_int_equal(ior_transport_write_sequence(t, NULL, 0), 0);
    assert_int_equal(ior_transport_write_sequence(t, &empty, 1), 0);
    assert_int_equal(ior_transport_buffered(t), 0);
    assert_int_equal(rec->start_writing, before);
    assert_int_equal(rec->sent_len, 0);
}

/* rule 1: a zero-length write_ref queues nothing and never releases twice;
 * its release, if taken at all, is not called inside the write. */
static void test_write_ref_zero_length_queues_nothing(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    assert_int_equal(
        ior_transport_write_ref(t, "x", 0, trel_cb, &E.rel[0]), 0);
    assert_int_equal(E.rel[0].n, 0);
    assert_int_equal(ior_transport_buffered(t), 0);
    env_free_loop();
    assert_true(E.rel[0].n <= 1);
}

/* rule 1: invalid arguments are refused and queue nothing. */
static void test_write_invalid_arguments_are_einval(void **state)
{
    ior_buf_t bad[2] = {{"ab", 2}, {NULL, 3}};
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    assert_int_equal(ior_transport_write(NULL, "a", 1), IOR_EINVAL);
    assert_int_equal(ior_transport_write(t, NULL, 1), IOR_EINVAL);
    assert_int_equal(ior_transport_write_ref(t, NULL, 1, trel_cb, &E.rel[0]),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_write_sequence(t, NULL, 2), IOR_EINVAL);
    /* rule 2: checked once, all or none — the good first entry too. */
    assert_int_equal(ior_transport_write_sequence(t, bad, 2), IOR_EINVAL);
    assert_int_equal(ior_transport_buffered(t), 0);
    env_free_loop();
    assert_int_equal(E.rel[0].n, 0);
}

/* write_ref: the OS sees the caller's own memory; release runs once, after
 * every byte is sent, never inside the write call. */
static void test_write_ref_borrows_and_releases_once_after_sent(void **state)
{
    static const char msg[] = "borrowed bytes";
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    assert_int_equal(
        ior_transport_write_ref(t, msg, 14, trel_cb, &E.rel[0]), 0);
    assert_int_equal(E.rel[0].n, 0);
    assert_int_equal(fake_send_begin(t), 14);
    assert_ptr_equal(rec->bufs[0].base, msg); /* zero copy */
    fake_send_end(t, 5);
    ior__core_drained(t);
    assert_int_equal(E.rel[0].n, 0); /* 9 bytes still queued */
    fake_accept(t, 100);
    assert_int_equal(E.rel[0].n, 1);
    assert_ptr_equal(E.rel[0].last_base, msg);
    assert_int_equal(E.rel[0].bytes, 14);
    assert_sent(rec, msg, 14);
    run_pending();
    env_free_loop();
    assert_int_equal(E.rel[0].n, 1);
}

/* rule 2: write_sequence is n writes in order. */
static void test_write_sequence_is_n_writes_in_order(void **state)
{
    ior_buf_t bufs[3] = {{"one ", 4}, {"", 0}, {"two three", 9}};
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    assert_int_equal(ior_transport_write(t, "<", 1), 0);
    assert_int_equal(ior_transport_write_sequence(t, bufs, 3), 0);
    assert_int_equal(ior_transport_write(t, ">", 1), 0);
    assert_int_equal(ior_transport_buffered(t), 15);
    while (ior_transport_buffered(t) > 0)
        fake_accept(t, 4);
    assert_sent(rec, "<one two three>", 15);
}

/* rule 1: after lose_write_connection (asked or done) writes are refused
 * with IOR_ESHUTDOWN, nothing is queued, the release is not taken. */
static void test_write_after_half_close_is_eshutdown(void **state)
{
    ior_buf_t b = {"s", 1};
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    assert_int_equal(ior_transport_write(t, "abc", 3), 0);
    assert_int_equal(ior_transport_lose_write_connection(t), 0);
    assert_true(HAS(t, IOR_TS_WRITE_DISCONNECTING));
    assert_int_equal(ior_transport_write(t, "d", 1), IOR_ESHUTDOWN);
    assert_int_equal(ior_transport_write_ref(t, "e", 1, trel_cb, &E.rel[0]),
                     IOR_ESHUTDOWN);
    assert_int_equal(ior_transport_write_sequence(t, &b, 1), IOR_ESHUTDOWN);
    assert_int_equal(ior_transport_buffered(t), 3);
    fake_accept(t, 100);
    run_pending();
    assert_true(HAS(t, IOR_TS_WRITE_DISCONNECTED));
    assert_int_equal(ior_transport_write(t, "f", 1), IOR_ESHUTDOWN);
    assert_int_equal(ior_transport_write_ref(t, "g", 1, trel_cb, &E.rel[1]),
                     IOR_ESHUTDOWN);
    assert_int_equal(ior_transport_buffered(t), 0);
    assert_sent(E.p[0].rec, "abc", 3);
    env_free_loop();
    assert_int_equal(E.rel[0].n, 0);
    assert_int_equal(E.rel[1].n, 0);
}

/* rule 1: after abort_connection writes fail with IOR_ENOTCONN at once. */
static void test_write_after_abort_is_enotconn(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    assert_int_equal(ior_transport_abort_connection(t), 0);
    assert_int_equal(ior_transport_write(t, "a", 1), IOR_ENOTCONN);
    assert_int_equal(ior_transport_write_ref(t, "b", 1, trel_cb, &E.rel[0]),
                     IOR_ENOTCONN);
    assert_int_equal(ior_transport_buffered(t), 0);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.rel[0].n, 0);
}

static void write_in_lost(tproto_t *p, int reason)
{
    ior_buf_t b = {"c", 1};
    (void)reason;
    assert_int_equal(ior_transport_write(p->t, "a", 1), IOR_ENOTCONN);
    assert_int_equal(
        ior_transport_write_ref(p->t, "b", 1, trel_cb, &E.rel[0]),
        IOR_ENOTCONN);
    assert_int_equal(ior_transport_write_sequence(p->t, &b, 1), IOR_ENOTCONN);
}

/* rule 1: inside connection_lost the transport is not connected. */
static void test_write_in_connection_lost_is_enotconn(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.p[0].on_lost = write_in_lost;
    assert_int_equal(ior_transport_lose_connection(t), 0);
    fake_accept(t, 0);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
    assert_int_equal(E.rel[0].n, 0);
}

/* rule 6: writes made while disconnecting are accepted and sent before
 * the close (Twisted's write() also accepts them until the close). */
static void test_write_while_disconnecting_is_sent_before_close(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    assert_int_equal(ior_transport_write(t, "first ", 6), 0);
    assert_int_equal(ior_transport_lose_connection(t), 0);
    assert_int_equal(ior_transport_write(t, "second", 6), 0);
    assert_int_equal(ior_transport_buffered(t), 12);
    fake_accept(t, 8);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 0);
    fake_accept(t, 100);
    run_pending();
    assert_sent(rec, "first second", 12);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
}

/* Which write form an OOM test exercises. */
enum wkind { W_COPY, W_REF, W_SEQ };

static int do_write(ior_transport_t *t, enum wkind k, trel_t *rel)
{
    static const ior_buf_t seq[3] = {{"ab", 2}, {"cdefgh", 6}, {"ij", 2}};
    switch (k) {
    case W_COPY:
        return ior_transport_write(t, "abcdefghij", 10);
    case W_REF:
        return ior_transport_write_ref(t, "abcdefghij", 10, trel_cb, rel);
    default:
        return ior_transport_write_sequence(t, seq, 3);
    }
}

/* Fails each allocation of one write in turn, checking that the queue,
 * its counters, the producer and the live allocations are untouched. */
static void oom_every_allocation(enum wkind k)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    long n;
    int rc = -1;
    (void)rec;
    ior_transport_set_buffer_size(t, 12);
    E.r[0].t = t;
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1), 0);
    /* A borrowed chunk first, so that the write under test cannot
     * coalesce into a copy chunk's spare room and must allocate. */
    assert_int_equal(ior_transport_write_ref(t, "0123456789", 10, trel_cb,
                                             &E.rel[1]),
                     0);
    for (n = 0; n < 100; n++) {
        size_t live = alloc_live(), fails = alloc_failures();
        unsigned st = ior_transport_state(t);
        alloc_fail_after(n);
        rc = do_write(t, k, &E.rel[0]);
        alloc_fail_after(-1);
        if (alloc_failures() == fails) {
            assert_int_equal(rc, 0); /* no allocation failed: done */
            break;
        }
        assert_int_equal(rc, IOR_ENOMEM);
        assert_int_equal(ior_transport_buffered(t), 10);
        assert_int_equal(alloc_live(), live);
        assert_int_equal(ior_transport_state(t), st);
        assert_int_equal(E.r[0].n_pause, 0);
        assert_int_equal(E.rel[0].n, 0);
    }
    assert_int_equal(rc, 0);
    assert_true(n > 0); /* the write path allocated, and it failed */
    assert_int_equal(ior_transport_buffered(t), 20);
    assert_int_equal(E.r[0].n_pause, 1); /* 20 > 12: paused once */
    while (ior_transport_buffered(t) > 0)
        fake_accept(t, 7);
    assert_sent(E.p[0].rec, "0123456789abcdefghij", 20);
    assert_int_equal(E.rel[0].n, k == W_REF ? 1 : 0);
    assert_int_equal(E.rel[1].n, 1);
}

/* Out of memory at every allocation of write: IOR_ENOMEM, nothing changed. */
static void test_write_oom_at_every_allocation(void **state)
{
    (void)state;
    oom_every_allocation(W_COPY);
}

/* Out of memory at every allocation of write_ref: IOR_ENOMEM, nothing
 * changed, the release callback not taken. */
static void test_write_ref_oom_at_every_allocation(void **state)
{
    (void)state;
    oom_every_allocation(W_REF);
}

/* Out of memory at every allocation of write_sequence: all or nothing. */
static void test_write_sequence_oom_at_every_allocation(void **state)
{
    (void)state;
    oom_every_allocation(W_SEQ);
}

/* Out of memory on a large copy write behind a copy chunk with spare
 * room: nothing of it may land in that room (all or nothing). */
static void test_write_oom_behind_partly_filled_chunk(void **state)
{
    static unsigned char big[100000], exp[100003];
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    size_t i;
    long n;
    int rc = -1;
    (void)state;
    for (i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)(i % 251);
    memcpy(exp, "abc", 3);
    memcpy(exp + 3, big, sizeof(big));
    assert_int_equal(ior_transport_write(t, "abc", 3), 0);
    for (n = 0; n < 100; n++) {
        size_t live = alloc_live(), bytes = alloc_live_bytes();
        size_t fails = alloc_failures();
        alloc_fail_after(n);
        rc = ior_transport_write(t, big, sizeof(big));
        alloc_fail_after(-1);
        if (alloc_failures() == fails)
            break;
        assert_int_equal(rc, IOR_ENOMEM);
        assert_int_equal(ior_transport_buffered(t), 3);
        assert_int_equal(alloc_live(), live);
        assert_int_equal(alloc_live_bytes(), bytes);
    }
    assert_int_equal(rc, 0);
    assert_true(n > 0);
    while (ior_transport_buffered(t) > 0)
        fake_accept(t, 4096);
    assert_sent(E.p[0].rec, exp, sizeof(exp));
}

/* max_buffer: a write that would take the queue beyond it is refused with
 * IOR_ENOBUFS and nothing queued; up to the limit is accepted. */
static void test_max_buffer_refuses_beyond_limit(void **state)
{
    ior_buf_t seq[2] = {{"12", 2}, {"345", 3}};
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    assert_int_equal(ior_transport_set_buffer_size(t, 8), 0);
    assert_int_equal(ior_transport_set_max_buffer(t, 16), 0);
    assert_int_equal(ior_transport_write(t, "abcdefghij", 10), 0);
    assert_int_equal(ior_transport_write(t, "klmnopq", 7), IOR_ENOBUFS);
    assert_int_equal(ior_transport_write_ref(t, "klmnopq", 7, trel_cb,
                                             &E.rel[0]),
                     IOR_ENOBUFS);
    assert_int_equal(ior_transport_write_sequence(t, seq, 2), 0);
    assert_int_equal(ior_transport_write_sequence(t, seq, 2), IOR_ENOBUFS);
    assert_int_equal(ior_transport_buffered(t), 15);
    assert_int_equal(ior_transport_write(t, "k", 1), 0); /* exactly 16 */
    fake_accept(t, 16);
    assert_sent(E.p[0].rec, "abcdefghij12345k", 16);
    env_free_loop();
    assert_int_equal(E.rel[0].n, 0);
}

/* max_buffer must be 0 or at least buffer_size; marks keep their order. */
static void test_buffer_marks_are_checked(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    assert_int_equal(ior_transport_buffer_size(t), 65536);
    assert_int_equal(ior_transport_low_water(t), 0);
    assert_true(ior_transport_set_max_buffer(t, 100) < 0);
    assert_int_equal(ior_transport_set_max_buffer(t, 0), 0);
    assert_int_equal(ior_transport_set_buffer_size(t, 100), 0);
    assert_int_equal(ior_transport_set_low_water(t, 101), IOR_ERANGE);
    assert_int_equal(ior_transport_set_low_water(t, 100), 0);
    assert_int_equal(ior_transport_low_water(t), 100);
    assert_int_equal(ior_transport_buffer_size(t), 100);
}

/* rule 1: a streaming producer is paused once, on the transition above the
 * high-water mark. Twisted differs: FileDescriptor.write calls
 * pauseProducing on every write while over the mark; this test would fail
 * under Twisted's behaviour because n_pause would be 3, not 1. */
static void test_write_pauses_streaming_producer_once_on_transition(
    void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.r[0].t = t;
    ior_transport_set_buffer_size(t, 8);
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1), 0);
    assert_int_equal(E.r[0].n_resume, 0); /* streaming: not resumed */
    assert_int_equal(ior_transport_write(t, "12345678", 8), 0);
    assert_int_equal(E.r[0].n_pause, 0); /* 8 is not above 8 */
    assert_int_equal(ior_transport_write(t, "9", 1), 0);
    assert_int_equal(E.r[0].n_pause, 1);
    assert_true(HAS(t, IOR_TS_PRODUCER_PAUSED));
    assert_int_equal(ior_transport_write(t, "a", 1), 0);
    assert_int_equal(ior_transport_write(t, "b", 1), 0);
    assert_int_equal(E.r[0].n_pause, 1);
}

/* rule 1: a pull producer is never paused by writes. */
static void test_write_never_pauses_pull_producer(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    E.r[0].t = t;
    ior_transport_set_buffer_size(t, 4);
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 0), 0);
    assert_int_equal(ior_transport_write(t, "123456789", 9), 0);
    assert_false(HAS(t, IOR_TS_PRODUCER_PAUSED));
    assert_int_equal(E.r[0].n_pause, 0);
}

/* The seam: send_begin gathers queued chunks in order, splits at max_len,
 * stops at max_bufs, hands out nothing while a send is in flight, and
 * send_end drops exactly what the OS took. */
static void test_send_begin_gathers_splits_and_pins(void **state)
{
    ior_buf_t bufs[4];
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    static const char ref[] = "XYZ";
    (void)state;
    ior_transport_write(t, "abcdefgh", 8);
    ior_transport_write_ref(t, ref, 3, trel_cb, &E.rel[0]);
    assert_int_equal(ior__core_send_begin(t, bufs, 2, 3), 2);
    assert_int_equal(bufs[0].len, 3);
    assert_memory_equal(bufs[0].base, "abc", 3);
    assert_int_equal(bufs[1].len, 3);
    assert_memory_equal(bufs[1].base, "def", 3);
    assert_int_equal(ior__core_send_begin(t, bufs, 4, 100), 0);
    ior__core_send_end(t, 4); /* the OS took "abcd" of the 6 */
    assert_int_equal(ior_transport_buffered(t), 7);
    assert_int_equal(ior__core_send_begin(t, bufs, 4, 100), 2);
    assert_int_equal(bufs[0].len, 4);
    assert_memory_equal(bufs[0].base, "efgh", 4);
    assert_ptr_equal(bufs[1].base, ref);
    assert_int_equal(bufs[1].len, 3);
    ior__core_send_end(t, 7);
    ior__core_drained(t);
    assert_int_equal(ior_transport_buffered(t), 0);
    assert_int_equal(E.rel[0].n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_write_copies_and_requests_start_writing),
        ENV_TEST(test_write_bytes_sent_in_order_across_partial_sends),
        ENV_TEST(test_write_zero_length_does_nothing),
        ENV_TEST(test_write_ref_zero_length_queues_nothing),
        ENV_TEST(test_write_invalid_arguments_are_einval),
        ENV_TEST(test_write_ref_borrows_and_releases_once_after_sent),
        ENV_TEST(test_write_sequence_is_n_writes_in_order),
        ENV_TEST(test_write_after_half_close_is_eshutdown),
        ENV_TEST(test_write_after_abort_is_enotconn),
        ENV_TEST(test_write_in_connection_lost_is_enotconn),
        ENV_TEST(test_write_while_disconnecting_is_sent_before_close),
        ENV_TEST(test_write_oom_at_every_allocation),
        ENV_TEST(test_write_ref_oom_at_every_allocation),
        ENV_TEST(test_write_sequence_oom_at_every_allocation),
        ENV_TEST(test_write_oom_behind_partly_filled_chunk),
        ENV_TEST(test_max_buffer_refuses_beyond_limit),
        ENV_TEST(test_buffer_marks_are_checked),
        ENV_TEST(test_write_pauses_streaming_producer_once_on_transition),
        ENV_TEST(test_write_never_pauses_pull_producer),
        ENV_TEST(test_send_begin_gathers_splits_and_pins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
