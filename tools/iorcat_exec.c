/*
 * iorcat -e PROG: each connection (client or -l, with -k one after the
 * other) is served by a new child whose stdin reads from the connection
 * and whose stdout writes to it, as traditional netcat's -e. PROG is split
 * on spaces and tabs into the program and its arguments (no quoting, no
 * shell: run a shell explicitly for that, "-e '/bin/sh script'"); the
 * program is looked up in PATH. The child's stderr goes to our stderr.
 * iorcat's own stdin and stdout are not used.
 *
 * Flow control both ways, all on the consumer core: the socket is the
 * streaming producer of the child's stdin (a child that reads slowly
 * pauses the socket, and so the peer), and the child's stdout is the
 * socket's producer (a slow peer pauses reading the child's output, and
 * the child blocks on its full pipe). The child's stderr is our stderr's
 * producer.
 *
 * Ending:
 *  - peer EOF: the child's stdin is closed once what the peer sent has
 *    been written to it, so the child sees EOF;
 *  - child stdout EOF: the socket's write side is shut (half-close) once
 *    the child's output has been sent, so the peer sees EOF and may still
 *    send to a child that reads on;
 *  - the child exits: the socket is closed once its queue has drained;
 *  - the socket is lost first (peer reset, -w idle): the child's stdin
 *    is closed and its stdout no longer read (it gets EPIPE or SIGPIPE);
 *    iorcat waits for it to exit.
 * The connection is over when both the socket and the child are gone.
 * Exit status (without -k): 0 if the child exited 0 and the connection
 * ended cleanly, else 1. With -k failures are reported and the server
 * goes on. An interrupt (SIGINT, Ctrl-C) terminates a running child.
 * A child that closes its stdin early leaves the socket read and the
 * peer's further bytes dropped, so the peer is never blocked by it.
 */
#include "iorcat.h"

