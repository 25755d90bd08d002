/*
 * Child processes through ior.h only, the same file for every backend.
 * The child is tests/net/child_helper.c (its path comes from CMake as
 * IOR_CHILD_HELPER); its three stdio transports are recorded by nu_conn.
 * Every test waits for process_ended (so no child is left behind) under
 * the nu_loop watchdog; nothing sleeps to synchronise.
 */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L /* sigaction (the interrupt test) */
#endif
#include "child_platform.h"
#include "net_util.h"
#include "../portable.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifndef _WIN32
#include <signal.h>
#include <unistd.h>
#else
#include <windows.h>
#endif

#ifndef IOR_CHILD_HELPER
#error "IOR_CHILD_HELPER (the child_helper path) must be set by CMake"
#endif
#ifndef IOR_SPAWN_HELPER
#error "IOR_SPAWN_HELPER (the spawn_helper path) must be set by CMake"
#endif
#ifndef IOR_TEST_ON_WINDOWS
#define IOR_TEST_ON_WINDOWS 0
#endif
/* child_helper hang's exit code when nothing killed it in 30 s. */
#define HANG_TIMEOUT_EXIT 7

/* --- A recorded child ----------------------------------------------------- */

#define CAP_MAX 8192

typedef struct proc proc_t;
struct proc {
    ior_loop_t *loop;
    ior_process_t *p;
    nu_conn_t io[3];
    int ended;
    int exit_code;
    int term_signal;
    int state_after_exit; /* ior_process_signal inside process_ended */
    int terminated;
    char out[CAP_MAX];
    size_t out_len;
    char err[CAP_MAX];
    size_t err_len;
    int *ended_count; /* shared by a group; nu_done at group_size */
    int group_size;
    void *user;
};

static void cap_data(nu_conn_t *c, const void *data, size_t len)
{
    proc_t *pr = c->user;
    char *buf = c == &pr->io[1] ? pr->out : pr->err;
    size_t *n = c == &pr->io[1] ? &pr->out_len : &pr->err_len;
    if (*n + len <= CAP_MAX) /* big transfers are checked by hash */
        memcpy(buf + *n, data, len);
    *n += len;
}

static void proc_ended(ior_process_t *p, void *user, int exit_code,
                       int term_signal)
{
    proc_t *pr = user;
    int i;
    assert_ptr_equal(p, pr->p);
    pr->ended++;
    pr->exit_code = exit_code;
    pr->term_signal = term_signal;
    /* All three stdio transports are gone before the process ends. */
    for (i = 0; i < 3; i++) {
        assert_int_equal(pr->io[i].lost, 1);
        assert_null(ior_process_stdio(p, i));
    }
    pr->state_after_exit = ior_process_signal(p, IOR_SIGTERM);
    pr->p = NULL;
    if (pr->ended_count == NULL || ++*pr->ended_count == pr->group_size)
        nu_done(pr->loop);
}

static const ior_process_ops_t proc_ops = {proc_ended};

/* Spawns with o as given and records the child's three transports. */
static int proc_spawn_opts(proc_t *pr, ior_loop_t *loop,
                           const ior_process_options_t *o)
{
    int r;
    int i;
    pr->loop = loop;
    r = ior_process_spawn(loop, o, &proc_ops, pr, &pr->p);
    if (r != 0)
        return r;
    assert_true(ior_process_pid(pr->p) > 0);
    for (i = 0; i < 3; i++) {
        ior_transport_t *t = ior_process_stdio(pr->p, i);
        assert_non_null(t);
        pr->io[i].user = pr;
        nu_conn_attach(&pr->io[i], t, 0);
    }
    pr->io[1].on_data = cap_data;
    pr->io[2].on_data = cap_data;
    return 0;
}

static int proc_spawn_in(proc_t *pr, ior_loop_t *loop, const char *const *argv,
                         const char *const *env, const char *cwd)
{
    ior_process_options_t o;
    memset(&o, 0, sizeof(o));
    o.file = IOR_CHILD_HELPER;
    o.argv = argv;
    o.env = env;
    o.cwd = cwd;
    return proc_spawn_opts(pr, loop, &o);
}

static void proc_spawn(proc_t *pr, ior_loop_t *loop, const char *const *argv)
{
    assert_int_equal(proc_spawn_in(pr, loop, argv, NULL, NULL), 0);
}

static void assert_out(const proc_t *pr, const char *want)
{
    assert_int_equal(pr->out_len, strlen(want));
    assert_memory_equal(pr->out, want, strlen(want));
}

/* Killed by IOR_SIGTERM: the signal on POSIX, exit code 1 on Windows. */
static void assert_killed(const proc_t *pr, int sig)
{
    if (IOR_TEST_ON_WINDOWS) {
        assert_int_equal(pr->exit_code, 1);
        assert_int_equal(pr->term_signal, 0);
    } else {
        assert_int_equal(pr->exit_code, -1);
        assert_int_equal(pr->term_signal, sig);
    }
}

