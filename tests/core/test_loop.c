/*
 * The portable loop: creation, time, liveness, call_from_thread and its
 * wake-up, run/stop, and ior_loop_free closing what is still open.
 */
#include "harness.h"

#include <stdint.h>
#include <string.h>

static int order[16];
static int norder;

static void push(ior_loop_t *loop, void *user)
{
    (void)loop;
    if (norder < 16)
        order[norder++] = (int)(intptr_t)user;
}

/* ior_loop_backend names the backend; ior_loop_now is the cached clock,
 * updated each iteration and never going backwards. */
static void test_loop_backend_and_cached_time(void **state)
{
    (void)state;
    assert_string_equal(ior_loop_backend(E.loop), "fake");
    assert_int_equal(ior_loop_now(E.loop), 1000);
    fake_set_now(1500);
    assert_int_equal(ior_loop_now(E.loop), 1000);
    ior__core_loop_update_time(E.loop);
    assert_int_equal(ior_loop_now(E.loop), 1500);
    fake_set_now(1400);
    ior__core_loop_update_time(E.loop);
    assert_int_equal(ior_loop_now(E.loop), 1500);
}

/* ior_loop_new: NULL out is IOR_EINVAL; a backend error is passed on and
 * nothing leaks; NULL loops are refused everywhere. */
