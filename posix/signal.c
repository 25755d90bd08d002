/*
 * Signals, one mechanism for all of them (libuv's uv_signal shape):
 * SIGINT and SIGTERM (ior_loop_stop_on_interrupt) and SIGCHLD (the exit
 * of a child on systems without pidfds: Linux < 5.3, the BSDs, macOS).
 *
 * One process-wide handler writes the signal's number into the channel
 * (a self-pipe) of every loop that watches that signal; only that byte
 * is done inside the handler (async-signal-safe). The loop reads its
 * channel and acts from its own thread: SIGINT/SIGTERM stop it, SIGCHLD
 * makes it waitpid(pid, WNOHANG) each of its own children only, so
 * children the program spawned by other means are never reaped behind
 * its back.
 *
 * Channels are never closed: a handler running on another thread may be
 * about to write into one, and a closed descriptor number can be reused
 * by anything. A loop gives its channel back when it is destroyed and the
 * next loop takes it over (drained first), so the number of pipes is
 * bounded by the most loops that ever watched signals at the same time
 * (IOR__SIG_CHANNELS). SIGINT/SIGTERM get their previous disposition
 * back when the loop holding them goes (the core lets one loop hold them,
 * common/loop.c); the SIGCHLD handler stays, and calls the previous one
 * if it was a function.
 */
#include "internal_posix.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define IOR__SIG_CHANNELS 64

static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static int sig_rfd[IOR__SIG_CHANNELS];
static int sig_wfd[IOR__SIG_CHANNELS];
static int sig_used[IOR__SIG_CHANNELS];
static atomic_uint sig_want[IOR__SIG_CHANNELS]; /* IOR__SIG_* of the slot */
static atomic_int sig_n; /* channels created; the handler reads these */
static int chld_installed;
static struct sigaction old_int, old_term, old_chld;

static unsigned sig_bit(int signo)
{
    switch (signo) {
    case SIGINT:
    case SIGTERM:
        return IOR__SIG_INTERRUPT;
    case SIGCHLD:
        return IOR__SIG_CHILD;
    default:
        return 0;
    }
}

static void chain_old_chld(int signo, siginfo_t *info, void *ctx)
{
    if ((old_chld.sa_flags & SA_SIGINFO) && old_chld.sa_sigaction != NULL)
        old_chld.sa_sigaction(signo, info, ctx);
    else if (!(old_chld.sa_flags & SA_SIGINFO) &&
             old_chld.sa_handler != SIG_DFL && old_chld.sa_handler != SIG_IGN)
        old_chld.sa_handler(signo);
}

static void on_signal(int signo, siginfo_t *info, void *ctx)
{
    int saved = errno;
    unsigned bit = sig_bit(signo);
    int n = atomic_load(&sig_n);
    int i;
    for (i = 0; i < n; i++) {
        if (atomic_load(&sig_want[i]) & bit) {
            char b = (char)signo;
            ssize_t w = write(sig_wfd[i], &b, 1);
            (void)w; /* full: a wake-up is already pending */
        }
    }
    if (signo == SIGCHLD)
        chain_old_chld(signo, info, ctx);
    errno = saved;
}

static void drain_channel(int fd, unsigned *seen)
{
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        ssize_t i;
        for (i = 0; i < n; i++)
            *seen |= sig_bit(buf[i]);
    }
}

static void on_channel(ior__posix_loop_t *pl, ior__posix_io_t *io,
                       unsigned revents)
{
    unsigned seen = 0;
    (void)revents;
    drain_channel(io->fd, &seen);
    seen &= atomic_load(&sig_want[pl->sig_slot]);
    if (seen & IOR__SIG_CHILD)
        ior__posix_process_sigchld(pl);
    if (seen & IOR__SIG_INTERRUPT)
        ior_loop_stop(&pl->base);
}

/* A free channel (drained), or a new one; -1 with *err set. Locked. */
static int channel_take(int *err)
{
    unsigned ignored = 0;
    int n = atomic_load(&sig_n);
    int fds[2];
    int i, r;
    for (i = 0; i < n; i++) {
        if (!sig_used[i]) {
            sig_used[i] = 1;
            drain_channel(sig_rfd[i], &ignored);
            return i;
        }
    }
    if (n == IOR__SIG_CHANNELS) {
        *err = IOR_EMFILE;
        return -1;
    }
    r = ior__posix_pipe(fds);
    if (r < 0) {
        *err = ior__posix_error(-r);
        return -1;
    }
    sig_rfd[n] = fds[0];
    sig_wfd[n] = fds[1];
    sig_used[n] = 1;
    atomic_store(&sig_n, n + 1); /* published after the fds are set */
    return n;
}

/* The loop's channel, taken and watched on first use. */
static int channel_open(ior__posix_loop_t *pl)
{
    int err = 0;
    int slot, r;
    if (pl->sig_io.fd >= 0)
        return 0;
    pthread_mutex_lock(&sig_lock);
    slot = channel_take(&err);
    pthread_mutex_unlock(&sig_lock);
    if (slot < 0)
        return err;
    ior__posix_io_init(&pl->sig_io, sig_rfd[slot], on_channel);
    r = ior__posix_io_set(pl, &pl->sig_io, IOR__IO_READ);
    if (r != 0) {
        pthread_mutex_lock(&sig_lock);
        sig_used[slot] = 0;
        pthread_mutex_unlock(&sig_lock);
        pl->sig_io.fd = -1;
        return r;
    }
    pl->sig_slot = slot;
    return 0;
}

static void install(int signo, struct sigaction *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    if (signo == SIGCHLD)
        sa.sa_flags |= SA_NOCLDSTOP;
    (void)sigaction(signo, &sa, old);
}

int ior__posix_signal_watch(ior__posix_loop_t *pl, unsigned what)
{
    int r = channel_open(pl);
    if (r != 0)
        return r;
    /* Wanted before the handler exists, so no signal is missed. */
    atomic_fetch_or(&sig_want[pl->sig_slot], what);
    pthread_mutex_lock(&sig_lock);
    if ((what & IOR__SIG_CHILD) && !chld_installed) {
        install(SIGCHLD, &old_chld);
        chld_installed = 1;
    }
    pthread_mutex_unlock(&sig_lock);
    if (what & IOR__SIG_INTERRUPT) {
        install(SIGINT, &old_int);
        install(SIGTERM, &old_term);
    }
    return 0;
}

void ior__posix_signal_poke(ior__posix_loop_t *pl, int signo)
{
    char b = (char)signo;
    ssize_t w;
    if (pl->sig_io.fd < 0)
        return;
    w = write(sig_wfd[pl->sig_slot], &b, 1);
    (void)w; /* full: a wake-up is already pending */
}

void ior__posix_signal_close(ior__posix_loop_t *pl)
{
    unsigned had;
    if (pl->sig_io.fd < 0)
        return;
    had = atomic_exchange(&sig_want[pl->sig_slot], 0u);
    if (had & IOR__SIG_INTERRUPT) {
        (void)sigaction(SIGINT, &old_int, NULL);
        (void)sigaction(SIGTERM, &old_term, NULL);
    }
    ior__posix_io_stop(pl, &pl->sig_io);
    pthread_mutex_lock(&sig_lock);
    sig_used[pl->sig_slot] = 0;
    pthread_mutex_unlock(&sig_lock);
    pl->sig_io.fd = -1;
}

/* The core lets one loop at a time hold the interrupts (common/loop.c). */
int ior__os_stop_on_interrupt(ior_loop_t *loop)
{
    return ior__posix_signal_watch(IOR__PL(loop), IOR__SIG_INTERRUPT);
}
