/*
 * The timer heap, through ior_call_later/ior_timer_cancel with the fake
 * clock, and directly through ior__timers_*.
 */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXFIRED 128

static int fired[MAXFIRED];
static int nfired;

static void rec_fire(ior_loop_t *loop, void *user)
{
    (void)loop;
    assert_true(nfired < MAXFIRED);
    fired[nfired++] = (int)(intptr_t)user;
}

static void reset_fired(void)
{
    nfired = 0;
    memset(fired, 0, sizeof(fired));
}

/* Sets the fake clock and runs one iteration (time, timers, pending). */
static void at(uint64_t ms)
{
    fake_set_now(ms);
    fake_iterate(E.loop);
}

static void assert_fired(const int *exp, int n)
{
    int i;
    assert_int_equal(nfired, n);
    for (i = 0; i < n; i++)
        assert_int_equal(fired[i], exp[i]);
}

/* Timers fire in deadline order, each only once due. */
static void test_timers_fire_in_deadline_order(void **state)
{
    static const int exp[] = {10, 20, 30};
    (void)state;
    reset_fired();
    ior_call_later(E.loop, 30, rec_fire, (void *)30, NULL);
    ior_call_later(E.loop, 10, rec_fire, (void *)10, NULL);
    ior_call_later(E.loop, 20, rec_fire, (void *)20, NULL);
    at(1009);
    assert_int_equal(nfired, 0);
    at(1010);
    assert_fired(exp, 1);
    at(1025);
    assert_fired(exp, 2);
    at(5000);
    assert_fired(exp, 3);
    assert_int_equal(ior_loop_now(E.loop), 5000);
}

/* Timers with the same deadline fire in the order they were scheduled,
 * also when scheduled interleaved with other deadlines. */
static void test_timers_ties_fire_in_schedule_order(void **state)
{
    static const int exp[] = {2, 4, 6, 1, 3, 5};
    int i;
    (void)state;
    reset_fired();
    for (i = 1; i <= 6; i++)
        ior_call_later(E.loop, i % 2 ? 10 : 5, rec_fire,
                       (void *)(intptr_t)i, NULL);
    at(1005);
    assert_fired(exp, 3);
    at(1010);
    assert_fired(exp, 6);
}

/* Cancelling the earliest timer: it never fires, the next one becomes the
 * head (the poll timeout follows it). */
static void test_timer_cancel_head(void **state)
{
    static const int exp[] = {2};
    ior_timer_id a, b;
    (void)state;
    reset_fired();
    ior__core_loop_update_time(E.loop);
    assert_int_equal(ior_call_later(E.loop, 10, rec_fire, (void *)1, &a), 0);
    assert_int_equal(ior_call_later(E.loop, 40, rec_fire, (void *)2, &b), 0);
    assert_int_equal(ior__loop_timeout(E.loop), 10);
    assert_int_equal(ior_timer_cancel(E.loop, a), 0);
    assert_int_equal(ior__loop_timeout(E.loop), 40);
    at(1100);
    assert_fired(exp, 1);
    assert_int_equal(ior__loop_timeout(E.loop), -1);
}

static ior_timer_id victim, self_id;

static void cancel_others(ior_loop_t *loop, void *user)
{
    rec_fire(loop, user);
    assert_int_equal(ior_timer_cancel(loop, victim), 0);
    /* Its own handle is stale once it fires. */
    assert_int_equal(ior_timer_cancel(loop, self_id), IOR_ENOENT);
}

/* A firing timer cancels another due timer (it does not fire) and its own
 * handle (IOR_ENOENT: it already fired). */
static void test_timer_cancel_from_inside_firing_timer(void **state)
{
    static const int exp[] = {1, 3};
    (void)state;
    reset_fired();
    ior_call_later(E.loop, 5, cancel_others, (void *)1, &self_id);
    ior_call_later(E.loop, 5, rec_fire, (void *)2, &victim);
    ior_call_later(E.loop, 5, rec_fire, (void *)3, NULL);
    at(1005);
    assert_fired(exp, 2);
}

static void rearm_zero(ior_loop_t *loop, void *user)
{
    rec_fire(loop, user);
    if ((intptr_t)user < 3)
        assert_int_equal(ior_call_later(loop, 0, rearm_zero,
                                        (void *)((intptr_t)user + 1), NULL),
                         0);
}

