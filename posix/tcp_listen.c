/*
 * TCP listeners: SO_REUSEADDR, IPv4, IPv6 and dual-stack, port 0, accept4
 * with SOCK_NONBLOCK | SOCK_CLOEXEC.
 *
 * Running out of descriptors (EMFILE/ENFILE) must neither drop the
 * listener nor spin: with a level-triggered poller the pending connection
 * keeps the socket readable, so we (1) close the loop's reserve descriptor
 * to accept-and-close what is queued, telling those clients we are
 * overloaded instead of leaving them hanging (libuv's trick), (2) report
 * accept_error, and (3) stop watching the socket and retry after a short
 * timer (the core's accept policy, common/tcp_listen.c).
 */
#include "internal_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IOR__ACCEPTS_PER_EVENT 64

typedef struct ior__posix_listener {
    struct ior_listener base; /* first: the core's part */
    ior__posix_io_t io;
    int in_accept;   /* inside the accept loop: defer the free */
    int close_asked; /* ior__os_listener_close ran inside the accept loop */
    char *path;      /* AF_UNIX: the socket file, removed at the close */
} ior__posix_listener_t;

static void listener_free(ior__posix_listener_t *l)
{
    ior__posix_io_stop(IOR__PL(l->base.loop), &l->io);
    if (l->path != NULL) {
        (void)unlink(l->path);
        ior__free(l->path);
    }
    ior__posix_close_fd(l->io.fd);
    l->io.fd = -1;
    ior__free(l);
}

static void reserve_open(ior__posix_loop_t *pl)
{
    if (pl->reserve_fd < 0)
        pl->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Accepts and closes what is queued, using the reserve descriptor. */
static void shed_load(ior__posix_loop_t *pl, int lfd)
{
    int fd;
    if (pl->reserve_fd < 0)
        return;
    ior__posix_close_fd(pl->reserve_fd);
    pl->reserve_fd = -1;
    for (;;) {
        fd = accept(lfd, NULL, NULL);
        if (fd >= 0) {
            ior__posix_close_fd(fd);
            continue;
        }
        if (errno != EINTR && errno != ECONNABORTED)
            break;
    }
    reserve_open(pl);
}

void ior__os_listener_resume(ior_listener_t *base)
{
    ior__posix_listener_t *l = (ior__posix_listener_t *)base;
    if (ior__posix_io_set(IOR__PL(base->loop), &l->io, IOR__IO_READ) != 0)
        ior__core_accept_failed(base, IOR_ENOMEM);
}

/* Stops watching the socket; the core retries after its delay. */
static void accept_pause(ior__posix_listener_t *l, int err)
{
    ior__posix_io_stop(IOR__PL(l->base.loop), &l->io);
    ior__core_accept_failed(&l->base, err);
}

static int accept_one(ior__posix_listener_t *l, int *fd_out,
                      struct sockaddr_storage *ss)
{
    socklen_t len;
    int fd;
    do {
        len = sizeof(*ss);
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__)
        fd = accept4(l->io.fd, (struct sockaddr *)ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        fd = accept(l->io.fd, (struct sockaddr *)ss, &len);
        if (fd >= 0) {
            (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
            (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
#endif
    } while (fd < 0 && errno == EINTR);
    *fd_out = fd;
    return fd < 0 ? errno : 0;
}

/*
 * The host address: the listener's own, unless it is a wildcard (then the
 * OS picked the local address per connection).
 */
static void accepted_addrs(ior__posix_listener_t *l, int fd,
                           const struct sockaddr_storage *peer_ss,
                           ior_transport_t *t)
{
    ior_addr_t host = l->base.addr;
    ior_addr_t peer;
    memset(&peer, 0, sizeof(peer));
    (void)ior__posix_addr_from_sockaddr(&peer,
                                        (const struct sockaddr *)peer_ss);
    if (ior__addr_is_wildcard(&host)) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
            (void)ior__posix_addr_from_sockaddr(&host, (struct sockaddr *)&ss);
    }
    ior__core_tcp_addrs(t, &host, &peer);
}

/* A new connection: returns 0, or an IOR_E* code that pauses accepting. */
static int deliver(ior__posix_listener_t *l, int fd,
                   const struct sockaddr_storage *peer_ss)
{
    ior__posix_fd_t *f = ior__posix_fd_alloc();
    if (f == NULL) {
        ior__posix_close_fd(fd);
        return IOR_ENOMEM;
    }
#ifdef SO_NOSIGPIPE
    {
        int on = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on));
    }
#endif
    ior__posix_fd_open(f, l->base.loop, fd);
    if (l->path == NULL)
        accepted_addrs(l, fd, peer_ss, &f->base);
    ior__core_accepted(&l->base, &f->base);
    return 0;
}

static void on_acceptable(ior__posix_loop_t *pl, ior__posix_io_t *io,
                          unsigned revents)
{
    ior__posix_listener_t *l = IOR__CONTAINER(io, ior__posix_listener_t, io);
    int i;
    (void)revents;
    l->in_accept = 1;
    for (i = 0; i < IOR__ACCEPTS_PER_EVENT && !l->close_asked; i++) {
        struct sockaddr_storage ss;
        int fd;
        int e = accept_one(l, &fd, &ss);
        int r;
        if (e == EAGAIN || e == EWOULDBLOCK)
            break;
        if (e == EMFILE || e == ENFILE) {
            shed_load(pl, l->io.fd);
            accept_pause(l, IOR_EMFILE);
            break;
        }
        if (e == ENOBUFS || e == ENOMEM) {
            accept_pause(l, ior__posix_error(e));
            break;
        }
        if (e != 0)
            continue; /* ECONNABORTED, EPROTO...: that one client only */
        r = deliver(l, fd, &ss);
        if (r != 0) {
            accept_pause(l, r);
            break;
        }
    }
    l->in_accept = 0;
    if (l->close_asked)
        listener_free(l);
}

void ior__os_listener_close(ior_listener_t *base)
{
    ior__posix_listener_t *l = (ior__posix_listener_t *)base;
    if (l->in_accept) {
        l->close_asked = 1;
        ior__posix_io_stop(IOR__PL(base->loop), &l->io);
        return;
    }
    listener_free(l);
}

static int listen_socket(const ior_addr_t *addr, int backlog, int ipv6_only,
                         unsigned flags, int *out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int on = 1;
    int fd;
    int r = ior__posix_addr_to_sockaddr(addr, &ss, &len);
    if (r != 0)
        return r;
    fd = ior__posix_socket(ss.ss_family, SOCK_STREAM);
    if (fd < 0)
        return ior__posix_error(-fd);
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (flags & IOR_LISTEN_REUSEPORT) {
#ifdef SO_REUSEPORT
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
            r = ior__posix_error(errno);
#else
        r = IOR_ENOTSUP;
#endif
        if (r != 0) {
            ior__posix_close_fd(fd);
            return r;
        }
    }
    if (ss.ss_family == AF_INET6) {
        int v6only = ipv6_only;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
                         sizeof(v6only));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 ||
        listen(fd, backlog) != 0) {
        r = ior__posix_error(errno);
        ior__posix_close_fd(fd);
        return r;
    }
    *out = fd;
    return 0;
}

