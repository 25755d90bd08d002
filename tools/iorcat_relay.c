/*
 * iorcat's relay: bytes from stdin to the socket and from the socket to
 * stdout, with the library's own flow control both ways. stdin's transport
 * is the streaming producer registered on the socket, and the socket is
 * the streaming producer registered on stdout, so a slow reader at either
 * end pauses the other side instead of buffering: memory stays near
 * buffer_size whatever the volume.
 *
 * When a connection ends (netcat-openbsd's client rules, for both modes):
 *  - stdin EOF: with -N the socket's write side is shut once its queue
 *    drains; without -N nothing happens to the socket.
 *  - peer EOF: the socket stops producing into stdout, and stdout is
 *    flushed and closed (with -k it stays open for the next connection).
 *    A client goes on sending stdin to its EOF (then, with or without -N,
 *    the socket is closed once its queue drains), to -q, or to an error:
 *    nothing it reads is lost, as netcat-openbsd's client. A server (-l)
 *    stops reading stdin and closes the socket once what is already queued
 *    has been sent, as nc -l: input it has not read is not sent, so a peer
 *    that wants all of it must not close first.
 *  - -q SECS (which implies -N, as nc): SECS after stdin EOF the socket
 *    is closed once its queue drains, and the program ends.
 *  - the program exits when the socket and stdout are both gone.
 * UDP (-u) and -e have their own rules: iorcat_udp.c, iorcat_exec.c.
 * Errors on the socket or stdout end the program with status 1.
 *
 * Lifetimes: a transport is freed after its connection_lost, and the core
 * forgets a lost transport's producer (after stop_producing) but not a
 * producer that is itself lost, so each connection_lost here unregisters
 * the lost transport from wherever it was the producer.
 */
#include "iorcat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

void iorcat_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("iorcat: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
}

void iorcat_log_error(const char *what, int err, int os_error)
{
    char buf[256];
    if (os_error != 0)
        iorcat_log("%s: %s (%s)", what, ior_strerror(err),
                   ior_os_strerror(os_error, buf, sizeof buf));
    else
        iorcat_log("%s: %s", what, ior_strerror(err));
}

/* IOR_EDONE is a clean end; IOR_EABORTED is ours, and its cause logged. */
int iorcat_is_failure(int reason)
{
    return reason != IOR_EDONE && reason != IOR_EABORTED;
}

/*
 * The program may end once the socket, stdout and (-e) our stderr and the
 * child are all gone.
 */
static void check_exit(iorcat_t *c)
{
    if (c->finishing && c->sock == NULL && c->out == NULL && c->err == NULL &&
        c->proc == NULL && c->udp == NULL && !c->loop_done)
        ior_loop_stop(c->loop);
}

/* The socket stops being stdout's producer (peer EOF, or socket lost). */
static void release_out(iorcat_t *c)
{
    if (c->sock_on_out && c->out != NULL)
        (void)ior_transport_unregister_producer(c->out);
    c->sock_on_out = 0;
}

/*
 * The peer's EOF has come: close the socket once its queue has drained. A
 * client first sends the rest of stdin, to its EOF (as nc); a server (-l)
 * sends what it has read and stops, as nc -l (with -k stdin stays for the
 * next connection).
 */
static void check_conn_done(iorcat_t *c)
{
    if (c->sock == NULL || !c->net_eof)
        return;
    if (!c->o.listen && !c->in_eof)
        return; /* in_lost comes back here */
    /*
     * A streaming producer still registered would keep the closing socket
     * open (each drain resumes it and it writes more): stdin lets go first.
     */
    if (ior_transport_state(c->sock) & IOR_TS_PRODUCER)
        (void)ior_transport_unregister_producer(c->sock);
    if (c->in != NULL)
        (void)ior_transport_pause_producing(c->in);
    (void)ior_transport_lose_connection(c->sock);
}

/*
 * -q in TCP mode, as nc: the program ends this long after stdin's EOF;
 * what is queued for the peer is still sent before the socket closes.
 */
static void quit_tick(ior_loop_t *loop, void *user)
{
    iorcat_t *c = user;
    (void)loop;
    c->quit_timer = 0;
    if (c->o.verbose)
        iorcat_log("stdin ended %u s ago: quitting (-q)", c->o.quit_s);
    if (c->sock != NULL) {
        if (ior_transport_state(c->sock) & IOR_TS_PRODUCER)
            (void)ior_transport_unregister_producer(c->sock);
        (void)ior_transport_lose_connection(c->sock);
    }
    iorcat_finish(c);
}

/* stdin has ended while c->sock is being served. */
static void input_done(iorcat_t *c)
{
    if (c->o.half_close)
        (void)ior_transport_lose_write_connection(c->sock);
    check_conn_done(c);
    if (c->o.have_quit && c->quit_timer == 0 && !c->finishing)
        (void)ior_call_later(c->loop, (uint64_t)c->o.quit_s * 1000,
                             quit_tick, c, &c->quit_timer);
}