/* --- A streaming producer feeding a child's stdin ------------------------- */

#define CHUNK (64 * 1024)

typedef struct feeder {
    ior_transport_t *t;
    uint64_t total;
    uint64_t sent;
    int paused;
    int pauses;
    int stopped;
    int finished;
    int in_write;
    void (*on_first_pause)(struct feeder *f);
    void *user;
} feeder_t;

static void feed(feeder_t *f)
{
    if (f->in_write)
        return; /* resumed from inside our own write */
    f->in_write = 1;
    while (!f->paused && !f->stopped && f->sent < f->total) {
        size_t n =
            f->total - f->sent > CHUNK ? CHUNK : (size_t)(f->total - f->sent);
        int r = ior_transport_write(f->t, nu_pattern(f->sent), n);
        if (r != 0)
            break; /* the child went away: connection_lost follows */
        f->sent += n;
    }
    f->in_write = 0;
    if (f->sent == f->total && !f->finished && !f->stopped) {
        f->finished = 1;
        assert_int_equal(ior_transport_unregister_producer(f->t), 0);
        assert_int_equal(ior_transport_lose_connection(f->t), 0);
    }
}

static void f_pause(void *user)
{
    feeder_t *f = user;
    f->paused = 1;
    if (f->pauses++ == 0 && f->on_first_pause != NULL)
        f->on_first_pause(f);
}

static void f_resume(void *user)
{
    feeder_t *f = user;
    f->paused = 0;
    feed(f);
}

static void f_stop(void *user)
{
    feeder_t *f = user;
    f->stopped = 1;
}

static const ior_producer_ops_t feeder_ops = {f_pause, f_resume, f_stop};

static void feeder_start(feeder_t *f, ior_transport_t *t, uint64_t total)
{
    f->t = t;
    f->total = total;
    assert_int_equal(ior_transport_register_producer(t, &feeder_ops, f, 1), 0);
    feed(f);
}

/* --- 64 MiB through a child ----------------------------------------------- */

#define BIG_BYTES (64u * 1024u * 1024u)

/* 64 MiB through a child's stdin and back from its stdout, checksummed. */
static void test_process_echo_64mib_checksummed(void **state)
{
    static const char *const argv[] = {"child_helper", "echo", NULL};
    nu_loop_t nl;
    proc_t *pr = calloc(1, sizeof(*pr));
    feeder_t f;
    uint64_t t0;
    uint64_t ms;
    (void)state;
    assert_non_null(pr);
    memset(&f, 0, sizeof(f));
    nu_loop_init(&nl);
    proc_spawn(pr, nl.loop, argv);
    t0 = ior_loop_now(nl.loop);
    feeder_start(&f, ior_process_stdio(pr->p, 0), BIG_BYTES);
    nu_loop_run(&nl);
    ms = ior_loop_now(nl.loop) - t0;
    print_message("process: 64 MiB through a child in %lu ms (%lu MiB/s), "
                  "producer paused %d times\n",
                  (unsigned long)ms, (unsigned long)(ms ? 64000u / ms : 0),
                  f.pauses);
    assert_int_equal(pr->ended, 1);
    assert_int_equal(pr->exit_code, 0);
    assert_int_equal(pr->term_signal, 0);
    assert_int_equal(pr->state_after_exit, IOR_ESTATE);
    assert_true(f.finished);
    assert_true(f.pauses > 0); /* a pipe holds far less than 64 MiB */
    assert_int_equal(pr->io[1].rx, BIG_BYTES);
    assert_true(pr->io[1].rx_hash == nu_pattern_hash(BIG_BYTES));
    assert_int_equal(pr->io[0].reason, IOR_EDONE);
    assert_int_equal(pr->io[1].reason, IOR_EDONE);
    assert_int_equal(pr->io[2].reason, IOR_EDONE);
    assert_int_equal(pr->err_len, 0);
    nu_loop_free(&nl);
    free(pr);
}

/* --- a child that never reads --------------------------------------------- */

/*
 * Terminates once both have happened: our producer was paused and the
 * child said "ready" (so it is running, not killed before it starts).
 */
static void noread_maybe_terminate(proc_t *pr, feeder_t *f)
{
    if (f->pauses == 0 || pr->out_len < 6 || pr->terminated)
        return;
    pr->terminated = 1;
    assert_int_equal(ior_process_terminate(pr->p), 0);
}

static void terminate_later(ior_loop_t *loop, void *user)
{
    feeder_t *f = user;
    (void)loop;
    noread_maybe_terminate(f->user, f);
}

static void on_noread_paused(feeder_t *f)
{
    proc_t *pr = f->user;
    /* Inside a write: act from the loop instead. */
    assert_int_equal(ior_call_later(pr->loop, 0, terminate_later, f, NULL), 0);
}

