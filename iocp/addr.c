/* ior_addr_t ↔ SOCKADDR (IPv4-mapped addresses come back as IPv4). */
#include "iocp.h"

#include <string.h>

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
    memset(ss, 0, sizeof(*ss));
    if (!a)
        return 0;
    if (a->family == IOR_AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(a->port);
        memcpy(&in->sin_addr, a->bytes, 4);
        return (int)sizeof(*in);
    }
    if (a->family == IOR_AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a->port);
        in6->sin6_scope_id = a->scope_id;
        memcpy(&in6->sin6_addr, a->bytes, 16);
        return (int)sizeof(*in6);
    }
    return 0;
}

int ior__iocp_addr_from_sockaddr(const struct sockaddr *sa, ior_addr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        out->family = IOR_AF_INET;
        out->port = ntohs(in->sin_port);
        memcpy(out->bytes, &in->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        out->family = IOR_AF_INET6;
        out->port = ntohs(in6->sin6_port);
        out->scope_id = in6->sin6_scope_id;
        memcpy(out->bytes, &in6->sin6_addr, 16);
        ior__addr_unmap(out);
        return 0;
    }
    return IOR_EAFNOSUPPORT;
}