/* ------------------------------------------------------------------ */
/* stdin                                                               */
/* ------------------------------------------------------------------ */

static void in_data(ior_transport_t *t, void *user, const void *data,
                    size_t len)
{
    iorcat_t *c = user;
    int r;
    (void)t;
    if (c->sock == NULL)
        return; /* stdin is paused while nothing is connected */
    r = ior_transport_write(c->sock, data, len);
    if (r == 0) {
        c->sent += len;
        c->last_activity = ior_loop_now(c->loop);
    } else if (r != IOR_ENOTCONN && r != IOR_ESHUTDOWN) {
        /* The socket is not closing by itself: this is ours to end. */
        iorcat_log_error("write to the connection", r, 0);
        c->status = 1;
        (void)ior_transport_abort_connection(c->sock);
    }
}

static void in_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    if (iorcat_is_failure(reason)) {
        iorcat_log_error("stdin", reason, ior_transport_os_error(t));
        c->status = 1;
    }
    c->in = NULL;
    c->in_eof = 1;
    if (c->sock == NULL)
        return;
    /* Only stdin is ever the socket's producer; it is gone now. */
    if (ior_transport_state(c->sock) & IOR_TS_PRODUCER)
        (void)ior_transport_unregister_producer(c->sock);
    input_done(c);
}

static const ior_protocol_ops_t in_ops = {in_data, NULL, NULL, in_lost};

/*
 * With -k stdin outlives each connection: a lost socket stops its
 * producer, and the library's own stop_producing would close stdin. This
 * one pauses it until the next connection instead.
 */
static void keep_pause(void *user)
{
    iorcat_t *c = user;
    if (c->in != NULL)
        (void)ior_transport_pause_producing(c->in);
}

static void keep_resume(void *user)
{
    iorcat_t *c = user;
    if (c->in != NULL)
        (void)ior_transport_resume_producing(c->in);
}

static const ior_producer_ops_t keep_in_ops = {keep_pause, keep_resume,
                                               keep_pause};

/* ------------------------------------------------------------------ */
/* stdout                                                              */
/* ------------------------------------------------------------------ */

static void out_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    /* The core has forgotten (and stopped) the socket as our producer. */
    c->out = NULL;
    c->sock_on_out = 0;
    if (iorcat_is_failure(reason)) {
        iorcat_log_error("stdout", reason, ior_transport_os_error(t));
        c->status = 1;
        /* Nowhere to put what the peer sends: end it all. */
        if (c->sock != NULL)
            (void)ior_transport_abort_connection(c->sock);
        iorcat_finish(c);
        return;
    }
    check_exit(c);
}

static const ior_protocol_ops_t out_ops = {NULL, NULL, NULL, out_lost};

