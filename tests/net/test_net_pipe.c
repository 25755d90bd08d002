/*
 * The net suite, pipes and files: ior_pipe_open over a real pipe pair and
 * over regular files, through ior.h and the platform helpers only. Every
 * data test runs once per pipe kind the platform has (Windows: an
 * overlapped named pipe, which uses the completion port, and an anonymous
 * pipe, which uses the backend's reader/writer threads).
 */
#include "net_util.h"
#include "../portable.h"
#include "platform.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ior_pipe_open needs ops; nu_conn_attach then installs its own. */
static void ignore_lost(ior_transport_t *t, void *user, int reason)
{
    (void)t;
    (void)user;
    (void)reason;
}
static const ior_protocol_ops_t placeholder = {NULL, NULL, NULL, ignore_lost};

static void need_kind(int kind, int kinds)
{
    if (kind >= kinds)
        skip(); /* this platform has one kind only */
}

typedef struct pipe_ctx {
    nu_loop_t nl;
    nu_conn_t w; /* the write end's transport */
    nu_conn_t r; /* the read end's transport */
    intptr_t rd; /* raw ends, -1 once handed over or closed */
    intptr_t wr;
    int want_lost; /* nu_done once this many transports are lost */
    int lost;
} pipe_ctx_t;

static void on_lost(nu_conn_t *c)
{
    pipe_ctx_t *x = c->user;
    if (++x->lost == x->want_lost)
        nu_done(c->loop);
}

static void open_end(pipe_ctx_t *x, nu_conn_t *c, intptr_t *h, unsigned dir,
                     unsigned flags)
{
    ior_transport_t *t = NULL;
    assert_int_equal(ior_pipe_open(x->nl.loop, *h, dir, &placeholder, NULL, &t),
                     0);
    *h = -1; /* the transport owns it now */
    c->user = x;
    c->on_lost = on_lost;
    nu_conn_attach(c, t, flags);
}

static void pipe_setup(pipe_ctx_t *x, int kind)
{
    memset(x, 0, sizeof(*x));
    nu_loop_init(&x->nl);
    assert_int_equal(nu_platform_pipe(kind, &x->rd, &x->wr), 0);
    print_message("  [%s]\n", nu_platform_pipe_kind_name(kind));
}

static void pipe_teardown(pipe_ctx_t *x)
{
    nu_loop_free(&x->nl);
    if (x->rd != -1)
        nu_platform_close_handle(x->rd);
    if (x->wr != -1)
        nu_platform_close_handle(x->wr);
}

/* --- 16 MiB, a streaming producer, a reader that pauses ------------------- */

#define BIG_BYTES ((uint64_t)16 << 20)
#define PROD_CHUNK ((size_t)16 * 1024)
#define READER_PAUSE_EVERY ((uint64_t)1 << 20)

typedef struct producer {
    ior_transport_t *t;
    uint64_t off;
    uint64_t total;
    int paused;
    int pauses;
    int stopped;
    int finished;
    size_t max_buffered;
} producer_t;

static void produce(producer_t *p)
{
    while (!p->paused && !p->finished && p->off < p->total) {
        size_t n = p->total - p->off > PROD_CHUNK ? PROD_CHUNK
                                                  : (size_t)(p->total - p->off);
        size_t b;
        assert_int_equal(ior_transport_write(p->t, nu_pattern(p->off), n), 0);
        p->off += n;
        b = ior_transport_buffered(p->t);
        if (b > p->max_buffered)
            p->max_buffered = b;
    }
    if (p->off == p->total && !p->finished) {
        p->finished = 1;
        assert_int_equal(ior_transport_unregister_producer(p->t), 0);
        assert_int_equal(ior_transport_lose_connection(p->t), 0);
    }
}

static void prod_pause(void *user)
{
    producer_t *p = user;
    assert_false(p->paused);
    p->paused = 1;
    p->pauses++;
}

static void prod_resume(void *user)
{
    producer_t *p = user;
    p->paused = 0;
    produce(p);
}

static void prod_stop(void *user)
{
    ((producer_t *)user)->stopped = 1;
}

static const ior_producer_ops_t prod_ops = {prod_pause, prod_resume, prod_stop};

typedef struct big_ctx {
    pipe_ctx_t x;
    producer_t p;
    uint64_t next_pause;
    int reader_pauses;
} big_ctx_t;