static void noread_out(nu_conn_t *c, const void *data, size_t len)
{
    proc_t *pr = c->user;
    cap_data(c, data, len);
    noread_maybe_terminate(pr, pr->user);
}

/*
 * A child that never reads its stdin pauses our streaming producer (the
 * pipe and the transport fill); terminating it ends everything.
 */
static void test_process_noread_pauses_producer_then_terminate(void **state)
{
    static const char *const argv[] = {"child_helper", "noread", NULL};
    nu_loop_t nl;
    proc_t pr;
    feeder_t f;
    (void)state;
    memset(&pr, 0, sizeof(pr));
    memset(&f, 0, sizeof(f));
    nu_loop_init(&nl);
    proc_spawn(&pr, nl.loop, argv);
    pr.user = &f;
    pr.io[1].on_data = noread_out;
    f.user = &pr;
    f.on_first_pause = on_noread_paused;
    feeder_start(&f, ior_process_stdio(pr.p, 0), (uint64_t)1 << 40);
    nu_loop_run(&nl);
    assert_int_equal(f.pauses, 1);
    assert_true(f.stopped); /* the transport was lost under it */
    assert_true(f.sent >= 64 * 1024);
    assert_int_equal(pr.ended, 1);
    assert_killed(&pr, IOR_SIGTERM);
    assert_int_equal(pr.state_after_exit, IOR_ESTATE);
    assert_out(&pr, "ready\n");
    assert_int_equal(pr.io[1].reason, IOR_EDONE);
    assert_true(pr.io[0].reason != IOR_EDONE); /* bytes were still queued */
    nu_loop_free(&nl);
}

/* --- stdin closed, exit codes, stderr, terminate -------------------------- */

/* Closing our side of stdin lets the child see EOF and exit 0; what was
 * written before the close is delivered first. */
static void test_process_stdin_closed_child_sees_eof(void **state)
{
    static const char *const argv[] = {"child_helper", "echo", NULL};
    nu_loop_t nl;
    proc_t pr;
    ior_transport_t *in;
    (void)state;
    memset(&pr, 0, sizeof(pr));
    nu_loop_init(&nl);
    proc_spawn(&pr, nl.loop, argv);
    in = ior_process_stdio(pr.p, 0);
    assert_int_equal(ior_transport_write(in, "abc", 3), 0);
    assert_int_equal(ior_transport_lose_connection(in), 0);
    nu_loop_run(&nl);
    assert_int_equal(pr.ended, 1);
    assert_int_equal(pr.exit_code, 0);
    assert_int_equal(pr.term_signal, 0);
    assert_out(&pr, "abc");
    assert_int_equal(pr.io[0].reason, IOR_EDONE);
    nu_loop_free(&nl);
}

/*
 * Exit statuses 0, 3 and 255 arrive as exit_code; a child that exits
 * without reading ends its stdin transport by itself.
 */
static void test_process_exit_codes(void **state)
{
    static const char *const a0[] = {"child_helper", "exit", "0", NULL};
    static const char *const a3[] = {"child_helper", "exit", "3", NULL};
    static const char *const a255[] = {"child_helper", "exit", "255", NULL};
    const char *const *argvs[3] = {a0, a3, a255};
    static const int want[3] = {0, 3, 255};
    nu_loop_t nl;
    proc_t pr[3];
    int ended = 0;
    int i;
    (void)state;
    memset(pr, 0, sizeof(pr));
    nu_loop_init(&nl);
    for (i = 0; i < 3; i++) {
        pr[i].ended_count = &ended;
        pr[i].group_size = 3;
        proc_spawn(&pr[i], nl.loop, argvs[i]);
    }
    nu_loop_run(&nl);
    for (i = 0; i < 3; i++) {
        assert_int_equal(pr[i].ended, 1);
        assert_int_equal(pr[i].exit_code, want[i]);
        assert_int_equal(pr[i].term_signal, 0);
        assert_int_equal(pr[i].io[0].reason, IOR_EDONE);
    }
    nu_loop_free(&nl);
}

/* What a child writes to stderr arrives on transport 2, not 1. */
static void test_process_stderr_captured(void **state)
{
    static const char *const argv[] = {"child_helper", "stderr",
                                       "oops on stderr", NULL};
    nu_loop_t nl;
    proc_t pr;
    (void)state;
    memset(&pr, 0, sizeof(pr));
    nu_loop_init(&nl);
    proc_spawn(&pr, nl.loop, argv);
    nu_loop_run(&nl);
    assert_int_equal(pr.exit_code, 0);
    assert_int_equal(pr.out_len, 0);
    assert_int_equal(pr.err_len, strlen("oops on stderr"));
    assert_memory_equal(pr.err, "oops on stderr", pr.err_len);
    nu_loop_free(&nl);
}

