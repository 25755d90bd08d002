/* ior_addr_t ↔ SOCKADDR (IPv4-mapped addresses come back as IPv4). */
#include "iocp.h"
#include "sockaddr.h"

int ior__iocp_af(const ior_addr_t *a)
{
    if (!a)
        return 0;
    if (a->family == IOR_AF_INET)
        return AF_INET;
    if (a->family == IOR_AF_INET6)
        return AF_INET6;
    return 0;
}

int ior__iocp_addr_to_sockaddr(const ior_addr_t *a, SOCKADDR_STORAGE *ss)
{
    return (int)ior__sockaddr_from_addr(a, ss);
}

int ior__iocp_addr_from_sockaddr(const struct sockaddr *sa, ior_addr_t *out)
{
    return ior__sockaddr_to_addr(sa, out);
}
