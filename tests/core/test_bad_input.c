/*
 * Bad input to the consumer core's public functions (issue 7, part 4),
 * against the recording fake backend: NULL pointers, absurd lengths and
 * water marks, calls in states that refuse them, producers registered
 * twice. Each call returns its documented IOR_E* code and changes nothing
 * (queue, state flags, marks and the fake's record are compared before
 * and after). Also: a write_ref longer than 4 GiB is handed to the backend
 * in pieces no longer than the max_len it asks for (Windows WSABUF lengths
 * are 32-bit), without the core touching the memory.
 */
#include "harness.h"

#include <stdint.h>
#include <string.h>

/* What "changes nothing" compares. */
typedef struct snap {
    unsigned state;
    size_t buffered, high, low;
    int start_writing, closes;
    int n_data, n_lost;
} snap_t;

static snap_t take(ior_transport_t *t, int i)
{
    snap_t s;
    s.state = ior_transport_state(t);
    s.buffered = ior_transport_buffered(t);
    s.high = ior_transport_buffer_size(t);
    s.low = ior_transport_low_water(t);
    s.start_writing = E.p[i].rec->start_writing;
    s.closes = E.p[i].rec->closes;
    s.n_data = E.p[i].n_data;
    s.n_lost = E.p[i].n_lost;
    return s;
}

static void same(const snap_t *a, const snap_t *b)
{
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->buffered, b->buffered);
    assert_int_equal(a->high, b->high);
    assert_int_equal(a->low, b->low);
    assert_int_equal(a->start_writing, b->start_writing);
    assert_int_equal(a->closes, b->closes);
    assert_int_equal(a->n_data, b->n_data);
    assert_int_equal(a->n_lost, b->n_lost);
}

