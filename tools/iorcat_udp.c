/*
 * iorcat -u: UDP, following netcat-openbsd.
 *
 *   iorcat -u [-46dv] [-q SECS] [-w SECS] [-b ADDR] [-p PORT] HOST PORT
 *   iorcat -u -l [-46dkv] [-q SECS] [-w SECS] [-b ADDR] [-p PORT] [ADDR] [PORT]
 *
 * Client: a socket bound to -b/-p (or the wildcard of the destination's
 * family, port 0) and connected to the first resolved address that takes
 * it. Server: bound, silent until the first datagram, whose sender becomes
 * the peer (the socket is connected to it and other senders are ignored),
 * as nc -u -l. With -k the socket stays unconnected: datagrams from anyone
 * go to stdout, and stdin goes to whoever sent the latest one.
 *
 * Each read from stdin is sent as datagrams of at most UDP_CHUNK bytes
 * (nc sends each read as one datagram of up to 16 KiB; 8 KiB arrives
 * whole at a receiver with Twisted's and ior's default max_packet_size).
 * Datagrams are received whole up to 64 KiB (a longer one cannot exist)
 * and written to stdout; a zero-length one writes nothing.
 *
 * Flow control: the socket is stdout's streaming producer, so a slow
 * stdout stops reading the socket (datagrams then wait in the kernel and
 * are dropped when its buffer is full, which is UDP). The other way,
 * ior_udp_write never blocks: a datagram the OS cannot take waits in the
 * socket's bounded send queue. Above UDP_HIGH queued bytes stdin is paused;
 * a datagram refused with IOR_ENOBUFS is kept here, never dropped, and
 * stdin waits. There is no drain callback, so while stdin waits the queue
 * size is polled every UDP_POLL_MS (only then: an idle program wakes up
 * for nothing).
 *
 * Ending (UDP has no EOF): stdin EOF stops sending and nothing else; the
 * program runs until -w SECS without traffic either way (the wait for the
 * first datagram of -l does not count, as in nc), or -q SECS after stdin
 * EOF and the send queue drained (-q 0: at once), or an interrupt. All of
 * these exit 0. ICMP port unreachable on the connected socket (the peer's
 * port is closed) is "connection refused": exit 1. nc, when the refusal
 * is collected by a read after its stdin has ended, exits 0 instead; here
 * it is always an error. -N has no meaning for UDP and is ignored.
 */
#include "iorcat.h"

#include <stdlib.h>
#include <string.h>

#define UDP_CHUNK 8192
#define UDP_MAX_PACKET 65536
#define UDP_HIGH (256 * 1024)
#define UDP_LOW (64 * 1024)
#define UDP_POLL_MS 2

static int same_addr(const ior_addr_t *a, const ior_addr_t *b)
{
    size_t n = a->family == IOR_AF_INET ? 4 : 16;
    return a->family == b->family && a->port == b->port &&
           memcmp(a->bytes, b->bytes, n) == 0;
}

/* ------------------------------------------------------------------ */
/* Ending: -q and -w                                                   */
/* ------------------------------------------------------------------ */

/* Everything stdin had is with the OS now: -q starts counting. */
static void input_sent(iorcat_t *c)
{
    iorcat_arm_quit(c);
}

/* -w: no datagram either way for that long. */
static void udp_idle(iorcat_t *c)
{
    if (c->o.verbose)
        iorcat_log("idle for %u s: quitting (-w)", c->o.wait_s);
    iorcat_finish(c);
}

/* ------------------------------------------------------------------ */
/* stdin -> datagrams                                                  */
/* ------------------------------------------------------------------ */

static int send_one(iorcat_t *c, const void *data, size_t len)
{
    if (c->o.keep) /* -l -k: unconnected, to the latest sender */
        return ior_udp_send_to(c->udp, data, len, &c->peer);
    return ior_udp_write(c->udp, data, len);
}

/* Sends p[0..len) in chunks; *done says how much went before an error. */
static int send_chunks(iorcat_t *c, const unsigned char *p, size_t len,
                       size_t *done)
{
    *done = 0;
    while (*done < len) {
        size_t n = len - *done;
        int r;
        if (n > UDP_CHUNK)
            n = UDP_CHUNK;
        r = send_one(c, p + *done, n);
        if (r != 0)
            return r;
        *done += n;
        c->sent += n;
    }
    return 0;
}

static void drain_tick(ior_loop_t *loop, void *user);

static void wait_for_room(iorcat_t *c)
{
    if (c->in != NULL)
        (void)ior_transport_pause_producing(c->in);
    /* Without a peer yet, begin_relay() comes back here. */
    if (c->drain_timer == 0 && c->have_peer)
        (void)ior_call_later(c->loop, UDP_POLL_MS, drain_tick, c,
                             &c->drain_timer);
}