/* terminate and IOR_SIGKILL end a sleeping child; the status says so. */
static void test_process_terminate_and_kill(void **state)
{
    static const char *const argv[] = {"child_helper", "sleep", NULL};
    nu_loop_t nl;
    proc_t pr[2];
    int ended = 0;
    (void)state;
    memset(pr, 0, sizeof(pr));
    nu_loop_init(&nl);
    pr[0].ended_count = pr[1].ended_count = &ended;
    pr[0].group_size = pr[1].group_size = 2;
    proc_spawn(&pr[0], nl.loop, argv);
    proc_spawn(&pr[1], nl.loop, argv);
    assert_int_equal(ior_process_terminate(pr[0].p), 0);
    assert_int_equal(ior_process_signal(pr[1].p, IOR_SIGKILL), 0);
    nu_loop_run(&nl);
    assert_int_equal(pr[0].ended, 1);
    assert_int_equal(pr[1].ended, 1);
    assert_killed(&pr[0], IOR_SIGTERM);
    assert_killed(&pr[1], IOR_SIGKILL);
    nu_loop_free(&nl);
}

/* --- 100 children --------------------------------------------------------- */

#define MANY 100

/* 100 echo children at once: each answers its own line and exits 0. */
static void test_process_100_children_at_once(void **state)
{
    static const char *const argv[] = {"child_helper", "echo", NULL};
    nu_loop_t nl;
    proc_t *pr = calloc(MANY, sizeof(*pr));
    int ended = 0;
    int i;
    (void)state;
    assert_non_null(pr);
    /* About 400 descriptors at the peak: 3 pipe ends and a pidfd each. */
    nu_loop_init(&nl);
    for (i = 0; i < MANY; i++) {
        char line[32];
        ior_transport_t *in;
        pr[i].ended_count = &ended;
        pr[i].group_size = MANY;
        proc_spawn(&pr[i], nl.loop, argv);
        in = ior_process_stdio(pr[i].p, 0);
        snprintf(line, sizeof(line), "child %d\n", i);
        assert_int_equal(ior_transport_write(in, line, strlen(line)), 0);
        assert_int_equal(ior_transport_lose_connection(in), 0);
    }
    nu_loop_run(&nl);
    assert_int_equal(ended, MANY);
    for (i = 0; i < MANY; i++) {
        char line[32];
        snprintf(line, sizeof(line), "child %d\n", i);
        assert_int_equal(pr[i].ended, 1);
        assert_int_equal(pr[i].exit_code, 0);
        assert_out(&pr[i], line);
    }
    nu_loop_free(&nl);
    free(pr);
}

/* --- arguments, environment, directory ------------------------------------ */

/*
 * Arguments reach the child byte for byte: spaces, quotes, backslashes
 * (trailing ones too, which the MSVC rules double before a closing
 * quote), empty strings, tabs, newlines, and shell characters that no
 * shell ever sees.
 */
static void test_process_arguments_arrive_exactly(void **state)
{
    static const char *const args[] = {
        "plain",       "with space", "",          "quote\"inside",
        "back\\slash", "trailing\\", "two\\\\",   "\"quoted\"",
        "a\\\"b",      "\\\\\"",     "tab\there", "new\nline",
        "$HOME",       "%PATH%",     "*",         "  lead and trail  ",
        "\\",          "'single'",   NULL};
    const char *argv[32];
    char want[1024];
    size_t w = 0;
    nu_loop_t nl;
    proc_t pr;
    int n = 0;
    int i;
    (void)state;
    memset(&pr, 0, sizeof(pr));
    argv[n++] = "child_helper";
    argv[n++] = "args";
    for (i = 0; args[i] != NULL; i++) {
        argv[n++] = args[i];
        w += (size_t)snprintf(want + w, sizeof(want) - w, "%lu:%s\n",
                              (unsigned long)strlen(args[i]), args[i]);
    }
    argv[n] = NULL;
    nu_loop_init(&nl);
    proc_spawn(&pr, nl.loop, argv);
    nu_loop_run(&nl);
    assert_int_equal(pr.exit_code, 0);
    assert_out(&pr, want);
    nu_loop_free(&nl);
}

/*
 * The environment given replaces the parent's (on Windows plus the
 * variables a Windows program needs, from the parent: SYSTEMROOT here);
 * cwd is where it runs.
 */
