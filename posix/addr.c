/*
 * ior_addr_t <-> struct sockaddr, socket creation, and the socket options
 * of a TCP transport (checked by common/tcp.c).
 */
#include "internal_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int ior__posix_addr_to_sockaddr(const ior_addr_t *a,
                                struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == IOR_AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a->port);
        memcpy(&sin->sin_addr, a->bytes, 4);
        *len = sizeof(*sin);
        return 0;
    }
    if (a->family == IOR_AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a->port);
        sin6->sin6_scope_id = a->scope_id;
        memcpy(&sin6->sin6_addr, a->bytes, 16);
        *len = sizeof(*sin6);
        return 0;
    }
    return IOR_EINVAL;
}

/* IPv4-mapped addresses come back as IPv4 (ior__addr_unmap, common/). */
int ior__posix_addr_from_sockaddr(ior_addr_t *a, const struct sockaddr *sa)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        a->family = IOR_AF_INET;
        a->port = ntohs(sin->sin_port);
        memcpy(a->bytes, &sin->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        a->family = IOR_AF_INET6;
        a->port = ntohs(sin6->sin6_port);
        a->scope_id = sin6->sin6_scope_id;
        memcpy(a->bytes, &sin6->sin6_addr, 16);
        ior__addr_unmap(a);
        return 0;
    }
    return IOR_EAFNOSUPPORT;
}

int ior__posix_socket(int family, int type)
{
    int fd;
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
#else
    int fl;
    fd = socket(family, type, 0);
    if (fd < 0)
        return -errno;
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int e = errno;
        ior__posix_close_fd(fd);
        return -e;
    }
#endif
#ifdef SO_NOSIGPIPE
    {
        int on = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on));
    }
#endif
    return fd;
}

int ior__os_tcp_nodelay(ior_transport_t *t, int on)
{
    int fd = ((ior__posix_fd_t *)t)->io.fd;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0)
        return ior__posix_error(errno);
    return 0;
}

int ior__os_tcp_keepalive(ior_transport_t *t, int on, unsigned idle_seconds)
{
    int fd = ((ior__posix_fd_t *)t)->io.fd;
    int r;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) != 0)
        return ior__posix_error(errno);
    if (on && idle_seconds > 0) {
        int idle = (int)idle_seconds; /* the core bounds it */
#if defined(TCP_KEEPIDLE)
        r = setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
#elif defined(TCP_KEEPALIVE)
        r = setsockopt(fd, IPPROTO_TCP, TCP_KEEPALIVE, &idle, sizeof(idle));
#else
        (void)idle;
        r = 0;
#endif
        if (r != 0)
            return ior__posix_error(errno);
    }
    return 0;
}
