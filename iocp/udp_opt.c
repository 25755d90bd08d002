/*
 * UDP multicast options. Mirrors iocpreactor.udp.MulticastPort
 * (joinGroup, leaveGroup, setTTL, setLoopbackMode, setOutgoingInterface),
 * with IPv6 added: an IPv6 interface is named by its index, taken from the
 * scope_id of the ior_addr_t given as iface (0: the system's choice).
 *
 * Windows differs from POSIX on IP_MULTICAST_LOOP: it applies to the
 * receiving socket (whether it accepts its host's own multicast), not to
 * the sender. Wine passes the options to the host, so under Wine the POSIX
 * meaning holds.
 */
#include "iocp.h"

#include <string.h>

static int set_opt(ior__iocp_udp_t *u, int level, int name, const void *v, int len)
{
    if (setsockopt(u->s, level, name, (const char *)v, len) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    return 0;
}

/*
 * An integer option for the socket's family; on a dual-stack socket the
 * IPv4 one is set too (best effort), since IPv4 peers use it.
 */
static int set_int(ior__iocp_udp_t *u, int v4_name, int v6_name, DWORD v)
{
    int rc;

    if (u->af == AF_INET)
        return set_opt(u, IPPROTO_IP, v4_name, &v, (int)sizeof(v));
    rc = set_opt(u, IPPROTO_IPV6, v6_name, &v, (int)sizeof(v));
    if (rc == 0 && !u->base.v6only)
        set_opt(u, IPPROTO_IP, v4_name, &v, (int)sizeof(v));
    return rc;
}

/* Checked by common/udp_mcast.c: families match and the socket can reach. */
int ior__os_udp_membership(ior_udp_t *base, const ior_addr_t *group,
                           const ior_addr_t *iface, int join)
{
    ior__iocp_udp_t *u = (ior__iocp_udp_t *)base;

    if (group->family == IOR_AF_INET) {
        struct ip_mreq m;

        memset(&m, 0, sizeof(m));
        memcpy(&m.imr_multiaddr, group->bytes, 4);
        if (iface)
            memcpy(&m.imr_interface, iface->bytes, 4);
        return set_opt(u, IPPROTO_IP,
                       join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m,
                       (int)sizeof(m));
    } else {
        struct ipv6_mreq m;

        memset(&m, 0, sizeof(m));
        memcpy(&m.ipv6mr_multiaddr, group->bytes, 16);
        m.ipv6mr_interface = iface ? iface->scope_id : 0;
        return set_opt(u, IPPROTO_IPV6,
                       join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, &m,
                       (int)sizeof(m));
    }
}

int ior__os_udp_multicast_ttl(ior_udp_t *base, int ttl)
{
    return set_int((ior__iocp_udp_t *)base, IP_MULTICAST_TTL,
                   IPV6_MULTICAST_HOPS, (DWORD)ttl);
}

int ior__os_udp_multicast_loop(ior_udp_t *base, int on)
{
    return set_int((ior__iocp_udp_t *)base, IP_MULTICAST_LOOP,
                   IPV6_MULTICAST_LOOP, on ? 1u : 0u);
}

int ior__os_udp_multicast_if(ior_udp_t *base, const ior_addr_t *iface)
{
    ior__iocp_udp_t *u = (ior__iocp_udp_t *)base;
    struct in_addr in;
    DWORD index;
    int rc;

    memset(&in, 0, sizeof(in)); /* INADDR_ANY: the system's choice */
    if (!iface) {
        index = 0;
        if (u->af == AF_INET)
            return set_opt(u, IPPROTO_IP, IP_MULTICAST_IF, &in,
                           (int)sizeof(in));
        rc = set_opt(u, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index,
                     (int)sizeof(index));
        if (rc == 0 && !u->base.v6only)
            set_opt(u, IPPROTO_IP, IP_MULTICAST_IF, &in, (int)sizeof(in));
        return rc;
    }
    if (iface->family == IOR_AF_INET) {
        memcpy(&in, iface->bytes, 4);
        return set_opt(u, IPPROTO_IP, IP_MULTICAST_IF, &in, (int)sizeof(in));
    }
    index = iface->scope_id;
    return set_opt(u, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index,
                   (int)sizeof(index));
}
