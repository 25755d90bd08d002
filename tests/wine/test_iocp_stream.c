/*
 * The socket FileHandle under Wine: read buffers that grow on a busy
 * stream, a pending read that is never cancelled, the loop's budget of
 * pinned read buffers (zero-byte reads beyond it), the skip-on-success path
 * and the port path, pausing without draining, closing with I/O in
 * flight, addresses and socket options.
 */
#include "wine_util.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Read buffers                                                        */
/* ------------------------------------------------------------------ */

#define BULK (32u * 1024u * 1024u)
#define TAIL 10u
/* Longer than the 1 s after which reads used to be cancelled. */
#define QUIET_MS 1100u

/*
 * After the tail the server waits in a real read (data is flowing). QUIET_MS
 * later that read is still posted, never cancelled, and the next message
 * arrives through it.
 */
static void after_quiet(ior_loop_t *loop, void *user)
{
    pair_t *p = (pair_t *)user;
    (void)loop;
    assert_true(ior__iocp_read_buffer_size(p->server.t) > 0);
    assert_int_equal(ior_transport_write(p->client.t, "later", 5), 0);
}

static void bulk_server_data(conn_t *c)
{
    pair_t *p = c->pair;
    if (c->rx == BULK) {
        /* A short message after the stream: the next read is short. */
        assert_int_equal(ior_transport_write(p->client.t, "0123456789", TAIL),
                         0);
    } else if (c->rx == BULK + TAIL) {
        /* Data flows: the next read is a real one, shrunk, not zero. */
        assert_true(ior__iocp_read_buffer_size(c->t) > 0);
        assert_int_equal(
            ior_call_later(p->tl.loop, QUIET_MS, after_quiet, p, NULL), 0);
    } else if (c->rx == BULK + TAIL + 5) {
        ior_loop_stop(p->tl.loop);
    }
}

static void release_free(void *ctx, const void *base, size_t len)
{
    (void)ctx;
    (void)len;
    free((void *)base);
}

/*
 * A busy stream reads >= 256 KiB per request; a quiet one keeps waiting in
 * its real read (it is never cancelled: on Windows a cancelled socket read
 * can leave the socket unusable), within the loop's budget.
 */
static void test_read_buffer_grows_and_quiet_read_is_not_cancelled(
    void **state)
{
    pair_t p;
    unsigned char *data;
    size_t i;

    (void)state;
    pair_open(&p);
    /* Nothing has arrived yet: the first read is a zero-byte one. */
    assert_int_equal(ior__iocp_read_buffer_size(p.server.t), 0);
    data = (unsigned char *)malloc(BULK);
    assert_non_null(data);
    for (i = 0; i < BULK; i++)
        data[i] = (unsigned char)(i * 7u);
    p.server.on_data = bulk_server_data;
    assert_int_equal(
        ior_transport_write_ref(p.client.t, data, BULK, release_free, NULL), 0);
    tloop_run(&p.tl);
    assert_int_equal(p.server.rx, BULK + TAIL + 5);
    assert_true(ior__iocp_read_buffer_peak(p.server.t) >= IOR__IOCP_READ_MAX);
    assert_true(ior__iocp_pinned(p.tl.loop) <= IOR__IOCP_READ_BUDGET);
    ior_listener_close(p.l);
    tloop_free(&p.tl);
}

/* ------------------------------------------------------------------ */
/* The budget of pinned read buffers                                   */
/* ------------------------------------------------------------------ */

#define BUDGET_BYTES (8u * 1024u * 1024u)

static void release_ctx(void *ctx, const void *base, size_t len)
{
    (void)base;
    (void)len;
    free(ctx);
}

static size_t budget_seen_max;

static void budget_client_data(conn_t *c)
{
    size_t pinned = ior__iocp_pinned(c->pair->tl.loop);
    if (pinned > budget_seen_max)
        budget_seen_max = pinned;
    if (c->rx == BUDGET_BYTES)
        ior_loop_stop(c->pair->tl.loop);
}

/*
 * An echoed 8 MiB stream with the budget at one smallest buffer: the two
 * sockets cannot both read into buffers of their own, so zero-byte reads
 * and the shared drain buffer carry the rest; every byte arrives once, in
 * order, both ways, and the loop never pins more than the budget.
 */