/* A timer scheduled from a timer with delay 0 waits for the next pass. */
static void test_timer_added_from_timer_runs_next_pass(void **state)
{
    static const int exp[] = {1, 2, 3};
    (void)state;
    reset_fired();
    ior_call_later(E.loop, 0, rearm_zero, (void *)1, NULL);
    at(1000);
    assert_fired(exp, 1);
    assert_int_equal(ior__loop_timeout(E.loop), 0);
    at(1000);
    assert_fired(exp, 2);
    at(1000);
    assert_fired(exp, 3);
}

/* Handles of fired or cancelled timers, and made-up ones, are stale:
 * IOR_ENOENT and nothing happens — even once the slot is reused. */
static void test_timer_stale_handles_are_enoent(void **state)
{
    static const int exp[] = {1, 3};
    ior_timer_id a, b, c;
    (void)state;
    reset_fired();
    ior_call_later(E.loop, 1, rec_fire, (void *)1, &a);
    ior_call_later(E.loop, 100, rec_fire, (void *)2, &b);
    at(1001); /* a fired */
    assert_int_equal(ior_timer_cancel(E.loop, a), IOR_ENOENT);
    assert_int_equal(ior_timer_cancel(E.loop, b), 0);
    assert_int_equal(ior_timer_cancel(E.loop, b), IOR_ENOENT);
    ior_call_later(E.loop, 1, rec_fire, (void *)3, &c); /* reuses a slot */
    assert_true(c != a && c != b);
    assert_int_equal(ior_timer_cancel(E.loop, a), IOR_ENOENT);
    assert_int_equal(ior_timer_cancel(E.loop, b), IOR_ENOENT);
    assert_int_equal(ior_timer_cancel(E.loop, 0), IOR_ENOENT);
    assert_int_equal(ior_timer_cancel(E.loop, UINT64_MAX), IOR_ENOENT);
    assert_int_equal(ior_timer_cancel(E.loop, ((uint64_t)1 << 32) | 999),
                     IOR_ENOENT);
    assert_int_equal(ior_timer_cancel(NULL, c), IOR_EINVAL);
    at(1100);
    assert_fired(exp, 2);
}

