/*
 * The SIGCHLD fallback for systems without pidfds (Linux < 5.3, the BSDs,
 * macOS): the exit of a child is still seen without polling.
 *
 * A process-wide SIGCHLD handler writes one byte into a channel (a
 * self-pipe) of every loop that has asked for one; the loop watches its
 * channel's read end and then calls waitpid(pid, WNOHANG) for each of its
 * own children only, so children the program spawned by other means are
 * never reaped behind its back.
 *
 * Channels are never closed: a handler running on another thread may be
 * about to write into one, and a closed descriptor number can be reused by
 * anything. A loop gives its channel back when it is destroyed and the next
 * loop takes it over (drained first), so the number of pipes is bounded by
 * the most loops that ever watched children at the same time
 * (IOR__CHLD_CHANNELS). The previous SIGCHLD handler, if it was a
 * function, is still called.
 */
#include "internal_posix.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define IOR__CHLD_CHANNELS 64

static pthread_mutex_t chld_lock = PTHREAD_MUTEX_INITIALIZER;
static int chld_rfd[IOR__CHLD_CHANNELS];
static int chld_wfd[IOR__CHLD_CHANNELS];
static int chld_used[IOR__CHLD_CHANNELS];
static atomic_int chld_n; /* channels created; the handler reads these */
static int chld_installed;
static struct sigaction chld_old;

static void on_sigchld(int sig, siginfo_t *info, void *ctx)
{
    int saved = errno;
    int n = atomic_load(&chld_n);
    int i;
    for (i = 0; i < n; i++) {
        char b = 1;
        ssize_t w = write(chld_wfd[i], &b, 1);
        (void)w; /* full: a wake-up is already pending */
    }
    if ((chld_old.sa_flags & SA_SIGINFO) && chld_old.sa_sigaction != NULL)
        chld_old.sa_sigaction(sig, info, ctx);
    else if (!(chld_old.sa_flags & SA_SIGINFO) &&
             chld_old.sa_handler != SIG_DFL && chld_old.sa_handler != SIG_IGN)
        chld_old.sa_handler(sig);
    errno = saved;
}

static void chld_drain(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

static void on_chld_pipe(ior__posix_loop_t *pl, ior__io_t *io, unsigned revents)
{
    (void)revents;
    chld_drain(io->fd);
    ior__process_sigchld(pl);
}

/* A free channel (drained), or a new one; -1 with *err set. */
static int chld_take(int *err)
{
    int i;
    int n = atomic_load(&chld_n);
    int fds[2];
    int r;
    for (i = 0; i < n; i++) {
        if (!chld_used[i]) {
            chld_used[i] = 1;
            chld_drain(chld_rfd[i]);
            return i;
        }
    }
    if (n == IOR__CHLD_CHANNELS) {
        *err = IOR_EMFILE;
        return -1;
    }
    r = ior__posix_pipe(fds);
    if (r < 0) {
        *err = ior__posix_error(-r);
        return -1;
    }
    chld_rfd[n] = fds[0];
    chld_wfd[n] = fds[1];
    chld_used[n] = 1;
    atomic_store(&chld_n, n + 1); /* published after the fds are set */
    return n;
}

static void chld_install(void)
{
    struct sigaction sa;
    if (chld_installed)
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigchld;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &sa, &chld_old) == 0)
        chld_installed = 1;
}

int ior__chld_open(ior__posix_loop_t *pl)
{
    int err = 0;
    int slot;
    int r;
    if (pl->chld_io.fd >= 0)
        return 0;
    pthread_mutex_lock(&chld_lock);
    slot = chld_take(&err);
    if (slot >= 0)
        chld_install();
    pthread_mutex_unlock(&chld_lock);
    if (slot < 0)
        return err;
    ior__io_init(&pl->chld_io, chld_rfd[slot], on_chld_pipe);
    r = ior__io_set(pl, &pl->chld_io, IOR__IO_READ);
    if (r != 0) {
        pthread_mutex_lock(&chld_lock);
        chld_used[slot] = 0;
        pthread_mutex_unlock(&chld_lock);
        pl->chld_io.fd = -1;
    }
    return r;
}

void ior__chld_poke(ior__posix_loop_t *pl)
{
    int i;
    int n = atomic_load(&chld_n);
    for (i = 0; i < n; i++) {
        if (chld_rfd[i] == pl->chld_io.fd) {
            char b = 1;
            ssize_t w = write(chld_wfd[i], &b, 1);
            (void)w;
            return;
        }
    }
}

void ior__chld_close(ior__posix_loop_t *pl)
{
    int i;
    int n;
    if (pl->chld_io.fd < 0)
        return;
    ior__io_stop(pl, &pl->chld_io);
    pthread_mutex_lock(&chld_lock);
    n = atomic_load(&chld_n);
    for (i = 0; i < n; i++)
        if (chld_rfd[i] == pl->chld_io.fd)
            chld_used[i] = 0;
    pthread_mutex_unlock(&chld_lock);
    pl->chld_io.fd = -1;
}
