/*
 * The POSIX loop: the poller chosen at creation, the wake-up descriptor
 * (eventfd on Linux, else a self-pipe), the call_from_thread lock, the
 * shared read buffer, and SIGINT/SIGTERM through a self-pipe.
 *
 * The core's ior_loop_run drives it: timers, pending work, then
 * ior__os_loop_poll with the timeout the core computed.
 */
#include "internal_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/eventfd.h>
#define IOR__HAVE_EVENTFD 1
#endif

/* 256 KiB: one socket read of a busy stream; shared, so idle costs none. */
#define IOR__RBUF_SIZE (256 * 1024)

void ior__posix_close_fd(int fd)
{
    int saved = errno;
    if (fd >= 0)
        (void)close(fd);
    errno = saved;
}

void ior__posix_io_init(ior__posix_io_t *io, int fd, ior__posix_io_cb cb)
{
    memset(io, 0, sizeof(*io));
    io->fd = fd;
    io->cb = cb;
}

int ior__posix_io_set(ior__posix_loop_t *pl, ior__posix_io_t *io,
                      unsigned events)
{
    int r = 0;
    if (io->fd < 0)
        return IOR_EBADF;
    if (events == io->events && (events == 0 || io->registered))
        return 0;
    if (events == 0) {
        ior__posix_io_stop(pl, io);
        return 0;
    }
    if (io->registered)
        r = pl->poller->modify(pl, io, events);
    else
        r = pl->poller->add(pl, io, events);
    if (r == 0) {
        io->registered = 1;
        io->events = events;
    }
    return r;
}

void ior__posix_io_stop(ior__posix_loop_t *pl, ior__posix_io_t *io)
{
    if (io->registered)
        pl->poller->remove(pl, io);
    io->registered = 0;
    io->events = 0;
}

uint64_t ior__os_now_ms(void)
{
    return ior__os_hrtime_ns() / 1000000u;
}

uint64_t ior__os_hrtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ior__os_getenv(const char *name, char *buf, size_t len)
{
    const char *v = getenv(name);
    size_t n = v != NULL ? strlen(v) : 0;
    if (n == 0 || n >= len)
        return IOR_ENOENT;
    memcpy(buf, v, n + 1);
    return 0;
}

/* name: chosen by the core (common/loop.c), NULL for the default. */
static const ior__posix_poller_ops_t *choose_poller(const char *name)
{
    if (name == NULL) {
#ifdef IOR_DEFAULT_POLLER
        name = IOR_DEFAULT_POLLER; /* set by the build (IOR_BACKEND) */
#endif
    }
    if (name == NULL || name[0] == '\0') {
#ifdef __linux__
        return &ior__posix_poller_epoll;
#else
        return &ior__posix_poller_poll;
#endif
    }
#ifdef __linux__
    if (strcmp(name, "epoll") == 0)
        return &ior__posix_poller_epoll;
#endif
    if (strcmp(name, "poll") == 0)
        return &ior__posix_poller_poll;
    return NULL;
}

/* Drains the wake-up descriptor, then lets the core run what was queued. */
static void on_wake(ior__posix_loop_t *pl, ior__posix_io_t *io,
                    unsigned revents)
{
    char buf[64];
    (void)revents;
    /* Until EAGAIN: one read resets an eventfd; a pipe may hold several. */
    while (read(io->fd, buf, sizeof(buf)) > 0) {
    }
    ior__core_loop_run_async(&pl->base);
}

static int pipe_cloexec_nonblock(int fds[2])
{
#ifdef __linux__
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return -errno;
#else
    int i;
    if (pipe(fds) != 0)
        return -errno;
    for (i = 0; i < 2; i++) {
        if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0 ||
            fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK) != 0) {
            int e = errno;
            ior__posix_close_fd(fds[0]);
            ior__posix_close_fd(fds[1]);
            return -e;
        }
    }
#endif
    return 0;
}

static void wake_close(ior__posix_loop_t *pl)
{
    ior__posix_io_stop(pl, &pl->wake_io);
    if (pl->wake_wfd != pl->wake_io.fd)
        ior__posix_close_fd(pl->wake_wfd);
    ior__posix_close_fd(pl->wake_io.fd);
    pl->wake_io.fd = -1;
    pl->wake_wfd = -1;
}

static int wake_open(ior__posix_loop_t *pl)
{
    int r;
#ifdef IOR__HAVE_EVENTFD
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return ior__posix_error(errno);
    ior__posix_io_init(&pl->wake_io, fd, on_wake);
    pl->wake_wfd = fd;
#else
    int fds[2];
    r = pipe_cloexec_nonblock(fds);
    if (r < 0)
        return ior__posix_error(-r);
    ior__posix_io_init(&pl->wake_io, fds[0], on_wake);
    pl->wake_wfd = fds[1];
#endif
    r = ior__posix_io_set(pl, &pl->wake_io, IOR__IO_READ);
    if (r != 0)
        wake_close(pl);
    return r;
}

