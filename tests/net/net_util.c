/* Helpers of the net suite; see net_util.h. */
#include "net_util.h"
#include "../portable.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* --- Counting allocator ------------------------------------------------ */

/*
 * A header in front of each block keeps its size-free accounting simple:
 * we only count blocks. Atomic, because call_from_thread allocates on the
 * posting thread.
 */
/*
 * Counters the allocator hooks bump from any thread (helper threads
 * allocate too). MSVC's C library has no <stdatomic.h>: Interlocked there.
 */
#if defined(_MSC_VER)
#include <intrin.h>
typedef volatile long nu_counter_t;
#define NU_ADD(c, v) ((void)_InterlockedExchangeAdd(&(c), (v)))
#define NU_LOAD(c) _InterlockedOr(&(c), 0)
#else
#include <stdatomic.h>
typedef atomic_long nu_counter_t;
#define NU_ADD(c, v) ((void)atomic_fetch_add(&(c), (v)))
#define NU_LOAD(c) atomic_load(&(c))
#endif

static nu_counter_t live_blocks;
static nu_counter_t total_blocks;

typedef union nu_hdr {
    max_align_t align;
    size_t size;
} nu_hdr_t;

static void *nu_malloc(void *ctx, size_t size)
{
    nu_hdr_t *h = malloc(sizeof(*h) + size);
    (void)ctx;
    if (h == NULL)
        return NULL;
    h->size = size;
    NU_ADD(live_blocks, 1);
    NU_ADD(total_blocks, 1);
    return h + 1;
}

static void nu_free(void *ctx, void *p)
{
    (void)ctx;
    if (p == NULL)
        return;
    NU_ADD(live_blocks, -1);
    free((nu_hdr_t *)p - 1);
}