/* Keeps what the queue refused; stdin waits until it has gone. */
static int keep_pending(iorcat_t *c, const void *data, size_t len)
{
    size_t have = c->npend - c->offpend;
    unsigned char *p = malloc(have + len);
    if (p == NULL)
        return IOR_ENOMEM;
    if (have > 0)
        memcpy(p, c->pend + c->offpend, have);
    memcpy(p + have, data, len);
    free(c->pend);
    c->pend = p;
    c->npend = have + len;
    c->offpend = 0;
    wait_for_room(c);
    return 0;
}

static void drop_pending(iorcat_t *c)
{
    free(c->pend);
    c->pend = NULL;
    c->npend = c->offpend = 0;
}

static void drain_tick(ior_loop_t *loop, void *user)
{
    iorcat_t *c = user;
    size_t done;
    int r;
    (void)loop;
    c->drain_timer = 0;
    if (c->udp == NULL)
        return;
    if (c->offpend < c->npend) {
        r = send_chunks(c, c->pend + c->offpend, c->npend - c->offpend, &done);
        c->offpend += done;
        if (r == IOR_ENOBUFS) {
            wait_for_room(c);
            return;
        }
        if (r != 0) {
            iorcat_fail(c, "send", r);
            return;
        }
        drop_pending(c);
    }
    /* At stdin's end, -q counts from an empty queue. */
    if (ior_udp_send_queue_size(c->udp) > (c->in != NULL ? UDP_LOW : 0)) {
        wait_for_room(c);
        return;
    }
    if (c->in != NULL)
        (void)ior_transport_resume_producing(c->in);
    else if (c->in_eof)
        input_sent(c);
}

static void in_data(ior_transport_t *t, void *user, const void *data,
                    size_t len)
{
    iorcat_t *c = user;
    size_t done = 0;
    int r;
    (void)t;
    if (c->udp == NULL)
        return; /* finishing */
    c->last_activity = ior_loop_now(c->loop);
    if (c->npend > c->offpend || !c->have_peer) {
        r = keep_pending(c, data, len); /* not expected: stdin waits */
    } else {
        r = send_chunks(c, data, len, &done);
        if (r == IOR_ENOBUFS)
            r = keep_pending(c, (const unsigned char *)data + done, len - done);
        else if (r == 0 && ior_udp_send_queue_size(c->udp) > UDP_HIGH)
            wait_for_room(c);
    }
    if (r != 0)
        iorcat_fail(c, "send", r);
}

static void in_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    iorcat_stdin_lost(c, t, reason);
    if (c->udp == NULL || !c->have_peer)
        return;
    if (c->npend > c->offpend || ior_udp_send_queue_size(c->udp) > 0)
        wait_for_room(c);
    else
        input_sent(c);
}

static const ior_protocol_ops_t udp_in_ops = {in_data, NULL, NULL, in_lost};

/* ------------------------------------------------------------------ */
/* datagrams -> stdout                                                 */
/* ------------------------------------------------------------------ */

/*
 * The socket as stdout's producer: ior_udp_producer_ops would close the
 * socket on stop_producing (stdout gone), behind our back; these pause and
 * resume the same way and only forget the registration on stop.
 */
static void out_pause(void *user)
{
    iorcat_t *c = user;
    if (c->udp != NULL)
        ior_udp_producer_ops.pause_producing(c->udp);
}

static void out_resume(void *user)
{
    iorcat_t *c = user;
    if (c->udp != NULL)
        ior_udp_producer_ops.resume_producing(c->udp);
}

static void out_stop(void *user)
{
    iorcat_t *c = user;
    c->udp_on_out = 0;
}

static const ior_producer_ops_t out_producer = {out_pause, out_resume,
                                                out_stop};

/* The peer is known (client: at once; server: first datagram). */
static void begin_relay(iorcat_t *c)
{
    iorcat_started(c);
    iorcat_arm_idle(c);
    if (c->npend > c->offpend)
        wait_for_room(c);
    else if (c->in != NULL)
        (void)ior_transport_resume_producing(c->in);
    else if (c->in_eof)
        input_sent(c);
}

/* -l: the first datagram's sender becomes the peer. 0, or failed. */
static int first_peer(iorcat_t *c, const ior_addr_t *from)
{
    char ip[IOR_ADDR_STRLEN];
    int r;
    c->peer = *from;
    c->have_peer = 1;
    if (!c->o.keep) {
        r = ior_udp_connect(c->udp, from);
        if (r != 0) {
            iorcat_fail(c, "connect", r);
            return -1;
        }
    }
    if (c->o.verbose)
        iorcat_log("Connection received on %s %u",
                   iorcat_addr_text(from, 0, ip, sizeof ip),
                   (unsigned)from->port);
    begin_relay(c);
    return 0;
}

static void on_datagram(ior_udp_t *u, void *user, const void *data, size_t len,
                        const ior_addr_t *from, int truncated)
{
    iorcat_t *c = user;
    char ip[IOR_ADDR_STRLEN];
    (void)u;
    if (c->udp == NULL)
        return;
    if (!c->have_peer) {
        if (first_peer(c, from) != 0)
            return;
    } else if (c->o.keep) {
        c->peer = *from;
    } else if (c->o.listen && !same_addr(from, &c->peer)) {
        return; /* queued before the connect, from another sender */
    }
    if (truncated)
        iorcat_log("datagram from %s %u truncated to %lu bytes",
                   iorcat_addr_text(from, 0, ip, sizeof ip),
                   (unsigned)from->port, (unsigned long)len);
    c->received += len;
    c->last_activity = ior_loop_now(c->loop);
    if (iorcat_pass(c->out, data, len, "write to stdout") < 0) {
        c->status = 1;
        iorcat_finish(c);
    }
}

