/*
 * ior_addr_t <-> struct sockaddr, once for both backends: the BSD socket
 * structs have the same fields on POSIX and in Winsock. A backend
 * includes this after its OS socket headers (<netinet/in.h>, or
 * <winsock2.h> and <ws2tcpip.h>); common/ itself never does, having no
 * OS headers. IPv4-mapped addresses come back as IPv4 (ior__addr_unmap).
 */
#ifndef IOR_SOCKADDR_H
#define IOR_SOCKADDR_H

#include "seam.h"

#include <string.h>

/* Fills *ss from a; returns its length, 0 when a's family is not one. */
static inline size_t ior__sockaddr_from_addr(const ior_addr_t *a,
                                             struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a != NULL && a->family == IOR_AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(a->port);
        memcpy(&in->sin_addr, a->bytes, 4);
        return sizeof(*in);
    }
    if (a != NULL && a->family == IOR_AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(a->port);
        in6->sin6_scope_id = a->scope_id;
        memcpy(&in6->sin6_addr, a->bytes, 16);
        return sizeof(*in6);
    }
    return 0;
}

/* 0, or IOR_EAFNOSUPPORT when sa is neither IPv4 nor IPv6. */
static inline int ior__sockaddr_to_addr(const struct sockaddr *sa,
                                        ior_addr_t *out)
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
        out->scope_id = (uint32_t)in6->sin6_scope_id;
        memcpy(out->bytes, &in6->sin6_addr, 16);
        ior__addr_unmap(out);
        return 0;
    }
    return IOR_EAFNOSUPPORT;
}

#endif /* IOR_SOCKADDR_H */
