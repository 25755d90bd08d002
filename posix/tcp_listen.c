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
 * timer. Twisted differs: it logs and returns, and its select loop comes
 * straight back.
 */
#include "internal_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IOR__ACCEPTS_PER_EVENT 64
#define IOR__ACCEPT_RETRY_MS 100
#define IOR__DEFAULT_BACKLOG 511

struct ior_listener {
    ior__handle_t handle; /* first: the core's list of things to close */
    ior_loop_t *loop;
    ior__io_t io;
    const ior_listener_ops_t *ops;
    void *user;
    ior_timer_id retry;
    int in_accept;   /* inside the accept loop: defer the free */
    int close_asked; /* ior_listener_close ran inside the accept loop */
};

static void listener_free(ior_listener_t *l)
{
    ior__io_stop(IOR__PL(l->loop), &l->io);
    ior__close_fd(l->io.fd);
    l->io.fd = -1;
    if (l->retry != 0)
        (void)ior_timer_cancel(l->loop, l->retry);
    l->retry = 0;
    ior__core_handle_remove(l->loop, &l->handle);
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
    ior__close_fd(pl->reserve_fd);
    pl->reserve_fd = -1;
    for (;;) {
        fd = accept(lfd, NULL, NULL);
        if (fd >= 0) {
            ior__close_fd(fd);
            continue;
        }
        if (errno != EINTR && errno != ECONNABORTED)
            break;
    }
    reserve_open(pl);
}

static void on_retry(ior_loop_t *loop, void *user)
{
    ior_listener_t *l = user;
    (void)loop;
    l->retry = 0;
    if (ior__io_set(IOR__PL(l->loop), &l->io, IOR__IO_READ) != 0)
        l->retry = 0; /* nothing better to do; the next close frees it */
}

static void accept_pause(ior_listener_t *l, int err)
{
    ior__io_stop(IOR__PL(l->loop), &l->io);
    if (ior_call_later(l->loop, IOR__ACCEPT_RETRY_MS, on_retry, l, &l->retry) !=
        0) {
        l->retry = 0;
        (void)ior__io_set(IOR__PL(l->loop), &l->io, IOR__IO_READ);
    }
    if (l->ops->accept_error != NULL)
        l->ops->accept_error(l, l->user, err);
}

static int accept_one(ior_listener_t *l, int *fd_out)
{
    int fd;
    do {
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__)
        fd = accept4(l->io.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        fd = accept(l->io.fd, NULL, NULL);
        if (fd >= 0) {
            (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
            (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
#endif
    } while (fd < 0 && errno == EINTR);
    *fd_out = fd;
    return fd < 0 ? errno : 0;
}

/* A new connection: returns 0, or an IOR_E* code that pauses accepting. */
static int deliver(ior_listener_t *l, int fd)
{
    ior__fd_t *f = ior__fd_alloc();
    if (f == NULL) {
        ior__close_fd(fd);
        return IOR_ENOMEM;
    }
#ifdef SO_NOSIGPIPE
    {
        int on = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on));
    }
#endif
    ior__fd_open(f, l->loop, fd);
    l->ops->connection_accepted(l, l->user, &f->base);
    ior__core_transport_begin(&f->base);
    return 0;
}

static void on_acceptable(ior__posix_loop_t *pl, ior__io_t *io,
                          unsigned revents)
{
    ior_listener_t *l =
        (ior_listener_t *)((char *)io - offsetof(ior_listener_t, io));
    int i;
    (void)revents;
    l->in_accept = 1;
    for (i = 0; i < IOR__ACCEPTS_PER_EVENT && !l->close_asked; i++) {
        int fd;
        int e = accept_one(l, &fd);
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
        r = deliver(l, fd);
        if (r != 0) {
            accept_pause(l, r);
            break;
        }
    }
    l->in_accept = 0;
    if (l->close_asked)
        listener_free(l);
}

static void handle_close(ior__handle_t *h)
{
    ior_listener_close((ior_listener_t *)h);
}

void ior_listener_close(ior_listener_t *l)
{
    if (l == NULL)
        return;
    if (l->in_accept) {
        l->close_asked = 1;
        ior__io_stop(IOR__PL(l->loop), &l->io);
        return;
    }
    listener_free(l);
}

static int listen_socket(const ior_addr_t *addr,
                         const ior_listen_options_t *opts, int *out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int on = 1;
    int backlog = opts != NULL && opts->backlog > 0 ? opts->backlog
                                                    : IOR__DEFAULT_BACKLOG;
    int fd;
    int r = ior__addr_to_sockaddr(addr, &ss, &len);
    if (r != 0)
        return r;
    fd = ior__socket(ss.ss_family, SOCK_STREAM);
    if (fd < 0)
        return ior__posix_error(-fd);
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (ss.ss_family == AF_INET6) {
        int v6only = opts != NULL && opts->ipv6_only ? 1 : 0;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
                         sizeof(v6only));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 ||
        listen(fd, backlog) != 0) {
        r = ior__posix_error(errno);
        ior__close_fd(fd);
        return r;
    }
    *out = fd;
    return 0;
}

int ior_tcp_listen(ior_loop_t *loop, const ior_addr_t *addr,
                   const ior_listen_options_t *opts,
                   const ior_listener_ops_t *ops, void *user,
                   ior_listener_t **out)
{
    ior_listener_t *l;
    int fd = -1;
    int r;
    if (loop == NULL || addr == NULL || ops == NULL || out == NULL ||
        ops->connection_accepted == NULL)
        return IOR_EINVAL;
    l = ior__calloc(1, sizeof(*l));
    if (l == NULL)
        return IOR_ENOMEM;
    r = listen_socket(addr, opts, &fd);
    if (r != 0) {
        ior__free(l);
        return r;
    }
    l->loop = loop;
    l->ops = ops;
    l->user = user;
    l->handle.close = handle_close;
    ior__io_init(&l->io, fd, on_acceptable);
    r = ior__io_set(IOR__PL(loop), &l->io, IOR__IO_READ);
    if (r != 0) {
        ior__close_fd(fd);
        ior__free(l);
        return r;
    }
    reserve_open(IOR__PL(loop));
    ior__core_handle_add(loop, &l->handle);
    *out = l;
    return 0;
}

int ior_listener_address(const ior_listener_t *l, ior_addr_t *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (l == NULL || out == NULL)
        return IOR_EINVAL;
    if (getsockname(l->io.fd, (struct sockaddr *)&ss, &len) != 0)
        return ior__posix_error(errno);
    return ior__addr_from_sockaddr(out, (struct sockaddr *)&ss);
}
