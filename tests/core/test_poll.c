/*
 * Poll handles, the rules decided once in the core (common/poll.c): the
 * checks, one handle per socket, what a report reaches the callback as,
 * and when a handle keeps the loop alive. The "OS" is fake_poll.c; the
 * test reports readiness itself through ior__core_poll_ready.
 */
#include "harness.h"

#include "fake_poll.h"

#include <string.h>

static int poll_setup(void **state)
{
    fake_poll_reset();
    return env_setup(state);
}

#define POLL_TEST(f) cmocka_unit_test_setup_teardown(f, poll_setup, env_teardown)

static int calls;
static int last_status;
static unsigned last_events;
static int close_in_cb;

static void on_ready(ior_poll_t *p, void *user, int status, unsigned events)
{
    (void)user;
    calls++;
    last_status = status;
    last_events = events;
    if (close_in_cb)
        ior_poll_close(p);
}

static ior_poll_t *open_poll(intptr_t sock)
{
    ior_poll_t *p = NULL;
    assert_int_equal(ior_poll_open(E.loop, sock, on_ready, NULL, &p), 0);
    assert_non_null(p);
    return p;
}

static void reset_calls(void)
{
    calls = 0;
    last_status = 1;
    last_events = 0;
    close_in_cb = 0;
}

/* NULLs, -1, no or unknown events: IOR_EINVAL before the OS is asked; a
 * second handle for one socket is IOR_EBUSY, another socket is fine. */
static void test_poll_checks_and_one_handle_per_socket(void **state)
{
    ior_poll_t *p, *q = NULL;
    (void)state;
    assert_int_equal(ior_poll_open(NULL, 5, on_ready, NULL, &q), IOR_EINVAL);
    assert_int_equal(ior_poll_open(E.loop, 5, NULL, NULL, &q), IOR_EINVAL);
    assert_int_equal(ior_poll_open(E.loop, 5, on_ready, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_poll_open(E.loop, -1, on_ready, NULL, &q),
                     IOR_EINVAL);
    assert_int_equal(fake_poll.opens, 0);
    p = open_poll(5);
    assert_int_equal(ior_poll_open(E.loop, 5, on_ready, NULL, &q), IOR_EBUSY);
    assert_null(q);
    q = open_poll(6);
    assert_int_equal(ior_poll_start(p, 0), IOR_EINVAL);
    assert_int_equal(ior_poll_start(p, 0x8u), IOR_EINVAL);
    assert_int_equal(fake_poll.updates, 0);
    ior_poll_close(q);
    ior_poll_close(p);
    /* Closed: the socket may have a handle again. */
    p = open_poll(5);
    ior_poll_close(p);
    assert_int_equal(fake_poll.closes, 3);
}

/* Reports are filtered to what was asked; an error becomes every asked
 * event; a failed watch stops the handle and reports the status once. */
static void test_poll_reports_filtered_error_expanded_failure_stops(void **state)
{
    ior_poll_t *p;
    (void)state;
    reset_calls();
    p = open_poll(7);
    assert_int_equal(ior_poll_start(p, IOR_POLL_READABLE), 0);
    ior__core_poll_ready(p, 0, IOR_POLL_WRITABLE);
    assert_int_equal(calls, 0); /* not asked */
    ior__core_poll_ready(p, 0, IOR_POLL_READABLE | IOR_POLL_WRITABLE);
    assert_int_equal(calls, 1);
    assert_int_equal(last_events, IOR_POLL_READABLE);
    assert_int_equal(ior_poll_start(p, IOR_POLL_WRITABLE |
                                           IOR_POLL_DISCONNECT),
                     0);
    ior__core_poll_ready(p, 0, IOR__POLL_ERROR);
    assert_int_equal(last_events, IOR_POLL_WRITABLE | IOR_POLL_DISCONNECT);
    ior__core_poll_ready(p, IOR_EBADF, 0);
    assert_int_equal(calls, 3);
    assert_int_equal(last_status, IOR_EBADF);
    assert_int_equal(last_events, 0);
    assert_int_equal(fake_poll.last_events, 0); /* stopped */
    ior__core_poll_ready(p, 0, IOR_POLL_WRITABLE);
    assert_int_equal(calls, 3); /* a stopped handle hears nothing */
    ior_poll_close(p);
}

/* A started handle keeps the loop alive, a stopped one does not; a start
 * the OS refuses leaves the handle as it was; closing inside the
 * callback is safe and nothing follows. */
static void test_poll_loop_alive_and_close_in_callback(void **state)
{
    ior_poll_t *p;
    (void)state;
    reset_calls();
    p = open_poll(8);
    assert_false(ior__loop_alive(E.loop));
    fake_poll.update_result = IOR_ENOMEM;
    assert_int_equal(ior_poll_start(p, IOR_POLL_READABLE), IOR_ENOMEM);
    assert_false(ior__loop_alive(E.loop));
    fake_poll.update_result = 0;
    assert_int_equal(ior_poll_start(p, IOR_POLL_READABLE), 0);
    assert_true(ior__loop_alive(E.loop));
    assert_int_equal(ior_poll_start(p, IOR_POLL_WRITABLE), 0);
    assert_true(ior__loop_alive(E.loop));
    assert_int_equal(ior_poll_stop(p), 0);
    assert_false(ior__loop_alive(E.loop));
    assert_int_equal(ior_poll_start(p, IOR_POLL_WRITABLE), 0);
    close_in_cb = 1;
    ior__core_poll_ready(p, 0, IOR_POLL_WRITABLE);
    assert_int_equal(calls, 1);
    assert_false(ior__loop_alive(E.loop));
    assert_int_equal(fake_poll.closes, 1);
}

/* ior_loop_free closes a handle still open, started or not. */
static void test_poll_loop_free_closes_handles(void **state)
{
    ior_poll_t *p;
    (void)state;
    p = open_poll(9);
    (void)open_poll(10);
    assert_int_equal(ior_poll_start(p, IOR_POLL_READABLE), 0);
    assert_int_equal(ior_loop_free(E.loop), 0);
    E.loop = NULL;
    assert_int_equal(fake_poll.closes, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        POLL_TEST(test_poll_checks_and_one_handle_per_socket),
        POLL_TEST(test_poll_reports_filtered_error_expanded_failure_stops),
        POLL_TEST(test_poll_loop_alive_and_close_in_callback),
        POLL_TEST(test_poll_loop_free_closes_handles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
