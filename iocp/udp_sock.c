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
static void set_connreset(ior__iocp_udp_t *u, BOOL on)
{
    DWORD got = 0;

    /* Failure is tolerated: the read path ignores stale resets. */
    WSAIoctl(u->s, SIO_UDP_CONNRESET, &on, (DWORD)sizeof(on), NULL, 0, &got,
             NULL, NULL);
}

/* As socket.c decides for TCP: skip mode only on IFS providers. */
static int want_skip(ior__iocp_udp_t *u)
{
    int idx = u->af == AF_INET6 ? 1 : 0;

    if (u->lp->skip_ok[idx] == 0) /* IOR_IOCP_NO_SKIP, or TCP is not IFS */
        return 0;
    return ior__iocp_provider_is_ifs(u->s);
}

static int open_socket(ior__iocp_udp_t *u, const ior_addr_t *addr,
                       const ior_udp_options_t *opts)
{
    SOCKADDR_STORAGE ss;
    BOOL one = TRUE;
    int len;

    u->s = WSASocketW(u->af, SOCK_DGRAM, IPPROTO_UDP, NULL, 0,
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
    if (u->af == AF_INET6) {
        /* Windows defaults to IPv6 only; ior defaults to dual-stack. */
        DWORD v6only = (DWORD)u->base.v6only;
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

/*
 * The socket (the core checked the family and fills its part after this
 * returns); its first read is posted by ior__os_udp_start (udp.c).
 */
int ior__os_udp_open(ior_loop_t *loop, const ior_addr_t *addr,
                     const ior_udp_options_t *opts, ior_udp_t **out)
{
    ior__iocp_udp_t *u;
    int rc;

    u = (ior__iocp_udp_t *)ior__calloc(1, sizeof(*u));
    if (!u)
        return IOR_ENOMEM;
    u->rbuf = (char *)ior__malloc(IOR__IOCP_UDP_RBUF);
    if (!u->rbuf) {
        ior__free(u);
        return IOR_ENOMEM;
    }
    u->lp = ior__iocp_loop(loop);
    u->af = ior__iocp_af(addr);
    /* open_socket reads it; the core sets the same value afterwards. */
    u->base.v6only = (opts && opts->ipv6_only) ? 1 : 0;
    u->s = INVALID_SOCKET;
    rc = open_socket(u, addr, opts);
    if (rc != 0) {
        if (u->s != INVALID_SOCKET)
            closesocket(u->s);
        ior__free(u->rbuf);
        ior__free(u);
        return rc;
    }
    u->refs = 1;
    *out = &u->base;
    return 0;
}

int ior__os_udp_address(const ior_udp_t *base, ior_addr_t *out)
{
    const ior__iocp_udp_t *u = (const ior__iocp_udp_t *)base;
    SOCKADDR_STORAGE ss;
    int len = (int)sizeof(ss);

    /* Asked each time: ior_udp_connect may pick a local address. */
    if (getsockname(u->s, (struct sockaddr *)&ss, &len) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    return ior__iocp_addr_from_sockaddr((struct sockaddr *)&ss, out);
}

int ior__os_udp_connect(ior_udp_t *base, const ior_addr_t *peer)
{
    ior__iocp_udp_t *u = (ior__iocp_udp_t *)base;
    SOCKADDR_STORAGE ss;
    int len = ior__iocp_udp_sockaddr(u, peer, &ss);

    if (connect(u->s, (struct sockaddr *)&ss, len) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    u->peer_ss = ss;
    u->peer_len = len;
    set_connreset(u, TRUE);
    return 0;
}

/*
 * Cancels the requests in flight and closes the socket; u is freed when the
 * last of them has come back through the loop. Queued datagrams are
 * dropped, a held one too.
 */
void ior__os_udp_close(ior_udp_t *base)
{
    ior__iocp_udp_t *u = (ior__iocp_udp_t *)base;

    if (u->retry_armed) {
        ior_timer_cancel(&u->lp->base, u->retry_timer);
        u->retry_armed = 0;
    }
    if (u->reading || u->sending)
        CancelIoEx((HANDLE)u->s, NULL);
    closesocket(u->s);
    u->s = INVALID_SOCKET;
    ior__iocp_udp_unref(u);
}
