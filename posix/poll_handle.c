/*
 * Poll handles on POSIX: the foreign descriptor joins the loop's epoll or
 * poll set through an ordinary watcher (common/poll.c has the rules).
 */
#include "internal_posix.h"

#include <errno.h>
#include <sys/socket.h>

typedef struct posix_poll {
    struct ior_poll base;
    ior__posix_io_t io;
    ior__posix_later_t later;
} posix_poll_t;

static void on_ready(ior__posix_loop_t *pl, ior__posix_io_t *io,
                     unsigned revents)
{
    posix_poll_t *p = IOR__CONTAINER(io, posix_poll_t, io);
    unsigned ev = 0;
    (void)pl;
    if (revents & IOR__IO_READ)
        ev |= IOR_POLL_READABLE;
    if (revents & IOR__IO_WRITE)
        ev |= IOR_POLL_WRITABLE;
    if (revents & IOR__IO_RDHUP)
        ev |= IOR_POLL_DISCONNECT;
    if (revents & IOR__IO_ERR)
        ev |= IOR__POLL_ERROR;
    ior__core_poll_ready(&p->base, 0, ev);
}

int ior__os_poll_open(ior_loop_t *loop, intptr_t sock, ior_poll_t **out)
{
    posix_poll_t *p;
    int type;
    socklen_t len = sizeof(type);
    (void)loop;
    if (sock < 0 || sock > INT_MAX ||
        getsockopt((int)sock, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
        return IOR_EBADF; /* closed, or not a socket (ENOTSOCK) */
    p = ior__calloc(1, sizeof(*p));
    if (p == NULL)
        return IOR_ENOMEM;
    ior__posix_io_init(&p->io, (int)sock, on_ready);
    *out = &p->base;
    return 0;
}

int ior__os_poll_update(ior_poll_t *base)
{
    posix_poll_t *p = (posix_poll_t *)base;
    unsigned want = 0;
    if (base->events & IOR_POLL_READABLE)
        want |= IOR__IO_READ;
    if (base->events & IOR_POLL_WRITABLE)
        want |= IOR__IO_WRITE;
    if (base->events & IOR_POLL_DISCONNECT)
        want |= IOR__IO_RDHUP;
    return ior__posix_io_set(IOR__PL(base->loop), &p->io, want);
}

/* The descriptor is the caller's: out of the poller, never closed. */
void ior__os_poll_close(ior_poll_t *base)
{
    posix_poll_t *p = (posix_poll_t *)base;
    ior__posix_loop_t *pl = IOR__PL(base->loop);
    ior__posix_io_stop(pl, &p->io);
    p->io.fd = -1; /* a later event of this batch is skipped */
    ior__posix_free_later(pl, &p->later, p);
}
