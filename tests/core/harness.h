/*
 * Shared fixtures for the core tests: a recording protocol, a recording
 * producer and release-callback counters, all of which write their events
 * into the fake backend's ordered log, plus the setup/teardown that checks
 * every test for leaks and seam violations.
 *
 * Include after <cmocka.h>'s prerequisites (stdarg, stddef, setjmp).
 */
#ifndef IOR_TEST_HARNESS_H
#define IOR_TEST_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "counting_alloc.h"
#include "fake_backend.h"

#define RX_CAP (1u << 20)

/* A protocol that records what the transport tells it. */
typedef struct tproto {
    ior_transport_t *t;
    fake_rec_t *rec;
    unsigned char *rx; /* RX_CAP bytes, every byte data_received got */
    size_t rx_len;
    int n_data, n_read_lost, n_write_lost, n_lost;
    int reason;
    int os_error_at_lost;
    unsigned state_at_lost;
    /* Optional behaviour for re-entrancy tests. */
    void (*on_data)(struct tproto *p, const void *data, size_t len);
    void (*on_read_lost)(struct tproto *p);
    void (*on_write_lost)(struct tproto *p);
    void (*on_lost)(struct tproto *p, int reason);
    void *ctx;
} tproto_t;

/* Half-close aware (has read_connection_lost) and not aware. */
extern const ior_protocol_ops_t tproto_aware_ops;
extern const ior_protocol_ops_t tproto_plain_ops;

/* A producer that records its callbacks. */
typedef struct tprod {
    ior_transport_t *t;
    int n_pause, n_resume, n_stop;
    unsigned state_at_resume; /* ior_transport_state during resume */
    void (*on_pause)(struct tprod *p);
    void (*on_resume)(struct tprod *p);
    void (*on_stop)(struct tprod *p);
    void *ctx;
    int budget; /* free for the test's own use */
} tprod_t;

extern const ior_producer_ops_t tprod_ops;      /* with pause */
extern const ior_producer_ops_t tprod_pull_ops; /* pause NULL */

/* A release-callback counter for write_ref. */
typedef struct trel {
    int n;
    size_t bytes;
    const void *last_base;
} trel_t;
void trel_cb(void *ctx, const void *base, size_t len);

#define NPROTO 4
#define NPROD 4
#define NREL 8

/* Per-test state; static so callbacks stay valid until teardown. */
typedef struct env {
    ior_loop_t *loop;
    tproto_t p[NPROTO];
    tprod_t r[NPROD];
    trel_t rel[NREL];
} env_t;

extern env_t E;

/* cmocka fixtures: install the counting allocator, reset the fake, make a
 * loop; teardown frees the loop (if the test did not) and asserts zero live
 * allocations and zero seam violations. */
int env_setup(void **state);
int env_teardown(void **state);

/* Frees E.loop now (teardown then finds it NULL). */
void env_free_loop(void);

/* Opens a transport for E.p[i] with the given ops. */
ior_transport_t *env_open(int i, const ior_protocol_ops_t *ops);

/* The core pending list once (connection_lost, deferred drains ...). */
void run_pending(void);

/* Asserts that the bytes the fake sent for rec equal exp[0..n). */
void assert_sent(const fake_rec_t *rec, const void *exp, size_t n);
/* Asserts that p received exactly exp[0..n). */
void assert_received(const tproto_t *p, const void *exp, size_t n);
/* Asserts the filtered log equals exp. */
#define assert_log_only(kinds, exp) \
    assert_string_equal(fake_log_only(kinds), (exp))

#define HAS(t, flag) ((ior_transport_state(t) & (flag)) != 0)

#define ENV_TEST(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

#endif