static void test_read_budget_spent_uses_zero_byte_reads(void **state)
{
    pair_t p;
    unsigned char *data;
    size_t i;

    (void)state;
    pair_open(&p);
    ior__iocp_set_read_budget(p.tl.loop, IOR__IOCP_READ_MIN);
    budget_seen_max = 0;
    data = (unsigned char *)malloc(BUDGET_BYTES);
    assert_non_null(data);
    for (i = 0; i < BUDGET_BYTES; i++)
        data[i] = pattern_byte(i);
    p.server.echo = 1;
    p.server.pattern = 1;
    p.client.pattern = 1;
    p.client.on_data = budget_client_data;
    /* Small writes too, so reads come short between the long ones. */
    for (i = 0; i < 64; i++)
        assert_int_equal(ior_transport_write(p.client.t, data + i * 16, 16),
                         0);
    assert_int_equal(ior_transport_write_ref(p.client.t, data + 1024,
                                             BUDGET_BYTES - 1024, release_ctx,
                                             data),
                     0);
    tloop_run(&p.tl);
    print_message("budget %u: %lu zero-byte reads for want of budget, at "
                  "most %lu bytes pinned, during %u bytes each way\n",
                  IOR__IOCP_READ_MIN,
                  ior__iocp_budget_zero_reads(p.tl.loop),
                  (unsigned long)budget_seen_max, BUDGET_BYTES);
    assert_int_equal(p.server.rx, BUDGET_BYTES);
    assert_int_equal(p.client.rx, BUDGET_BYTES);
    assert_int_equal(p.server.mismatches, 0);
    assert_int_equal(p.client.mismatches, 0);
    assert_true(ior__iocp_budget_zero_reads(p.tl.loop) > 0);
    assert_true(budget_seen_max <= IOR__IOCP_READ_MIN);
    ior_listener_close(p.l);
    tloop_free(&p.tl);
}

/* ------------------------------------------------------------------ */
/* Skip-on-success                                                     */
/* ------------------------------------------------------------------ */

#define ECHO_ROUNDS 200

static void echo_client_data(conn_t *c)
{
    static const char msg[] = "ping-pong";
    pair_t *p = c->pair;
    if (c->rx == (uint64_t)ECHO_ROUNDS * (sizeof(msg) - 1)) {
        ior_loop_stop(p->tl.loop);
        return;
    }
    if (c->rx % (sizeof(msg) - 1) == 0)
        assert_int_equal(ior_transport_write(c->t, msg, sizeof(msg) - 1), 0);
}

/*
 * Runs ECHO_ROUNDS request/answer rounds; returns inline completions, and
 * the zero-byte reads posted for want of budget in *zero when asked.
 * budget: the loop's read budget, or (size_t)-1 for the default.
 */
static unsigned long echo_rounds(int expect_skip, size_t budget,
                                 unsigned long *zero)
{
    pair_t p;
    unsigned long inline_count;

    pair_open(&p);
    if (budget != (size_t)-1)
        ior__iocp_set_read_budget(p.tl.loop, budget);
    assert_int_equal(ior__iocp_skip_mode(p.server.t), expect_skip);
    assert_int_equal(ior__iocp_skip_mode(p.client.t), expect_skip);
    p.server.echo = 1;
    p.client.on_data = echo_client_data;
    assert_int_equal(ior_transport_write(p.client.t, "ping-pong", 9), 0);
    tloop_run(&p.tl);
    assert_int_equal(p.client.rx, (uint64_t)ECHO_ROUNDS * 9);
    assert_int_equal(p.server.rx, (uint64_t)ECHO_ROUNDS * 9);
    inline_count = ior__iocp_inline_successes(p.tl.loop);
    if (zero)
        *zero = ior__iocp_budget_zero_reads(p.tl.loop);
    /* Both sockets read in zero-byte reads only: nothing pinned. */
    if (budget == 0)
        assert_int_equal(ior__iocp_pinned(p.tl.loop), 0);
    ior_listener_close(p.l);
    tloop_free(&p.tl);
    return inline_count;
}

/* Wine honours FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: sends finish inline.
 * The direct-write fast path (a plain non-blocking send) is turned off
 * here, so every send is an overlapped WSASend. */
static void test_skip_on_success_handles_inline_completions(void **state)
{
    unsigned long n;
    (void)state;
    assert_true(SetEnvironmentVariableA("IOR_IOCP_NO_DIRECT", "1"));
    n = echo_rounds(1, (size_t)-1, NULL);
    assert_true(SetEnvironmentVariableA("IOR_IOCP_NO_DIRECT", NULL));
    /* Every small send completes inside WSASend: at least one per round. */
    assert_true(n >= ECHO_ROUNDS);
}

/*
 * Request/answer rounds with no budget at all: every read is a zero-byte
 * one followed by a recv() into the shared buffer (libuv's only mode);
 * each round still completes with every byte (echo_rounds checks).
 */
static void test_request_answer_rounds_without_budget(void **state)
{
    unsigned long zero = 0;
    (void)state;
    (void)echo_rounds(1, 0, &zero);
    print_message("budget 0: %lu zero-byte reads for want of budget in %d "
                  "rounds\n",
                  zero, ECHO_ROUNDS);
    assert_true(zero >= ECHO_ROUNDS);
}

/* Without skip mode every request comes back through the port. */
static void test_without_skip_mode_everything_uses_the_port(void **state)
{
    (void)state;
    assert_true(SetEnvironmentVariableA("IOR_IOCP_NO_SKIP", "1"));
    assert_int_equal(echo_rounds(0, (size_t)-1, NULL), 0);
    assert_true(SetEnvironmentVariableA("IOR_IOCP_NO_SKIP", NULL));
}

/* ------------------------------------------------------------------ */
/* Close with I/O in flight                                            */
/* ------------------------------------------------------------------ */

static int releases;

static void count_release(void *ctx, const void *base, size_t len)
{
    (void)ctx;
    (void)len;
    releases++;
    free((void *)base);
}

