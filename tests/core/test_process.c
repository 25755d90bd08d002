/*
 * The portable half of child processes (common/process.c): process_ended
 * runs exactly once, only after the exit was reported AND the core has
 * freed all three stdio transports, whatever the order; then the backend's
 * release hook, once. Twisted's maybeCallProcessEnded, against the fake
 * backend's transports.
 */
#include "harness.h"

#include "core.h"

#include <string.h>

typedef struct tproc {
    ior__proc_t core;
    int n_ended;
    int n_released;
    int code;
    int sig;
    int stdio_open_at_end; /* transports the core still had at the end */
    int released_before_ended;
} tproc_t;

static tproc_t P;

static void on_ended(ior_process_t *p, void *user, int exit_code,
                     int term_signal)
{
    tproc_t *tp = (tproc_t *)user;
    int i;
    assert_ptr_equal(p, &tp->core);
    tp->n_ended++;
    tp->code = exit_code;
    tp->sig = term_signal;
    tp->released_before_ended = tp->n_released;
    for (i = 0; i < 3; i++)
        tp->stdio_open_at_end += ior_process_stdio(p, i) != NULL;
    fake_log("ended");
}

static const ior_process_ops_t proc_ops = {on_ended};

static void on_release(ior__proc_t *p)
{
    tproc_t *tp = (tproc_t *)(void *)p;
    tp->n_released++;
    fake_log("released");
}

/* A process with three fake stdio transports (protocols 0, 1, 2). */
static void proc_open(void)
{
    int i;
    memset(&P, 0, sizeof(P));
    ior__core_proc_init(&P.core, E.loop, &proc_ops, &P, on_release);
    P.core.pid = 4242;
    for (i = 0; i < 3; i++)
        ior__core_proc_attach(&P.core, i, env_open(i, &tproto_aware_ops));
}

/* Aborts stdio `which` and runs the loop until the core freed it. */
static void stdio_end(int which)
{
    ior_transport_t *t = ior_process_stdio((ior_process_t *)&P.core, which);
    assert_non_null(t);
    assert_int_equal(ior_transport_abort_connection(t), 0);
    run_pending();
    assert_int_equal(E.p[which].n_lost, 1);
    assert_null(ior_process_stdio((ior_process_t *)&P.core, which));
}

static void test_ended_after_exit_and_all_three_stdio_in_any_order(void **state)
{
    (void)state;
    proc_open();
    assert_int_equal(ior_process_pid((ior_process_t *)&P.core), 4242);
    stdio_end(1);
    ior__core_proc_exited(&P.core, 3, 0);
    assert_int_equal(P.n_ended, 0); /* stdin and stderr are still there */
    stdio_end(0);
    assert_int_equal(P.n_ended, 0);
    stdio_end(2);
    assert_int_equal(P.n_ended, 1);
    assert_int_equal(P.code, 3);
    assert_int_equal(P.sig, 0);
    assert_int_equal(P.stdio_open_at_end, 0);
    assert_int_equal(P.n_released, 1);
    assert_int_equal(P.released_before_ended, 0);
    assert_string_equal(fake_log_only("ended released"), "ended released");
}

static void test_ended_waits_for_the_exit_after_stdio_closed(void **state)
{
    int i;
    (void)state;
    proc_open();
    for (i = 0; i < 3; i++)
        stdio_end(i);
    assert_int_equal(P.n_ended, 0); /* still running: no exit reported */
    assert_int_equal(P.n_released, 0);
    ior__core_proc_exited(&P.core, -1, 9);
    assert_int_equal(P.n_ended, 1);
    assert_int_equal(P.code, -1);
    assert_int_equal(P.sig, 9);
    assert_int_equal(P.n_released, 1);
}

/* A failed spawn: the stdio made so far goes without ending anything. */
static void
test_abort_stdio_ends_transports_without_process_callbacks(void **state)
{
    int i;
    (void)state;
    proc_open();
    ior__core_proc_abort_stdio(&P.core);
    for (i = 0; i < 3; i++)
        assert_null(ior_process_stdio((ior_process_t *)&P.core, i));
    run_pending();
    for (i = 0; i < 3; i++)
        assert_int_equal(E.p[i].n_lost, 1);
    assert_int_equal(P.n_ended, 0);
    assert_int_equal(P.n_released, 0);
}

/* ior_loop_free's path: detached stdio no longer reports to the process. */
static void test_detached_stdio_does_not_reach_the_process(void **state)
{
    ior_transport_t *t[3];
    int i;
    (void)state;
    proc_open();
    for (i = 0; i < 3; i++)
        t[i] = ior_process_stdio((ior_process_t *)&P.core, i);
    ior__core_proc_detach_stdio(&P.core);
    P.core.exited = 1; /* even with the exit seen, nothing may end */
    for (i = 0; i < 3; i++)
        assert_int_equal(ior_transport_abort_connection(t[i]), 0);
    run_pending();
    for (i = 0; i < 3; i++)
        assert_int_equal(E.p[i].n_lost, 1);
    assert_int_equal(P.core.open_stdio, 3);
    assert_int_equal(P.n_ended, 0);
    assert_int_equal(P.n_released, 0);
}

static void test_process_accessors_refuse_bad_input(void **state)
{
    (void)state;
    proc_open();
    assert_null(ior_process_stdio(NULL, 0));
    assert_null(ior_process_stdio((ior_process_t *)&P.core, -1));
    assert_null(ior_process_stdio((ior_process_t *)&P.core, 3));
    assert_int_equal(ior_process_pid(NULL), -1);
    ior__core_proc_exited(&P.core, 0, 0);
    stdio_end(0);
    stdio_end(1);
    stdio_end(2);
    assert_int_equal(P.n_ended, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_ended_after_exit_and_all_three_stdio_in_any_order),
        ENV_TEST(test_ended_waits_for_the_exit_after_stdio_closed),
        ENV_TEST(test_abort_stdio_ends_transports_without_process_callbacks),
        ENV_TEST(test_detached_stdio_does_not_reach_the_process),
        ENV_TEST(test_process_accessors_refuse_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
