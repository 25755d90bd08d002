/*
 * UDP sockets on the readiness loop. Mirrors Twisted's udp.Port (doRead,
 * write, connect, the multicast mixin) with two deliberate differences:
 * a send never blocks or drops silently (Twisted's write raises or loops
 * on EAGAIN; here the datagram waits in the bounded queue of
 * common/dgram.c and IOR_ENOBUFS refuses it whole when that is full), and
 * a datagram longer than max_packet_size is reported as truncated rather
 * than cut without a word.
 *
 * Reading: recvmsg into the loop's shared read buffer, at most
 * max_packet_size bytes; MSG_TRUNC in msg_flags says the datagram was
 * longer. At most IOR__DGRAMS_PER_EVENT datagrams per readiness event, so
 * one busy socket cannot starve the others (level triggering brings it
 * back). Pausing removes the read interest: datagrams wait in the socket's
 * receive buffer, where the kernel drops them once it is full, as UDP does.
 *
 * Writing: with an empty queue sendto is tried at once; only EAGAIN (or a
 * refusal consumed inside the call, below) queues the datagram and waits
 * for writability. Errors that belong to the datagram (EMSGSIZE,
 * EAFNOSUPPORT, ENETUNREACH, ...) are returned by the call that sent it.
 *
 * Connected UDP: the kernel reports an ICMP port-unreachable as a pending
 * ECONNREFUSED on the next recv or send. It becomes connection_refused,
 * always from the loop, and the socket stays usable; a datagram whose
 * send only collected that stale error is sent again.
 */
#include "internal_posix.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif
#if !defined(IPV6_JOIN_GROUP) && defined(IPV6_ADD_MEMBERSHIP)
#define IPV6_JOIN_GROUP IPV6_ADD_MEMBERSHIP
#define IPV6_LEAVE_GROUP IPV6_DROP_MEMBERSHIP
#endif

#define IOR__DGRAMS_PER_EVENT 64
#define IOR__DSENDS_PER_EVENT 64

struct ior_udp {
    ior__handle_t handle; /* first: ior_loop_free closes it */
    ior_loop_t *loop;
    ior__io_t io;
    ior__later_t later;
    const ior_udp_ops_t *ops;
    void *user;
    ior__dqueue_t q;
    size_t max_packet;
    int family; /* AF_INET or AF_INET6: the socket's own */
    ior_addr_t peer;
    unsigned char connected;
    unsigned char reading;    /* not paused */
    unsigned char want_write; /* queue non-empty: waiting for room */
    unsigned char refused;    /* a refusal to report from the loop */
    unsigned char closed;
};

#define UDP_OF(iop) ((ior_udp_t *)((char *)(iop)-offsetof(ior_udp_t, io)))

static void udp_update(ior_udp_t *u)
{
    unsigned ev = 0;
    if (u->closed)
        return;
    if (u->reading)
        ev |= IOR__IO_READ;
    if (u->want_write)
        ev |= IOR__IO_WRITE;
    /* Only ENOMEM growing the poll set can fail; the next change retries. */
    (void)ior__io_set(IOR__PL(u->loop), &u->io, ev);
}

/*
 * The sockaddr for `a` on this socket: an IPv4 address on an IPv6 socket
 * becomes IPv4-mapped (dual-stack); IPv6 on an IPv4 socket cannot be sent.
 */
static int udp_sockaddr(const ior_udp_t *u, const ior_addr_t *a,
                        struct sockaddr_storage *ss, socklen_t *len)
{
    if (a->family == IOR_AF_INET && u->family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        memset(ss, 0, sizeof(*ss));
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        s6->sin6_addr.s6_addr[10] = 0xff;
        s6->sin6_addr.s6_addr[11] = 0xff;
        memcpy(&s6->sin6_addr.s6_addr[12], a->bytes, 4);
        *len = sizeof(*s6);
        return 0;
    }
    if (a->family == IOR_AF_INET6 && u->family == AF_INET)
        return IOR_EAFNOSUPPORT;
    return ior__addr_to_sockaddr(a, ss, len);
}

/* One send: 0, or the errno. to NULL: the connected peer. */
static int udp_send_one(ior_udp_t *u, const void *data, size_t len,
                        const ior_addr_t *to)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    ssize_t n;
    if (to != NULL && udp_sockaddr(u, to, &ss, &sl) != 0)
        return EAFNOSUPPORT;
    do {
        if (to == NULL)
            n = send(u->io.fd, data, len, MSG_NOSIGNAL);
        else
            n = sendto(u->io.fd, data, len, MSG_NOSIGNAL,
                       (struct sockaddr *)&ss, sl);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? errno : 0;
}

static void report_refused(ior_udp_t *u)
{
    if (u->ops->connection_refused != NULL)
        u->ops->connection_refused(u, u->user);
}