static void on_refused(ior_udp_t *u, void *user)
{
    iorcat_t *c = user;
    char ip[IOR_ADDR_STRLEN];
    (void)u;
    iorcat_log("%s port %u: connection refused",
               iorcat_addr_text(&c->peer, 0, ip, sizeof ip),
               (unsigned)c->peer.port);
    c->status = 1;
    iorcat_finish(c);
}

static void on_send_error(ior_udp_t *u, void *user, int err)
{
    (void)u;
    iorcat_fail(user, "send", err);
}

static const ior_udp_ops_t udp_ops = {on_datagram, on_refused, on_send_error};

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

static int open_socket(iorcat_t *c, const ior_addr_t *local, int v6only)
{
    ior_udp_options_t uo;
    int r;
    memset(&uo, 0, sizeof uo);
    uo.max_packet_size = UDP_MAX_PACKET;
    uo.ipv6_only = v6only;
    r = ior_udp_listen(c->loop, local, &uo, &udp_ops, c, &c->udp);
    if (r != 0)
        return r;
    if (c->out != NULL &&
        ior_transport_register_producer(c->out, &out_producer, c, 1) == 0)
        c->udp_on_out = 1;
    return 0;
}

/* Closes the socket and drops its timer (nothing if none). */
static void udp_close(iorcat_t *c)
{
    iorcat_cancel_timer(c, &c->drain_timer);
    drop_pending(c);
    if (c->udp_on_out && c->out != NULL)
        (void)ior_transport_unregister_producer(c->out);
    c->udp_on_out = 0;
    if (c->udp != NULL)
        ior_udp_close(c->udp);
    c->udp = NULL;
}

static void log_socket(const iorcat_t *c, const ior_addr_t *dest)
{
    ior_addr_t me;
    char ip[IOR_ADDR_STRLEN], here[IOR_ADDR_STRLEN];
    if (!c->o.verbose)
        return;
    if (ior_udp_address(c->udp, &me) != 0)
        me.family = 0; /* "?" */
    iorcat_log("sending to %s (%s) port %u [udp] from %s", c->o.host,
               iorcat_addr_text(dest, 0, ip, sizeof ip), (unsigned)dest->port,
               iorcat_addr_text(&me, 1, here, sizeof here));
}

static void udp_connect(iorcat_t *c)
{
    char ip[IOR_ADDR_STRLEN];
    while (c->next_addr < c->naddrs) {
        const ior_addr_t *a = &c->addrs[c->next_addr++];
        ior_addr_t local;
        int r;
        if (iorcat_local_addr(c, a->family, &local) != 0)
            break;
        r = open_socket(c, &local, 0);
        if (r == 0) {
            r = ior_udp_connect(c->udp, a);
            if (r != 0)
                udp_close(c);
        }
        if (r != 0) {
            iorcat_log("udp to %s port %u (%s): %s", c->o.host,
                       (unsigned)c->o.port,
                       iorcat_addr_text(a, 0, ip, sizeof ip), ior_strerror(r));
            continue;
        }
        c->peer = *a;
        c->have_peer = 1;
        log_socket(c, a);
        begin_relay(c);
        return;
    }
    c->status = 1;
    iorcat_finish(c);
}

static int bind_one(iorcat_t *c, const ior_addr_t *a, int v6only)
{
    ior_addr_t bound;
    char text[IOR_ADDR_STRLEN];
    int r = open_socket(c, a, v6only);
    if (r != 0)
        return r;
    if (c->o.verbose && ior_udp_address(c->udp, &bound) == 0)
        iorcat_log("listening on %s",
                   iorcat_addr_text(&bound, 1, text, sizeof text));
    return 0;
}

/* ------------------------------------------------------------------ */
/* The mode                                                            */
/* ------------------------------------------------------------------ */

static int udp_open(iorcat_t *c)
{
    return iorcat_open_stdio(c, &udp_in_ops);
}

static void udp_start(iorcat_t *c)
{
    if (c->o.listen)
        iorcat_bind_first(c, bind_one, "udp listen");
    else
        udp_connect(c);
}

/* -l without an address: every address (dual-stack unless -4/-6). */
static void udp_listen_any(iorcat_t *c)
{
    iorcat_bind_any(c, bind_one, "udp listen");
}

const iorcat_mode_t iorcat_udp_mode = {
    udp_open,       /* open */
    udp_start,      /* start */
    udp_listen_any, /* start_any */
    NULL,           /* serve: no connections */
    udp_idle,       /* idle */
    udp_close,      /* close */
    udp_close,      /* cleanup */
};
