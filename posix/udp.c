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

/* The backend's UDP socket; the core's part (common/udp.c) first. */
typedef struct ior__posix_udp {
    struct ior_udp base;
    ior__posix_io_t io;
    ior__posix_later_t later;
    unsigned char want_write; /* queue non-empty: waiting for room */
    unsigned char refused;    /* a refusal to report from the loop */
} ior__posix_udp_t;

#define PU(u) ((ior__posix_udp_t *)(u))
#define UDP_OF(iop) IOR__CONTAINER(iop, ior__posix_udp_t, io)

static void udp_update(ior__posix_udp_t *pu)
{
    unsigned ev = 0;
    if (pu->base.closed)
        return;
    if (!pu->base.paused)
        ev |= IOR__IO_READ;
    if (pu->want_write)
        ev |= IOR__IO_WRITE;
    /* Only ENOMEM growing the poll set can fail; the next change retries. */
    (void)ior__posix_io_set(IOR__PL(pu->base.loop), &pu->io, ev);
}

/*
 * The sockaddr for `a` on this socket (the core checked that it can reach
 * it): an IPv4 address on an IPv6 socket becomes IPv4-mapped (dual-stack).
 */
static void udp_sockaddr(const ior_udp_t *u, const ior_addr_t *a,
                         struct sockaddr_storage *ss, socklen_t *len)
{
    ior_addr_t m;
    if (a->family == IOR_AF_INET && u->family == IOR_AF_INET6) {
        ior__addr_map_v6(a, &m);
        a = &m;
    }
    (void)ior__posix_addr_to_sockaddr(a, ss, len);
}

