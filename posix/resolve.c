/*
 * The blocking half of ior_resolve (common/resolve.c runs it on a helper
 * thread): getaddrinfo, translated into ior_addr_t with the port set.
 */
#include "internal_posix.h"

#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

static int gai_to_ior(int e)
{
    switch (e) {
    case EAI_AGAIN:
        return IOR_EAGAIN;
    case EAI_MEMORY:
        return IOR_ENOMEM;
    case EAI_FAMILY:
        return IOR_EAFNOSUPPORT;
    default:
        return IOR_ENAME; /* EAI_NONAME, EAI_FAIL, EAI_NODATA, ... */
    }
}

int ior__os_resolve(const char *host, uint16_t port, int family,
                    ior_addr_t **addrs, size_t *n)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct addrinfo *ai;
    ior_addr_t *out;
    size_t count = 0;
    int e;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family == IOR_AF_INET    ? AF_INET
                      : family == IOR_AF_INET6 ? AF_INET6
                                               : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM; /* one entry per address */
    e = getaddrinfo(host, NULL, &hints, &res);
    if (e != 0)
        return gai_to_ior(e);
    for (ai = res; ai != NULL; ai = ai->ai_next)
        count++;
    out = count ? ior__calloc(count, sizeof(*out)) : NULL;
    if (out == NULL) {
        freeaddrinfo(res);
        return count ? IOR_ENOMEM : IOR_ENAME;
    }
    count = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ior__posix_addr_from_sockaddr(&out[count], ai->ai_addr) != 0)
            continue;
        out[count++].port = port;
    }
    freeaddrinfo(res);
    if (count == 0) {
        ior__free(out);
        return IOR_ENAME;
    }
    *addrs = out;
    *n = count;
    return 0;
}