static void reader_resume(ior_loop_t *loop, void *user)
{
    nu_conn_t *c = user;
    (void)loop;
    if (c->t != NULL)
        assert_int_equal(ior_transport_resume_producing(c->t), 0);
}

/* Every MiB the reader stops reading for a moment. */
static void reader_data(nu_conn_t *c, const void *data, size_t len)
{
    big_ctx_t *b = (big_ctx_t *)c->user; /* x is the first member */
    (void)data;
    (void)len;
    if (c->rx >= b->next_pause) {
        b->next_pause += READER_PAUSE_EVERY;
        b->reader_pauses++;
        assert_int_equal(ior_transport_pause_producing(c->t), 0);
        assert_int_equal(ior_call_later(c->loop, 2, reader_resume, c, NULL), 0);
    }
}

static void run_big(int kind)
{
    big_ctx_t b;
    need_kind(kind, nu_platform_pipe_kinds());
    memset(&b, 0, sizeof(b));
    pipe_setup(&b.x, kind);
    b.x.want_lost = 2;
    b.next_pause = READER_PAUSE_EVERY;
    open_end(&b.x, &b.x.r, &b.x.rd, IOR_PIPE_READ, 0);
    open_end(&b.x, &b.x.w, &b.x.wr, IOR_PIPE_WRITE, 0);
    b.x.r.on_data = reader_data;
    b.p.t = b.x.w.t;
    b.p.total = BIG_BYTES;
    assert_int_equal(
        ior_transport_register_producer(b.x.w.t, &prod_ops, &b.p, 1), 0);
    produce(&b.p);
    nu_loop_run(&b.x.nl);
    assert_int_equal(b.x.r.rx, BIG_BYTES);
    assert_true(b.x.r.rx_hash == nu_pattern_hash(BIG_BYTES));
    /* The writer closed after the drain; the reader saw EOF and closed. */
    assert_int_equal(b.x.w.reason, IOR_EDONE);
    assert_int_equal(b.x.r.reason, IOR_EDONE);
    assert_int_equal(b.x.r.data_after_lost, 0);
    /* Flow control held: the producer was paused, the queue bounded. */
    assert_true(b.p.pauses > 0);
    assert_true(b.p.max_buffered <= 65536 + PROD_CHUNK);
    assert_true(b.reader_pauses >= 15);
    assert_false(b.p.stopped); /* unregistered before the close */
    print_message("  producer paused %d times, max buffered %lu\n", b.p.pauses,
                  (unsigned long)b.p.max_buffered);
    pipe_teardown(&b.x);
}

/* 16 MiB through a pipe: checksum, producer paused, buffer bounded. */
static void test_pipe_16mib_producer_paused_by_slow_reader_k0(void **state)
{
    (void)state;
    run_big(0);
}
static void test_pipe_16mib_producer_paused_by_slow_reader_k1(void **state)
{
    (void)state;
    run_big(1);
}

/* --- EOF on the read end -------------------------------------------------- */

static void run_eof(int kind)
{
    pipe_ctx_t x;
    need_kind(kind, nu_platform_pipe_kinds());
    pipe_setup(&x, kind);
    x.want_lost = 2;
    open_end(&x, &x.r, &x.rd, IOR_PIPE_READ, NU_HALF_CLOSE);
    open_end(&x, &x.w, &x.wr, IOR_PIPE_WRITE, 0);
    assert_int_equal(ior_transport_write(x.w.t, "hello", 5), 0);
    assert_int_equal(ior_transport_lose_connection(x.w.t), 0);
    nu_loop_run(&x.nl);
    assert_int_equal(x.r.rx, 5);
    assert_int_equal(x.r.eof, 1); /* read_connection_lost, once */
    assert_int_equal(x.r.lost, 1);
    assert_int_equal(x.r.reason, IOR_EDONE);
    assert_int_equal(x.w.reason, IOR_EDONE);
    pipe_teardown(&x);
}

/* Closing the writer is EOF for a half-close-aware reader. */
static void test_pipe_writer_close_is_eof_k0(void **state)
{
    (void)state;
    run_eof(0);
}
static void test_pipe_writer_close_is_eof_k1(void **state)
{
    (void)state;
    run_eof(1);
}

/* --- closed reader -------------------------------------------------------- */

