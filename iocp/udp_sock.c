/*
 * UDP sockets: creation, bind, connect, close, and the socket as a
 * producer. Reading and sending are in udp.c, multicast in udp_opt.c.
 *
 * ICMP port unreachable. Windows reports it on a later WSARecvFrom as
 * WSAECONNRESET, which on an unconnected socket would let one stale peer
 * fail the reads meant for all others: SIO_UDP_CONNRESET turns it off.
 * ior_udp_connect turns it back on, since for a connected socket it is the
 * only way to learn that the peer is gone (connection_refused).
 *
 * Wine (8.0) accepts the ioctl as a stub. It hands the host's pending
 * ECONNREFUSED to whichever call comes first: a read in flight completes
 * with WSAECONNREFUSED (reported as connection_refused), or a later send
 * fails with it (udp.c reports it and sends again). But its server then
 * marks the socket "aborted" and stops polling it, so an overlapped read
 * that has to wait never completes again: under Wine a connected socket
 * that was refused still sends but no longer receives. Real Windows keeps
 * it usable; the shared refusal test is skipped on Windows for this.
 */
#include "iocp.h"

#include <mstcpip.h>
#include <string.h>

#ifndef SIO_UDP_CONNRESET /* mswsock.h in MinGW, mstcpip.h in the SDK */
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif

/* ------------------------------------------------------------------ */
/* Socket                                                              */
/* ------------------------------------------------------------------ */

/* Whether ICMP port unreachable fails later reads (see the top). */
static void set_connreset(ior_udp_t *u, BOOL on)
{
    DWORD got = 0;

    /* Failure is tolerated: the read path ignores stale resets. */
    WSAIoctl(u->s, SIO_UDP_CONNRESET, &on, (DWORD)sizeof(on), NULL, 0, &got,
             NULL, NULL);
}

/* As socket.c decides for TCP: skip mode only on IFS providers. */
static int want_skip(ior_udp_t *u)
{
    int idx = u->family == AF_INET6 ? 1 : 0;

    if (u->lp->skip_ok[idx] == 0) /* IOR_IOCP_NO_SKIP, or TCP is not IFS */
        return 0;
    return ior__iocp_provider_is_ifs(u->s);
}

static int open_socket(ior_udp_t *u, const ior_addr_t *addr,
                       const ior_udp_options_t *opts)
{
    SOCKADDR_STORAGE ss;
    BOOL one = TRUE;
    int len;

    u->s = WSASocketW(u->family, SOCK_DGRAM, IPPROTO_UDP, NULL, 0,
                      WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (u->s == INVALID_SOCKET)
        return ior__iocp_error((DWORD)WSAGetLastError());
    /*
     * reuse_address: SO_REUSEADDR, how several sockets share a multicast
     * port on Windows. Otherwise SO_EXCLUSIVEADDRUSE, as for TCP
     * listeners: no other socket can bind our port (with SO_REUSEADDR,
     * Windows would let it take over our unicast datagrams).
     */
    setsockopt(u->s, SOL_SOCKET,
               (opts && opts->reuse_address) ? SO_REUSEADDR
                                             : SO_EXCLUSIVEADDRUSE,
               (const char *)&one, (int)sizeof(one));
    if (u->family == AF_INET6) {
        /* Windows defaults to IPv6 only; ior defaults to dual-stack. */
        DWORD v6only = (DWORD)u->v6only;
        setsockopt(u->s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&v6only,
                   (int)sizeof(v6only));
    }
    len = ior__iocp_addr_to_sockaddr(addr, &ss);
    if (bind(u->s, (struct sockaddr *)&ss, len) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    set_connreset(u, FALSE);
    if (!CreateIoCompletionPort((HANDLE)u->s, u->lp->port, IOR__IOCP_KEY_IO, 0))
        return ior__iocp_error(GetLastError());
    if (want_skip(u) && SetFileCompletionNotificationModes(
                            (HANDLE)u->s, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                                              FILE_SKIP_SET_EVENT_ON_HANDLE))
        u->skip = 1;
    return 0;
}

static void handle_close(ior__handle_t *h)
{
    ior_udp_close(IOR__CONTAINER(h, ior_udp_t, h));
}

int ior_udp_listen(ior_loop_t *loop, const ior_addr_t *addr,
                   const ior_udp_options_t *opts, const ior_udp_ops_t *ops,
                   void *user, ior_udp_t **out)
{
    ior_udp_t *u;
    int family;
    int rc;

    if (!loop || !addr || !ops || !out)
        return IOR_EINVAL;
    family = ior__iocp_af(addr);
    if (!family)
        return addr->family == 0 ? IOR_EINVAL : IOR_EAFNOSUPPORT;
    u = (ior_udp_t *)ior__calloc(1, sizeof(*u));
    if (!u)
        return IOR_ENOMEM;
    u->rbuf = (char *)ior__malloc(IOR__IOCP_UDP_RBUF);
    if (!u->rbuf) {
        ior__free(u);
        return IOR_ENOMEM;
    }
    u->lp = ior__iocp_loop(loop);
    u->family = family;
    u->v6only = (opts && opts->ipv6_only) ? 1 : 0;
    u->ops = ops;
    u->user = user;
    u->max_packet = (opts && opts->max_packet_size) ? opts->max_packet_size
                                                    : IOR__UDP_DEFAULT_PACKET;
    ior__dq_init(&u->q, opts ? opts->max_send_queue : 0);
    rc = open_socket(u, addr, opts);
    if (rc != 0) {
        if (u->s != INVALID_SOCKET)
            closesocket(u->s);
        ior__free(u->rbuf);
        ior__free(u);
        return rc;
    }
    u->refs = 1;
    u->h.close = handle_close;
    ior__core_handle_add(loop, &u->h);
    ior__iocp_udp_start(u);
    *out = u;
    return 0;
}

int ior_udp_address(const ior_udp_t *u, ior_addr_t *out)
{
    SOCKADDR_STORAGE ss;
    int len = (int)sizeof(ss);

    if (!u || !out || u->closed)
        return IOR_EINVAL;
    /* Asked each time: ior_udp_connect may pick a local address. */
    if (getsockname(u->s, (struct sockaddr *)&ss, &len) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    return ior__iocp_addr_from_sockaddr((struct sockaddr *)&ss, out);
}

int ior_udp_connect(ior_udp_t *u, const ior_addr_t *peer)
{
    SOCKADDR_STORAGE ss;
    int len;

    if (!u || !peer || u->closed)
        return IOR_EINVAL;
    if (peer->family != IOR_AF_INET && peer->family != IOR_AF_INET6)
        return IOR_EINVAL;
    len = ior__iocp_udp_sockaddr(u, peer, &ss);
    if (len == 0)
        return IOR_EAFNOSUPPORT;
    if (connect(u->s, (struct sockaddr *)&ss, len) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    u->peer = ss;
    u->peer_len = len;
    u->connected = 1;
    set_connreset(u, TRUE);
    return 0;
}

/*
 * Cancels the requests in flight and closes the socket; u is freed when the
 * last of them has come back through the loop. Queued datagrams are
 * dropped, a held one too.
 */
void ior_udp_close(ior_udp_t *u)
{
    if (!u || u->closed)
        return;
    u->closed = 1;
    if (u->retry_armed) {
        ior_timer_cancel(&u->lp->base, u->retry_timer);
        u->retry_armed = 0;
    }
    ior__core_handle_remove(&u->lp->base, &u->h);
    if (u->reading || u->sending)
        CancelIoEx((HANDLE)u->s, NULL);
    closesocket(u->s);
    u->s = INVALID_SOCKET;
    ior__iocp_udp_unref(u);
}

