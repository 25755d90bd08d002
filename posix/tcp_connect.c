/*
 * Non-blocking TCP connect with a timeout. The request is an
 * ior__handle_t, so ior_loop_free cancels it (IOR_ECANCELED). The result
 * always comes from the loop: an immediate failure is parked on a
 * zero-delay timer, never reported from inside ior_tcp_connect.
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
    ior__handle_t handle; /* first: the core's list of things to close */
    ior_loop_t *loop;
    ior__io_t io;
    ior__fd_t *f;
    ior_connect_cb cb;
    void *user;
    ior_timer_id timer; /* timeout, or the zero-delay failure report */
    int status;         /* failure to report from the timer, or 0 */
} connect_req_t;

static void req_finish(connect_req_t *c, int status)
{
    ior_loop_t *loop = c->loop;
    ior__fd_t *f = c->f;
    int fd = c->io.fd;
    ior_connect_cb cb = c->cb;
    void *user = c->user;
    int os_error = status != 0 ? f->base.os_error : 0;

    ior__io_stop(IOR__PL(loop), &c->io);
    if (c->timer != 0)
        (void)ior_timer_cancel(loop, c->timer);
    /*
     * Keep the loop referenced across the callback: the request's own
     * reference goes with handle_remove, the transport's comes with
     * ior__fd_open.
     */
    if (status == 0)
        ior__fd_open(f, loop, fd);
    ior__core_handle_remove(loop, &c->handle);
    ior__free(c);
    if (status != 0) {
        ior__close_fd(fd);
        ior__free(f);
        cb(loop, user, NULL, status, os_error);
        return;
    }
    cb(loop, user, &f->base, 0, 0);
    ior__core_transport_begin(&f->base);
}

static void on_connected(ior__posix_loop_t *pl, ior__io_t *io, unsigned revents)
{
    connect_req_t *c =
        (connect_req_t *)((char *)io - offsetof(connect_req_t, io));
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    (void)pl;
    (void)revents;
    if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr == EINPROGRESS || soerr == EALREADY)
        return; /* spurious wake-up */
    if (soerr != 0)
        c->f->base.os_error = soerr;
    req_finish(c, ior__posix_error(soerr));
}

static void on_timer(ior_loop_t *loop, void *user)
{
    connect_req_t *c = user;
    (void)loop;
    c->timer = 0;
    if (c->status == 0)
        c->f->base.os_error = 0; /* our own timeout: no OS error */
    req_finish(c, c->status != 0 ? c->status : IOR_ETIMEDOUT);
}

static void handle_close(ior__handle_t *h)
{
    ((connect_req_t *)h)->f->base.os_error = 0;
    req_finish((connect_req_t *)h, IOR_ECANCELED);
}

/* Creates, binds and starts connecting; *pending = 0 if already done. */
static int start_socket(const ior_addr_t *addr, const ior_addr_t *bind_to,
                        int *fd_out, int *soerr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;
    int r = ior__addr_to_sockaddr(addr, &ss, &len);
    if (r != 0)
        return r;
    fd = ior__socket(ss.ss_family, SOCK_STREAM);
    if (fd < 0)
        return ior__posix_error(-fd);
    if (bind_to != NULL) {
        struct sockaddr_storage bs;
        socklen_t blen;
        r = ior__addr_to_sockaddr(bind_to, &bs, &blen);
        if (r == 0 && bind(fd, (struct sockaddr *)&bs, blen) != 0)
            r = ior__posix_error(errno);
        if (r != 0) {
            ior__close_fd(fd);
            return r;
        }
    }
    *soerr = 0;
    do {
        r = connect(fd, (struct sockaddr *)&ss, len);
    } while (r != 0 && errno == EINTR);
    if (r != 0 && errno != EINPROGRESS)
        *soerr = errno;
    *fd_out = fd;
    return 0;
}

static int req_arm(connect_req_t *c, int soerr, uint64_t timeout_ms)
{
    int r;
    if (soerr != 0) {
        /* Refused at once (it happens on loopback): report from the loop. */
        c->status = ior__posix_error(soerr);
        c->f->base.os_error = soerr;
        return ior_call_later(c->loop, 0, on_timer, c, &c->timer);
    }
    r = ior__io_set(IOR__PL(c->loop), &c->io, IOR__IO_WRITE);
    if (r != 0)
        return r;
    if (timeout_ms > 0) {
        r = ior_call_later(c->loop, timeout_ms, on_timer, c, &c->timer);
        if (r != 0)
            ior__io_stop(IOR__PL(c->loop), &c->io);
    }
    return r;
}

int ior_tcp_connect(ior_loop_t *loop, const ior_addr_t *addr,
                    const ior_connect_options_t *opts, ior_connect_cb cb,
                    void *user)
{
    connect_req_t *c;
    ior__fd_t *f;
    int fd = -1;
    int soerr = 0;
    int r;
    if (loop == NULL || addr == NULL || cb == NULL)
        return IOR_EINVAL;
    c = ior__calloc(1, sizeof(*c));
    f = ior__fd_alloc();
    if (c == NULL || f == NULL) {
        ior__free(c);
        ior__free(f);
        return IOR_ENOMEM;
    }
    r = start_socket(addr, opts != NULL ? opts->bind : NULL, &fd, &soerr);
    if (r == 0) {
        c->loop = loop;
        c->f = f;
        c->cb = cb;
        c->user = user;
        c->handle.close = handle_close;
        ior__io_init(&c->io, fd, on_connected);
        r = req_arm(c, soerr, opts != NULL ? opts->timeout_ms : 0);
        if (r != 0)
            ior__close_fd(fd);
    }
    if (r != 0) {
        ior__free(c);
        ior__free(f);
        return r;
    }
    ior__core_handle_add(loop, &c->handle);
    return 0;
}