static void run_epipe(int kind)
{
    pipe_ctx_t x;
    need_kind(kind, nu_platform_pipe_kinds());
    pipe_setup(&x, kind);
    x.want_lost = 1;
    nu_platform_close_handle(x.rd);
    x.rd = -1;
    open_end(&x, &x.w, &x.wr, IOR_PIPE_WRITE, 0);
    assert_int_equal(ior_transport_write(x.w.t, nu_pattern(0), 65536), 0);
    nu_loop_run(&x.nl);
    assert_int_equal(x.w.lost, 1);
    assert_int_equal(x.w.reason, IOR_EPIPE);
    pipe_teardown(&x);
}

/* Writing to a pipe whose reader is gone is IOR_EPIPE, not a signal. */
static void test_pipe_closed_reader_is_epipe_k0(void **state)
{
    (void)state;
    run_epipe(0);
}
static void test_pipe_closed_reader_is_epipe_k1(void **state)
{
    (void)state;
    run_epipe(1);
}

/* --- abort with a write in flight ----------------------------------------- */

static void abort_now(ior_loop_t *loop, void *user)
{
    nu_conn_t *c = user;
    (void)loop;
    assert_true(ior_transport_buffered(c->t) > 0);
    assert_int_equal(ior_transport_abort_connection(c->t), 0);
    assert_int_equal(ior_transport_abort_connection(c->t), 0);
    assert_int_equal(c->lost, 0); /* reported from the loop */
}

static void run_abort(int kind)
{
    pipe_ctx_t x;
    uint64_t off;
    need_kind(kind, nu_platform_pipe_kinds());
    pipe_setup(&x, kind);
    x.want_lost = 1;
    open_end(&x, &x.w, &x.wr, IOR_PIPE_WRITE, 0);
    /* Nobody reads: the pipe fills and a write stays in flight. */
    for (off = 0; off < ((uint64_t)1 << 20); off += NU_PATTERN_MAX)
        assert_int_equal(
            ior_transport_write(x.w.t, nu_pattern(off), NU_PATTERN_MAX), 0);
    assert_int_equal(ior_call_later(x.nl.loop, 20, abort_now, &x.w, NULL), 0);
    nu_loop_run(&x.nl);
    assert_int_equal(x.w.lost, 1);
    assert_int_equal(x.w.reason, IOR_EABORTED);
    pipe_teardown(&x);
}

/* abort with a blocked write: reported once, nothing leaks. */
static void test_pipe_abort_with_write_in_flight_k0(void **state)
{
    (void)state;
    run_abort(0);
}
static void test_pipe_abort_with_write_in_flight_k1(void **state)
{
    (void)state;
    run_abort(1);
}

/* --- ior_loop_free with a reader blocked forever -------------------------- */

static void stop_soon(ior_loop_t *loop, void *user)
{
    (void)user;
    nu_done(loop);
}

static void run_idle_free(int kind)
{
    pipe_ctx_t x;
    need_kind(kind, nu_platform_pipe_kinds());
    pipe_setup(&x, kind);
    open_end(&x, &x.r, &x.rd, IOR_PIPE_READ, 0);
    /* The writer stays open and silent: the read never completes. */
    assert_int_equal(ior_call_later(x.nl.loop, 20, stop_soon, NULL, NULL), 0);
    nu_loop_run(&x.nl);
    assert_int_equal(x.r.lost, 0);
    pipe_teardown(&x); /* must return, with no leak */
    assert_int_equal(x.r.lost, 1);
    assert_int_equal(x.r.reason, IOR_EABORTED);
}

/* ior_loop_free cancels a read that would never complete. */
static void test_pipe_loop_free_with_blocked_reader_k0(void **state)
{
    (void)state;
    run_idle_free(0);
}
static void test_pipe_loop_free_with_blocked_reader_k1(void **state)
{
    (void)state;
    run_idle_free(1);
}

/* --- regular files -------------------------------------------------------- */

#define FILE_BYTES ((uint64_t)(3 << 20) + 12345)

static void write_pattern_file(const char *path, uint64_t len)
{
    FILE *f = test_fopen(path, "wb");
    uint64_t off = 0;
    assert_non_null(f);
    while (off < len) {
        size_t n =
            len - off > NU_PATTERN_MAX ? NU_PATTERN_MAX : (size_t)(len - off);
        assert_int_equal(fwrite(nu_pattern(off), 1, n, f), n);
        off += n;
    }
    assert_int_equal(fclose(f), 0);
}

