/*
 * Non-blocking TCP connect. The core (common/tcp_connect.c) owns the
 * checks, the timeout and the status precedence; this file owns the
 * socket. The result always comes from the loop: an immediate failure is
 * parked on a zero-delay timer, never reported from inside ior_tcp_connect.
 *
 * The transport is allocated up front, so success can never fail for
 * lack of memory after the socket connected.
 */
#include "internal_posix.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct connect_req {
    ior__connect_t base; /* first: the core's part */
    ior__posix_io_t io;
    ior__posix_fd_t *f;
    ior_timer_id early; /* the zero-delay report of an immediate failure */
    int early_err;      /* its errno */
    struct sockaddr_storage to; /* the target */
    socklen_t to_len;
} connect_req_t;

static void req_free(connect_req_t *c)
{
    if (c->io.fd >= 0)
        ior__posix_close_fd(c->io.fd);
    ior__free(c->f);
    ior__free(c);
}

/* Hands the result to the core (status 0: connected), then frees c. */
static void req_finish(connect_req_t *c, int err)
{
    ior_loop_t *loop = c->base.loop;
    ior__posix_fd_t *f = c->f;
    int fd = c->io.fd;

    ior__posix_io_stop(IOR__PL(loop), &c->io);
    if (c->early != 0)
        (void)ior_timer_cancel(loop, c->early);
    c->early = 0;
    if (err == 0 && c->base.status == 0) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        ior_addr_t host;
        memset(&host, 0, sizeof(host));
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
            (void)ior__posix_addr_from_sockaddr(&host, (struct sockaddr *)&ss);
        c->f = NULL;
        c->io.fd = -1;
        ior__posix_fd_open(f, loop, fd);
        if (!c->base.local)
            ior__core_tcp_addrs(&f->base, &host, NULL);
        ior__core_connect_done(&c->base, &f->base, 0, 0);
    } else {
        ior__core_connect_done(&c->base, NULL, ior__posix_error(err), err);
    }
    req_free(c);
}

static void on_connected(ior__posix_loop_t *pl, ior__posix_io_t *io,
                         unsigned revents)
{
    connect_req_t *c = IOR__CONTAINER(io, connect_req_t, io);
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    (void)pl;
    (void)revents;
    if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr == EINPROGRESS || soerr == EALREADY)
        return; /* spurious wake-up */
    req_finish(c, soerr);
}

static void on_early(ior_loop_t *loop, void *user)
{
    connect_req_t *c = user;
    (void)loop;
    c->early = 0;
    req_finish(c, c->early_err);
}

/* A request with its transport and a socket for the target in c->to. */
static int req_new(const struct sockaddr_storage *to, socklen_t to_len,
                   connect_req_t **out)
{
    connect_req_t *c = ior__calloc(1, sizeof(*c));
    int fd;
    if (c == NULL)
        return IOR_ENOMEM;
    ior__posix_io_init(&c->io, -1, on_connected);
    c->f = ior__posix_fd_alloc();
    if (c->f == NULL) {
        req_free(c);
        return IOR_ENOMEM;
    }
    c->to = *to;
    c->to_len = to_len;
    fd = ior__posix_socket(to->ss_family, SOCK_STREAM);
    if (fd < 0) {
        req_free(c);
        return ior__posix_error(-fd);
    }
    c->io.fd = fd;
    *out = c;
    return 0;
}

int ior__os_local_connect(ior_loop_t *loop, const char *name,
                          ior__connect_t **out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    connect_req_t *c;
    int r = ior__posix_unix_sockaddr(name, &ss, &len);
    (void)loop;
    if (r == 0)
        r = req_new(&ss, len, &c);
    if (r != 0)
        return r;
    *out = &c->base;
    return 0;
}

int ior__os_tcp_connect(ior_loop_t *loop, const ior_addr_t *addr,
                        const ior_addr_t *bind_to, ior__connect_t **out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    connect_req_t *c;
    int fd;
    int r;
    (void)loop;
    (void)ior__posix_addr_to_sockaddr(addr, &ss, &len);
    r = req_new(&ss, len, &c);
    if (r != 0)
        return r;
    fd = c->io.fd;
    if (bind_to != NULL) {
        (void)ior__posix_addr_to_sockaddr(bind_to, &ss, &len);
        if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
            r = ior__posix_error(errno);
            req_free(c);
            return r;
        }
    }
    *out = &c->base;
    return 0;
}

static void on_retry(ior_loop_t *loop, void *user)
{
    connect_req_t *c = user;
    (void)loop;
    c->early = 0;
    ior__os_connect_start(&c->base);
}

void ior__os_connect_start(ior__connect_t *base)
{
    connect_req_t *c = (connect_req_t *)base;
    int r;
    do {
        r = connect(c->io.fd, (struct sockaddr *)&c->to, c->to_len);
    } while (r != 0 && errno == EINTR);
    /*
     * An AF_UNIX server whose backlog is full says EAGAIN: try again from
     * the loop, as a Windows named pipe whose instances are busy is
     * (ior.h), until the timeout or a cancel ends the request.
     */
    if (r != 0 && errno == EAGAIN && base->local &&
        ior_call_later(base->loop, IOR__LOCAL_BUSY_RETRY_MS, on_retry, c,
                       &c->early) == 0)
        return;
    if (r != 0 && errno != EINPROGRESS) {
        c->early_err = errno; /* refused at once (it happens on loopback) */
    } else {
        r = ior__posix_io_set(IOR__PL(base->loop), &c->io, IOR__IO_WRITE);
        if (r == 0)
            return;
        c->early_err = ENOMEM;
    }
    if (ior_call_later(base->loop, 0, on_early, c, &c->early) != 0) {
        /* Not even a timer: wait for writability, which reports it. */
        c->early = 0;
        (void)ior__posix_io_set(IOR__PL(base->loop), &c->io, IOR__IO_WRITE);
    }
}

void ior__os_connect_discard(ior__connect_t *base)
{
    req_free((connect_req_t *)base);
}

void ior__os_connect_cancel(ior__connect_t *base)
{
    req_finish((connect_req_t *)base, 0);
}