#include <stdlib.h>
#include <string.h>

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Splits o.exec into exec_argv (in place, in a copy). */
static int split_command(iorcat_t *c)
{
    size_t len = strlen(c->o.exec), n = 0;
    char *p;
    c->exec_buf = malloc(len + 1);
    /* At most one word per two characters, plus the terminator. */
    c->exec_argv = calloc(len / 2 + 2, sizeof *c->exec_argv);
    if (c->exec_buf == NULL || c->exec_argv == NULL)
        return IOR_ENOMEM;
    memcpy(c->exec_buf, c->o.exec, len + 1);
    p = c->exec_buf;
    for (;;) {
        while (is_space(*p))
            *p++ = '\0';
        if (*p == '\0')
            break;
        c->exec_argv[n++] = p;
        while (*p != '\0' && !is_space(*p))
            p++;
    }
    c->exec_argv[n] = NULL;
    if (n == 0) {
        iorcat_log("-e: empty command");
        return IOR_EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Our stderr                                                          */
/* ------------------------------------------------------------------ */

static void err_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    (void)t;
    (void)reason; /* nowhere left to say it */
    c->err = NULL;
    c->cerr_on_err = 0; /* forgotten (and stopped) by the core */
    if (c->finishing)
        iorcat_finish(c); /* it may have waited for us */
}

static const ior_protocol_ops_t err_ops = {NULL, NULL, NULL, err_lost};

/* -e: splits o.exec into argv and opens our stderr. 0 or IOR_E*. */
static int exec_open(iorcat_t *c)
{
    int r;
    c->in_eof = 1; /* the child has the connection, not our stdin */
    r = split_command(c);
    if (r != 0)
        return r;
    r = ior_stdio_open(c->loop, 2, &err_ops, c, &c->err);
    if (r == IOR_EBADF) {
        c->err = NULL; /* no stderr: the child's is read and dropped */
    } else if (r != 0) {
        iorcat_log_error("stderr", r, 0);
        return r;
    }
    return 0;
}

/* Interrupted: terminates a running child. Frees what open allocated. */
static void exec_cleanup(iorcat_t *c)
{
    if (c->proc != NULL) {
        (void)ior_process_terminate(c->proc);
        c->proc = NULL; /* ior_loop_free frees it */
    }
    free(c->exec_argv);
    free(c->exec_buf);
    c->exec_argv = NULL;
    c->exec_buf = NULL;
}

/* ------------------------------------------------------------------ */
/* The end of one connection                                           */
/* ------------------------------------------------------------------ */

static void maybe_done(iorcat_t *c)
{
    if (!c->sock_done || !c->proc_done)
        return;
    if (!c->o.keep && (c->sock_failed || c->child_failed))
        c->status = 1;
    iorcat_connection_done(c);
}

static void on_ended(ior_process_t *p, void *user, int exit_code,
                     int term_signal)
{
    iorcat_t *c = user;
    (void)p;
    c->proc = NULL;
    c->proc_done = 1;
    c->child_failed = exit_code != 0;
    if (exit_code == -1)
        iorcat_log("%s: killed by signal %d", c->exec_argv[0], term_signal);
    else if (exit_code != 0 || c->o.verbose)
        iorcat_log("%s: exit status %d", c->exec_argv[0], exit_code);
    if (c->sock != NULL)
        (void)ior_transport_lose_connection(c->sock);
    maybe_done(c);
}

static const ior_process_ops_t proc_ops = {on_ended};

/* ------------------------------------------------------------------ */
/* The socket                                                          */
/* ------------------------------------------------------------------ */

static void sock_data(ior_transport_t *t, void *user, const void *data,
                      size_t len)
{
    iorcat_t *c = user;
    c->received += len;
    c->last_activity = ior_loop_now(c->loop);
    /* A child that closed its stdin (cin NULL): dropped. */
    if (iorcat_pass(c->cin, data, len, "write to the child") < 0) {
        c->sock_failed = 1;
        (void)ior_transport_abort_connection(t);
    }
}

/* Peer EOF: the child sees EOF once what came before is written. */
static void close_child_stdin(iorcat_t *c)
{
    if (c->sock_on_cin && c->cin != NULL)
        (void)ior_transport_unregister_producer(c->cin);
    c->sock_on_cin = 0;
    if (c->cin != NULL)
        (void)ior_transport_lose_connection(c->cin);
}

static void sock_eof(ior_transport_t *t, void *user)
{
    iorcat_t *c = user;
    (void)t;
    c->net_eof = 1;
    close_child_stdin(c);
}

static void sock_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    if (iorcat_is_failure(reason)) {
        iorcat_log_lost("connection", t, reason);
        c->sock_failed = 1;
    }
    c->sock = NULL;
    c->sock_done = 1;
    c->cout_on_sock = 0; /* forgotten (and stopped) by the core */
    close_child_stdin(c);
    maybe_done(c);
}

static const ior_protocol_ops_t sock_ops = {sock_data, sock_eof, NULL,
                                            sock_lost};

/*
 * The socket as the producer of the child's stdin (user = &c->sock). Not
 * ior_transport_producer_ops: its stop (the child's stdin is gone) would
 * close the socket while the child may still be writing to it. Here stop
 * resumes the socket: it goes on reading, and what it reads is dropped
 * (cin_lost clears sock_on_cin).
 */
static const ior_producer_ops_t sock_producer = {
    iorcat_slot_pause, iorcat_slot_resume, iorcat_slot_resume};

/* ------------------------------------------------------------------ */
/* The child's stdio                                                   */
/* ------------------------------------------------------------------ */

static void cin_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    c->cin = NULL;
    c->sock_on_cin = 0;
    if (iorcat_is_failure(reason) && c->o.verbose)
        iorcat_log_error("the child's stdin", reason,
                         ior_transport_os_error(t));
}

static const ior_protocol_ops_t cin_ops = {NULL, NULL, NULL, cin_lost};