/* Writability (or an error event): the queue, oldest first. */
static void udp_flush(ior_udp_t *u)
{
    int budget = IOR__DSENDS_PER_EVENT;
    ior__dgram_t *d;
    if (u->refused) {
        u->refused = 0;
        report_refused(u);
    }
    while (!u->closed && budget-- > 0 && (d = ior__dq_peek(&u->q)) != NULL) {
        int e = udp_send_one(u, ior__dq_data(d), d->len,
                             d->to.family != 0 ? &d->to : NULL);
        if (e == EAGAIN || e == EWOULDBLOCK)
            break;
        if (e == ECONNREFUSED && u->connected) {
            report_refused(u); /* a stale error: send it again */
            continue;
        }
        ior__dq_pop(&u->q);
        if (e != 0 && u->ops->send_error != NULL)
            u->ops->send_error(u, u->user, ior__posix_error(e));
    }
    if (u->closed)
        return;
    u->want_write = u->q.count > 0 || u->refused;
    udp_update(u);
}

/* Readability: up to IOR__DGRAMS_PER_EVENT datagrams. */
static void udp_read(ior__posix_loop_t *pl, ior_udp_t *u)
{
    int i;
    size_t cap = u->max_packet < pl->rbuf_size ? u->max_packet : pl->rbuf_size;
    for (i = 0; i < IOR__DGRAMS_PER_EVENT; i++) {
        struct sockaddr_storage ss;
        struct iovec iov;
        struct msghdr msg;
        ior_addr_t from;
        ssize_t n;
        if (u->closed || !u->reading)
            return;
        iov.iov_base = pl->rbuf;
        iov.iov_len = cap;
        memset(&msg, 0, sizeof(msg));
        msg.msg_name = &ss;
        msg.msg_namelen = sizeof(ss);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        do {
            n = recvmsg(u->io.fd, &msg, 0);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno == ECONNREFUSED && u->connected) {
                report_refused(u);
                continue;
            }
            return; /* EAGAIN; anything else was consumed with the read */
        }
        memset(&from, 0, sizeof(from));
        if (msg.msg_namelen > 0)
            (void)ior__addr_from_sockaddr(&from, (struct sockaddr *)&ss);
        if (u->ops->datagram_received != NULL)
            u->ops->datagram_received(u, u->user, pl->rbuf, (size_t)n, &from,
                                      (msg.msg_flags & MSG_TRUNC) != 0);
    }
}

static void udp_on_io(ior__posix_loop_t *pl, ior__io_t *io, unsigned rev)
{
    ior_udp_t *u = UDP_OF(io);
    /* ERR: the pending error is collected by the recv or the send. */
    if ((rev & (IOR__IO_READ | IOR__IO_ERR)) && u->reading)
        udp_read(pl, u);
    if ((rev & (IOR__IO_WRITE | IOR__IO_ERR)) && u->want_write && !u->closed)
        udp_flush(u);
}

void ior_udp_close(ior_udp_t *u)
{
    ior__posix_loop_t *pl;
    if (u == NULL || u->closed)
        return;
    pl = IOR__PL(u->loop);
    u->closed = 1;
    ior__io_stop(pl, &u->io);
    ior__close_fd(u->io.fd);
    u->io.fd = -1;
    ior__dq_clear(&u->q);
    ior__core_handle_remove(u->loop, &u->handle);
    ior__posix_free_later(pl, &u->later, u);
}

static void udp_handle_close(ior__handle_t *h)
{
    ior_udp_close((ior_udp_t *)h);
}

static int udp_socket(const struct sockaddr_storage *ss, socklen_t len,
                      const ior_udp_options_t *opts, int *out)
{
    int on = 1;
    int r;
    int fd = ior__socket(ss->ss_family, SOCK_DGRAM);
    if (fd < 0)
        return ior__posix_error(-fd);
    if (opts != NULL && opts->reuse_address)
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (ss->ss_family == AF_INET6) {
        int v6only = opts != NULL && opts->ipv6_only ? 1 : 0;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
                         sizeof(v6only));
    }
    if (bind(fd, (const struct sockaddr *)ss, len) != 0) {
        r = ior__posix_error(errno);
        ior__close_fd(fd);
        return r;
    }
    *out = fd;
    return 0;
}