static void test_process_env_and_cwd_honoured(void **state)
{
    static const char *const env[] = {"IOR_TEST_VAR=hello world", "SECOND=2",
                                      NULL};
    static const char *const env_argv[] = {"child_helper", "env",
                                           "IOR_TEST_VAR", "SECOND",
                                           IOR_TEST_ON_WINDOWS ? "SYSTEMROOT"
                                                               : "PATH",
                                           NULL};
    char want_env[1200];
    char dir[1024];
    char parent[1100];
    char rel[1100];
    const char *cwd_argv[] = {"child_helper", "exists", rel, NULL};
    const char *helper = IOR_CHILD_HELPER;
    const char *base;
    const char *last;
    nu_loop_t nl;
    proc_t pr[3];
    int ended = 0;
    size_t dlen;
    int i;
    (void)state;
    memset(pr, 0, sizeof(pr));
    /* dir/base is the helper; run in dir/.. and open last(dir)/base. */
    base = helper + strlen(helper);
    while (base > helper && base[-1] != '/' && base[-1] != '\\')
        base--;
    dlen = (size_t)(base - helper);
    assert_true(dlen > 1 && dlen < sizeof(dir));
    memcpy(dir, helper, dlen - 1);
    dir[dlen - 1] = '\0';
    last = dir + strlen(dir);
    while (last > dir && last[-1] != '/' && last[-1] != '\\')
        last--;
    snprintf(parent, sizeof(parent), "%s/..", dir);
    snprintf(rel, sizeof(rel), "%s/%s", last, base);
    nu_loop_init(&nl);
    for (i = 0; i < 3; i++) {
        pr[i].ended_count = &ended;
        pr[i].group_size = 3;
    }
    assert_int_equal(proc_spawn_in(&pr[0], nl.loop, env_argv, env, NULL), 0);
    assert_int_equal(proc_spawn_in(&pr[1], nl.loop, cwd_argv, NULL, parent), 0);
    assert_int_equal(proc_spawn_in(&pr[2], nl.loop, cwd_argv, NULL, dir), 0);
    nu_loop_run(&nl);
    for (i = 0; i < 3; i++)
        assert_int_equal(pr[i].exit_code, 0);
    if (IOR_TEST_ON_WINDOWS) {
        assert_non_null(test_getenv("SYSTEMROOT"));
        snprintf(want_env, sizeof(want_env),
                 "IOR_TEST_VAR=hello world\nSECOND=2\nSYSTEMROOT=%s\n",
                 test_getenv("SYSTEMROOT"));
    } else {
        snprintf(want_env, sizeof(want_env),
                 "IOR_TEST_VAR=hello world\nSECOND=2\nPATH unset\n");
    }
    assert_out(&pr[0], want_env);
    assert_out(&pr[1], "yes\n");
    assert_out(&pr[2], "no\n");
    nu_loop_free(&nl);
}

/* --- failures ------------------------------------------------------------- */

/*
 * A missing program is IOR_ENOENT from spawn itself (by path, and by PATH
 * search); a directory is not executable. Nothing leaks, nothing is
 * called.
 */
static void test_process_missing_program_enoent(void **state)
{
    static const char *const argv[] = {"ior-no-such-program-4d1f", NULL};
    nu_loop_t nl;
    ior_process_options_t o;
    ior_process_t *p = NULL;
    proc_t pr;
    char dir[1024];
    const char *helper = IOR_CHILD_HELPER;
    const char *base;
    int r;
    (void)state;
    memset(&pr, 0, sizeof(pr));
    nu_loop_init(&nl);
    memset(&o, 0, sizeof(o));
    o.argv = argv;
    o.file = "/nonexistent-ior-dir/prog";
    assert_int_equal(ior_process_spawn(nl.loop, &o, &proc_ops, &pr, &p),
                     IOR_ENOENT);
    o.file = NULL; /* PATH search for argv[0] */
    assert_int_equal(ior_process_spawn(nl.loop, &o, &proc_ops, &pr, &p),
                     IOR_ENOENT);
    base = strrchr(helper, '/');
    assert_non_null(base);
    memcpy(dir, helper, (size_t)(base - helper));
    dir[base - helper] = '\0';
    o.file = dir;
    /* A directory as the program: IOR_EACCES everywhere (execve's answer;
     * iocp/process.c maps CreateProcess's error for a directory). */
    r = ior_process_spawn(nl.loop, &o, &proc_ops, &pr, &p);
    assert_int_equal(r, IOR_EACCES);
    o.argv = NULL;
    assert_int_equal(ior_process_spawn(nl.loop, &o, &proc_ops, &pr, &p),
                     IOR_EINVAL);
    assert_null(p);
    nu_loop_free(&nl); /* no leak, and no callback ran */
    assert_int_equal(pr.ended, 0);
}


/* --- a child and the end of its parent ------------------------------------ */

/* Flag bits ior does not know are IOR_EINVAL, before anything starts. */
static void test_process_unknown_flags_einval(void **state)
{
    static const char *const argv[] = {"child_helper", "exit", "0", NULL};
    ior_process_options_t o;
    ior_process_t *p = NULL;
    nu_loop_t nl;
    proc_t pr;
    (void)state;
    memset(&pr, 0, sizeof(pr));
    nu_loop_init(&nl);
    memset(&o, 0, sizeof(o));
    o.file = IOR_CHILD_HELPER;
    o.argv = argv;
    o.flags = 0x4u;
    assert_int_equal(ior_process_spawn(nl.loop, &o, &proc_ops, &pr, &p),
                     IOR_EINVAL);
    o.flags = IOR_PROCESS_DETACHED | 0x80000000u;
    assert_int_equal(ior_process_spawn(nl.loop, &o, &proc_ops, &pr, &p),
                     IOR_EINVAL);
    assert_null(p);
    nu_loop_free(&nl);
}