static void read_file_hash(const char *path, uint64_t *len, uint64_t *hash)
{
    FILE *f = test_fopen(path, "rb");
    char buf[65536];
    size_t n;
    assert_non_null(f);
    *len = 0;
    *hash = NU_FNV_INIT;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        *len += n;
        *hash = nu_fnv1a(*hash, buf, n);
    }
    assert_int_equal(fclose(f), 0);
}

static void run_file_read(int kind)
{
    pipe_ctx_t x;
    char path[512];
    intptr_t h;
    need_kind(kind, nu_platform_file_kinds());
    memset(&x, 0, sizeof(x));
    x.rd = x.wr = -1;
    assert_int_equal(nu_platform_temp_file(path, sizeof(path)), 0);
    write_pattern_file(path, FILE_BYTES);
    nu_loop_init(&x.nl);
    x.want_lost = 1;
    assert_int_equal(nu_platform_file_open(path, 0, kind, &h), 0);
    open_end(&x, &x.r, &h, IOR_PIPE_READ, 0);
    nu_loop_run(&x.nl);
    assert_int_equal(x.r.rx, FILE_BYTES);
    assert_true(x.r.rx_hash == nu_pattern_hash(FILE_BYTES));
    assert_int_equal(x.r.reason, IOR_EDONE); /* EOF ends a read-only one */
    pipe_teardown(&x);
    assert_int_equal(remove(path), 0);
}

/* A regular file read to EOF through a transport. */
static void test_file_read_to_eof_k0(void **state)
{
    (void)state;
    run_file_read(0);
}
static void test_file_read_to_eof_k1(void **state)
{
    (void)state;
    run_file_read(1);
}

static void run_file_write(int kind)
{
    /* Small and large chunks mixed: gathered and direct writes. */
    static const size_t sizes[] = {1, 100, 70000, 3, 4096, 200000, 17, 65536};
    pipe_ctx_t x;
    char path[512];
    intptr_t h;
    uint64_t off = 0;
    uint64_t len;
    uint64_t hash;
    size_t i = 0;
    need_kind(kind, nu_platform_file_kinds());
    memset(&x, 0, sizeof(x));
    x.rd = x.wr = -1;
    assert_int_equal(nu_platform_temp_file(path, sizeof(path)), 0);
    nu_loop_init(&x.nl);
    x.want_lost = 1;
    assert_int_equal(nu_platform_file_open(path, 1, kind, &h), 0);
    open_end(&x, &x.w, &h, IOR_PIPE_WRITE, 0);
    while (off < FILE_BYTES) {
        size_t n = sizes[i++ % (sizeof(sizes) / sizeof(sizes[0]))];
        if (n > FILE_BYTES - off)
            n = (size_t)(FILE_BYTES - off);
        assert_int_equal(ior_transport_write(x.w.t, nu_pattern(off), n), 0);
        off += n;
    }
    assert_int_equal(ior_transport_lose_connection(x.w.t), 0);
    nu_loop_run(&x.nl);
    assert_int_equal(x.w.reason, IOR_EDONE);
    pipe_teardown(&x);
    read_file_hash(path, &len, &hash);
    assert_int_equal(len, FILE_BYTES);
    assert_true(hash == nu_pattern_hash(FILE_BYTES));
    assert_int_equal(remove(path), 0);
}

/* Writes to a regular file land in order; read back, they match. */
static void test_file_write_then_read_back_k0(void **state)
{
    (void)state;
    run_file_write(0);
}
static void test_file_write_then_read_back_k1(void **state)
{
    (void)state;
    run_file_write(1);
}

/* --- a socket through ior_pipe_open ------------------------------------- */

/* A socket handle works as a pipe: data in order, then EOF on close. */
static void test_pipe_open_over_socket(void **state)
{
    pipe_ctx_t x;
    uint64_t off;
    (void)state;
    memset(&x, 0, sizeof(x));
    nu_loop_init(&x.nl);
    assert_int_equal(nu_platform_socketpair(&x.rd, &x.wr), 0);
    x.want_lost = 2;
    open_end(&x, &x.r, &x.rd, IOR_PIPE_READ, NU_HALF_CLOSE);
    open_end(&x, &x.w, &x.wr, IOR_PIPE_WRITE, 0);
    for (off = 0; off < ((uint64_t)1 << 20); off += NU_PATTERN_MAX)
        assert_int_equal(
            ior_transport_write(x.w.t, nu_pattern(off), NU_PATTERN_MAX), 0);
    assert_int_equal(ior_transport_lose_connection(x.w.t), 0);
    nu_loop_run(&x.nl);
    assert_int_equal(x.r.rx, (uint64_t)1 << 20);
    assert_true(x.r.rx_hash == nu_pattern_hash((uint64_t)1 << 20));
    assert_int_equal(x.r.eof, 1);
    assert_int_equal(x.r.reason, IOR_EDONE);
    assert_int_equal(x.w.reason, IOR_EDONE);
    pipe_teardown(&x);
}