int iorcat_open_stdio(iorcat_t *c)
{
    int r;
    if (c->o.exec != NULL) {
        c->in_eof = 1; /* the child has the connection, not us */
        return iorcat_exec_init(c);
    }
    r = ior_stdio_open(c->loop, 1, &out_ops, c, &c->out);
    if (r == IOR_EBADF) {
        c->out = NULL; /* no stdout at all: what arrives is dropped */
    } else if (r != 0) {
        iorcat_log_error("stdout", r, 0);
        return r;
    }
    if (c->o.no_stdin) {
        c->in_eof = 1;
        return 0;
    }
    r = ior_stdio_open(c->loop, 0, c->o.udp ? &iorcat_udp_in_ops : &in_ops,
                       c, &c->in);
    if (r == IOR_EBADF) {
        c->in = NULL; /* no stdin at all: as nc -d */
        c->in_eof = 1;
        return 0;
    }
    if (r != 0) {
        iorcat_log_error("stdin", r, 0);
        return r;
    }
    /* Nothing is read before there is somewhere to send it. */
    (void)ior_transport_pause_producing(c->in);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Timers: progress and the idle timeout                               */
/* ------------------------------------------------------------------ */

static double rate(uint64_t bytes, uint64_t ms)
{
    return ms == 0 ? 0.0 : (double)bytes / MIB / ((double)ms / 1000.0);
}

static void progress_tick(ior_loop_t *loop, void *user)
{
    iorcat_t *c = user;
    uint64_t now = ior_loop_now(loop);
    uint64_t dt = now - c->tick_ms;
    c->progress_timer = 0;
    /* Quiet while nothing moves (an idle -k server, a stalled peer). */
    if (c->sent != c->tick_sent || c->received != c->tick_received)
        iorcat_log("sent %.1f MiB (%.1f MiB/s), received %.1f MiB "
                   "(%.1f MiB/s)",
                   (double)c->sent / MIB, rate(c->sent - c->tick_sent, dt),
                   (double)c->received / MIB,
                   rate(c->received - c->tick_received, dt));
    c->tick_ms = now;
    c->tick_sent = c->sent;
    c->tick_received = c->received;
    (void)ior_call_later(loop, 1000, progress_tick, c, &c->progress_timer);
}

/*
 * -w in client mode, as nc: a connection with no traffic either way for
 * that long is closed (reset if bytes are stuck in its queue), and the
 * program ends normally.
 */
static void idle_tick(ior_loop_t *loop, void *user)
{
    iorcat_t *c = user;
    uint64_t limit = (uint64_t)c->o.wait_s * 1000;
    uint64_t idle = ior_loop_now(loop) - c->last_activity;
    c->idle_timer = 0;
    if (c->sock == NULL)
        return;
    if (idle < limit) {
        (void)ior_call_later(loop, limit - idle, idle_tick, c, &c->idle_timer);
        return;
    }
    if (c->o.verbose)
        iorcat_log("idle for %u s: closing the connection", c->o.wait_s);
    c->idle_closed = 1;
    if (ior_transport_buffered(c->sock) > 0)
        (void)ior_transport_abort_connection(c->sock);
    else
        (void)ior_transport_lose_connection(c->sock);
}

static void cancel_timer(iorcat_t *c, ior_timer_id *id)
{
    if (*id != 0)
        (void)ior_timer_cancel(c->loop, *id);
    *id = 0;
}

void iorcat_report(const iorcat_t *c)
{
    uint64_t ms;
    if ((!c->o.progress && !c->o.verbose) || c->start_ms == 0)
        return;
    ms = c->end_ms > c->start_ms ? c->end_ms - c->start_ms : 0;
    iorcat_log("sent %llu bytes, received %llu bytes in %.2f s "
               "(%.1f MiB/s out, %.1f MiB/s in)",
               (unsigned long long)c->sent, (unsigned long long)c->received,
               (double)ms / 1000.0, rate(c->sent, ms), rate(c->received, ms));
}

/* ------------------------------------------------------------------ */
/* The socket                                                          */
/* ------------------------------------------------------------------ */

static void serve(iorcat_t *c, ior_transport_t *t);

static void sock_data(ior_transport_t *t, void *user, const void *data,
                      size_t len)
{
    iorcat_t *c = user;
    int r;
    if (t != c->sock)
        return; /* a waiting connection is paused; cannot happen */
    c->received += len;
    c->last_activity = ior_loop_now(c->loop);
    if (c->out == NULL)
        return; /* stdout is closed: drop, as nc does */
    r = ior_transport_write(c->out, data, len);
    if (r != 0 && r != IOR_ENOTCONN && r != IOR_ESHUTDOWN) {
        iorcat_log_error("write to stdout", r, 0);
        c->status = 1;
        (void)ior_transport_abort_connection(t);
    }
}

static void sock_eof(ior_transport_t *t, void *user)
{
    iorcat_t *c = user;
    if (t != c->sock)
        return;
    c->net_eof = 1;
    if (c->o.verbose)
        iorcat_log("EOF from the peer");
    /*
     * Unregister first: stdout's close would otherwise stop its producer,
     * which is lose_connection on a socket we may still be writing to.
     */
    release_out(c);
    if (!c->o.keep && c->out != NULL)
        (void)ior_transport_lose_connection(c->out);
    check_conn_done(c);
}

static void remove_waiting(iorcat_t *c, ior_transport_t *t)
{
    size_t i;
    for (i = 0; i < c->nwaiting; i++) {
        if (c->waiting[i] == t) {
            memmove(&c->waiting[i], &c->waiting[i + 1],
                    (c->nwaiting - i - 1) * sizeof *c->waiting);
            c->nwaiting--;
            return;
        }
    }
}

static void sock_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    if (t != c->sock) {
        remove_waiting(c, t);
        return;
    }
    if (iorcat_is_failure(reason)) {
        /* With -k one client's failure does not end the server. */
        iorcat_log_error("connection", reason, ior_transport_os_error(t));
        if (!c->o.keep)
            c->status = 1;
    } else if (c->o.verbose && c->o.keep) {
        iorcat_log("connection closed");
    }
    release_out(c);
    iorcat_connection_done(c);
}

void iorcat_connection_done(iorcat_t *c)
{
    c->sock = NULL;
    cancel_timer(c, &c->idle_timer);
    if (c->o.keep && !c->finishing) {
        if (c->nwaiting > 0) {
            ior_transport_t *next = c->waiting[0];
            remove_waiting(c, next);
            serve(c, next);
        }
        return;
    }
    iorcat_finish(c);
}

static const ior_protocol_ops_t sock_ops = {sock_data, sock_eof, NULL,
                                            sock_lost};

