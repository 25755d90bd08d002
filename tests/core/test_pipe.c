/*
 * Pipe, stdio and process entry points, checked once in the core
 * (common/pipe.c, process.c): bad arguments never reach the OS, the
 * unused direction is closed from the start, reading starts from the loop
 * (never inside ior_pipe_open), a duplicate no transport took is closed,
 * and a signal to an exited child is IOR_ESTATE. The "OS" is fake_pipe.c.
 */
#include "harness.h"

#include "fake_pipe.h"

#include <string.h>

static int pipe_setup(void **state)
{
    fake_pipe_reset();
    return env_setup(state);
}

#define PIPE_TEST(f)                                                           \
    cmocka_unit_test_setup_teardown(f, pipe_setup, env_teardown)

/* dirs 0 or unknown, NULLs: IOR_EINVAL; handle -1: IOR_EBADF; no OS call. */
static void test_pipe_open_bad_arguments_never_reach_the_os(void **state)
{
    ior_transport_t *t = NULL;
    (void)state;
    fake_pipe.make = fake_transport_new;
    assert_int_equal(ior_pipe_open(NULL, 5, IOR_PIPE_READ, &tproto_plain_ops,
                                   NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(ior_pipe_open(E.loop, 5, IOR_PIPE_READ, NULL, NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(ior_pipe_open(E.loop, 5, IOR_PIPE_READ, &tproto_plain_ops,
                                   NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_pipe_open(E.loop, 5, 0, &tproto_plain_ops, NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(
        ior_pipe_open(E.loop, 5, 0x10, &tproto_plain_ops, NULL, &t),
        IOR_EINVAL);
    assert_int_equal(ior_pipe_open(E.loop, -1, IOR_PIPE_READ,
                                   &tproto_plain_ops, NULL, &t),
                     IOR_EBADF);
    assert_null(t);
    assert_int_equal(fake_pipe.opens, 0);
}

/* A read-only pipe refuses writes; reading begins from the loop only. */
static void test_pipe_open_read_only_starts_from_the_loop(void **state)
{
    ior_transport_t *t = NULL;
    (void)state;
    fake_pipe.make = fake_transport_new;
    assert_int_equal(ior_pipe_open(E.loop, 7, IOR_PIPE_READ,
                                   &tproto_plain_ops, &E.p[0], &t),
                     0);
    assert_non_null(t);
    E.p[0].t = t;
    assert_int_equal(fake_pipe.last_handle, 7);
    assert_ptr_equal(ior_transport_user(t), &E.p[0]);
    assert_int_equal(t->began, 0);
    assert_int_equal(ior_transport_write(t, "x", 1), IOR_ESHUTDOWN);
    run_pending();
    assert_int_equal(t->began, 1);
    assert_int_equal(ior_transport_abort_connection(t), 0);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
}

/* stdio: which outside 0..2 is IOR_EINVAL before any duplicate is made. */
static void test_stdio_open_bad_which_makes_no_duplicate(void **state)
{
    ior_transport_t *t = NULL;
    (void)state;
    assert_int_equal(ior_stdio_open(E.loop, 3, &tproto_plain_ops, NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(ior_stdio_open(E.loop, -1, &tproto_plain_ops, NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(ior_stdio_open(NULL, 0, &tproto_plain_ops, NULL, &t),
                     IOR_EINVAL);
    assert_int_equal(ior_stdio_open(E.loop, 0, NULL, NULL, &t), IOR_EINVAL);
    assert_int_equal(ior_stdio_open(E.loop, 0, &tproto_plain_ops, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(fake_pipe.dups, 0);
    fake_pipe.dup_result = IOR_EBADF;
    assert_int_equal(ior_stdio_open(E.loop, 1, &tproto_plain_ops, NULL, &t),
                     IOR_EBADF);
    assert_int_equal(fake_pipe.opens, 0);
    assert_null(t);
}

/* A duplicate that the pipe path refused is closed, not leaked. */
static void test_stdio_open_closes_the_duplicate_on_failure(void **state)
{
    ior_transport_t *t = NULL;
    (void)state;
    assert_int_equal(ior_stdio_open(E.loop, 2, &tproto_plain_ops, NULL, &t),
                     IOR_ENOTSUP);
    assert_int_equal(fake_pipe.dups, 1);
    assert_int_equal(fake_pipe.last_which, 2);
    assert_int_equal(fake_pipe.handle_closes, 1);
    assert_int_equal(fake_pipe.last_handle, 102);
}

/* stdin is opened read-only, stdout write-only, on the duplicate. */
static void test_stdio_open_directions(void **state)
{
    ior_transport_t *t = NULL;
    (void)state;
    fake_pipe.make = fake_transport_new;
    assert_int_equal(
        ior_stdio_open(E.loop, 1, &tproto_plain_ops, &E.p[0], &t), 0);
    E.p[0].t = t;
    assert_int_equal(fake_pipe.last_handle, 101);
    assert_int_equal(t->read_disconnected, 1);
    assert_int_equal(t->write_disconnected, 0);
    assert_int_equal(ior_transport_abort_connection(t), 0);
    run_pending();
    assert_int_equal(E.p[0].n_lost, 1);
    assert_int_equal(fake_pipe.handle_closes, 0);
}

static void proc_ended(ior_process_t *p, void *user, int code, int sig)
{
    (void)p;
    (void)code;
    (void)sig;
    (*(int *)user)++;
}

static const ior_process_ops_t pops = {proc_ended};

/* spawn without a program: IOR_EINVAL, the OS is not asked. */
static void test_process_spawn_without_program_is_einval(void **state)
{
    const char *const empty[] = {NULL};
    const char *const argv[] = {"prog", NULL};
    ior_process_options_t o;
    ior_process_t *p = NULL;
    (void)state;
    memset(&o, 0, sizeof(o));
    assert_int_equal(ior_process_spawn(E.loop, &o, &pops, NULL, &p),
                     IOR_EINVAL);
    o.argv = empty;
    assert_int_equal(ior_process_spawn(E.loop, &o, &pops, NULL, &p),
                     IOR_EINVAL);
    o.argv = argv;
    assert_int_equal(ior_process_spawn(NULL, &o, &pops, NULL, &p), IOR_EINVAL);
    assert_int_equal(ior_process_spawn(E.loop, NULL, &pops, NULL, &p),
                     IOR_EINVAL);
    assert_int_equal(ior_process_spawn(E.loop, &o, NULL, NULL, &p),
                     IOR_EINVAL);
    assert_int_equal(ior_process_spawn(E.loop, &o, &pops, NULL, NULL),
                     IOR_EINVAL);
    o.flags = 0x100; /* no such IOR_PROCESS_* flag */
    assert_int_equal(ior_process_spawn(E.loop, &o, &pops, NULL, &p),
                     IOR_EINVAL);
    o.flags = IOR_PROCESS_ALLOW_BATCH; /* known: reaches the OS */
    assert_int_equal(fake_pipe.spawns, 0);
    assert_int_equal(ior_process_spawn(E.loop, &o, &pops, NULL, &p),
                     IOR_ENOTSUP);
    assert_int_equal(fake_pipe.spawns, 1);
    assert_null(p);
    /* Out of memory for the process itself: IOR_ENOMEM, nothing left. */
    fake_pipe.spawn_result = IOR_ENOMEM;
    assert_int_equal(ior_process_spawn(E.loop, &o, &pops, NULL, &p),
                     IOR_ENOMEM);
    assert_null(p);
}

static int released;

static void release(ior__proc_t *p)
{
    (void)p;
    released++;
}

/* signal: bad number IOR_EINVAL; after the exit IOR_ESTATE, no OS call. */
static void test_process_signal_checks(void **state)
{
    ior__proc_t p;
    int ended = 0;
    (void)state;
    released = 0;
    memset(&p, 0, sizeof(p));
    ior__core_proc_init(&p, E.loop, &pops, &ended, release);
    assert_int_equal(ior_process_signal(NULL, IOR_SIGTERM), IOR_EINVAL);
    assert_int_equal(ior_process_signal((ior_process_t *)&p, 0), IOR_EINVAL);
    assert_int_equal(ior_process_signal((ior_process_t *)&p, -1), IOR_EINVAL);
    assert_int_equal(fake_pipe.kills, 0);
    assert_int_equal(ior_process_terminate((ior_process_t *)&p), 0);
    assert_int_equal(fake_pipe.kills, 1);
    assert_int_equal(fake_pipe.last_signum, IOR_SIGTERM);
    assert_int_equal(ior_process_signal((ior_process_t *)&p, IOR_SIGKILL), 0);
    assert_int_equal(fake_pipe.last_signum, IOR_SIGKILL);
    ior__core_proc_exited(&p, 0, 0);
    assert_int_equal(ended, 1);
    assert_int_equal(ior_process_terminate((ior_process_t *)&p), IOR_ESTATE);
    assert_int_equal(ior_process_terminate(NULL), IOR_EINVAL);
    assert_int_equal(fake_pipe.kills, 2);
    assert_int_equal(released, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        PIPE_TEST(test_pipe_open_bad_arguments_never_reach_the_os),
        PIPE_TEST(test_pipe_open_read_only_starts_from_the_loop),
        PIPE_TEST(test_stdio_open_bad_which_makes_no_duplicate),
        PIPE_TEST(test_stdio_open_closes_the_duplicate_on_failure),
        PIPE_TEST(test_stdio_open_directions),
        PIPE_TEST(test_process_spawn_without_program_is_einval),
        PIPE_TEST(test_process_signal_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