int ior_udp_listen(ior_loop_t *loop, const ior_addr_t *addr,
                   const ior_udp_options_t *opts, const ior_udp_ops_t *ops,
                   void *user, ior_udp_t **out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    ior_udp_t *u;
    int fd = -1;
    int r;
    if (loop == NULL || addr == NULL || ops == NULL || out == NULL)
        return IOR_EINVAL;
    r = ior__addr_to_sockaddr(addr, &ss, &len);
    if (r != 0)
        return r;
    u = ior__calloc(1, sizeof(*u));
    if (u == NULL)
        return IOR_ENOMEM;
    r = udp_socket(&ss, len, opts, &fd);
    if (r != 0) {
        ior__free(u);
        return r;
    }
    u->loop = loop;
    u->ops = ops;
    u->user = user;
    u->family = ss.ss_family;
    u->max_packet = opts != NULL && opts->max_packet_size > 0
                        ? opts->max_packet_size
                        : IOR__UDP_DEFAULT_PACKET;
    ior__dq_init(&u->q, opts != NULL ? opts->max_send_queue : 0);
    u->reading = 1;
    u->handle.close = udp_handle_close;
    ior__io_init(&u->io, fd, udp_on_io);
    r = ior__io_set(IOR__PL(loop), &u->io, IOR__IO_READ);
    if (r != 0) {
        ior__close_fd(fd);
        ior__free(u);
        return r;
    }
    ior__core_handle_add(loop, &u->handle);
    *out = u;
    return 0;
}

int ior_udp_address(const ior_udp_t *u, ior_addr_t *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (u == NULL || out == NULL)
        return IOR_EINVAL;
    if (getsockname(u->io.fd, (struct sockaddr *)&ss, &len) != 0)
        return ior__posix_error(errno);
    return ior__addr_from_sockaddr(out, (struct sockaddr *)&ss);
}

/* Sends now if nothing waits, else queues; see the top of the file. */
static int udp_send(ior_udp_t *u, const void *data, size_t len,
                    const ior_addr_t *to)
{
    int r;
    if (len > IOR__UDP_MAX_PAYLOAD)
        return IOR_EMSGSIZE;
    if (len > u->q.limit)
        return IOR_ENOBUFS; /* could never be queued: refuse it everywhere */
    if (!u->want_write) {
        int e = udp_send_one(u, data, len, to);
        if (e == 0)
            return 0;
        if (e == ECONNREFUSED && u->connected) {
            u->refused = 1; /* reported from the loop; then sent again */
            u->want_write = 1;
            udp_update(u);
        } else if (e != EAGAIN && e != EWOULDBLOCK) {
            return ior__posix_error(e);
        }
    }
    r = ior__dq_push(&u->q, data, len, to);
    if (r != 0)
        return r;
    u->want_write = 1;
    udp_update(u);
    return 0;
}

int ior_udp_send_to(ior_udp_t *u, const void *data, size_t len,
                    const ior_addr_t *to)
{
    if (u == NULL || to == NULL || (data == NULL && len > 0) || u->closed)
        return IOR_EINVAL;
    if (to->family != IOR_AF_INET && to->family != IOR_AF_INET6)
        return IOR_EINVAL;
    if (u->connected)
        return IOR_ESTATE;
    if (to->family == IOR_AF_INET6 && u->family == AF_INET)
        return IOR_EAFNOSUPPORT;
    return udp_send(u, data, len, to);
}

int ior_udp_write(ior_udp_t *u, const void *data, size_t len)
{
    if (u == NULL || (data == NULL && len > 0) || u->closed)
        return IOR_EINVAL;
    if (!u->connected)
        return IOR_ENOTCONN;
    return udp_send(u, data, len, NULL);
}

int ior_udp_connect(ior_udp_t *u, const ior_addr_t *peer)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int r;
    if (u == NULL || peer == NULL || u->closed)
        return IOR_EINVAL;
    r = udp_sockaddr(u, peer, &ss, &len);
    if (r != 0)
        return r;
    if (connect(u->io.fd, (struct sockaddr *)&ss, len) != 0)
        return ior__posix_error(errno);
    u->connected = 1;
    u->peer = *peer;
    return 0;
}

size_t ior_udp_send_queue_size(const ior_udp_t *u)
{
    return u != NULL ? u->q.bytes : 0;
}

int ior_udp_pause_reading(ior_udp_t *u)
{
    if (u == NULL || u->closed)
        return IOR_EINVAL;
    u->reading = 0;
    udp_update(u);
    return 0;
}

int ior_udp_resume_reading(ior_udp_t *u)
{
    if (u == NULL || u->closed)
        return IOR_EINVAL;
    u->reading = 1;
    udp_update(u);
    return 0;
}


/* --- Multicast ---------------------------------------------------------- */

/*
 * The level follows the group's family (an IPv4 group on a dual-stack
 * IPv6 socket uses the IPv4 options, which Linux accepts there). An IPv6
 * interface is named by its index: iface->scope_id.
 */