/* --- arguments and stdio -------------------------------------------------- */

/* Bad directions and handles are refused before anything is made. */
static void test_pipe_open_rejects_bad_arguments(void **state)
{
    nu_loop_t nl;
    ior_transport_t *t = NULL;
    intptr_t rd, wr;
    (void)state;
    nu_loop_init(&nl);
    assert_int_equal(nu_platform_pipe(0, &rd, &wr), 0);
    assert_int_equal(ior_pipe_open(nl.loop, rd, 0, &placeholder, NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(ior_pipe_open(nl.loop, rd, 0x4, &placeholder, NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(ior_pipe_open(nl.loop, rd, IOR_PIPE_READ, NULL, NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(
        ior_pipe_open(nl.loop, -1, IOR_PIPE_READ, &placeholder, NULL, &t),
        IOR_EBADF);
    assert_int_equal(ior_stdio_open(nl.loop, 3, &placeholder, NULL, &t),
                     IOR_EINVAL);
    assert_null(t);
    nu_loop_free(&nl);
    nu_platform_close_handle(rd);
    nu_platform_close_handle(wr);
}

/* stderr as a transport: a line written, closed cleanly after the drain. */
static void test_stdio_stderr_write_and_close(void **state)
{
    pipe_ctx_t x;
    ior_transport_t *t = NULL;
    static const char line[] = "  (net_pipe: a line through the stderr "
                               "transport)\n";
    (void)state;
    memset(&x, 0, sizeof(x));
    x.rd = x.wr = -1;
    nu_loop_init(&x.nl);
    x.want_lost = 1;
    assert_int_equal(ior_stdio_open(x.nl.loop, 2, &placeholder, NULL, &t), 0);
    x.w.user = &x;
    x.w.on_lost = on_lost;
    nu_conn_attach(&x.w, t, 0);
    assert_int_equal(ior_transport_write(t, line, sizeof(line) - 1), 0);
    assert_int_equal(ior_transport_lose_connection(t), 0);
    nu_loop_run(&x.nl);
    assert_int_equal(x.w.reason, IOR_EDONE);
    pipe_teardown(&x);
    /* The process's own stderr is still open. */
    fprintf(stderr, "  (net_pipe: stderr still works)\n");
}

/* --- main ----------------------------------------------------------------- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipe_open_rejects_bad_arguments),
        cmocka_unit_test(test_pipe_writer_close_is_eof_k0),
        cmocka_unit_test(test_pipe_writer_close_is_eof_k1),
        cmocka_unit_test(test_pipe_16mib_producer_paused_by_slow_reader_k0),
        cmocka_unit_test(test_pipe_16mib_producer_paused_by_slow_reader_k1),
        cmocka_unit_test(test_pipe_closed_reader_is_epipe_k0),
        cmocka_unit_test(test_pipe_closed_reader_is_epipe_k1),
        cmocka_unit_test(test_pipe_abort_with_write_in_flight_k0),
        cmocka_unit_test(test_pipe_abort_with_write_in_flight_k1),
        cmocka_unit_test(test_pipe_loop_free_with_blocked_reader_k0),
        cmocka_unit_test(test_pipe_loop_free_with_blocked_reader_k1),
        cmocka_unit_test(test_file_read_to_eof_k0),
        cmocka_unit_test(test_file_read_to_eof_k1),
        cmocka_unit_test(test_file_write_then_read_back_k0),
        cmocka_unit_test(test_file_write_then_read_back_k1),
        cmocka_unit_test(test_pipe_open_over_socket),
        cmocka_unit_test(test_stdio_stderr_write_and_close),
    };
    nu_alloc_install();
    return cmocka_run_group_tests_name("net_pipe", tests, NULL, NULL);
}