#if !IOR_TEST_ON_WINDOWS
/*
 * POSIX: a detached child leads a session of its own (setsid); any other
 * child stays in ours, so the terminal's SIGINT reaches it with us.
 */
static void test_process_detached_has_own_session(void **state)
{
    static const char *const argv[] = {"child_helper", "sleep", NULL};
    ior_process_options_t o;
    nu_loop_t nl;
    proc_t pr[2];
    int ended = 0;
    long pid;
    (void)state;
    memset(pr, 0, sizeof(pr));
    nu_loop_init(&nl);
    pr[0].ended_count = pr[1].ended_count = &ended;
    pr[0].group_size = pr[1].group_size = 2;
    memset(&o, 0, sizeof(o));
    o.file = IOR_CHILD_HELPER;
    o.argv = argv;
    assert_int_equal(proc_spawn_opts(&pr[0], nl.loop, &o), 0);
    o.flags = IOR_PROCESS_DETACHED;
    assert_int_equal(proc_spawn_opts(&pr[1], nl.loop, &o), 0);
    assert_int_equal(getsid((pid_t)ior_process_pid(pr[0].p)), getsid(0));
    pid = ior_process_pid(pr[1].p);
    assert_int_equal(getsid((pid_t)pid), (pid_t)pid);
    assert_int_equal(ior_process_signal(pr[0].p, IOR_SIGKILL), 0);
    assert_int_equal(ior_process_signal(pr[1].p, IOR_SIGKILL), 0);
    nu_loop_run(&nl);
    assert_int_equal(ended, 2);
    nu_loop_free(&nl);
}
#else
static int under_wine(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return ntdll != NULL &&
           GetProcAddress(ntdll, "wine_get_version") != NULL;
}

/* Stops the loop once a whole line (the grandchild's pid) is in. */
static void pid_line(nu_conn_t *c, const void *data, size_t len)
{
    proc_t *pr = c->user;
    cap_data(c, data, len);
    if (memchr(pr->out, '\n', pr->out_len) != NULL)
        nu_done(pr->loop);
}

/*
 * Starts spawn_helper MODE child_helper hang, then lets spawn_helper die
 * with its child still running, as a crashed or killed parent does.
 * Returns a handle to that child (the grandchild), opened while it
 * certainly still ran.
 */
static HANDLE orphan_grandchild(const char *mode)
{
    const char *argv[] = {"spawn_helper", mode, IOR_CHILD_HELPER, "hang",
                          NULL};
    ior_process_options_t o;
    nu_loop_t nl;
    proc_t pr;
    HANDLE h;
    memset(&pr, 0, sizeof(pr));
    nu_loop_init(&nl);
    memset(&o, 0, sizeof(o));
    o.file = IOR_SPAWN_HELPER;
    o.argv = argv;
    /* Out of our job: the grandchild's fate is spawn_helper's job's. */
    o.flags = IOR_PROCESS_DETACHED;
    assert_int_equal(proc_spawn_opts(&pr, nl.loop, &o), 0);
    pr.io[1].on_data = pid_line;
    nu_loop_run(&nl);
    assert_true(pr.out_len > 1 && pr.out_len < 32);
    pr.out[pr.out_len] = '\0';
    h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION |
                        PROCESS_TERMINATE,
                    FALSE, (DWORD)atol(pr.out));
    assert_non_null(h);
    /* EOF on its stdin: spawn_helper ends itself (TerminateProcess). */
    assert_int_equal(ior_transport_lose_connection(pr.io[0].t), 0);
    nu_loop_run(&nl);
    assert_int_equal(pr.ended, 1);
    assert_int_equal(pr.exit_code, 3);
    nu_loop_free(&nl);
    return h;
}

/*
 * Windows: a child is in a job of its parent that kills it when the
 * parent ends, however it ends (JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE): the
 * grandchild ends with spawn_helper, long before its own 30 s timeout.
 */
static void test_process_child_ends_with_its_parent(void **state)
{
    DWORD code = 0;
    HANDLE h;
    (void)state;
    h = orphan_grandchild("keep");
    assert_int_equal(WaitForSingleObject(h, (DWORD)nu_watchdog_ms()),
                     WAIT_OBJECT_0);
    assert_true(GetExitCodeProcess(h, &code));
    /* The job's kill, not the timeout (Windows documents no job code). */
    assert_int_not_equal(code, HANG_TIMEOUT_EXIT);
    CloseHandle(h);
}

