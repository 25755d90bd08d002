/*
 * ior_transport_write_file in the core: a file region is queued in order
 * with the writes around it, counted as bytes, released exactly once and
 * in write order, sent by the OS's file send (the fake's files_native) or
 * read into memory by the copy path, split at 2^31 - 2 bytes; the file's
 * failures close the transport with IOR_EIO.
 */
#include "harness.h"
#include "fake_os_stubs.h"

#include <string.h>

/* Release callbacks that log which region went. */
static void rel_a(void *ctx, const void *base, size_t len)
{
    trel_cb(ctx, base, len);
    fake_log("rel_a");
}

static void rel_b(void *ctx, const void *base, size_t len)
{
    trel_cb(ctx, base, len);
    fake_log("rel_b");
}

static void rel_c(void *ctx, const void *base, size_t len)
{
    trel_cb(ctx, base, len);
    fake_log("rel_c");
}

/* Appends bytes [off, off + len) of fake file i to exp. */
static size_t expect_file(unsigned char *exp, size_t at, int i, uint64_t off,
                          size_t len)
{
    size_t k;
    for (k = 0; k < len; k++)
        exp[at + k] = fake_file_byte(i, off + k);
    return at + len;
}

static size_t expect_bytes(unsigned char *exp, size_t at, const char *s)
{
    memcpy(exp + at, s, strlen(s));
    return at + strlen(s);
}

/*
 * head, file 0 [100, 300100), a borrowed buffer, file 1 whole, tail:
 * the peer gets exactly that, and the releases come in write order.
 */
static void write_mixed_stream(int native)
{
    static unsigned char exp[400000];
    static const char ref[] = "borrowed";
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    size_t n = 0, step = 7;

    rec->files_native = native;
    fake_files.size[0] = 400000;
    fake_files.size[1] = 5000;
    assert_int_equal(ior_transport_write(t, "head:", 5), 0);
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(0), 100, 300000,
                                              rel_a, &E.rel[0]),
                     0);
    assert_int_equal(
        ior_transport_write_ref(t, ref, 8, rel_b, &E.rel[1]), 0);
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(1), 0, 5000,
                                              rel_c, &E.rel[2]),
                     0);
    assert_int_equal(ior_transport_write(t, ":tail", 5), 0);
    assert_int_equal(ior_transport_buffered(t), 5 + 300000 + 8 + 5000 + 5);

    n = expect_bytes(exp, n, "head:");
    n = expect_file(exp, n, 0, 100, 300000);
    n = expect_bytes(exp, n, ref);
    n = expect_file(exp, n, 1, 0, 5000);
    n = expect_bytes(exp, n, ":tail");
    /* Partial sends of odd sizes, a drain after each. */
    while (ior_transport_buffered(t) > 0) {
        assert_true(fake_accept(t, step) > 0);
        step = step * 5 % 65521 + 1;
    }
    run_pending();
    assert_sent(rec, exp, n);
    assert_log_only("rel_a rel_b rel_c", "rel_a rel_b rel_c");
    assert_int_equal(E.rel[0].n, 1);
    assert_int_equal(E.rel[1].n, 1);
    assert_int_equal(E.rel[2].n, 1);
    /* A file region lends no memory: release(ctx, NULL, 0). */
    assert_null(E.rel[0].last_base);
    assert_int_equal(E.rel[0].bytes, 0);
    assert_int_equal(E.rel[1].bytes, 8);
    if (native) {
        assert_int_equal(fake_files.reads, 0);
        assert_true(rec->file_sends >= 2);
    } else {
        assert_int_equal(rec->file_sends, 0);
        assert_true(fake_files.reads >= 2); /* 256 KiB pieces */
        assert_int_equal(fake_files.max_read, 256 * 1024);
    }
}

static void test_file_in_order_copy_path(void **state)
{
    (void)state;
    write_mixed_stream(0);
}

static void test_file_in_order_native_send(void **state)
{
    (void)state;
    write_mixed_stream(1);
}

/* A region counts as bytes: the high-water pause, max_buffer, the drain. */
static void test_file_counts_in_flow_control(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    tprod_t *pr = &E.r[0];
    (void)state;
    fake_files.size[0] = 1 << 20;
    assert_int_equal(ior_transport_register_producer(t, &tprod_ops, pr, 1),
                     0);
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(0), 0, 70000,
                                              NULL, NULL),
                     0);
    assert_int_equal(pr->n_pause, 1);
    assert_int_equal(ior_transport_set_max_buffer(t, 100000), 0);
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(0), 0, 40000,
                                              rel_a, &E.rel[0]),
                     IOR_ENOBUFS);
    assert_int_equal(ior_transport_buffered(t), 70000);
    while (ior_transport_buffered(t) > 0)
        fake_accept(t, 30000);
    assert_int_equal(pr->n_resume, 1);
    assert_int_equal(E.rel[0].n, 0); /* refused: the release was not taken */
    assert_int_equal(E.p[0].rec->sent_len, 70000);
}

