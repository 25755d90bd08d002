/*
 * UDP reading and sending (the socket itself is in udp_sock.c). Twisted's
 * iocpreactor.udp.Port reads with one overlapped WSARecvFrom at a time, as
 * here, but writes with a blocking sendto(); ior differs: datagrams go into the
 * shared bounded queue (common/dgram.c) and leave it one overlapped WSASendTo
 * at a time, so a send never blocks the loop and a full queue refuses a
 * datagram whole (IOR_ENOBUFS).
 *
 * Reading. The read buffer is larger than any UDP payload, so the OS never
 * truncates into it: max_packet_size is applied at delivery, where we know
 * exactly whether the datagram was longer. This matters on Windows because
 * a WSARecvFrom that truncates ends with WSAEMSGSIZE, and with
 * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS Winsock does not reliably say
 * whether a completion packet follows such an immediate result (libuv
 * works around it with private AFD calls); with no truncation the question
 * never comes up, so skip mode is safe. Pausing only stops re-posting: the
 * read in flight stays, and if it completes while paused its datagram is
 * held (one at most) and delivered from the loop on resume, before the
 * next read is posted.
 *
 * ICMP port unreachable (see udp_sock.c): on a connected socket a read or
 * a send that reports it becomes connection_refused and the socket stays
 * usable; on an unconnected one it is ignored.
 */
#include "iocp.h"

#include <string.h>

#define IOR__ERROR_PORT_UNREACHABLE 1234
#define IOR__ERROR_NETNAME_DELETED 64

static void pump(ior__iocp_udp_t *u);

void ior__iocp_udp_unref(ior__iocp_udp_t *u)
{
    if (--u->refs > 0)
        return;
    ior__dq_clear(&u->base.q);
    ior__free(u->rbuf);
    ior__free(u);
}

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

int ior__iocp_udp_sockaddr(const ior__iocp_udp_t *u, const ior_addr_t *a,
                           SOCKADDR_STORAGE *ss)
{
    ior_addr_t m;

    if (a->family == IOR_AF_INET && u->af == AF_INET6) {
        ior__addr_map_v6(a, &m);
        a = &m;
    }
    return ior__iocp_addr_to_sockaddr(a, ss);
}

/* An IPv4 peer of a dual-stack socket is reported as IPv4, not ::ffff:. */
static void from_address(const SOCKADDR_STORAGE *ss, ior_addr_t *out)
{
    if (ior__iocp_addr_from_sockaddr((const struct sockaddr *)ss, out) == 0)
        ior__addr_unmap(out);
}

/* Same family, port and address (scope ignored). */
static int same_peer(const ior__iocp_udp_t *u)
{
    if (u->from.ss_family != u->peer_ss.ss_family)
        return 0;
    if (u->peer_ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&u->from;
        const struct sockaddr_in *b = (const struct sockaddr_in *)&u->peer_ss;
        return a->sin_port == b->sin_port &&
               a->sin_addr.s_addr == b->sin_addr.s_addr;
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&u->from;
        const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)&u->peer_ss;
        return a->sin6_port == b->sin6_port &&
               memcmp(&a->sin6_addr, &b->sin6_addr, 16) == 0;
    }
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

static void post_read(ior__iocp_udp_t *u)
{
    WSABUF buf;
    DWORD bytes = 0;
    DWORD err = 0;
    int rc;

    buf.buf = u->rbuf;
    buf.len = (ULONG)IOR__IOCP_UDP_RBUF;
    u->rflags = 0;
    u->from_len = (INT)sizeof(u->from);
    memset(&u->rop.ov, 0, sizeof(u->rop.ov));
    rc = WSARecvFrom(u->s, &buf, 1, &bytes, &u->rflags,
                     (struct sockaddr *)&u->from, &u->from_len, &u->rop.ov,
                     NULL);
    if (rc != 0)
        err = (DWORD)WSAGetLastError();
    u->reading = 1;
    u->refs++;
    ior__iocp_op_started(u->lp, &u->rop, rc == 0, bytes, err, u->skip);
}

/* Posts the next read unless something holds reading back. */
static void continue_reading(ior__iocp_udp_t *u)
{
    if (!u->base.closed && !u->base.paused && !u->reading && !u->held && !u->job_posted &&
        !u->retry_armed)
        post_read(u);
}

static void retry_fire(ior_loop_t *loop, void *user)
{
    ior__iocp_udp_t *u = (ior__iocp_udp_t *)user;

    (void)loop;
    u->retry_armed = 0;
    continue_reading(u);
}

