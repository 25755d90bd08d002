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

#include "sockaddr.h"

/* The conversions themselves are common/sockaddr.h, shared with IOCP. */
int ior__posix_addr_to_sockaddr(const ior_addr_t *a,
                                struct sockaddr_storage *ss, socklen_t *len)
{
    size_t n = ior__sockaddr_from_addr(a, ss);
    *len = (socklen_t)n;
    return n > 0 ? 0 : IOR_EINVAL;
}

int ior__posix_addr_from_sockaddr(ior_addr_t *a, const struct sockaddr *sa)
{
    return ior__sockaddr_to_addr(sa, a);
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
