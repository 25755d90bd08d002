/*
 * iorcat over TCP, for the TCP mode (iorcat_relay.c) and -e
 * (iorcat_exec.c): connecting to each resolved address in turn, listening
 * (-l, one connection; -k, one after another), and handing each
 * connection to the mode's serve. With -k a connection accepted while
 * another is served waits, paused, in a queue, and is served in its turn.
 */
#include "iorcat.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

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

/*
 * A connection not served yet: it is paused (no data, no EOF), and lost
 * only if the peer resets it or the program ends.
 */
static void wait_lost(ior_transport_t *t, void *user, int reason)
{
    (void)reason;
    remove_waiting(user, t);
}

static const ior_protocol_ops_t wait_ops = {NULL, NULL, NULL, wait_lost};

static void announce(const iorcat_t *c, ior_transport_t *t)
{
    ior_addr_t peer;
    char ip[IOR_ADDR_STRLEN];
    if (!c->o.verbose || !c->o.listen)
        return;
    if (ior_transport_peer_address(t, &peer) == 0)
        iorcat_log("Connection received on %s %u",
                   iorcat_addr_text(&peer, 0, ip, sizeof ip),
                   (unsigned)peer.port);
}

/* Serves t: the clock, -w (a client's only), then the mode. */
static void begin(iorcat_t *c, ior_transport_t *t)
{
    c->sock = t;
    c->net_eof = 0;
    c->connections++;
    c->last_activity = ior_loop_now(c->loop);
    announce(c, t);
    iorcat_started(c);
    if (!c->o.listen)
        iorcat_arm_idle(c);
    c->mode->serve(c, t);
}

void iorcat_connection_done(iorcat_t *c)
{
    c->sock = NULL;
    iorcat_cancel_timer(c, &c->idle_timer);
    if (c->o.keep && !c->finishing) {
        if (c->nwaiting > 0) {
            ior_transport_t *next = c->waiting[0];
            remove_waiting(c, next);
            begin(c, next);
        }
        return;
    }
    iorcat_finish(c);
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

static void tls_done(ior_transport_t *t, void *user, const ior_tls_info_t *i)
{
    iorcat_t *c = user;
    (void)t;
    if (c->o.verbose)
        iorcat_log("TLS: %s, %s%s%s", i->version, i->cipher,
                   i->alpn != NULL ? ", ALPN " : "",
                   i->alpn != NULL ? i->alpn : "");
}

/* --tls: the connection becomes a TLS transport; NULL if that failed. */
static ior_transport_t *start_tls(iorcat_t *c, ior_transport_t *t)
{
    ior_tls_options_t o;
    ior_transport_t *tt = NULL;
    char why[256] = "";
    int r;
    memset(&o, 0, sizeof o);
    o.error = why;
    o.error_len = sizeof why;
    o.server = c->o.listen;
    o.server_name = c->o.tls_servername != NULL ? c->o.tls_servername
                                                : c->o.host;
    o.ca_file = c->o.tls_ca;
    o.insecure = c->o.tls_insecure;
    o.cert_file = c->o.tls_cert;
    o.key_file = c->o.tls_key;
    o.handshake_done = tls_done;
    r = ior_tls_start(t, &o, &wait_ops, c, &tt);
    if (r != 0) {
        iorcat_log("TLS: %s%s%s", ior_strerror(r), why[0] ? ": " : "", why);
        (void)ior_transport_abort_connection(t);
        c->status = 1;
        iorcat_finish(c);
        return NULL;
    }
    return tt;
}

/* A connection is established (connect callback or accept). */
static void connected(iorcat_t *c, ior_transport_t *t)
{
    if (c->o.tls && !c->finishing &&
        (c->o.keep || c->connections == 0) && (t = start_tls(c, t)) == NULL)
        return;
    if (ior_transport_set_protocol(t, &wait_ops, c) != 0)
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
    begin(c, t);
}

/*
 * -w in client mode, as nc: a connection with no traffic either way for
 * that long is closed (reset if bytes are stuck in its queue), and the
 * program ends normally.
 */
void iorcat_tcp_idle(iorcat_t *c)
{
    if (c->sock == NULL)
        return;
    if (c->o.verbose)
        iorcat_log("idle for %u s: closing the connection", c->o.wait_s);
    if (ior_transport_buffered(c->sock) > 0)
        (void)ior_transport_abort_connection(c->sock);
    else
        (void)ior_transport_lose_connection(c->sock);
}

/* ------------------------------------------------------------------ */
/* Connecting                                                          */
/* ------------------------------------------------------------------ */

static void try_next(iorcat_t *c);

static void on_local_connect(ior_loop_t *loop, void *user, ior_transport_t *t,
                             int status, int os_error)
{
    iorcat_t *c = user;
    char os[256];
    (void)loop;
    if (status != 0) {
        if (status == IOR_ECANCELED || c->finishing)
            return;
        iorcat_log("connect to %s failed: %s (%s)", c->o.host,
                   ior_strerror(status),
                   ior_os_strerror(os_error, os, sizeof os));
        c->status = 1;
        iorcat_finish(c);
        return;
    }
    if (c->o.verbose)
        iorcat_log("Connection to %s succeeded!", c->o.host);
    connected(c, t);
}

static void on_connect(ior_loop_t *loop, void *user, ior_transport_t *t,
                       int status, int os_error)
{
    iorcat_t *c = user;
    const ior_addr_t *a = &c->addrs[c->next_addr - 1];
    char ip[IOR_ADDR_STRLEN], os[256];
    (void)loop;
    iorcat_addr_text(a, 0, ip, sizeof ip);
    if (status != 0) {
        if (status == IOR_ECANCELED || c->finishing)
            return; /* the loop is going away */
        if (os_error != 0)
            iorcat_log("connect to %s port %u (%s) failed: %s (%s)", c->o.host,
                       (unsigned)c->o.port, ip, ior_strerror(status),
                       ior_os_strerror(os_error, os, sizeof os));
        else
            iorcat_log("connect to %s port %u (%s) failed: %s", c->o.host,
                       (unsigned)c->o.port, ip, ior_strerror(status));
        try_next(c);
        return;
    }
    if (c->o.verbose && strcmp(ip, c->o.host) == 0)
        iorcat_log("Connection to %s %u port [tcp/*] succeeded!", ip,
                   (unsigned)c->o.port);
    else if (c->o.verbose)
        iorcat_log("Connection to %s (%s) %u port [tcp/*] succeeded!",
                   c->o.host, ip, (unsigned)c->o.port);
    connected(c, t);
}

static void try_next(iorcat_t *c)
{
    while (c->next_addr < c->naddrs) {
        const ior_addr_t *a = &c->addrs[c->next_addr++];
        ior_connect_options_t opts;
        ior_addr_t bind;
        int r;
        memset(&opts, 0, sizeof opts);
        opts.timeout_ms = (uint64_t)c->o.wait_s * 1000;
        if (c->o.local != NULL || c->o.have_local_port) {
            if (iorcat_local_addr(c, a->family, &bind) != 0)
                break;
            opts.bind = &bind;
        }
        r = ior_tcp_connect(c->loop, a, &opts, on_connect, c);
        if (r == 0)
            return;
        iorcat_log("connect to %s port %u failed: %s", c->o.host,
                   (unsigned)c->o.port, ior_strerror(r));
    }
    c->status = 1;
    iorcat_finish(c);
}

/* ------------------------------------------------------------------ */
/* Listening                                                           */
/* ------------------------------------------------------------------ */

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
static void close_listener_later(iorcat_t *c)
{
    if (c->listener != NULL && c->listener_timer == 0 && !c->loop_done)
        (void)ior_call_later(c->loop, 0, close_listener, c, &c->listener_timer);
}

void iorcat_tcp_close(iorcat_t *c)
{
    size_t i;
    close_listener_later(c);
    for (i = c->nwaiting; i > 0; i--)
        (void)ior_transport_abort_connection(c->waiting[i - 1]);
}

static void on_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    iorcat_t *c = user;
    (void)l;
    connected(c, t);
    if (!c->o.keep)
        close_listener_later(c); /* nc -l serves one connection */
}

