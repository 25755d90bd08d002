/*
 * The epoll poller (Linux), level-triggered (see internal_posix.h).
 * epoll_event.data.ptr points at the watcher; a watcher whose owner was
 * closed earlier in the same batch has fd < 0 and is skipped, and its
 * memory lives until the dispatch ends (loop.c frees zombies after it).
 */
#include "internal_posix.h"

#ifdef __linux__

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#define IOR__EPOLL_BATCH 256

typedef struct epoll_state {
    int epfd;
    struct epoll_event events[IOR__EPOLL_BATCH];
    /*
     * Descriptors epoll refuses (EPERM: regular files), always ready.
     * Removal leaves a NULL hole, compacted before the next wait.
     */
    ior__posix_io_t **always;
    size_t nalways;
    size_t cap_always;
    size_t holes;
} epoll_state_t;

static int ep_init(ior__posix_loop_t *pl)
{
    epoll_state_t *s = ior__calloc(1, sizeof(*s));
    if (s == NULL)
        return IOR_ENOMEM;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0) {
        int e = ior__posix_error(errno);
        ior__free(s);
        return e;
    }
    pl->poller_state = s;
    return 0;
}

static void ep_cleanup(ior__posix_loop_t *pl)
{
    epoll_state_t *s = pl->poller_state;
    if (s == NULL)
        return;
    ior__posix_close_fd(s->epfd);
    ior__free(s->always);
    ior__free(s);
    pl->poller_state = NULL;
}

static uint32_t ep_mask(unsigned events)
{
    uint32_t m = 0;
    if (events & IOR__IO_READ)
        m |= EPOLLIN;
    if (events & IOR__IO_WRITE)
        m |= EPOLLOUT;
    if (events & IOR__IO_RDHUP)
        m |= EPOLLRDHUP;
    return m;
}

static int ep_ctl(ior__posix_loop_t *pl, int op, ior__posix_io_t *io,
                  unsigned events)
{
    epoll_state_t *s = pl->poller_state;
    struct epoll_event ev;
    ev.events = ep_mask(events);
    ev.data.ptr = io;
    if (epoll_ctl(s->epfd, op, io->fd, &ev) != 0)
        return ior__posix_error(errno);
    return 0;
}

static int always_add(epoll_state_t *s, ior__posix_io_t *io)
{
    if (s->nalways == s->cap_always) {
        size_t cap = s->cap_always ? s->cap_always * 2 : 8;
        ior__posix_io_t **a = ior__realloc(s->always, cap * sizeof(*a));
        if (a == NULL)
            return IOR_ENOMEM;
        s->always = a;
        s->cap_always = cap;
    }
    io->always = 1;
    io->slot = s->nalways;
    s->always[s->nalways++] = io;
    return 0;
}

static int ep_add(ior__posix_loop_t *pl, ior__posix_io_t *io, unsigned events)
{
    int r = ep_ctl(pl, EPOLL_CTL_ADD, io, events);
    if (r == IOR_EACCES) /* EPERM: a regular file, always ready */
        r = always_add(pl->poller_state, io);
    return r;
}

static int ep_modify(ior__posix_loop_t *pl, ior__posix_io_t *io,
                     unsigned events)
{
    if (io->always)
        return 0; /* io->events is read at dispatch */
    return ep_ctl(pl, EPOLL_CTL_MOD, io, events);
}

static void ep_remove(ior__posix_loop_t *pl, ior__posix_io_t *io)
{
    epoll_state_t *s = pl->poller_state;
    struct epoll_event ev = {0};
    if (io->always) {
        s->always[io->slot] = NULL;
        s->holes++;
        io->always = 0;
        return;
    }
    (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, io->fd, &ev);
}

static void always_compact(epoll_state_t *s)
{
    size_t i;
    size_t j = 0;
    for (i = 0; i < s->nalways; i++) {
        if (s->always[i] == NULL)
            continue;
        s->always[j] = s->always[i];
        s->always[j]->slot = j;
        j++;
    }
    s->nalways = j;
    s->holes = 0;
}

/* Dispatches the always-ready descriptors; returns how many ran. */
static unsigned always_dispatch(ior__posix_loop_t *pl, unsigned max)
{
    epoll_state_t *s = pl->poller_state;
    size_t n = s->nalways;
    size_t i;
    unsigned done = 0;
    for (i = 0; i < n && done < max; i++) {
        ior__posix_io_t *io = s->always[i];
        if (io == NULL || io->fd < 0)
            continue;
        done++;
        io->cb(pl, io, io->events);
    }
    return done;
}

static void ep_wait(ior__posix_loop_t *pl, int timeout_ms, unsigned max)
{
    epoll_state_t *s = pl->poller_state;
    int n;
    int i;
    if (max == 0 || max > IOR__EPOLL_BATCH)
        max = IOR__EPOLL_BATCH;
    if (s->holes)
        always_compact(s);
    if (s->nalways > 0) {
        /* Files are always ready: do not sleep, and leave them room. */
        timeout_ms = 0;
        max -= always_dispatch(pl, max > 1 ? max / 2 : 1);
        if (max == 0)
            return;
    }
    n = epoll_wait(s->epfd, s->events, (int)max, timeout_ms);
    /* Callbacks see the time after the wait, as in libuv. */
    ior__core_loop_update_time(&pl->base);
    for (i = 0; i < n; i++) {
        ior__posix_io_t *io = s->events[i].data.ptr;
        uint32_t e = s->events[i].events;
        unsigned rev = 0;
        if (e & EPOLLIN)
            rev |= IOR__IO_READ;
        if (e & EPOLLOUT)
            rev |= IOR__IO_WRITE;
        if (e & (EPOLLERR | EPOLLHUP))
            rev |= IOR__IO_ERR;
        if (e & EPOLLRDHUP)
            rev |= IOR__IO_RDHUP;
        /* Closed or no longer interested since the batch was taken. */
        if (io->fd < 0 || !io->registered)
            continue;
        io->cb(pl, io, rev);
    }
}

const ior__posix_poller_ops_t ior__posix_poller_epoll = {
    "epoll", ep_init, ep_cleanup, ep_add, ep_modify, ep_remove, ep_wait,
};

#endif /* __linux__ */
