/*
 * UDP multicast options, checked once for every backend (Twisted's
 * MulticastPort: joinGroup, leaveGroup, setTTL, setLoopbackMode,
 * setOutgoingInterface). One answer: a family that is neither IPv4 nor
 * IPv6, or an interface whose family differs from the group's, is
 * IOR_EINVAL; a NULL interface means "any"; a group or interface the
 * socket cannot use (IPv6 on IPv4, IPv4 on IPv6-only) is IOR_EAFNOSUPPORT.
 */
#include "core.h"

static int family_ok(const ior_addr_t *a)
{
    return a->family == IOR_AF_INET || a->family == IOR_AF_INET6;
}

static int membership(ior_udp_t *u, const ior_addr_t *group,
                      const ior_addr_t *iface, int join)
{
    int r;
    if (u == NULL || group == NULL || u->closed)
        return IOR_EINVAL;
    if (!family_ok(group))
        return IOR_EINVAL;
    if (iface != NULL && iface->family != group->family)
        return IOR_EINVAL;
    r = ior__udp_reaches(u, group);
    if (r != 0)
        return r;
    return ior__os_udp_membership(u, group, iface, join);
}

int ior_udp_join_group(ior_udp_t *u, const ior_addr_t *group,
                       const ior_addr_t *iface)
{
    return membership(u, group, iface, 1);
}

int ior_udp_leave_group(ior_udp_t *u, const ior_addr_t *group,
                        const ior_addr_t *iface)
{
    return membership(u, group, iface, 0);
}

int ior_udp_set_multicast_ttl(ior_udp_t *u, int ttl)
{
    if (u == NULL || u->closed || ttl < 0 || ttl > 255)
        return IOR_EINVAL;
    return ior__os_udp_multicast_ttl(u, ttl);
}

int ior_udp_set_multicast_loop(ior_udp_t *u, int on)
{
    if (u == NULL || u->closed)
        return IOR_EINVAL;
    return ior__os_udp_multicast_loop(u, on ? 1 : 0);
}

int ior_udp_set_multicast_interface(ior_udp_t *u, const ior_addr_t *iface)
{
    int r;
    if (u == NULL || u->closed)
        return IOR_EINVAL;
    if (iface != NULL) {
        if (!family_ok(iface))
            return IOR_EINVAL;
        r = ior__udp_reaches(u, iface);
        if (r != 0)
            return r;
    }
    return ior__os_udp_multicast_if(u, iface);
}