static void on_accept_error(ior_listener_t *l, void *user, int err)
{
    (void)l;
    (void)user;
    iorcat_log("accept: %s (still listening)", ior_strerror(err));
}

static const ior_listener_ops_t listener_ops = {on_accept, on_accept_error};

static int listen_one(iorcat_t *c, const ior_addr_t *a, int v6only)
{
    ior_listen_options_t lo;
    ior_addr_t bound;
    char text[IOR_ADDR_STRLEN];
    int r;
    memset(&lo, 0, sizeof lo);
    lo.ipv6_only = v6only;
    r = ior_tcp_listen(c->loop, a, &lo, &listener_ops, c, &c->listener);
    if (r != 0)
        return r;
    if (c->o.verbose && ior_listener_address(c->listener, &bound) == 0)
        iorcat_log("listening on %s",
                   iorcat_addr_text(&bound, 1, text, sizeof text));
    return 0;
}

/* -U: a local name instead of an address (netcat-openbsd's -U). */
static void start_local(iorcat_t *c)
{
    ior_connect_options_t opts;
    int r;
    if (c->o.listen) {
        r = ior_local_listen(c->loop, c->o.host, &listener_ops, c,
                             &c->listener);
        if (r == 0 && c->o.verbose)
            iorcat_log("listening on %s", c->o.host);
    } else {
        memset(&opts, 0, sizeof opts);
        opts.timeout_ms = (uint64_t)c->o.wait_s * 1000;
        r = ior_local_connect(c->loop, c->o.host, &opts, on_local_connect, c);
    }
    if (r != 0) {
        iorcat_log("%s %s: %s", c->o.listen ? "listen on" : "connect to",
                   c->o.host, ior_strerror(r));
        c->status = 1;
        iorcat_finish(c);
    }
}

void iorcat_tcp_start(iorcat_t *c)
{
    if (c->o.unix_path)
        start_local(c);
    else if (c->o.listen)
        iorcat_bind_first(c, listen_one, "listen");
    else
        try_next(c);
}

void iorcat_tcp_start_any(iorcat_t *c)
{
    iorcat_bind_any(c, listen_one, "listen");
}