/* ior_call_later refuses a NULL loop or callback. */
static void test_call_later_invalid_is_einval(void **state)
{
    (void)state;
    assert_int_equal(ior_call_later(NULL, 1, rec_fire, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_call_later(E.loop, 1, NULL, NULL, NULL),
                     IOR_EINVAL);
}

/* Out of memory at every allocation of ior_call_later: IOR_ENOMEM,
 * nothing scheduled, nothing leaked; the heap keeps working. */
static void test_call_later_oom_at_every_allocation(void **state)
{
    long n;
    int rc = -1, i;
    (void)state;
    reset_fired();
    /* Fill the first block so that the next add must grow the heap. */
    for (i = 0; i < 64; i++)
        assert_int_equal(ior_call_later(E.loop, 50, rec_fire, (void *)1,
                                        NULL),
                         0);
    for (n = 0; n < 20; n++) {
        size_t fails = alloc_failures();
        alloc_fail_after(n);
        rc = ior_call_later(E.loop, 10, rec_fire, (void *)2, NULL);
        alloc_fail_after(-1);
        if (alloc_failures() == fails)
            break;
        assert_int_equal(rc, IOR_ENOMEM);
        at(1011);
        assert_int_equal(nfired, 0); /* the failed one is not scheduled */
    }
    assert_int_equal(rc, 0);
    assert_true(n > 0);
    at(1049);
    assert_int_equal(nfired, 1);
    at(1050);
    assert_int_equal(nfired, 65);
}

/* The poll timeout: -1 with nothing to wait for, 0 with pending work, else
 * ms to the next deadline; a huge delay neither wraps nor fires. */
static void test_loop_timeout_follows_next_timer(void **state)
{
    ior_transport_t *t;
    (void)state;
    reset_fired();
    ior__core_loop_update_time(E.loop);
    assert_int_equal(ior__loop_timeout(E.loop), -1);
    ior_call_later(E.loop, UINT64_MAX, rec_fire, (void *)9, NULL);
    assert_true(ior__loop_timeout(E.loop) > 0);
    ior_call_later(E.loop, 50, rec_fire, (void *)1, NULL);
    assert_int_equal(ior__loop_timeout(E.loop), 50);
    fake_set_now(1020);
    ior__core_loop_update_time(E.loop);
    assert_int_equal(ior__loop_timeout(E.loop), 30);
    t = env_open(0, &tproto_aware_ops);
    ior_transport_lose_connection(t); /* a deferred drain is pending */
    assert_int_equal(ior__loop_timeout(E.loop), 0);
    at(1000000);
    run_pending();
    assert_int_equal(nfired, 1);
}

/* ior_loop_run fires every timer in order with the fake clock (each poll
 * waits out its timeout) and returns when none is left. */
static void test_loop_run_fires_timers_and_returns(void **state)
{
    static const int exp[] = {1, 2, 3};
    (void)state;
    reset_fired();
    ior_call_later(E.loop, 300, rec_fire, (void *)3, NULL);
    ior_call_later(E.loop, 100, rec_fire, (void *)1, NULL);
    ior_call_later(E.loop, 200, rec_fire, (void *)2, NULL);
    assert_int_equal(ior_loop_run(E.loop), 0);
    assert_fired(exp, 3);
    assert_int_equal(ior_loop_now(E.loop), 1300);
}

/* ior_loop_free drops timers without firing them. */
static void test_loop_free_drops_timers_without_firing(void **state)
{
    (void)state;
    reset_fired();
    ior_call_later(E.loop, 0, rec_fire, (void *)1, NULL);
    ior_call_later(E.loop, 10, rec_fire, (void *)2, NULL);
    env_free_loop();
    assert_int_equal(nfired, 0);
}

/* ------------------------------------------------------------------ */
/* The heap directly                                                   */
/* ------------------------------------------------------------------ */

static uint32_t lcg_state;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

#define BIG 100000
#define EXTRA 10000

/* 100,000 timers with random deadlines (many ties), a third cancelled,
 * then 10,000 more added into the recycled slots: all come out sorted by
 * deadline, ties in insertion order, and the cancelled ones never. */
static void test_heap_100000_random_timers_come_out_sorted(void **state)
{
    ior__timers_t h;
    uint64_t *deadline = malloc((BIG + EXTRA) * sizeof(*deadline));
    ior_timer_id *ids = malloc((BIG + EXTRA) * sizeof(*ids));
    unsigned char *cancelled = calloc(BIG + EXTRA, 1);
    ior_callback_t cb;
    void *user;
    ior_timer_id id;
    long prev = -1, out = 0, i, kept = 0;
    int has;
    (void)state;
    assert_non_null(deadline);
    assert_non_null(ids);
    assert_non_null(cancelled);
    lcg_state = 12345;
    ior__timers_init(&h);
    for (i = 0; i < BIG; i++) {
        deadline[i] = lcg() % 5000;
        assert_int_equal(ior__timers_add(&h, deadline[i], 0, rec_fire,
                                         (void *)(intptr_t)i, &ids[i]),
                         0);
    }
    for (i = 0; i < BIG; i++) {
        if (lcg() % 3 == 0) {
            assert_int_equal(ior__timers_cancel(&h, ids[i]), 0);
            cancelled[i] = 1;
        } else {
            kept++;
        }
    }
    for (i = BIG; i < BIG + EXTRA; i++) {
        deadline[i] = lcg() % 5000;
        assert_int_equal(ior__timers_add(&h, deadline[i], 0, rec_fire,
                                         (void *)(intptr_t)i, &ids[i]),
                         0);
        kept++;
    }
    while (ior__timers_next(&h, &has), has) {
        long k;
        assert_int_equal(ior__timers_pop_due(&h, UINT64_MAX, UINT64_MAX, &cb,
                                             &user, &id),
                         1);
        k = (long)(intptr_t)user;
        assert_ptr_equal(cb, rec_fire);
        assert_false(cancelled[k]);
        if (prev >= 0)
            assert_true(deadline[prev] < deadline[k] ||
                        (deadline[prev] == deadline[k] && prev < k));
        prev = k;
        out++;
    }
    assert_int_equal(out, kept);
    ior__timers_cleanup(&h);
    free(deadline);
    free(ids);
    free(cancelled);
}

/* pop_due honours now and the sequence limit; next reports the head. */
static void test_heap_pop_due_respects_now_and_seq_limit(void **state)
{
    ior__timers_t h;
    ior_callback_t cb;
    void *user;
    ior_timer_id id;
    int has;
    (void)state;
    ior__timers_init(&h);
    assert_int_equal(ior__timers_next(&h, &has), 0);
    assert_int_equal(has, 0);
    ior__timers_add(&h, 10, 0, rec_fire, (void *)1, NULL);
    ior__timers_add(&h, 10, 0, rec_fire, (void *)2, NULL);
    assert_int_equal(ior__timers_next(&h, &has), 10);
    assert_int_equal(has, 1);
    assert_int_equal(ior__timers_pop_due(&h, 9, UINT64_MAX, &cb, &user, &id), 0);
    /* Only sequence 0 is below the limit 1. */
    assert_int_equal(ior__timers_pop_due(&h, 10, 1, &cb, &user, &id), 1);
    assert_ptr_equal(user, (void *)1);
    assert_int_equal(ior__timers_pop_due(&h, 10, 1, &cb, &user, &id), 0);
    assert_int_equal(ior__timers_pop_due(&h, 10, 2, &cb, &user, &id), 1);
    assert_ptr_equal(user, (void *)2);
    ior__timers_cleanup(&h);
}

/* ------------------------------------------------------------------ */
/* Repeating timers and restart                                        */
/* ------------------------------------------------------------------ */

static ior_timer_id rep_id;
static int rep_stop_after; /* cancel from inside the callback at this count */

static void rep_fire(ior_loop_t *loop, void *user)
{
    rec_fire(loop, (void *)(intptr_t)ior_loop_now(loop));
    (void)user;
    if (nfired == rep_stop_after)
        assert_int_equal(ior_timer_cancel(loop, rep_id), 0);
}

/* A repeating timer fires at first, first + p, first + 2p ... with one
 * handle, and a cancel from inside its callback ends it. */
static void test_call_every_fires_each_period_until_cancelled(void **state)
{
    static const int exp[] = {1005, 1015, 1025};
    (void)state;
    reset_fired();
    rep_stop_after = 3;
    assert_int_equal(ior_call_every(E.loop, 5, 10, rep_fire, NULL, &rep_id),
                     0);
    at(1004);
    assert_int_equal(nfired, 0);
    at(1005);
    at(1014);
    assert_fired(exp, 1);
    at(1015);
    at(1025);
    assert_fired(exp, 3);
    at(1035);
    at(5000);
    assert_fired(exp, 3);
    assert_int_equal(ior_timer_cancel(E.loop, rep_id), IOR_ENOENT);
    assert_int_equal(ior__loop_timeout(E.loop), -1);
}

/* Late by less than a period, the next deadline keeps the phase; late by
 * more, the missed firings are skipped (one firing, then now + p). */
static void test_call_every_keeps_phase_and_skips_missed(void **state)
{
    static const int exp[] = {1107, 1110, 1155, 1165};
    (void)state;
    reset_fired();
    rep_stop_after = 4;
    assert_int_equal(ior_call_every(E.loop, 100, 10, rep_fire, NULL, &rep_id),
                     0);
    at(1107); /* 7 late: next at 1110, not 1117 */
    at(1110);
    at(1155); /* 1120..1150 missed: one firing, next at 1165 */
    at(1164);
    assert_fired(exp, 3);
    at(1165);
    assert_fired(exp, 4);
}

static ior_timer_id again_id;
static int again_left;

static void again_fire(ior_loop_t *loop, void *user)
{
    rec_fire(loop, (void *)(intptr_t)ior_loop_now(loop));
    (void)user;
    if (again_left-- > 0)
        assert_int_equal(ior_timer_restart(loop, again_id, 0), 0);
}

/* A one-shot timer restarted from inside its callback fires again, with
 * the same handle, in the next pass even with delay 0; once it returns
 * without a restart its handle is stale. */
static void test_timer_restart_from_own_callback(void **state)
{
    static const int exp[] = {1020, 1020, 1020};
    (void)state;
    reset_fired();
    again_left = 2;
    assert_int_equal(ior_call_later(E.loop, 20, again_fire, NULL, &again_id),
                     0);
    at(1020);
    assert_fired(exp, 1);
    assert_int_equal(ior__loop_timeout(E.loop), 0);
    at(1020);
    at(1020);
    assert_fired(exp, 3);
    at(1020);
    assert_fired(exp, 3);
    assert_int_equal(ior_timer_restart(E.loop, again_id, 5), IOR_ENOENT);
    assert_int_equal(ior_timer_cancel(E.loop, again_id), IOR_ENOENT);
}

/* Restarting a pending timer moves its deadline and puts it after timers
 * already due at the new one; a repeating timer keeps its period from the
 * new deadline; restart of a stale handle is IOR_ENOENT, of NULL loop
 * IOR_EINVAL; a period of 0 is IOR_EINVAL. */
static void test_timer_restart_pending_and_invalid(void **state)
{
    static const int exp[] = {2, 1, 1050, 1060};
    ior_timer_id a, b;
    (void)state;
    reset_fired();
    assert_int_equal(ior_call_later(E.loop, 10, rec_fire, (void *)1, &a), 0);
    assert_int_equal(ior_call_later(E.loop, 30, rec_fire, (void *)2, &b), 0);
    assert_int_equal(ior_timer_restart(E.loop, a, 30), 0);
    at(1010);
    assert_int_equal(nfired, 0);
    at(1030);
    assert_fired(exp, 2);
    assert_int_equal(ior_timer_restart(E.loop, a, 1), IOR_ENOENT);
    assert_int_equal(ior_timer_restart(E.loop, 0, 1), IOR_ENOENT);
    assert_int_equal(ior_timer_restart(NULL, a, 1), IOR_EINVAL);
    assert_int_equal(ior_call_every(E.loop, 1, 0, rec_fire, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_call_every(NULL, 1, 1, rec_fire, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_call_every(E.loop, 1, 1, NULL, NULL, NULL),
                     IOR_EINVAL);
    rep_stop_after = 4;
    assert_int_equal(ior_call_every(E.loop, 5, 10, rep_fire, NULL, &rep_id),
                     0);
    assert_int_equal(ior_timer_restart(E.loop, rep_id, 20), 0);
    at(1035);
    assert_int_equal(nfired, 2);
    at(1050);
    at(1060);
    assert_fired(exp, 4);
    assert_int_equal(ior_timer_cancel(E.loop, rep_id), IOR_ENOENT);
}

/* ior_loop_free drops a repeating timer without firing it. */
static void test_loop_free_drops_repeating_timer(void **state)
{
    (void)state;
    reset_fired();
    rep_stop_after = 0;
    assert_int_equal(ior_call_every(E.loop, 0, 1, rep_fire, NULL, &rep_id),
                     0);
    at(1000);
    at(1001);
    assert_int_equal(nfired, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_timers_fire_in_deadline_order),
        ENV_TEST(test_timers_ties_fire_in_schedule_order),
        ENV_TEST(test_timer_cancel_head),
        ENV_TEST(test_timer_cancel_from_inside_firing_timer),
        ENV_TEST(test_timer_added_from_timer_runs_next_pass),
        ENV_TEST(test_timer_stale_handles_are_enoent),
        ENV_TEST(test_call_later_invalid_is_einval),
        ENV_TEST(test_call_later_oom_at_every_allocation),
        ENV_TEST(test_loop_timeout_follows_next_timer),
        ENV_TEST(test_loop_run_fires_timers_and_returns),
        ENV_TEST(test_loop_free_drops_timers_without_firing),
        ENV_TEST(test_heap_100000_random_timers_come_out_sorted),
        ENV_TEST(test_heap_pop_due_respects_now_and_seq_limit),
        ENV_TEST(test_call_every_fires_each_period_until_cancelled),
        ENV_TEST(test_call_every_keeps_phase_and_skips_missed),
        ENV_TEST(test_timer_restart_from_own_callback),
        ENV_TEST(test_timer_restart_pending_and_invalid),
        ENV_TEST(test_loop_free_drops_repeating_timer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