int ior__os_tcp_listen(ior_loop_t *loop, const ior_addr_t *addr, int backlog,
                       int ipv6_only, unsigned flags, ior_listener_t **out)
{
    ior__posix_listener_t *l;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = -1;
    int r;
    (void)loop; /* IOR_LISTEN_QUICK_RESTART is what SO_REUSEADDR does */
    l = ior__calloc(1, sizeof(*l));
    if (l == NULL)
        return IOR_ENOMEM;
    r = listen_socket(addr, backlog, ipv6_only, flags, &fd);
    if (r == 0 && getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        r = ior__posix_error(errno);
    if (r == 0)
        r = ior__posix_addr_from_sockaddr(&l->base.addr,
                                          (struct sockaddr *)&ss);
    if (r != 0) {
        if (fd >= 0)
            ior__posix_close_fd(fd);
        ior__free(l);
        return r;
    }
    ior__posix_io_init(&l->io, fd, on_acceptable);
    *out = &l->base;
    return 0;
}

int ior__posix_listener_wrap(int fd, const char *path, ior_listener_t **out)
{
    ior__posix_listener_t *l = ior__calloc(1, sizeof(*l));
    size_t n = strlen(path) + 1;
    if (l == NULL || (l->path = ior__malloc(n)) == NULL) {
        ior__free(l);
        return IOR_ENOMEM;
    }
    memcpy(l->path, path, n);
    ior__posix_io_init(&l->io, fd, on_acceptable);
    *out = &l->base;
    return 0;
}

int ior__os_listener_start(ior_listener_t *base)
{
    ior__posix_listener_t *l = (ior__posix_listener_t *)base;
    int r = ior__posix_io_set(IOR__PL(base->loop), &l->io, IOR__IO_READ);
    if (r == 0)
        reserve_open(IOR__PL(base->loop));
    return r;
}