/* Every transport function refuses a NULL transport; getters give 0. */
static void test_null_transport_everywhere_is_einval(void **state)
{
    ior_buf_t b = {"x", 1};
    (void)state;
    assert_int_equal(ior_transport_set_protocol(NULL, &tproto_plain_ops, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_write(NULL, "x", 1), IOR_EINVAL);
    assert_int_equal(ior_transport_write_ref(NULL, "x", 1, trel_cb, &E.rel[0]),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_write_sequence(NULL, &b, 1), IOR_EINVAL);
    assert_int_equal(ior_transport_register_producer(NULL, &tprod_ops, NULL, 1),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_unregister_producer(NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_lose_connection(NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_lose_write_connection(NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_abort_connection(NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_stop_consuming(NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_pause_producing(NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_resume_producing(NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_stop_producing(NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_set_buffer_size(NULL, 1), IOR_EINVAL);
    assert_int_equal(ior_transport_set_low_water(NULL, 0), IOR_EINVAL);
    assert_int_equal(ior_transport_set_max_buffer(NULL, 0), IOR_EINVAL);
    assert_null(ior_transport_user(NULL));
    assert_null(ior_transport_loop(NULL));
    assert_int_equal(ior_transport_buffer_size(NULL), 0);
    assert_int_equal(ior_transport_low_water(NULL), 0);
    assert_int_equal(ior_transport_buffered(NULL), 0);
    assert_int_equal(ior_transport_state(NULL), 0);
    assert_int_equal(ior_transport_os_error(NULL), 0);
    /* The producer ops of a transport take the same NULL in stride. */
    ior_transport_producer_ops.pause_producing(NULL);
    ior_transport_producer_ops.resume_producing(NULL);
    ior_transport_producer_ops.stop_producing(NULL);
    assert_int_equal(E.rel[0].n, 0);
}

/* NULL data, NULL buffers, NULL ops: IOR_EINVAL and nothing changes. */
static void test_null_arguments_change_nothing(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    ior_buf_t bad[2] = {{"ab", 2}, {NULL, 3}};
    snap_t a, b;
    (void)state;
    assert_int_equal(ior_transport_write(t, "abc", 3), 0);
    a = take(t, 0);
    assert_int_equal(ior_transport_write(t, NULL, 5), IOR_EINVAL);
    assert_int_equal(ior_transport_write_ref(t, NULL, 5, trel_cb, &E.rel[0]),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_write_sequence(t, NULL, 2), IOR_EINVAL);
    assert_int_equal(ior_transport_write_sequence(t, bad, 2), IOR_EINVAL);
    assert_int_equal(ior_transport_set_protocol(t, NULL, NULL), IOR_EINVAL);
    assert_int_equal(ior_transport_register_producer(t, NULL, NULL, 1),
                     IOR_EINVAL);
    /* A streaming producer must be able to pause. */
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_pull_ops, &E.r[0], 1),
        IOR_EINVAL);
    b = take(t, 0);
    same(&a, &b);
    assert_int_equal(E.rel[0].n, 0);
    assert_int_equal(E.r[0].n_resume + E.r[0].n_pause + E.r[0].n_stop, 0);
}

/* Lengths whose sum overflows size_t: IOR_ERANGE, nothing queued. */
static void test_overflowing_lengths_are_erange(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    static const char x[1] = {'x'};
    ior_buf_t huge[2] = {{x, SIZE_MAX}, {x, 1}};
    snap_t a, b;
    (void)state;
    assert_int_equal(ior_transport_write(t, "abc", 3), 0);
    a = take(t, 0);
    assert_int_equal(ior_transport_write_sequence(t, huge, 2), IOR_ERANGE);
    /* One more byte than the queue can count. */
    assert_int_equal(ior_transport_write_ref(t, x, SIZE_MAX - 1, trel_cb,
                                             &E.rel[0]),
                     IOR_ERANGE);
    b = take(t, 0);
    same(&a, &b);
    assert_int_equal(E.rel[0].n, 0);
}

/* Water marks: 0 and SIZE_MAX are legal highs; low > high and max < high
 * are IOR_ERANGE and leave the marks as they were. */
static void test_absurd_water_marks(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    snap_t a, b;
    (void)state;
    assert_int_equal(ior_transport_buffer_size(t), 65536);
    assert_int_equal(ior_transport_low_water(t), 0);
    assert_int_equal(ior_transport_set_buffer_size(t, 0), 0);
    assert_int_equal(ior_transport_set_buffer_size(t, SIZE_MAX), 0);
    assert_int_equal(ior_transport_buffer_size(t), SIZE_MAX);
    assert_int_equal(ior_transport_set_low_water(t, SIZE_MAX), 0);
    assert_int_equal(ior_transport_set_low_water(t, 0), 0);
    assert_int_equal(ior_transport_set_buffer_size(t, 1000), 0);
    assert_int_equal(ior_transport_set_low_water(t, 500), 0);
    a = take(t, 0);
    assert_int_equal(ior_transport_set_low_water(t, 1001), IOR_ERANGE);
    assert_int_equal(ior_transport_set_low_water(t, SIZE_MAX), IOR_ERANGE);
    assert_int_equal(ior_transport_set_buffer_size(t, 499), IOR_ERANGE);
    assert_int_equal(ior_transport_set_max_buffer(t, 999), IOR_ERANGE);
    assert_int_equal(ior_transport_set_max_buffer(t, 1), IOR_ERANGE);
    assert_int_equal(ior_transport_set_max_buffer(t, 1000), 0);
    assert_int_equal(ior_transport_set_buffer_size(t, 1001), IOR_ERANGE);
    assert_int_equal(ior_transport_set_buffer_size(t, SIZE_MAX), IOR_ERANGE);
    b = take(t, 0);
    same(&a, &b);
    /* max_buffer SIZE_MAX and back to 0 (no limit) are legal. */
    assert_int_equal(ior_transport_set_max_buffer(t, SIZE_MAX), 0);
    assert_int_equal(ior_transport_set_max_buffer(t, 0), 0);
}

/* register twice: IOR_EBUSY, the first stays; unregister none: ENOENT. */
static void test_producer_twice_and_none(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    snap_t a, b;
    (void)state;
    assert_int_equal(ior_transport_unregister_producer(t), IOR_ENOENT);
    assert_int_equal(ior_transport_register_producer(t, &tprod_ops, &E.r[0], 1),
                     0);
    a = take(t, 0);
    assert_int_equal(ior_transport_register_producer(t, &tprod_ops, &E.r[1], 1),
                     IOR_EBUSY);
    assert_int_equal(
        ior_transport_register_producer(t, &tprod_pull_ops, &E.r[1], 0),
        IOR_EBUSY);
    b = take(t, 0);
    same(&a, &b);
    assert_int_equal(E.r[1].n_resume + E.r[1].n_pause + E.r[1].n_stop, 0);
    assert_int_equal(ior_transport_unregister_producer(t), 0);
    assert_int_equal(ior_transport_unregister_producer(t), IOR_ENOENT);
}

/* After lose_write_connection: writes are IOR_ESHUTDOWN (no release
 * taken), a second half-close is harmless. */
static void test_calls_after_half_close(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    ior_buf_t b1 = {"x", 1};
    snap_t a, b;
    (void)state;
    assert_int_equal(ior_transport_write(t, "abc", 3), 0);
    assert_int_equal(ior_transport_lose_write_connection(t), 0);
    a = take(t, 0);
    assert_int_equal(ior_transport_write(t, "x", 1), IOR_ESHUTDOWN);
    assert_int_equal(ior_transport_write_ref(t, "x", 1, trel_cb, &E.rel[0]),
                     IOR_ESHUTDOWN);
    assert_int_equal(ior_transport_write_sequence(t, &b1, 1), IOR_ESHUTDOWN);
    assert_int_equal(ior_transport_lose_write_connection(t), 0);
    b = take(t, 0);
    same(&a, &b);
    assert_int_equal(E.rel[0].n, 0);
}

/* After abort and before connection_lost: writes are IOR_ENOTCONN,
 * abort again is 0, nothing is delivered and lost comes once. */
static void test_calls_after_abort(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    ior_buf_t b1 = {"x", 1};
    snap_t a, b;
    (void)state;
    assert_int_equal(ior_transport_write(t, "abc", 3), 0);
    assert_int_equal(ior_transport_abort_connection(t), 0);
    a = take(t, 0);
    assert_int_equal(ior_transport_write(t, "x", 1), IOR_ENOTCONN);
    assert_int_equal(ior_transport_write_ref(t, "x", 1, trel_cb, &E.rel[0]),
                     IOR_ENOTCONN);
    assert_int_equal(ior_transport_write_sequence(t, &b1, 1), IOR_ENOTCONN);
    assert_int_equal(ior_transport_abort_connection(t), 0);
    b = take(t, 0);
    same(&a, &b);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EABORTED);
    assert_int_equal(E.rel[0].n, 0);
}

/* ior_loop_run and ior_loop_free from inside a callback: IOR_ESTATE, and
 * the loop goes on. */
static int inner_run, inner_free;

static void run_inside(ior_loop_t *loop, void *user)
{
    (void)user;
    inner_run = ior_loop_run(loop);
    inner_free = ior_loop_free(loop);
}

static void test_loop_run_and_free_inside_callback(void **state)
{
    (void)state;
    assert_int_equal(ior_call_later(E.loop, 0, run_inside, NULL, NULL), 0);
    assert_int_equal(ior_loop_run(E.loop), 0);
    assert_int_equal(inner_run, IOR_ESTATE);
    assert_int_equal(inner_free, IOR_ESTATE);
}

/* --- more than 4 GiB in one write_ref ------------------------------------ */

#define U32_MAX_LEN ((size_t)0xffffffffu)

static void big_release(void *ctx, const void *base, size_t len)
{
    trel_t *r = ctx;
    r->n++;
    r->bytes += len;
    r->last_base = base;
}

/*
 * A 5 GiB write_ref (a pointer that is never dereferenced: the core only
 * queues it, the test plays the OS) comes out of ior__core_send_begin in
 * pieces of at most max_len = 4 GiB - 1, contiguous and in order, and is
 * released once with its original base and length.
 */
static void test_write_ref_over_4gib_split_for_32bit_lengths(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    const char *fake = (const char *)(uintptr_t)0x1000; /* never read */
    uint64_t total = (uint64_t)5 << 30;
    uint64_t off = 0;
    ior_buf_t bufs[4];
    int sends = 0;
    (void)state;
    if (sizeof(size_t) < 8) {
        print_message("SKIP: size_t is 32-bit here; no length over 4 GiB\n");
        skip();
    }
    assert_int_equal(ior_transport_write_ref(t, fake, (size_t)total,
                                             big_release, &E.rel[0]),
                     0);
    assert_int_equal(ior_transport_buffered(t), (size_t)total);
    while (off < total) {
        size_t n = ior__core_send_begin(t, bufs, 4, U32_MAX_LEN);
        size_t i, sum = 0;
        assert_true(n >= 1);
        for (i = 0; i < n; i++) {
            assert_true(bufs[i].len <= U32_MAX_LEN);
            assert_true(bufs[i].len > 0);
            assert_ptr_equal(bufs[i].base, fake + off + sum);
            sum += bufs[i].len;
        }
        ior__core_send_end(t, sum); /* the "OS" took all of it */
        off += sum;
        sends++;
    }
    assert_int_equal(ior_transport_buffered(t), 0);
    ior__core_drained(t);
    assert_int_equal(E.rel[0].n, 1);
    assert_true(E.rel[0].bytes == (size_t)total);
    assert_ptr_equal(E.rel[0].last_base, fake);
    print_message("5 GiB write_ref: %d sends; every buffer <= 4 GiB - 1\n",
                  sends);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_null_transport_everywhere_is_einval),
        ENV_TEST(test_null_arguments_change_nothing),
        ENV_TEST(test_overflowing_lengths_are_erange),
        ENV_TEST(test_absurd_water_marks),
        ENV_TEST(test_producer_twice_and_none),
        ENV_TEST(test_calls_after_half_close),
        ENV_TEST(test_calls_after_abort),
        ENV_TEST(test_loop_run_and_free_inside_callback),
        ENV_TEST(test_write_ref_over_4gib_split_for_32bit_lengths),
    };
    return cmocka_run_group_tests_name("core_bad_input", tests, NULL, NULL);
}