static int udp_membership(ior_udp_t *u, const ior_addr_t *group,
                          const ior_addr_t *iface, int join)
{
    int r;
    if (u == NULL || group == NULL || u->closed)
        return IOR_EINVAL;
    if (group->family == IOR_AF_INET) {
        struct ip_mreq mr;
        memset(&mr, 0, sizeof(mr));
        memcpy(&mr.imr_multiaddr, group->bytes, 4);
        if (iface != NULL && iface->family == IOR_AF_INET)
            memcpy(&mr.imr_interface, iface->bytes, 4);
        else
            mr.imr_interface.s_addr = htonl(INADDR_ANY);
        r = setsockopt(u->io.fd, IPPROTO_IP,
                       join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &mr,
                       sizeof(mr));
    } else if (group->family == IOR_AF_INET6) {
        struct ipv6_mreq mr;
        if (u->family != AF_INET6)
            return IOR_EAFNOSUPPORT;
        memset(&mr, 0, sizeof(mr));
        memcpy(&mr.ipv6mr_multiaddr, group->bytes, 16);
        mr.ipv6mr_interface = iface != NULL ? iface->scope_id : 0;
        r = setsockopt(u->io.fd, IPPROTO_IPV6,
                       join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &mr,
                       sizeof(mr));
    } else {
        return IOR_EINVAL;
    }
    return r != 0 ? ior__posix_error(errno) : 0;
}

int ior_udp_join_group(ior_udp_t *u, const ior_addr_t *group,
                       const ior_addr_t *iface)
{
    return udp_membership(u, group, iface, 1);
}

int ior_udp_leave_group(ior_udp_t *u, const ior_addr_t *group,
                        const ior_addr_t *iface)
{
    return udp_membership(u, group, iface, 0);
}

/*
 * IPv4 TTL and loop take an int on Linux and a u_char on the BSDs; try
 * the int, then the byte.
 */
static int udp_opt_v4(ior_udp_t *u, int name, int value)
{
    unsigned char b = (unsigned char)value;
    if (setsockopt(u->io.fd, IPPROTO_IP, name, &value, sizeof(value)) == 0)
        return 0;
    if (setsockopt(u->io.fd, IPPROTO_IP, name, &b, sizeof(b)) == 0)
        return 0;
    return ior__posix_error(errno);
}

static int udp_opt_v6(ior_udp_t *u, int name, int value)
{
    if (setsockopt(u->io.fd, IPPROTO_IPV6, name, &value, sizeof(value)) != 0)
        return ior__posix_error(errno);
    return 0;
}

int ior_udp_set_multicast_ttl(ior_udp_t *u, int ttl)
{
    if (u == NULL || u->closed || ttl < 0 || ttl > 255)
        return IOR_EINVAL;
    if (u->family == AF_INET6) {
        int r = udp_opt_v6(u, IPV6_MULTICAST_HOPS, ttl);
        if (r == 0) /* the IPv4 side of a dual-stack socket too */
            (void)udp_opt_v4(u, IP_MULTICAST_TTL, ttl);
        return r;
    }
    return udp_opt_v4(u, IP_MULTICAST_TTL, ttl);
}

int ior_udp_set_multicast_loop(ior_udp_t *u, int on)
{
    if (u == NULL || u->closed)
        return IOR_EINVAL;
    on = on ? 1 : 0;
    if (u->family == AF_INET6) {
        int r = udp_opt_v6(u, IPV6_MULTICAST_LOOP, on);
        if (r == 0)
            (void)udp_opt_v4(u, IP_MULTICAST_LOOP, on);
        return r;
    }
    return udp_opt_v4(u, IP_MULTICAST_LOOP, on);
}

int ior_udp_set_multicast_interface(ior_udp_t *u, const ior_addr_t *iface)
{
    if (u == NULL || u->closed)
        return IOR_EINVAL;
    if (iface == NULL) {
        /* "Any": the system's choice, as ior.h says. */
        struct in_addr any;
        unsigned idx = 0;
        memset(&any, 0, sizeof(any));
        if (u->family == AF_INET6)
            return setsockopt(u->io.fd, IPPROTO_IPV6, IPV6_MULTICAST_IF,
                              &idx, sizeof(idx)) != 0
                       ? ior__posix_error(errno)
                       : 0;
        return setsockopt(u->io.fd, IPPROTO_IP, IP_MULTICAST_IF, &any,
                          sizeof(any)) != 0
                   ? ior__posix_error(errno)
                   : 0;
    }
    if (iface->family == IOR_AF_INET) {
        struct in_addr in;
        memcpy(&in, iface->bytes, 4);
        if (setsockopt(u->io.fd, IPPROTO_IP, IP_MULTICAST_IF, &in,
                       sizeof(in)) != 0)
            return ior__posix_error(errno);
        return 0;
    }
    if (iface->family == IOR_AF_INET6) {
        unsigned idx = iface->scope_id;
        if (u->family != AF_INET6)
            return IOR_EAFNOSUPPORT;
        if (setsockopt(u->io.fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx,
                       sizeof(idx)) != 0)
            return ior__posix_error(errno);
        return 0;
    }
    return IOR_EINVAL;
}