/* Errors that say something about one peer, not about the socket. */
static int is_peer_error(DWORD err)
{
    return err == WSAECONNRESET || err == WSAENETRESET ||
           err == WSAECONNREFUSED || err == WSAEHOSTUNREACH ||
           err == WSAENETUNREACH || err == IOR__ERROR_PORT_UNREACHABLE ||
           err == IOR__ERROR_NETNAME_DELETED ||
           err == 1225 /* ERROR_CONNECTION_REFUSED */;
}

/* ICMP port unreachable, as a read or a send reports it. */
static int is_refusal(DWORD err)
{
    return err == WSAECONNRESET || err == WSAECONNREFUSED ||
           err == IOR__ERROR_PORT_UNREACHABLE ||
           err == 1225 /* ERROR_CONNECTION_REFUSED */;
}

static void deliver(ior__iocp_udp_t *u, DWORD bytes, int truncated)
{
    ior_addr_t from;
    size_t len = bytes;

    /* A datagram queued before ior_udp_connect may come from another. */
    if (u->base.connected && !same_peer(u))
        return;
    if (len > u->base.max_packet) {
        len = u->base.max_packet;
        truncated = 1;
    }
    from_address(&u->from, &from);
    if (u->base.ops->datagram_received)
        u->base.ops->datagram_received(&u->base, u->base.user, u->rbuf, len, &from, truncated);
}

/* The outcome of one read; may call the user, who may close u. */
static void handle_read(ior__iocp_udp_t *u, DWORD bytes, DWORD err)
{
    if (err == 0) {
        deliver(u, bytes, 0);
    } else if (err == WSAEMSGSIZE) {
        /* Not expected with our buffer; never dropped silently. */
        deliver(u, bytes, 1);
    } else if (is_peer_error(err)) {
        /*
         * Unconnected: a stale ICMP error about some earlier peer (the
         * ioctl that hides them failed); connected: the peer is gone.
         */
        if (u->base.connected && is_refusal(err) && u->base.ops->connection_refused)
            u->base.ops->connection_refused(&u->base, u->base.user);
    } else if (!u->retry_armed) {
        /* Unexpected: read again later rather than spin on it. */
        if (ior_call_later(&u->lp->base, IOR__IOCP_UDP_RETRY_MS, retry_fire, u,
                           &u->retry_timer) == 0)
            u->retry_armed = 1;
    }
}

static void read_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_udp_t *u = IOR__CONTAINER(op, ior__iocp_udp_t, rop);

    u->reading = 0;
    if (u->base.closed) {
        ior__iocp_udp_unref(u);
        return;
    }
    if (err == IOR__IOCP_ERR_LOOKUP)
        err = ior__iocp_op_error(u->s, op);
    if (u->base.paused) {
        /* No datagram_received after pause: keep it for resume. */
        u->held = 1;
        u->held_bytes = bytes;
        u->held_err = err;
    } else {
        handle_read(u, bytes, err);
        continue_reading(u);
    }
    ior__iocp_udp_unref(u);
}

/*
 * Puts dop on the loop's ready list: the loop treats a request that "failed
 * at once" with code 0 as finished and runs its done() from the dispatch,
 * exactly once, counted as outstanding until then. Used for work that must
 * not run inside a user's call: a held datagram after resume, a refusal
 * collected by a send.
 */
static void post_job(ior__iocp_udp_t *u)
{
    if (u->job_posted)
        return;
    u->job_posted = 1;
    u->refs++;
    ior__iocp_op_defer(u->lp, &u->dop, 0);
}

static void job_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_udp_t *u = IOR__CONTAINER(op, ior__iocp_udp_t, dop);

    (void)bytes;
    (void)err;
    u->job_posted = 0;
    if (!u->base.closed && u->refused) {
        u->refused = 0;
        if (u->base.ops->connection_refused)
            u->base.ops->connection_refused(&u->base, u->base.user);
    }
    /* Paused again before we ran: the datagram stays held. */
    if (!u->base.closed && !u->base.paused && u->held) {
        u->held = 0;
        handle_read(u, u->held_bytes, u->held_err);
    }
    continue_reading(u);
    pump(u);
    ior__iocp_udp_unref(u);
}