/* Windows: IOR_PROCESS_DETACHED: the grandchild outlives spawn_helper. */
static void test_process_detached_child_outlives_its_parent(void **state)
{
    DWORD code = 0;
    HANDLE h;
    (void)state;
    h = orphan_grandchild("detach");
    assert_int_equal(WaitForSingleObject(h, 0), WAIT_TIMEOUT);
    assert_true(TerminateProcess(h, 9));
    assert_int_equal(WaitForSingleObject(h, (DWORD)nu_watchdog_ms()),
                     WAIT_OBJECT_0);
    assert_true(GetExitCodeProcess(h, &code));
    assert_int_equal(code, 9);
    CloseHandle(h);
}

/* What child_helper console says about our console, for o's flags. */
static void console_answer(unsigned flags, const char *want)
{
    char pid[32];
    const char *argv[] = {"child_helper", "console", pid, NULL};
    ior_process_options_t o;
    nu_loop_t nl;
    proc_t pr;
    snprintf(pid, sizeof(pid), "%lu", (unsigned long)GetCurrentProcessId());
    memset(&pr, 0, sizeof(pr));
    nu_loop_init(&nl);
    memset(&o, 0, sizeof(o));
    o.file = IOR_CHILD_HELPER;
    o.argv = argv;
    o.flags = flags;
    assert_int_equal(proc_spawn_opts(&pr, nl.loop, &o), 0);
    nu_loop_run(&nl);
    assert_int_equal(pr.exit_code, 0);
    assert_out(&pr, want);
    nu_loop_free(&nl);
}

/*
 * Windows: a child shares our console (so Ctrl-C reaches it); a detached
 * one has a hidden console of its own. Under Wine every child has none
 * (DETACHED_PROCESS): Wine leaks the conhost.exe of a child's own console
 * when the child is killed early (iocp/process.c, docs/windows.md), so
 * the shared and own cases run only on Windows.
 */
static void test_process_console_shared_unless_detached(void **state)
{
    DWORD one;
    (void)state;
    if (under_wine()) {
        console_answer(0, "none\n");
        console_answer(IOR_PROCESS_DETACHED, "none\n");
        return;
    }
    if (GetConsoleProcessList(&one, 1) == 0)
        assert_true(AllocConsole());
    console_answer(0, "shared\n");
    console_answer(IOR_PROCESS_DETACHED, "own\n");
}
#endif

#if !IOR_TEST_ON_WINDOWS

static int raised;

static void raise_term(ior_loop_t *loop, void *user)
{
    (void)loop;
    (void)user;
    raised++;
    assert_int_equal(raise(SIGTERM), 0);
}

/*
 * POSIX: SIGTERM and SIGCHLD arrive through one signal channel of the
 * loop (posix/signal.c): a loop that stops on interrupts still sees its
 * children exit (net_process_epoll_sigchld runs this on the SIGCHLD
 * path), SIGTERM stops it, and ior_loop_free gives SIGTERM its previous
 * disposition back. Windows' Ctrl-C path has no test here: raising a
 * console event would reach every process on the console (ctest too).
 */
static void test_process_interrupt_and_child_exit_share_the_loop(void **state)
{
    static const char *const a0[] = {"child_helper", "exit", "0", NULL};
    static const char *const a3[] = {"child_helper", "exit", "3", NULL};
    struct sigaction before, after;
    nu_loop_t nl;
    proc_t pr[2];
    (void)state;
    memset(pr, 0, sizeof(pr));
    raised = 0;
    assert_int_equal(sigaction(SIGTERM, NULL, &before), 0);
    nu_loop_init(&nl);
    assert_int_equal(ior_loop_stop_on_interrupt(nl.loop), 0);
    proc_spawn(&pr[0], nl.loop, a0);
    nu_loop_run(&nl); /* process_ended stops it */
    assert_int_equal(pr[0].ended, 1);
    assert_int_equal(pr[0].exit_code, 0);
    /* Only the signal stops this run (the watchdog would fail it). */
    assert_int_equal(ior_call_later(nl.loop, 0, raise_term, NULL, NULL), 0);
    nu_loop_run(&nl);
    assert_int_equal(raised, 1);
    proc_spawn(&pr[1], nl.loop, a3);
    nu_loop_run(&nl);
    assert_int_equal(pr[1].ended, 1);
    assert_int_equal(pr[1].exit_code, 3);
    nu_loop_free(&nl);
    assert_int_equal(sigaction(SIGTERM, NULL, &after), 0);
    assert_true(after.sa_handler == before.sa_handler);
}
#endif

#if IOR_TEST_ON_WINDOWS
/*
 * Windows: a batch program (.bat, .cmd) runs through cmd.exe, which
 * parses the arguments again, so it is IOR_EINVAL unless the caller
 * passes IOR_PROCESS_ALLOW_BATCH; decided before the file is looked for.
 * With the flag, a batch file runs.
 */