static void announce(const iorcat_t *c, ior_transport_t *t)
{
    ior_addr_t peer;
    char ip[IOR_ADDR_STRLEN];
    if (!c->o.verbose || !c->o.listen)
        return;
    if (ior_transport_peer_address(t, &peer) == 0 &&
        ior_addr_format_ip(&peer, ip, sizeof ip) == 0)
        iorcat_log("Connection received on %s %u", ip, (unsigned)peer.port);
}

/* Starts relaying between stdin/stdout and t. */
static void serve(iorcat_t *c, ior_transport_t *t)
{
    uint64_t now = ior_loop_now(c->loop);
    c->sock = t;
    c->net_eof = 0;
    c->connections++;
    c->last_activity = now;
    announce(c, t);
    iorcat_started(c);
    if (c->o.wait_s > 0 && !c->o.listen)
        (void)ior_call_later(c->loop, (uint64_t)c->o.wait_s * 1000,
                             idle_tick, c, &c->idle_timer);
    if (c->o.exec != NULL) {
        iorcat_exec_serve(c, t);
        return;
    }
    (void)ior_transport_resume_producing(t); /* it may have waited paused */
    if (c->out != NULL &&
        ior_transport_register_producer(c->out, &ior_transport_producer_ops,
                                        t, 1) == 0)
        c->sock_on_out = 1;
    if (c->in != NULL) {
        if (c->o.keep)
            (void)ior_transport_register_producer(t, &keep_in_ops, c, 1);
        else
            (void)ior_transport_register_producer(
                t, &ior_transport_producer_ops, c->in, 1);
        (void)ior_transport_resume_producing(c->in);
    } else if (c->in_eof) {
        input_done(c);
    }
}

void iorcat_started(iorcat_t *c)
{
    uint64_t now = ior_loop_now(c->loop);
    if (c->start_ms != 0)
        return;
    c->start_ms = now ? now : 1;
    c->tick_ms = now;
    if (c->o.progress)
        (void)ior_call_later(c->loop, 1000, progress_tick, c,
                             &c->progress_timer);
}

/* Holds an accepted connection (paused) until the current one ends. */
static int wait_in_line(iorcat_t *c, ior_transport_t *t)
{
    if (c->nwaiting == c->capwaiting) {
        size_t cap = c->capwaiting ? c->capwaiting * 2 : 8;
        ior_transport_t **w;
        if (cap > 1024)
            return IOR_ENOBUFS;
        w = realloc(c->waiting, cap * sizeof *w);
        if (w == NULL)
            return IOR_ENOMEM;
        c->waiting = w;
        c->capwaiting = cap;
    }
    (void)ior_transport_pause_producing(t);
    c->waiting[c->nwaiting++] = t;
    return 0;
}

void iorcat_connected(iorcat_t *c, ior_transport_t *t)
{
    if (ior_transport_set_protocol(t, &sock_ops, c) != 0)
        return; /* left without a protocol: the library closes it */
    if (c->finishing || (!c->o.keep && c->connections > 0)) {
        (void)ior_transport_abort_connection(t);
        return;
    }
    if (c->sock != NULL || c->proc != NULL) { /* -k: one at a time */
        int r = wait_in_line(c, t);
        if (r != 0) {
            iorcat_log("refusing a connection: %s", ior_strerror(r));
            (void)ior_transport_abort_connection(t);
        }
        return;
    }
    serve(c, t);
}

static void close_listener(ior_loop_t *loop, void *user)
{
    iorcat_t *c = user;
    (void)loop;
    c->listener_timer = 0;
    if (c->listener != NULL)
        ior_listener_close(c->listener);
    c->listener = NULL;
}

/*
 * Not from inside the accept callback: the listener must outlive the
 * callback that runs on it, so its close waits for the loop.
 */
void iorcat_close_listener(iorcat_t *c)
{
    if (c->listener != NULL && c->listener_timer == 0 && !c->loop_done)
        (void)ior_call_later(c->loop, 0, close_listener, c,
                             &c->listener_timer);
}

void iorcat_finish(iorcat_t *c)
{
    size_t i;
    if (c->finishing) {
        check_exit(c);
        return;
    }
    c->finishing = 1;
    c->end_ms = ior_loop_now(c->loop);
    cancel_timer(c, &c->progress_timer);
    cancel_timer(c, &c->idle_timer);
    iorcat_udp_close(c); /* first: it may be stdout's producer */
    iorcat_close_listener(c);
    for (i = c->nwaiting; i > 0; i--)
        (void)ior_transport_abort_connection(c->waiting[i - 1]);
    if (c->in != NULL)
        (void)ior_transport_lose_connection(c->in);
    if (c->out != NULL) {
        release_out(c);
        (void)ior_transport_lose_connection(c->out);
    }
    if (c->err != NULL)
        (void)ior_transport_lose_connection(c->err);
    check_exit(c);
}