static void abort_both(ior_loop_t *loop, void *user)
{
    pair_t *p = (pair_t *)user;
    /* The client's WSASend is still in flight: the server never reads. */
    assert_true(ior_transport_buffered(p->client.t) > 0);
    assert_int_equal(ior_transport_abort_connection(p->client.t), 0);
    assert_int_equal(ior_transport_abort_connection(p->server.t), 0);
    (void)loop;
}

/*
 * Aborting with a send in flight and a read posted: the OS hands every
 * buffer back (release runs once), connection_lost comes once per side,
 * and nothing leaks.
 */
static void test_close_with_io_in_flight_frees_everything(void **state)
{
    pair_t p;
    size_t big = 64u * 1024u * 1024u;
    void *data;

    (void)state;
    releases = 0;
    pair_open(&p);
    assert_int_equal(ior_transport_pause_producing(p.server.t), 0);
    data = malloc(big);
    assert_non_null(data);
    memset(data, 'x', big);
    assert_int_equal(
        ior_transport_write_ref(p.client.t, data, big, count_release, NULL), 0);
    assert_int_equal(ior_call_later(p.tl.loop, 50, abort_both, &p, NULL), 0);
    ior_listener_close(p.l);
    tloop_run(&p.tl);
    assert_int_equal(p.client.lost, 1);
    assert_int_equal(p.server.lost, 1);
    assert_int_equal(p.client.reason, IOR_EABORTED);
    assert_int_equal(releases, 1);
    tloop_free(&p.tl);
}

/* ------------------------------------------------------------------ */
/* Addresses, options, pause                                           */
/* ------------------------------------------------------------------ */

static int addr_equal(const ior_addr_t *a, const ior_addr_t *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

/* The accepted side's addresses (GetAcceptExSockaddrs) mirror the client's. */
static void test_accepted_addresses_and_socket_options(void **state)
{
    pair_t p;
    ior_addr_t sh, sp, ch, cp;

    (void)state;
    pair_open(&p);
    assert_int_equal(ior_transport_host_address(p.server.t, &sh), 0);
    assert_int_equal(ior_transport_peer_address(p.server.t, &sp), 0);
    assert_int_equal(ior_transport_host_address(p.client.t, &ch), 0);
    assert_int_equal(ior_transport_peer_address(p.client.t, &cp), 0);
    assert_true(addr_equal(&sh, &cp));
    assert_true(addr_equal(&sp, &ch));
    assert_int_equal(sh.family, IOR_AF_INET);
    assert_int_equal(ior_transport_set_nodelay(p.client.t, 1), 0);
    assert_int_equal(ior_transport_set_keepalive(p.client.t, 1, 30), 0);
    assert_int_equal(ior_transport_set_keepalive(p.server.t, 0, 0), 0);
    ior_listener_close(p.l);
    tloop_free(&p.tl);
}

#define PAUSED_BYTES (48u * 1024u)

static void paused_sent(void *ctx, const void *base, size_t len)
{
    pair_t *p = (pair_t *)ctx;
    (void)len;
    free((void *)base);
    /* Everything is in the server's socket: none of it was taken. */
    assert_int_equal(p->server.rx, 0);
    assert_int_equal(ior__iocp_read_buffer_size(p->server.t), 0);
    assert_int_equal(ior_transport_resume_producing(p->server.t), 0);
}

static void paused_data(conn_t *c)
{
    if (c->rx == PAUSED_BYTES)
        ior_loop_stop(c->pair->tl.loop);
}

/* A paused transport leaves bytes in the socket and pins no buffer. */
static void test_pause_leaves_bytes_in_socket_until_resume(void **state)
{
    pair_t p;
    void *data;

    (void)state;
    pair_open(&p);
    assert_int_equal(ior_transport_pause_producing(p.server.t), 0);
    data = malloc(PAUSED_BYTES);
    assert_non_null(data);
    memset(data, 'p', PAUSED_BYTES);
    p.server.on_data = paused_data;
    assert_int_equal(ior_transport_write_ref(p.client.t, data, PAUSED_BYTES,
                                             paused_sent, &p),
                     0);
    tloop_run(&p.tl);
    assert_int_equal(p.server.rx, PAUSED_BYTES);
    assert_int_equal(p.server.rx_sum, (uint64_t)PAUSED_BYTES * 'p');
    ior_listener_close(p.l);
    tloop_free(&p.tl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_read_buffer_grows_and_quiet_read_is_not_cancelled),
        cmocka_unit_test(test_read_budget_spent_uses_zero_byte_reads),
        cmocka_unit_test(test_skip_on_success_handles_inline_completions),
        cmocka_unit_test(test_without_skip_mode_everything_uses_the_port),
        cmocka_unit_test(test_request_answer_rounds_without_budget),
        cmocka_unit_test(test_close_with_io_in_flight_frees_everything),
        cmocka_unit_test(test_accepted_addresses_and_socket_options),
        cmocka_unit_test(test_pause_leaves_bytes_in_socket_until_resume),
    };
    ior_set_allocator(&counting);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