/* One send: 0, or the errno. to NULL: the connected peer. */
static int udp_send_one(ior__posix_udp_t *pu, const void *data, size_t len,
                        const ior_addr_t *to)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    ssize_t n;
    if (to != NULL)
        udp_sockaddr(&pu->base, to, &ss, &sl);
    do {
        if (to == NULL)
            n = send(pu->io.fd, data, len, MSG_NOSIGNAL);
        else
            n = sendto(pu->io.fd, data, len, MSG_NOSIGNAL,
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
static void udp_flush(ior__posix_udp_t *pu)
{
    ior_udp_t *u = &pu->base;
    int budget = IOR__DSENDS_PER_EVENT;
    ior__dgram_t *d;
    if (pu->refused) {
        pu->refused = 0;
        report_refused(u);
    }
    while (!u->closed && budget-- > 0 && (d = ior__dq_peek(&u->q)) != NULL) {
        int e = udp_send_one(pu, ior__dq_data(d), d->len,
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
    pu->want_write = u->q.count > 0 || pu->refused;
    udp_update(pu);
}

/* Readability: up to IOR__DGRAMS_PER_EVENT datagrams. */
static void udp_read(ior__posix_loop_t *pl, ior__posix_udp_t *pu)
{
    ior_udp_t *u = &pu->base;
    int i;
    size_t cap = u->max_packet < pl->rbuf_size ? u->max_packet : pl->rbuf_size;
    for (i = 0; i < IOR__DGRAMS_PER_EVENT; i++) {
        struct sockaddr_storage ss;
        struct iovec iov;
        struct msghdr msg;
        ior_addr_t from;
        ssize_t n;
        if (u->closed || u->paused)
            return;
        iov.iov_base = pl->rbuf;
        iov.iov_len = cap;
        memset(&msg, 0, sizeof(msg));
        msg.msg_name = &ss;
        msg.msg_namelen = sizeof(ss);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        do {
            n = recvmsg(pu->io.fd, &msg, 0);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno == ECONNREFUSED && u->connected) {
                report_refused(u);
                continue;
            }
            return; /* EAGAIN; anything else was consumed with the read */
        }
        memset(&from, 0, sizeof(from));
        /* An IPv4 sender on a dual-stack socket comes back as IPv4. */
        if (msg.msg_namelen > 0)
            (void)ior__posix_addr_from_sockaddr(&from, (struct sockaddr *)&ss);
        if (u->ops->datagram_received != NULL)
            u->ops->datagram_received(u, u->user, pl->rbuf, (size_t)n, &from,
                                      (msg.msg_flags & MSG_TRUNC) != 0);
    }
}

static void udp_on_io(ior__posix_loop_t *pl, ior__posix_io_t *io, unsigned rev)
{
    ior__posix_udp_t *pu = UDP_OF(io);
    /* ERR: the pending error is collected by the recv or the send. */
    if ((rev & (IOR__IO_READ | IOR__IO_ERR)) && !pu->base.paused)
        udp_read(pl, pu);
    if ((rev & (IOR__IO_WRITE | IOR__IO_ERR)) && pu->want_write &&
        !pu->base.closed)
        udp_flush(pu);
}

void ior__os_udp_close(ior_udp_t *u)
{
    ior__posix_udp_t *pu = PU(u);
    ior__posix_loop_t *pl = IOR__PL(u->loop);
    ior__posix_io_stop(pl, &pu->io);
    ior__posix_close_fd(pu->io.fd);
    pu->io.fd = -1;
    ior__dq_clear(&u->q);
    ior__posix_free_later(pl, &pu->later, pu);
}

static int udp_socket(const struct sockaddr_storage *ss, socklen_t len,
                      const ior_udp_options_t *opts, int *out)
{
    int on = 1;
    int r;
    int fd = ior__posix_socket(ss->ss_family, SOCK_DGRAM);
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
        ior__posix_close_fd(fd);
        return r;
    }
    *out = fd;
    return 0;
}

int ior__os_udp_open(ior_loop_t *loop, const ior_addr_t *addr,
                     const ior_udp_options_t *opts, ior_udp_t **out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    ior__posix_udp_t *pu;
    int fd = -1;
    int r;
    (void)loop;
    (void)ior__posix_addr_to_sockaddr(addr, &ss, &len);
    pu = ior__calloc(1, sizeof(*pu));
    if (pu == NULL)
        return IOR_ENOMEM;
    r = udp_socket(&ss, len, opts, &fd);
    if (r != 0) {
        ior__free(pu);
        return r;
    }
    ior__posix_io_init(&pu->io, fd, udp_on_io);
    *out = &pu->base;
    return 0;
}

int ior__os_udp_start(ior_udp_t *u)
{
    return ior__posix_io_set(IOR__PL(u->loop), &PU(u)->io, IOR__IO_READ);
}

int ior__os_udp_address(const ior_udp_t *u, ior_addr_t *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(PU(u)->io.fd, (struct sockaddr *)&ss, &len) != 0)
        return ior__posix_error(errno);
    return ior__posix_addr_from_sockaddr(out, (struct sockaddr *)&ss);
}

/* Sends now if nothing waits, else queues; see the top of the file. */
int ior__os_udp_send(ior_udp_t *u, const void *data, size_t len,
                     const ior_addr_t *to)
{
    ior__posix_udp_t *pu = PU(u);
    int r;
    if (!pu->want_write) {
        int e = udp_send_one(pu, data, len, to);
        if (e == 0)
            return 0;
        if (e == ECONNREFUSED && u->connected) {
            pu->refused = 1; /* reported from the loop; then sent again */
            pu->want_write = 1;
            udp_update(pu);
        } else if (e != EAGAIN && e != EWOULDBLOCK) {
            return ior__posix_error(e);
        }
    }
    r = ior__dq_push(&u->q, data, len, to);
    if (r != 0)
        return r;
    pu->want_write = 1;
    udp_update(pu);
    return 0;
}

int ior__os_udp_connect(ior_udp_t *u, const ior_addr_t *peer)
{
    struct sockaddr_storage ss;
    socklen_t len;
    udp_sockaddr(u, peer, &ss, &len);
    if (connect(PU(u)->io.fd, (struct sockaddr *)&ss, len) != 0)
        return ior__posix_error(errno);
    return 0;
}

size_t ior__os_udp_queued(const ior_udp_t *u)
{
    return u->q.bytes;
}

void ior__os_udp_reading(ior_udp_t *u)
{
    udp_update(PU(u));
}

/* --- Multicast (checked by common/udp_mcast.c) ------------------------- */

/*
 * The level follows the group's family (an IPv4 group on a dual-stack
 * IPv6 socket uses the IPv4 options, which Linux accepts there). An IPv6
 * interface is named by its index: iface->scope_id.
 */
int ior__os_udp_membership(ior_udp_t *u, const ior_addr_t *group,
                           const ior_addr_t *iface, int join)
{
    int fd = PU(u)->io.fd;
    int r;
    if (group->family == IOR_AF_INET) {
        struct ip_mreq mr;
        memset(&mr, 0, sizeof(mr));
        memcpy(&mr.imr_multiaddr, group->bytes, 4);
        if (iface != NULL)
            memcpy(&mr.imr_interface, iface->bytes, 4);
        else
            mr.imr_interface.s_addr = htonl(INADDR_ANY);
        r = setsockopt(fd, IPPROTO_IP,
                       join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &mr,
                       sizeof(mr));
    } else {
        struct ipv6_mreq mr;
        memset(&mr, 0, sizeof(mr));
        memcpy(&mr.ipv6mr_multiaddr, group->bytes, 16);
        mr.ipv6mr_interface = iface != NULL ? iface->scope_id : 0;
        r = setsockopt(fd, IPPROTO_IPV6,
                       join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &mr,
                       sizeof(mr));
    }
    return r != 0 ? ior__posix_error(errno) : 0;
}

/*
 * IPv4 TTL and loop take an int on Linux and a u_char on the BSDs; try
 * the int, then the byte.
 */
static int udp_opt_v4(ior_udp_t *u, int name, int value)
{
    int fd = PU(u)->io.fd;
    unsigned char b = (unsigned char)value;
    if (setsockopt(fd, IPPROTO_IP, name, &value, sizeof(value)) == 0)
        return 0;
    if (setsockopt(fd, IPPROTO_IP, name, &b, sizeof(b)) == 0)
        return 0;
    return ior__posix_error(errno);
}

static int udp_opt_v6(ior_udp_t *u, int name, int value)
{
    if (setsockopt(PU(u)->io.fd, IPPROTO_IPV6, name, &value, sizeof(value)) !=
        0)
        return ior__posix_error(errno);
    return 0;
}

int ior__os_udp_multicast_ttl(ior_udp_t *u, int ttl)
{
    if (u->family == IOR_AF_INET6) {
        int r = udp_opt_v6(u, IPV6_MULTICAST_HOPS, ttl);
        if (r == 0 && !u->v6only) /* the IPv4 side of a dual-stack socket */
            (void)udp_opt_v4(u, IP_MULTICAST_TTL, ttl);
        return r;
    }
    return udp_opt_v4(u, IP_MULTICAST_TTL, ttl);
}

int ior__os_udp_multicast_loop(ior_udp_t *u, int on)
{
    if (u->family == IOR_AF_INET6) {
        int r = udp_opt_v6(u, IPV6_MULTICAST_LOOP, on);
        if (r == 0 && !u->v6only)
            (void)udp_opt_v4(u, IP_MULTICAST_LOOP, on);
        return r;
    }
    return udp_opt_v4(u, IP_MULTICAST_LOOP, on);
}

static int udp_if_v4(ior_udp_t *u, const unsigned char *bytes)
{
    struct in_addr in;
    memcpy(&in, bytes, 4);
    if (setsockopt(PU(u)->io.fd, IPPROTO_IP, IP_MULTICAST_IF, &in,
                   sizeof(in)) != 0)
        return ior__posix_error(errno);
    return 0;
}

static int udp_if_v6(ior_udp_t *u, unsigned idx)
{
    if (setsockopt(PU(u)->io.fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx,
                   sizeof(idx)) != 0)
        return ior__posix_error(errno);
    return 0;
}

int ior__os_udp_multicast_if(ior_udp_t *u, const ior_addr_t *iface)
{
    static const unsigned char any[4] = {0, 0, 0, 0};
    if (iface == NULL) {
        /* "Any": the system's choice, as ior.h says. */
        int r;
        if (u->family == IOR_AF_INET)
            return udp_if_v4(u, any);
        r = udp_if_v6(u, 0);
        if (r == 0 && !u->v6only)
            (void)udp_if_v4(u, any);
        return r;
    }
    if (iface->family == IOR_AF_INET)
        return udp_if_v4(u, iface->bytes);
    return udp_if_v6(u, iface->scope_id);
}