static void cout_data(ior_transport_t *t, void *user, const void *data,
                      size_t len)
{
    iorcat_t *c = user;
    (void)t;
    c->sent += len;
    c->last_activity = ior_loop_now(c->loop);
    if (iorcat_pass(c->sock, data, len, "write to the connection") < 0) {
        c->sock_failed = 1;
        (void)ior_transport_abort_connection(c->sock);
    }
}

static void cout_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    c->cout = NULL;
    if (iorcat_is_failure(reason))
        iorcat_log_error("the child's stdout", reason,
                         ior_transport_os_error(t));
    if (c->sock == NULL)
        return;
    /* A lost producer stays registered unless we let go of it. */
    if (c->cout_on_sock)
        (void)ior_transport_unregister_producer(c->sock);
    c->cout_on_sock = 0;
    (void)ior_transport_lose_write_connection(c->sock);
}

static const ior_protocol_ops_t cout_ops = {cout_data, NULL, NULL, cout_lost};

static void cerr_data(ior_transport_t *t, void *user, const void *data,
                      size_t len)
{
    iorcat_t *c = user;
    (void)t;
    if (c->err != NULL)
        (void)ior_transport_write(c->err, data, len);
}

static void cerr_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    (void)t;
    (void)reason;
    c->cerr = NULL;
    if (c->cerr_on_err && c->err != NULL)
        (void)ior_transport_unregister_producer(c->err);
    c->cerr_on_err = 0;
}

static const ior_protocol_ops_t cerr_ops = {cerr_data, NULL, NULL, cerr_lost};

/* ------------------------------------------------------------------ */
/* Serving a connection                                                */
/* ------------------------------------------------------------------ */

static void wire_child(iorcat_t *c, ior_transport_t *t)
{
    c->cin = ior_process_stdio(c->proc, 0);
    c->cout = ior_process_stdio(c->proc, 1);
    c->cerr = ior_process_stdio(c->proc, 2);
    (void)ior_transport_set_protocol(c->cin, &cin_ops, c);
    (void)ior_transport_set_protocol(c->cout, &cout_ops, c);
    (void)ior_transport_set_protocol(c->cerr, &cerr_ops, c);
    if (ior_transport_register_producer(c->cin, &sock_producer, &c->sock, 1) ==
        0)
        c->sock_on_cin = 1;
    if (ior_transport_register_producer(t, &ior_transport_producer_ops, c->cout,
                                        1) == 0)
        c->cout_on_sock = 1;
    if (c->err != NULL &&
        ior_transport_register_producer(c->err, &ior_transport_producer_ops,
                                        c->cerr, 1) == 0)
        c->cerr_on_err = 1;
}

/* Serves t (iorcat_tcp.c has set c->sock) with a new child. */
static void exec_serve(iorcat_t *c, ior_transport_t *t)
{
    ior_process_options_t po;
    int r;
    c->sock_done = c->proc_done = 0;
    c->sock_failed = c->child_failed = 0;
    (void)ior_transport_set_protocol(t, &sock_ops, c);
    (void)ior_transport_resume_producing(t); /* it may have waited paused */
    memset(&po, 0, sizeof po);
    po.argv = (const char *const *)c->exec_argv;
    r = ior_process_spawn(c->loop, &po, &proc_ops, c, &c->proc);
    if (r != 0) {
        iorcat_log("-e %s: %s", c->exec_argv[0],
                   r == IOR_ENOENT ? "program not found" : ior_strerror(r));
        c->proc = NULL;
        c->proc_done = 1;
        c->child_failed = 1;
        (void)ior_transport_abort_connection(t);
        return;
    }
    if (c->o.verbose)
        iorcat_log("running %s (pid %ld)", c->exec_argv[0],
                   ior_process_pid(c->proc));
    wire_child(c, t);
}

const iorcat_mode_t iorcat_exec_mode = {
    exec_open,            /* open */
    iorcat_tcp_start,     /* start */
    iorcat_tcp_start_any, /* start_any */
    exec_serve,           /* serve */
    iorcat_tcp_idle,      /* idle */
    iorcat_tcp_close,     /* close */
    exec_cleanup,         /* cleanup */
};