static void test_process_batch_files_need_the_flag(void **state)
{
    static const char *const by_name[] = {"RUN.CMD", NULL};
    const char *argv[] = {"batch", NULL};
    char path[1100];
    const char *helper = IOR_CHILD_HELPER;
    const char *base = helper + strlen(helper);
    ior_process_options_t o;
    ior_process_t *p = NULL;
    nu_loop_t nl;
    proc_t pr;
    FILE *f;
    (void)state;
    memset(&pr, 0, sizeof(pr));
    nu_loop_init(&nl);
    memset(&o, 0, sizeof(o));
    o.argv = argv;
    o.file = "C:\\no-such-dir-ior\\x.bat";
    assert_int_equal(ior_process_spawn(nl.loop, &o, &proc_ops, &pr, &p),
                     IOR_EINVAL);
    o.file = "C:\\no-such-dir-ior\\x.bAt. ";
    assert_int_equal(ior_process_spawn(nl.loop, &o, &proc_ops, &pr, &p),
                     IOR_EINVAL);
    o.file = NULL;
    o.argv = by_name;
    assert_int_equal(ior_process_spawn(nl.loop, &o, &proc_ops, &pr, &p),
                     IOR_EINVAL);
    assert_null(p);
    /* Allowed: a real batch file next to the helper runs. */
    while (base > helper && base[-1] != '/' && base[-1] != '\\')
        base--;
    snprintf(path, sizeof(path), "%.*s%s", (int)(base - helper), helper,
             "ior-test-batch.cmd");
    f = test_fopen(path, "w");
    assert_non_null(f);
    fputs("@echo batch ran\r\n", f);
    assert_int_equal(fclose(f), 0);
    /* cmd.exe runs the command line: its first word must be the file. */
    argv[0] = path;
    o.argv = argv;
    o.file = path;
    o.flags = IOR_PROCESS_ALLOW_BATCH;
    assert_int_equal(proc_spawn_opts(&pr, nl.loop, &o), 0);
    nu_loop_run(&nl);
    assert_int_equal(pr.ended, 1);
    assert_int_equal(pr.exit_code, 0);
    assert_out(&pr, "batch ran\r\n");
    nu_loop_free(&nl);
    assert_int_equal(remove(path), 0);
}
#endif

/*
 * ior_loop_free with a child still running closes its pipes and leaves it
 * running (it is not killed): this echo child sees EOF and exits 0 by
 * itself. The test then reaps it; nothing leaks and nothing is called.
 */
static void test_process_loop_free_leaves_child_running(void **state)
{
    static const char *const argv[] = {"child_helper", "echo", NULL};
    nu_loop_t nl;
    proc_t pr;
    long pid;
    int status;
    (void)state;
    memset(&pr, 0, sizeof(pr));
    nu_loop_init(&nl);
    proc_spawn(&pr, nl.loop, argv);
    pid = ior_process_pid(pr.p);
    nu_loop_free(&nl);
    assert_int_equal(pr.ended, 0);
    assert_int_equal(pr.io[0].reason, IOR_EABORTED);
    assert_int_equal(pr.io[1].reason, IOR_EABORTED);
    status = cp_wait_exit(pid);
    if (IOR_TEST_ON_WINDOWS)
        assert_true(status == 0 || status == -2);
    else
        assert_int_equal(status, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_echo_64mib_checksummed),
        cmocka_unit_test(test_process_noread_pauses_producer_then_terminate),
        cmocka_unit_test(test_process_stdin_closed_child_sees_eof),
        cmocka_unit_test(test_process_exit_codes),
        cmocka_unit_test(test_process_stderr_captured),
        cmocka_unit_test(test_process_terminate_and_kill),
        cmocka_unit_test(test_process_100_children_at_once),
        cmocka_unit_test(test_process_arguments_arrive_exactly),
        cmocka_unit_test(test_process_env_and_cwd_honoured),
        cmocka_unit_test(test_process_missing_program_enoent),
        cmocka_unit_test(test_process_loop_free_leaves_child_running),
        cmocka_unit_test(test_process_unknown_flags_einval),
#if !IOR_TEST_ON_WINDOWS
        cmocka_unit_test(test_process_interrupt_and_child_exit_share_the_loop),
        cmocka_unit_test(test_process_detached_has_own_session),
#else
        cmocka_unit_test(test_process_batch_files_need_the_flag),
        cmocka_unit_test(test_process_child_ends_with_its_parent),
        cmocka_unit_test(test_process_detached_child_outlives_its_parent),
        cmocka_unit_test(test_process_console_shared_unless_detached),
#endif
    };
    nu_alloc_install();
    return cmocka_run_group_tests_name("net_process", tests, NULL, NULL);
}