/*
 * A peer that resets while we write must not kill the process: SIGPIPE is
 * ignored process-wide, once, as Twisted and libuv users expect; sends
 * also pass MSG_NOSIGNAL where it exists.
 */
static void ignore_sigpipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGPIPE, &sa, NULL);
}

static int loop_setup(ior__posix_loop_t *pl, unsigned max_events)
{
    int r = ior__core_loop_init(&pl->base, pl->poller->name, max_events);
    if (r != 0)
        return r;
    pl->rbuf_size = IOR__RBUF_SIZE;
    pl->rbuf = ior__malloc(pl->rbuf_size);
    pl->send_bufs = ior__calloc(IOR__IOV_MAX, sizeof(*pl->send_bufs));
    pl->send_iov = ior__calloc(IOR__IOV_MAX, sizeof(*pl->send_iov));
    if (pl->rbuf == NULL || pl->send_bufs == NULL || pl->send_iov == NULL)
        return IOR_ENOMEM;
    r = pl->poller->init(pl);
    if (r != 0)
        return r;
    r = wake_open(pl);
    if (r != 0) {
        pl->poller->cleanup(pl);
        return r;
    }
    return 0;
}

int ior__os_loop_create(ior_loop_t **out, const char *backend,
                        unsigned max_events)
{
    ior__posix_loop_t *pl;
    const ior__posix_poller_ops_t *poller = choose_poller(backend);
    int r;
    if (poller == NULL)
        return IOR_ENOTSUP;
    pl = ior__calloc(1, sizeof(*pl));
    if (pl == NULL)
        return IOR_ENOMEM;
    pl->poller = poller;
    pl->reserve_fd = -1;
    pl->wake_io.fd = -1;
    pl->wake_wfd = -1;
    pl->sig_io.fd = -1;
    if (pthread_mutex_init(&pl->lock, NULL) != 0) {
        ior__free(pl);
        return IOR_ENOMEM;
    }
    r = loop_setup(pl, max_events);
    if (r != 0) {
        ior__timers_cleanup(&pl->base.timers);
        ior__free(pl->rbuf);
        ior__free(pl->send_bufs);
        ior__free(pl->send_iov);
        pthread_mutex_destroy(&pl->lock);
        ior__free(pl);
        return r;
    }
    ignore_sigpipe();
    *out = &pl->base;
    return 0;
}

void ior__os_loop_destroy(ior_loop_t *loop)
{
    ior__posix_loop_t *pl = IOR__PL(loop);
    ior__posix_signal_close(pl);
    wake_close(pl);
    ior__posix_close_fd(pl->reserve_fd);
    pl->poller->cleanup(pl);
    ior__free(pl->rbuf);
    ior__free(pl->send_bufs);
    ior__free(pl->send_iov);
    pthread_mutex_destroy(&pl->lock);
    ior__free(pl);
}

static void free_zombies(ior__posix_loop_t *pl)
{
    while (pl->zombies != NULL) {
        ior__posix_fd_t *f = pl->zombies;
        pl->zombies = f->zombie_next;
        pl->nzombies--;
        ior__free(f);
    }
    while (pl->later != NULL) {
        ior__posix_later_t *z = pl->later;
        pl->later = z->next;
        pl->nzombies--;
        ior__free(z->mem);
    }
}

void ior__posix_free_later(ior__posix_loop_t *pl, ior__posix_later_t *z,
                           void *mem)
{
    if (!pl->dispatching) {
        ior__free(mem);
        return;
    }
    z->mem = mem;
    z->next = pl->later;
    pl->later = z;
    pl->nzombies++;
}

void ior__os_loop_poll(ior_loop_t *loop, int timeout_ms)
{
    ior__posix_loop_t *pl = IOR__PL(loop);
    pl->dispatching = 1;
    pl->poller->wait(pl, timeout_ms, loop->max_events);
    pl->dispatching = 0;
    free_zombies(pl);
}

size_t ior__os_loop_outstanding(const ior_loop_t *loop)
{
    /* Sends and reads complete synchronously here: only zombies count. */
    return IOR__PL(loop)->nzombies;
}

void ior__os_loop_wakeup(ior_loop_t *loop)
{
    ior__posix_loop_t *pl = IOR__PL(loop);
    ssize_t n;
    /* Async-signal-safe and thread-safe: one write(2). */
#ifdef IOR__HAVE_EVENTFD
    uint64_t one = 1;
    n = write(pl->wake_wfd, &one, sizeof(one));
#else
    char one = 1;
    n = write(pl->wake_wfd, &one, 1);
#endif
    (void)n; /* EAGAIN: a wake-up is already pending, which is enough. */
}

void ior__os_loop_lock(ior_loop_t *loop)
{
    pthread_mutex_lock(&IOR__PL(loop)->lock);
}

void ior__os_loop_unlock(ior_loop_t *loop)
{
    pthread_mutex_unlock(&IOR__PL(loop)->lock);
}

/* Used by signal.c, which needs the same pipe flavour. */
int ior__posix_pipe(int fds[2])
{
    return pipe_cloexec_nonblock(fds);
}
