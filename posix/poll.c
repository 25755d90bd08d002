/*
 * The poll(2) poller: the portable fallback. Two parallel arrays (the
 * pollfd set and the watcher of each slot); a watcher knows its slot. A
 * removal during a dispatch leaves a hole (fd -1, watcher NULL) that is
 * compacted before the next poll, so slot numbers stay valid while the
 * batch is walked. The walk starts where the last capped one stopped, so
 * max_events never starves the same descriptors.
 */
#include "internal_posix.h"

#include <errno.h>
#include <poll.h>

typedef struct poll_state {
    struct pollfd *fds;
    ior__posix_io_t **ios;
    size_t n;
    size_t cap;
    size_t holes;
    size_t start; /* where the next dispatch walk begins */
} poll_state_t;

static int pl_init(ior__posix_loop_t *pl)
{
    poll_state_t *s = ior__calloc(1, sizeof(*s));
    if (s == NULL)
        return IOR_ENOMEM;
    pl->poller_state = s;
    return 0;
}

static void pl_cleanup(ior__posix_loop_t *pl)
{
    poll_state_t *s = pl->poller_state;
    if (s == NULL)
        return;
    ior__free(s->fds);
    ior__free(s->ios);
    ior__free(s);
    pl->poller_state = NULL;
}

static short pl_mask(unsigned events)
{
    short m = 0;
    if (events & IOR__IO_READ)
        m |= POLLIN;
    if (events & IOR__IO_WRITE)
        m |= POLLOUT;
#ifdef POLLRDHUP
    if (events & IOR__IO_RDHUP)
        m |= POLLRDHUP;
#endif
    return m;
}

static int grow(poll_state_t *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    struct pollfd *fds;
    ior__posix_io_t **ios;
    fds = ior__realloc(s->fds, cap * sizeof(*fds));
    if (fds == NULL)
        return IOR_ENOMEM;
    s->fds = fds;
    ios = ior__realloc(s->ios, cap * sizeof(*ios));
    if (ios == NULL)
        return IOR_ENOMEM;
    s->ios = ios;
    s->cap = cap;
    return 0;
}

static int pl_add(ior__posix_loop_t *pl, ior__posix_io_t *io, unsigned events)
{
    poll_state_t *s = pl->poller_state;
    if (s->n == s->cap && grow(s) != 0)
        return IOR_ENOMEM;
    s->fds[s->n].fd = io->fd;
    s->fds[s->n].events = pl_mask(events);
    s->fds[s->n].revents = 0; /* not polled yet: never "ready" this batch */
    s->ios[s->n] = io;
    io->slot = s->n++;
    return 0;
}

static int pl_modify(ior__posix_loop_t *pl, ior__posix_io_t *io,
                     unsigned events)
{
    poll_state_t *s = pl->poller_state;
    s->fds[io->slot].events = pl_mask(events);
    return 0;
}

static void pl_remove(ior__posix_loop_t *pl, ior__posix_io_t *io)
{
    poll_state_t *s = pl->poller_state;
    s->fds[io->slot].fd = -1;
    s->fds[io->slot].events = 0;
    s->fds[io->slot].revents = 0;
    s->ios[io->slot] = NULL;
    s->holes++;
}

static void compact(poll_state_t *s)
{
    size_t i;
    size_t j = 0;
    for (i = 0; i < s->n; i++) {
        if (s->ios[i] == NULL)
            continue;
        s->fds[j] = s->fds[i];
        s->ios[j] = s->ios[i];
        s->ios[j]->slot = j;
        j++;
    }
    s->n = j;
    s->holes = 0;
    if (s->start >= s->n)
        s->start = 0;
}

static unsigned pl_events(short re)
{
    unsigned rev = 0;
    if (re & POLLIN)
        rev |= IOR__IO_READ;
    if (re & POLLOUT)
        rev |= IOR__IO_WRITE;
    if (re & (POLLERR | POLLHUP | POLLNVAL))
        rev |= IOR__IO_ERR;
#ifdef POLLRDHUP
    if (re & POLLRDHUP)
        rev |= IOR__IO_RDHUP;
#endif
    return rev;
}

static void pl_wait(ior__posix_loop_t *pl, int timeout_ms, unsigned max)
{
    poll_state_t *s = pl->poller_state;
    size_t n;
    size_t k;
    unsigned done = 0;
    int ready;
    if (s->holes)
        compact(s);
    n = s->n;
    ready = poll(s->fds, (nfds_t)n, timeout_ms);
    /* Callbacks see the time after the wait, as in libuv. */
    ior__core_loop_update_time(&pl->base);
    if (ready <= 0)
        return;
    for (k = 0; k < n && ready > 0; k++) {
        size_t i = (s->start + k) % n;
        short re = s->fds[i].revents;
        ior__posix_io_t *io;
        if (re == 0)
            continue;
        s->fds[i].revents = 0;
        ready--;
        io = s->ios[i];
        if (io == NULL || io->fd < 0)
            continue;
        if (done == max) {
            s->start = i; /* the next walk begins with this one */
            return;
        }
        done++;
        io->cb(pl, io, pl_events(re));
    }
    s->start = 0;
}

const ior__posix_poller_ops_t ior__posix_poller_poll = {
    "poll", pl_init, pl_cleanup, pl_add, pl_modify, pl_remove, pl_wait,
};