/* The core changed u->paused (ior_udp_pause_reading, _resume_reading). */
void ior__os_udp_reading(ior_udp_t *base)
{
    ior__iocp_udp_t *u = (ior__iocp_udp_t *)base;

    /* Pausing only stops re-posting (see the top). */
    if (u->base.paused)
        return;
    /* The held datagram first, from the loop (never inside this call). */
    if (u->held)
        post_job(u);
    else
        continue_reading(u);
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

/*
 * Starts one overlapped send of the queue head, which stays queued (its
 * bytes pinned) until the completion. Returns 0 when posted, else the
 * Winsock error of a send that failed at once: no completion will come and
 * the datagram is still the head.
 */
static DWORD post_send(ior__iocp_udp_t *u)
{
    ior__dgram_t *d = ior__dq_peek(&u->base.q);
    WSABUF buf;
    DWORD sent = 0;
    DWORD err = 0;
    int len;
    int rc;

    buf.buf = (CHAR *)ior__dq_data(d);
    buf.len = (ULONG)d->len;
    memset(&u->sop.ov, 0, sizeof(u->sop.ov));
    if (d->to.family == 0) {
        rc = WSASend(u->s, &buf, 1, &sent, 0, &u->sop.ov, NULL);
    } else {
        len = ior__iocp_udp_sockaddr(u, &d->to, &u->to);
        rc = WSASendTo(u->s, &buf, 1, &sent, 0, (struct sockaddr *)&u->to, len,
                       &u->sop.ov, NULL);
    }
    if (rc != 0) {
        err = (DWORD)WSAGetLastError();
        if (err != WSA_IO_PENDING)
            return err;
    }
    u->sending = 1;
    u->refs++;
    ior__iocp_op_started(u->lp, &u->sop, rc == 0, sent, err, u->skip);
    return 0;
}

/*
 * From the loop: the head could not be sent. On a connected socket a
 * refusal is usually a stale ICMP error that this send collected (Wine
 * hands the host's pending ECONNREFUSED to whichever call comes first, as
 * POSIX does): it is reported as connection_refused and the datagram is
 * sent once more. Anything else is the datagram's own failure: send_error,
 * and the next datagram goes.
 */
static void head_failed(ior__iocp_udp_t *u, DWORD err)
{
    if (u->base.connected && is_refusal(err) && !u->head_retried) {
        u->head_retried = 1;
        if (u->base.ops->connection_refused)
            u->base.ops->connection_refused(&u->base, u->base.user);
        return;
    }
    ior__dq_pop(&u->base.q);
    u->head_retried = 0;
    if (u->base.ops->send_error)
        u->base.ops->send_error(&u->base, u->base.user, ior__iocp_error(err));
}

/* From the loop: sends the queue head unless a send is in flight. */
static void pump(ior__iocp_udp_t *u)
{
    DWORD err;

    while (!u->base.closed && !u->sending && !u->job_posted && ior__dq_peek(&u->base.q) &&
           (err = post_send(u)) != 0)
        head_failed(u, err);
}

static void send_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_udp_t *u = IOR__CONTAINER(op, ior__iocp_udp_t, sop);

    (void)bytes;
    u->sending = 0;
    if (u->base.closed) {
        ior__iocp_udp_unref(u); /* the queue goes with u */
        return;
    }
    if (err == IOR__IOCP_ERR_LOOKUP)
        err = ior__iocp_op_error(u->s, op);
    if (err == 0) {
        ior__dq_pop(&u->base.q);
        u->head_retried = 0;
    } else {
        head_failed(u, err); /* may call the user */
    }
    pump(u);
    ior__iocp_udp_unref(u);
}

/*
 * Queues a copy and, if nothing is ahead of it, posts its send at once.
 * A send that fails inside this call is this datagram's error and is
 * returned, with nothing queued (as on POSIX); a refusal collected by it
 * is reported from the loop instead and the datagram sent again.
 */
static int queue(ior__iocp_udp_t *u, const void *data, size_t len,
                 const ior_addr_t *to)
{
    int rc = ior__dq_push(&u->base.q, data, len, to);
    DWORD err;

    if (rc != 0)
        return rc;
    /* Something is ahead: the loop sends this one after it. */
    if (u->sending || u->job_posted || u->base.q.count > 1)
        return 0;
    err = post_send(u);
    if (err == 0)
        return 0;
    if (u->base.connected && is_refusal(err)) {
        u->refused = 1;
        u->head_retried = 1;
        post_job(u);
        return 0;
    }
    ior__dq_pop(&u->base.q);
    return ior__iocp_error(err);
}

int ior__os_udp_send(ior_udp_t *u, const void *data, size_t len,
                     const ior_addr_t *to)
{
    return queue((ior__iocp_udp_t *)u, data, len, to);
}

size_t ior__os_udp_queued(const ior_udp_t *base)
{
    const ior__iocp_udp_t *u = (const ior__iocp_udp_t *)base;
    const ior__dgram_t *d = ior__dq_peek(&u->base.q);

    /* The head is the OS's while its send is in flight. */
    if (u->sending && d)
        return u->base.q.bytes - d->len;
    return u->base.q.bytes;
}

int ior__os_udp_start(ior_udp_t *base)
{
    ior__iocp_udp_t *u = (ior__iocp_udp_t *)base;

    u->rop.done = read_done;
    u->dop.done = job_done;
    u->sop.done = send_done;
    post_read(u); /* its result comes back through the loop */
    return 0;
}
