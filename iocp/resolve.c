/*
 * Blocking name lookup for the core's helper thread (common/resolve.c).
 * Winsock is already started: a lookup needs a loop, and the first loop
 * calls WSAStartup.
 */
#include "iocp.h"

#include <string.h>

static int resolve_error(int rc)
{
    switch (rc) {
    case WSAHOST_NOT_FOUND:
    case WSANO_DATA:
    case WSATRY_AGAIN:
    case WSANO_RECOVERY:
        return IOR_ENAME;
    case WSA_NOT_ENOUGH_MEMORY:
        return IOR_ENOMEM;
    default:
        return ior__iocp_error((DWORD)rc);
    }
}

int ior__os_resolve(const char *host, uint16_t port, int family,
                    ior_addr_t **addrs, size_t *n)
{
    ADDRINFOA hints, *res = NULL, *ai;
    ior_addr_t *out;
    size_t count = 0, i = 0;
    int rc;

    *addrs = NULL;
    *n = 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family == IOR_AF_INET    ? AF_INET
                      : family == IOR_AF_INET6 ? AF_INET6
                                               : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0)
        return resolve_error(rc);
    for (ai = res; ai != NULL; ai = ai->ai_next)
        count++;
    out = ior__calloc(count ? count : 1, sizeof *out);
    if (out == NULL) {
        freeaddrinfo(res);
        return IOR_ENOMEM;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ior__iocp_addr_from_sockaddr(ai->ai_addr, &out[i]) != 0)
            continue;
        out[i].port = port;
        i++;
    }
    freeaddrinfo(res);
    if (i == 0) {
        ior__free(out);
        return IOR_ENAME;
    }
    *addrs = out;
    *n = i;
    return 0;
}