/* Over 2^31 - 2 bytes the region is split; released once, after it all. */
static void test_file_large_region_splits(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    uint64_t big = (uint64_t)5 << 30;
    (void)state;
    rec->files_native = 1;
    fake_files.size[0] = big + 10;
#if SIZE_MAX < UINT64_MAX
    /* A 32-bit queue cannot count it: refused, nothing queued. */
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(0), 0, big, rel_a,
                                              &E.rel[0]),
                     IOR_ERANGE);
    assert_int_equal(ior_transport_buffered(t), 0);
#else
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(0), 10, big,
                                              rel_a, &E.rel[0]),
                     0);
    assert_int_equal(ior_transport_buffered(t), big);
    /* The first send is one whole piece, from the region's offset. */
    assert_int_equal(fake_send_begin(t), IOR__FILE_CHUNK_MAX);
    assert_int_equal(rec->file_send.offset, 10);
    fake_send_end(t, 1000);
    assert_int_equal(fake_send_begin(t), IOR__FILE_CHUNK_MAX - 1000);
    assert_int_equal(rec->file_send.offset, 1010);
    /* Abort with a send in flight: released once, after the send ends. */
    assert_int_equal(ior_transport_abort_connection(t), 0);
    run_pending();
    assert_int_equal(E.rel[0].n, 0);
    fake_send_end(t, 0);
    run_pending();
    assert_int_equal(E.rel[0].n, 1);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EABORTED);
#endif
}

/* A close after the region waits for it; lose_connection sends it all. */
static void test_file_then_lose_connection(void **state)
{
    static unsigned char exp[200000];
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    (void)state;
    fake_files.size[2] = 200000;
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(2), 0, 200000,
                                              rel_a, &E.rel[0]),
                     0);
    assert_int_equal(ior_transport_lose_connection(t), 0);
    while (ior_transport_buffered(t) > 0)
        fake_accept(t, 65536);
    run_pending();
    (void)expect_file(exp, 0, 2, 0, 200000);
    assert_sent(rec, exp, 200000);
    assert_int_equal(E.rel[0].n, 1);
    assert_int_equal(E.p[0].reason, IOR_EDONE);
}

/*
 * The copy path meets a file that shrank or a read error: the bytes
 * before it went out, nothing after, connection_lost(IOR_EIO), every
 * release once.
 */
static void test_file_read_failure_closes_with_eio(void **state)
{
    static unsigned char exp[300000];
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    fake_rec_t *rec = E.p[0].rec;
    size_t n;
    (void)state;
    fake_files.size[0] = 600000;
    fake_files.shrunk_to[0] = 300000; /* the first 256 KiB piece is fine */
    assert_int_equal(ior_transport_write(t, "x", 1), 0);
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(0), 0, 600000,
                                              rel_a, &E.rel[0]),
                     0);
    assert_int_equal(ior_transport_write(t, "after", 5), 0);
    while (fake_accept(t, 100000) > 0)
        ;
    run_pending();
    n = expect_bytes(exp, 0, "x");
    n = expect_file(exp, n, 0, 0, 256 * 1024);
    assert_sent(rec, exp, n);
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(E.p[0].reason, IOR_EIO);
    assert_int_equal(E.p[0].os_error_at_lost, 0); /* ended early */
    assert_int_equal(E.rel[0].n, 1);

    t = env_open(1, &tproto_aware_ops);
    fake_files.read_error = 5;
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(0), 0, 10,
                                              rel_b, &E.rel[1]),
                     0);
    (void)fake_accept(t, 100);
    run_pending();
    assert_int_equal(E.p[1].reason, IOR_EIO);
    assert_int_equal(E.p[1].os_error_at_lost, 5);
    assert_int_equal(E.p[1].rec->sent_len, 0);
    assert_int_equal(E.rel[1].n, 1);
}

/* Bad input: one code each, nothing queued, no release taken. */
static void test_file_bad_input(void **state)
{
    ior_transport_t *t = env_open(0, &tproto_aware_ops);
    (void)state;
    fake_files.size[0] = 100;
    assert_int_equal(ior_transport_write_file(NULL, FAKE_FILE(0), 0, 1,
                                              rel_a, &E.rel[0]),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_write_file(t, -1, 0, 1, rel_a, &E.rel[0]),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(0), UINT64_MAX, 2,
                                              rel_a, &E.rel[0]),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(0), 50, 51,
                                              rel_a, &E.rel[0]),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(3), 0, 1, rel_a,
                                              &E.rel[0]),
                     IOR_EBADF);
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(0), 100, 0,
                                              rel_a, &E.rel[0]),
                     0);
    assert_int_equal(ior_transport_buffered(t), 0);
    assert_int_equal(ior_transport_lose_write_connection(t), 0);
    assert_int_equal(ior_transport_write_file(t, FAKE_FILE(0), 0, 100,
                                              rel_a, &E.rel[0]),
                     IOR_ESHUTDOWN);
    env_free_loop();
    assert_int_equal(E.rel[0].n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_file_in_order_copy_path),
        ENV_TEST(test_file_in_order_native_send),
        ENV_TEST(test_file_counts_in_flow_control),
        ENV_TEST(test_file_large_region_splits),
        ENV_TEST(test_file_then_lose_connection),
        ENV_TEST(test_file_read_failure_closes_with_eio),
        ENV_TEST(test_file_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
