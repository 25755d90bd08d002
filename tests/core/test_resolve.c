/*
 * ior_resolve answers decided in the core, the same on every backend.
 */
#include "harness.h"

static int calls;
static int status;
static size_t naddrs;

static void on_resolved(ior_loop_t *loop, void *user, int st,
                        const ior_addr_t *addrs, size_t n)
{
    (void)loop;
    (void)user;
    (void)addrs;
    calls++;
    status = st;
    naddrs = n;
}

/* ior_resolve(""): IOR_ENAME through the callback, from the loop, without
 * asking the OS (Wine would resolve "" to 127.0.0.1). */
static void test_resolve_empty_name_is_ename_without_the_os(void **state)
{
    (void)state;
    calls = 0;
    fake_resolve_calls = 0;
    assert_int_equal(ior_resolve(E.loop, "", 80, 0, on_resolved, NULL), 0);
    assert_int_equal(calls, 0); /* never inside ior_resolve */
    ior__core_loop_run_async(E.loop);
    assert_int_equal(calls, 1);
    assert_int_equal(status, IOR_ENAME);
    assert_int_equal(naddrs, 0);
    assert_int_equal(fake_resolve_calls, 0);
    /* A real name still goes to the OS. */
    assert_int_equal(ior_resolve(E.loop, "127.0.0.1", 80, 0, on_resolved,
                                 NULL),
                     0);
    ior__core_loop_run_async(E.loop);
    assert_int_equal(fake_resolve_calls, 1);
    assert_int_equal(status, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ENV_TEST(test_resolve_empty_name_is_ename_without_the_os),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