static void test_loop_new_and_free_errors(void **state)
{
    ior_loop_t *l = NULL;
    ior_loop_options_t o;
    (void)state;
    memset(&o, 0, sizeof(o));
    o.backend = "no-such-backend";
    assert_int_equal(ior_loop_new(NULL, NULL), IOR_EINVAL);
    assert_int_equal(ior_loop_new(&l, &o), IOR_ENOTSUP);
    assert_int_equal(ior_loop_free(NULL), IOR_EINVAL);
    assert_int_equal(ior_loop_run(NULL), IOR_EINVAL);
    assert_int_equal(ior_loop_call_from_thread(NULL, push, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_loop_call_from_thread(E.loop, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_loop_stop_on_interrupt(NULL), IOR_EINVAL);
    assert_int_equal(ior_loop_stop_on_interrupt(E.loop), 0);
    assert_int_equal(((fake_loop_t *)E.loop)->interrupts, 1);
}

/* Backend selection in the core: the option, else IOR_BACKEND, else the
 * backend's default ("" counts as unset); max_events 0 is 256. */
static void test_loop_new_chooses_backend_and_max_events(void **state)
{
    ior_loop_t *l = NULL;
    ior_loop_options_t o;
    (void)state;
    memset(&o, 0, sizeof(o));
    memcpy(fake_env_backend, "no-such", sizeof("no-such"));
    assert_int_equal(ior_loop_new(&l, NULL), IOR_ENOTSUP);
    assert_null(l);
    o.backend = "";
    assert_int_equal(ior_loop_new(&l, &o), IOR_ENOTSUP);
    o.backend = "fake"; /* the option wins over the environment */
    o.max_events_per_iteration = 7;
    assert_int_equal(ior_loop_new(&l, &o), 0);
    assert_int_equal(fake_last_max_events, 7);
    assert_int_equal(ior_loop_free(l), 0);
    memcpy(fake_env_backend, "fake", sizeof("fake"));
    o.backend = NULL;
    o.max_events_per_iteration = 0;
    assert_int_equal(ior_loop_new(&l, &o), 0);
    assert_int_equal(fake_last_max_events, 256);
    assert_int_equal(ior_loop_free(l), 0);
    fake_env_backend[0] = '\0';
    assert_int_equal(ior_loop_new(&l, NULL), 0);
    assert_string_equal(ior_loop_backend(l), "fake");
    assert_int_equal(ior_loop_free(l), 0);
}

/* One loop per process holds the interrupts: the same loop again is 0
 * (the backend is not asked twice), another IOR_EBUSY until the first is
 * freed, decided in the core for every backend. */
static void test_stop_on_interrupt_one_loop_at_a_time(void **state)
{
    ior_loop_t *other = NULL;
    (void)state;
    assert_int_equal(ior_loop_new(&other, NULL), 0);
    assert_int_equal(ior_loop_stop_on_interrupt(E.loop), 0);
    assert_int_equal(ior_loop_stop_on_interrupt(E.loop), 0);
    assert_int_equal(((fake_loop_t *)E.loop)->interrupts, 1);
    assert_int_equal(ior_loop_stop_on_interrupt(other), IOR_EBUSY);
    assert_int_equal(((fake_loop_t *)other)->interrupts, 0);
    env_free_loop();
    assert_int_equal(ior_loop_stop_on_interrupt(other), 0);
    assert_int_equal(((fake_loop_t *)other)->interrupts, 1);
    assert_int_equal(ior_loop_free(other), 0);
}

/* Out of memory at every allocation of ior_loop_new: IOR_ENOMEM and no
 * leak; then it works. */
static void test_loop_new_oom_at_every_allocation(void **state)
{
    ior_loop_t *l = NULL;
    long n;
    int rc = -1;
    (void)state;
    for (n = 0; n < 20; n++) {
        size_t live = alloc_live(), fails = alloc_failures();
        alloc_fail_after(n);
        rc = ior_loop_new(&l, NULL);
        alloc_fail_after(-1);
        if (alloc_failures() == fails)
            break;
        assert_int_equal(rc, IOR_ENOMEM);
        assert_int_equal(alloc_live(), live);
    }
    assert_int_equal(rc, 0);
    assert_true(n > 0);
    assert_int_equal(ior_loop_free(l), 0);
}

/* call_from_thread (here from the loop thread): never run inside the call,
 * run in call order when the wake-up is handled; the lock is balanced. */
static void test_call_from_thread_runs_in_order_after_wakeup(void **state)
{
    fake_loop_t *fl = (fake_loop_t *)E.loop;
    int i;
    (void)state;
    norder = 0;
    for (i = 1; i <= 5; i++)
        assert_int_equal(
            ior_loop_call_from_thread(E.loop, push, (void *)(intptr_t)i), 0);
    assert_int_equal(norder, 0);
    assert_true(fl->wakeups >= 1);
    assert_int_equal(fl->lock_depth, 0);
    ior__core_loop_run_async(E.loop);
    assert_int_equal(norder, 5);
    for (i = 0; i < 5; i++)
        assert_int_equal(order[i], i + 1);
    ior__core_loop_run_async(E.loop); /* a spurious wake-up is harmless */
    assert_int_equal(norder, 5);
    assert_int_equal(fl->lock_depth, 0);
}

static void queue_more_then_stop(ior_loop_t *loop, void *user)
{
    push(loop, user);
    if ((intptr_t)user < 3)
        assert_int_equal(ior_loop_call_from_thread(
                             loop, queue_more_then_stop,
                             (void *)((intptr_t)user + 1)),
                         0);
    else
        ior_loop_stop(loop);
}

/* Through ior_loop_run: a call queued from a queued call runs too (after
 * a new wake-up), and ior_loop_stop from a callback makes run return. */
static void test_call_from_thread_through_loop_run(void **state)
{
    (void)state;
    norder = 0;
    env_open(0, &tproto_aware_ops); /* keeps the loop alive */
    ior_loop_call_from_thread(E.loop, queue_more_then_stop, (void *)1);
    assert_int_equal(ior_loop_run(E.loop), 0);
    assert_int_equal(norder, 3);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[2], 3);
    assert_int_equal(E.p[0].n_lost, 0);
}

/* call_from_thread out of memory: IOR_ENOMEM, nothing queued. */
static void test_call_from_thread_oom(void **state)
{
    (void)state;
    norder = 0;
    alloc_fail_after(0);
    assert_int_equal(ior_loop_call_from_thread(E.loop, push, (void *)1),
                     IOR_ENOMEM);
    alloc_fail_after(-1);
    ior__core_loop_run_async(E.loop);
    assert_int_equal(norder, 0);
}

/* Calls queued but never run are dropped by ior_loop_free, not leaked. */
static void test_loop_free_drops_unrun_calls(void **state)
{
    (void)state;
    norder = 0;
    ior_loop_call_from_thread(E.loop, push, (void *)1);
    ior_loop_call_from_thread(E.loop, push, (void *)2);
    fake_set_poll_hook(NULL, NULL);
    ((fake_loop_t *)E.loop)->wakeup_pending = 0;
    env_free_loop();
    assert_int_equal(norder, 0);
}

struct thandle {
    ior__handle_t h; /* first: the close function gets this pointer */
    ior_loop_t *loop;
    int closed;
};

static void thandle_close(ior__handle_t *h)
{
    struct thandle *th = (struct thandle *)h;
    th->closed++;
    ior__core_handle_remove(th->loop, h);
}

/* Liveness: transports, timers, handles, refs and pending work keep the
 * loop alive; with none, ior_loop_run returns without polling. */
static void test_loop_liveness(void **state)
{
    struct thandle th;
    ior_transport_t *t;
    ior_timer_id id;
    (void)state;
    memset(&th, 0, sizeof(th));
    th.loop = E.loop;
    th.h.close = thandle_close;
    assert_false(ior__loop_alive(E.loop));
    assert_int_equal(ior_loop_run(E.loop), 0);
    assert_int_equal(((fake_loop_t *)E.loop)->polls, 0);
    ior__loop_ref(E.loop);
    assert_true(ior__loop_alive(E.loop));
    ior__loop_unref(E.loop);
    assert_false(ior__loop_alive(E.loop));
    ior_call_later(E.loop, 5, push, NULL, &id);
    assert_true(ior__loop_alive(E.loop));
    ior_timer_cancel(E.loop, id);
    assert_false(ior__loop_alive(E.loop));
    ior__core_handle_add(E.loop, &th.h);
    assert_true(ior__loop_alive(E.loop));
    ior__core_handle_remove(E.loop, &th.h);
    assert_false(ior__loop_alive(E.loop));
    t = env_open(0, &tproto_aware_ops);
    assert_true(ior__loop_alive(E.loop));
    ior_transport_abort_connection(t);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_false(ior__loop_alive(E.loop));
    assert_int_equal(th.closed, 0);
}

static void run_inside(ior_loop_t *loop, void *user)
{
    (void)user;
    assert_int_equal(ior_loop_run(loop), IOR_ESTATE);
    assert_int_equal(ior_loop_free(loop), IOR_ESTATE);
    push(loop, (void *)7);
}

/* ior_loop_run and ior_loop_free from inside a callback: IOR_ESTATE. */
static void test_loop_run_or_free_inside_callback_is_estate(void **state)
{
    (void)state;
    norder = 0;
    ior_call_later(E.loop, 0, run_inside, NULL, NULL);
    assert_int_equal(ior_loop_run(E.loop), 0);
    assert_int_equal(norder, 1);
}

/* ior_loop_free with live transports: each gets connection_lost
 * (IOR_EABORTED) once, producers are stopped, borrowed bytes released
 * (a send in flight waits for its cancelled completion), every handle
 * is closed and every transport freed; nothing leaks. */
static void test_loop_free_aborts_live_transports_once(void **state)
{
    ior_transport_t *a = env_open(0, &tproto_aware_ops);
    ior_transport_t *b = env_open(1, &tproto_plain_ops);
    ior_transport_t *c = env_open(2, &tproto_aware_ops);
    struct thandle th;
    int i;
    (void)state;
    memset(&th, 0, sizeof(th));
    th.loop = E.loop;
    th.h.close = thandle_close;
    ior__core_handle_add(E.loop, &th.h);
    E.r[0].t = a;
    ior_transport_register_producer(a, &tprod_ops, &E.r[0], 1);
    ior_transport_write_ref(b, "queued", 6, trel_cb, &E.rel[0]);
    ior_transport_write_ref(c, "flying", 6, trel_cb, &E.rel[1]);
    fake_send_begin(c);
    ior_transport_lose_connection(b);
    env_free_loop();
    for (i = 0; i < 3; i++) {
        assert_int_equal(E.p[i].n_lost, 1);
        assert_int_equal(E.p[i].reason, IOR_EABORTED);
        assert_int_equal(fake_rec_at(i)->frees, 1);
        assert_int_equal(fake_rec_at(i)->closes, 1);
    }
    assert_int_equal(E.r[0].n_stop, 1);
    assert_int_equal(E.rel[0].n, 1);
    assert_int_equal(E.rel[1].n, 1);
    assert_int_equal(th.closed, 1);
}

static int ticks;

static void tick(ior_loop_t *loop, void *user)
{
    (void)user;
    ticks++;
    ior_call_later(loop, 10, tick, NULL, NULL);
    if (ticks % 3 == 0)
        ior_loop_stop(loop);
}

/* ior_loop_stop from a timer makes ior_loop_run return; run again picks
 * up where it stopped. */
static void test_loop_stop_from_timer_and_run_again(void **state)
{
    (void)state;
    ticks = 0;
    ior_call_later(E.loop, 10, tick, NULL, NULL);
    assert_int_equal(ior_loop_run(E.loop), 0);
    assert_int_equal(ticks, 3);
    assert_int_equal(ior_loop_run(E.loop), 0);
    assert_int_equal(ticks, 6);
}

static int rs_calls, rs_status;
static size_t rs_n;
static ior_addr_t rs_addr;

static void on_resolved(ior_loop_t *loop, void *user, int status,
                        const ior_addr_t *addrs, size_t n)
{
    (void)loop;
    (void)user;
    rs_calls++;
    rs_status = status;
    rs_n = n;
    if (n > 0)
        rs_addr = addrs[0];
}

/* ior_resolve answers from the loop (after the helper thread posts), never
 * inside the call; the port is filled in; a name that does not resolve is
 * IOR_ENAME; bad arguments are IOR_EINVAL. */
static void test_resolve_answers_from_the_loop(void **state)
{
    (void)state;
    rs_calls = 0;
    assert_int_equal(ior_resolve(E.loop, "127.0.0.1", 80, 0, on_resolved,
                                 NULL),
                     0);
    assert_int_equal(rs_calls, 0);
    ior__core_loop_run_async(E.loop);
    assert_int_equal(rs_calls, 1);
    assert_int_equal(rs_status, 0);
    assert_int_equal(rs_n, 1);
    assert_int_equal(rs_addr.family, IOR_AF_INET);
    assert_int_equal(rs_addr.port, 80);
    assert_int_equal(ior_resolve(E.loop, "no.such.name", 1, 0, on_resolved,
                                 NULL),
                     0);
    ior__core_loop_run_async(E.loop);
    assert_int_equal(rs_calls, 2);
    assert_int_equal(rs_status, IOR_ENAME);
    assert_int_equal(rs_n, 0);
    assert_int_equal(ior_resolve(NULL, "x", 1, 0, on_resolved, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_resolve(E.loop, NULL, 1, 0, on_resolved, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_resolve(E.loop, "x", 1, 0, NULL, NULL), IOR_EINVAL);
    assert_int_equal(ior_resolve(E.loop, "x", 1, 5, on_resolved, NULL),
                     IOR_EINVAL);
    assert_int_equal(rs_calls, 2);
}

/* A lookup still pending when the loop is freed is answered once with
 * IOR_ECANCELED, and nothing leaks (teardown counts allocations). */
static void test_resolve_pending_at_free_is_canceled(void **state)
{
    (void)state;
    rs_calls = 0;
    assert_int_equal(ior_resolve(E.loop, "::1", 7, IOR_AF_INET6,
                                 on_resolved, NULL),
                     0);
    env_free_loop();
    assert_int_equal(rs_calls, 1);
    assert_int_equal(rs_status, IOR_ECANCELED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_stop_on_interrupt_one_loop_at_a_time),
        ENV_TEST(test_loop_new_chooses_backend_and_max_events),
        ENV_TEST(test_loop_backend_and_cached_time),
        ENV_TEST(test_loop_new_and_free_errors),
        ENV_TEST(test_loop_new_oom_at_every_allocation),
        ENV_TEST(test_call_from_thread_runs_in_order_after_wakeup),
        ENV_TEST(test_call_from_thread_through_loop_run),
        ENV_TEST(test_call_from_thread_oom),
        ENV_TEST(test_loop_free_drops_unrun_calls),
        ENV_TEST(test_loop_liveness),
        ENV_TEST(test_loop_run_or_free_inside_callback_is_estate),
        ENV_TEST(test_loop_free_aborts_live_transports_once),
        ENV_TEST(test_loop_stop_from_timer_and_run_again),
        ENV_TEST(test_resolve_answers_from_the_loop),
        ENV_TEST(test_resolve_pending_at_free_is_canceled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