static void *nu_realloc(void *ctx, void *p, size_t size)
{
    nu_hdr_t *h;
    if (p == NULL)
        return nu_malloc(ctx, size);
    h = realloc((nu_hdr_t *)p - 1, sizeof(*h) + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    return h + 1;
}

void nu_alloc_install(void)
{
    static const ior_allocator_t a = {nu_malloc, nu_realloc, nu_free, NULL};
    int r = ior_set_allocator(&a);
    if (r != 0) {
        fprintf(stderr, "ior_set_allocator: %s\n", ior_strerror(r));
        abort();
    }
}

long nu_alloc_live(void)
{
    return NU_LOAD(live_blocks);
}

long nu_alloc_total(void)
{
    return NU_LOAD(total_blocks);
}

/* --- Loop with a watchdog --------------------------------------------- */

static void on_watchdog(ior_loop_t *loop, void *user)
{
    nu_loop_t *nl = user;
    nl->fired = 1;
    nl->watchdog = 0;
    ior_loop_stop(loop);
}

void nu_loop_init(nu_loop_t *nl)
{
    int r;
    memset(nl, 0, sizeof(*nl));
    nl->live_before = nu_alloc_live();
    r = ior_loop_new(&nl->loop, NULL);
    assert_int_equal(r, 0);
    r = ior_call_later(nl->loop, nu_watchdog_ms(), on_watchdog, nl,
                       &nl->watchdog);
    assert_int_equal(r, 0);
}

/* Slow runs (valgrind) scale the watchdog like CTest's timeouts. */
uint64_t nu_watchdog_ms(void)
{
    const char *s = test_getenv("IOR_TEST_TIMEOUT_SCALE");
    long k = s != NULL ? strtol(s, NULL, 10) : 1;
    return (uint64_t)NU_WATCHDOG_MS * (uint64_t)(k > 1 ? k : 1);
}

void nu_loop_run(nu_loop_t *nl)
{
    assert_int_equal(ior_loop_run(nl->loop), 0);
    if (nl->fired)
        fail_msg("watchdog: the test did not finish in %lu ms",
                 (unsigned long)nu_watchdog_ms());
}

void nu_loop_free(nu_loop_t *nl)
{
    if (nl->watchdog != 0)
        (void)ior_timer_cancel(nl->loop, nl->watchdog);
    assert_int_equal(ior_loop_free(nl->loop), 0);
    nl->loop = NULL;
    if (nu_alloc_live() != nl->live_before)
        fail_msg("leak: %ld library allocations still live",
                 nu_alloc_live() - nl->live_before);
}

void nu_done(ior_loop_t *loop)
{
    ior_loop_stop(loop);
}

/* --- Data -------------------------------------------------------------- */

uint64_t nu_fnv1a(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t i;
    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Period 251 (a prime), so chunk boundaries rarely line up with it. */
#define NU_PERIOD 251
static uint8_t pattern[NU_PATTERN_MAX + NU_PERIOD];
static int pattern_ready;

const uint8_t *nu_pattern(uint64_t offset)
{
    if (!pattern_ready) {
        size_t i;
        for (i = 0; i < sizeof(pattern); i++)
            pattern[i] = (uint8_t)((i % NU_PERIOD) * 7 + 3);
        pattern_ready = 1;
    }
    return pattern + (size_t)(offset % NU_PERIOD);
}

uint64_t nu_pattern_hash(uint64_t len)
{
    uint64_t h = NU_FNV_INIT;
    uint64_t off = 0;
    while (off < len) {
        size_t n =
            len - off > NU_PATTERN_MAX ? NU_PATTERN_MAX : (size_t)(len - off);
        h = nu_fnv1a(h, nu_pattern(off), n);
        off += n;
    }
    return h;
}

/* --- A recording connection ---------------------------------------------- */

static void c_data(ior_transport_t *t, void *user, const void *data, size_t len)
{
    nu_conn_t *c = user;
    if (c->lost)
        c->data_after_lost++;
    assert_true(len > 0);
    c->rx += len;
    c->rx_hash = nu_fnv1a(c->rx_hash, data, len);
    if (c->flags & NU_ECHO) {
        int r = ior_transport_write(t, data, len);
        assert_true(r == 0 || r == IOR_ESHUTDOWN || r == IOR_ENOTCONN);
    }
    if (c->on_data != NULL)
        c->on_data(c, data, len);
}

static void c_eof(ior_transport_t *t, void *user)
{
    nu_conn_t *c = user;
    (void)t;
    c->eof++;
    if (c->on_eof != NULL)
        c->on_eof(c);
}

static void c_write_lost(ior_transport_t *t, void *user)
{
    nu_conn_t *c = user;
    (void)t;
    c->write_lost++;
}

static void c_lost(ior_transport_t *t, void *user, int reason)
{
    nu_conn_t *c = user;
    (void)t;
    c->lost++;
    c->reason = reason;
    c->t = NULL;
    if (c->server != NULL)
        ((nu_server_t *)c->server)->lost++;
    if (c->on_lost != NULL)
        c->on_lost(c);
}

static const ior_protocol_ops_t proto_plain = {c_data, NULL, c_write_lost,
                                               c_lost};
static const ior_protocol_ops_t proto_half = {c_data, c_eof, c_write_lost,
                                              c_lost};

void nu_conn_attach(nu_conn_t *c, ior_transport_t *t, unsigned flags)
{
    c->t = t;
    c->loop = ior_transport_loop(t);
    c->flags = flags;
    c->connected = 1;
    c->rx_hash = NU_FNV_INIT;
    assert_int_equal(
        ior_transport_set_protocol(
            t, (flags & NU_HALF_CLOSE) ? &proto_half : &proto_plain, c),
        0);
    if (flags & NU_PAUSED)
        assert_int_equal(ior_transport_pause_producing(t), 0);
}

static void on_connect(ior_loop_t *loop, void *user, ior_transport_t *t,
                       int status, int os_error)
{
    nu_conn_t *c = user;
    c->loop = loop;
    c->connect_status = status;
    c->connect_os_error = os_error;
    if (status == 0)
        nu_conn_attach(c, t, c->flags);
    else
        assert_null(t);
    if (c->on_connect != NULL)
        c->on_connect(c);
}

int nu_connect_with(ior_loop_t *loop, const ior_addr_t *addr, nu_conn_t *c,
                    unsigned flags, const ior_connect_options_t *opts)
{
    c->flags = flags;
    c->loop = loop;
    c->connect_status = 1; /* not yet */
    return ior_tcp_connect(loop, addr, opts, on_connect, c);
}

int nu_local_connect(ior_loop_t *loop, const char *name, nu_conn_t *c,
                     unsigned flags, const ior_connect_options_t *opts)
{
    c->flags = flags;
    c->loop = loop;
    c->connect_status = 1; /* not yet */
    return ior_local_connect(loop, name, opts, on_connect, c);
}

void nu_connect(ior_loop_t *loop, const ior_addr_t *addr, nu_conn_t *c,
                unsigned flags)
{
    assert_int_equal(nu_connect_with(loop, addr, c, flags, NULL), 0);
}

/* --- Server -------------------------------------------------------------- */

static void s_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    nu_server_t *s = user;
    nu_conn_t *c = calloc(1, sizeof(*c));
    (void)l;
    assert_non_null(c);
    c->server = s;
    c->next = s->conns;
    s->conns = c;
    s->accepted++;
    nu_conn_attach(c, t, s->flags);
    if (s->on_accept != NULL)
        s->on_accept(s, c);
}

static const ior_listener_ops_t server_ops = {s_accept, NULL};

int nu_server_start_at(nu_server_t *s, ior_loop_t *loop, const ior_addr_t *addr,
                       unsigned flags, int backlog)
{
    ior_listen_options_t o = {0, 0, 0};
    int r;
    s->flags = flags;
    o.backlog = backlog;
    o.ipv6_only = s->ipv6_only;
    o.flags = s->listen_flags;
    r = ior_tcp_listen(loop, addr, &o, &server_ops, s, &s->l);
    if (r != 0)
        return r;
    assert_int_equal(ior_listener_address(s->l, &s->addr), 0);
    assert_true(s->addr.port != 0);
    return 0;
}

int nu_server_start(nu_server_t *s, ior_loop_t *loop, const char *ip,
                    unsigned flags, int backlog)
{
    ior_addr_t a;
    assert_int_equal(ior_addr_parse(&a, ip, 0), 0);
    return nu_server_start_at(s, loop, &a, flags, backlog);
}

void nu_server_close(nu_server_t *s)
{
    if (s->l != NULL)
        ior_listener_close(s->l);
    s->l = NULL;
}

void nu_server_free_conns(nu_server_t *s)
{
    while (s->conns != NULL) {
        nu_conn_t *c = s->conns;
        s->conns = c->next;
        free(c);
    }
}
