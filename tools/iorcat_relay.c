/*
 * iorcat's TCP mode: bytes from stdin to the connection and from the
 * connection to stdout, with the library's own flow control both ways.
 * stdin's transport is the streaming producer registered on the socket,
 * and the socket is the streaming producer registered on stdout, so a slow
 * reader at either end pauses the other side instead of buffering: memory
 * stays near buffer_size whatever the volume. Connecting, listening and
 * -k's queue are iorcat_tcp.c.
 *
 * When a connection ends (netcat-openbsd's rules):
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
 * Errors on the socket or stdout end the program with status 1.
 *
 * Lifetimes: a transport is freed after its connection_lost, and the core
 * forgets a lost transport's producer (after stop_producing) but not a
 * producer that is itself lost, so each connection_lost here unregisters
 * the lost transport from wherever it was the producer.
 */
#include "iorcat.h"

#include <stddef.h>

/* The socket stops being stdout's producer (peer EOF, or socket lost). */
static void release_out(iorcat_t *c)
{
    if (c->sock_on_out && c->out != NULL)
        (void)ior_transport_unregister_producer(c->out);
    c->sock_on_out = 0;
}

/* stdin (or -k's stand-in for it) stops being the socket's producer. */
static void release_sock(iorcat_t *c)
{
    if (c->sock != NULL && (ior_transport_state(c->sock) & IOR_TS_PRODUCER))
        (void)ior_transport_unregister_producer(c->sock);
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
    release_sock(c);
    if (c->in != NULL)
        (void)ior_transport_pause_producing(c->in);
    (void)ior_transport_lose_connection(c->sock);
}

/* stdin has ended while c->sock is being served. */
static void input_done(iorcat_t *c)
{
    if (c->o.half_close)
        (void)ior_transport_lose_write_connection(c->sock);
    check_conn_done(c);
    iorcat_arm_quit(c);
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
    /* c->sock NULL: not expected, stdin is paused while none is served. */
    r = iorcat_pass(c->sock, data, len, "write to the connection");
    if (r == 0) {
        c->sent += len;
        c->last_activity = ior_loop_now(c->loop);
    } else if (r < 0) {
        /* The socket is not closing by itself: this is ours to end. */
        c->status = 1;
        (void)ior_transport_abort_connection(c->sock);
    }
}

static void in_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    iorcat_stdin_lost(c, t, reason);
    if (c->sock == NULL)
        return;
    /* Only stdin is ever the socket's producer; it is gone now. */
    release_sock(c);
    input_done(c);
}

static const ior_protocol_ops_t in_ops = {in_data, NULL, NULL, in_lost};

/*
 * With -k stdin outlives each connection: a lost socket stops its
 * producer, and the library's own stop_producing would close stdin. This
 * one pauses it until the next connection instead (user = &c->in).
 */
static const ior_producer_ops_t keep_in_ops = {
    iorcat_slot_pause, iorcat_slot_resume, iorcat_slot_pause};

/* ------------------------------------------------------------------ */
/* The socket                                                          */
/* ------------------------------------------------------------------ */

static void sock_data(ior_transport_t *t, void *user, const void *data,
                      size_t len)
{
    iorcat_t *c = user;
    c->received += len;
    c->last_activity = ior_loop_now(c->loop);
    /* stdout closed (out NULL): dropped, as nc does. */
    if (iorcat_pass(c->out, data, len, "write to stdout") < 0) {
        c->status = 1;
        (void)ior_transport_abort_connection(t);
    }
}

static void sock_eof(ior_transport_t *t, void *user)
{
    iorcat_t *c = user;
    (void)t;
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

static void sock_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    if (iorcat_is_failure(reason)) {
        /* With -k one client's failure does not end the server. */
        iorcat_log_lost("connection", t, reason);
        if (!c->o.keep)
            c->status = 1;
    } else if (c->o.verbose && c->o.keep) {
        iorcat_log("connection closed");
    }
    release_out(c);
    iorcat_connection_done(c);
}

static const ior_protocol_ops_t sock_ops = {sock_data, sock_eof, NULL,
                                            sock_lost};

/* ------------------------------------------------------------------ */
/* The mode                                                            */
/* ------------------------------------------------------------------ */

static int relay_open(iorcat_t *c)
{
    return iorcat_open_stdio(c, &in_ops);
}

/* Starts relaying between stdin/stdout and t. */
static void relay_serve(iorcat_t *c, ior_transport_t *t)
{
    (void)ior_transport_set_protocol(t, &sock_ops, c);
    (void)ior_transport_resume_producing(t); /* it may have waited paused */
    if (c->out != NULL && ior_transport_register_producer(
                              c->out, &ior_transport_producer_ops, t, 1) == 0)
        c->sock_on_out = 1;
    if (c->in != NULL) {
        if (c->o.keep)
            (void)ior_transport_register_producer(t, &keep_in_ops, &c->in, 1);
        else
            (void)ior_transport_register_producer(
                t, &ior_transport_producer_ops, c->in, 1);
        (void)ior_transport_resume_producing(c->in);
    } else if (c->in_eof) {
        input_done(c);
    }
}

/*
 * The program ends (-q, an error, the last connection): the socket stops
 * being fed and producing into stdout, and closes once its queue drains.
 */
static void relay_close(iorcat_t *c)
{
    iorcat_tcp_close(c);
    release_out(c);
    if (c->sock != NULL) {
        release_sock(c);
        (void)ior_transport_lose_connection(c->sock);
    }
}

const iorcat_mode_t iorcat_tcp_mode = {
    relay_open,           /* open */
    iorcat_tcp_start,     /* start */
    iorcat_tcp_start_any, /* start_any */
    relay_serve,          /* serve */
    iorcat_tcp_idle,      /* idle */
    relay_close,          /* close */
    NULL,                 /* cleanup */
};
