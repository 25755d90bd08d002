/*
 * SIGINT and SIGTERM stop the loop through a self-pipe: the handler only
 * writes one byte (async-signal-safe); the loop reads it and calls
 * ior_loop_stop from its own thread, where taking the core's lock is safe.
 * One loop per process at a time, as ior.h says.
 */
#include "internal_posix.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int sig_wfd = -1;
static ior__posix_loop_t *sig_loop;
static struct sigaction old_int;
static struct sigaction old_term;

static void on_signal(int signo)
{
    int saved = errno;
    char b = (char)signo;
    ssize_t n = write(sig_wfd, &b, 1);
    (void)n; /* a full pipe already holds a stop request */
    errno = saved;
}

static void on_sig_pipe(ior__posix_loop_t *pl, ior__io_t *io, unsigned revents)
{
    char buf[32];
    (void)revents;
    while (read(io->fd, buf, sizeof(buf)) > 0) {
    }
    ior_loop_stop(&pl->base);
}

int ior__os_stop_on_interrupt(ior_loop_t *loop)
{
    ior__posix_loop_t *pl = IOR__PL(loop);
    struct sigaction sa;
    int fds[2];
    int r;
    r = ior__posix_pipe(fds);
    if (r < 0)
        return ior__posix_error(-r);
    ior__io_init(&pl->sig_io, fds[0], on_sig_pipe);
    r = ior__io_set(pl, &pl->sig_io, IOR__IO_READ);
    if (r != 0) {
        ior__close_fd(fds[0]);
        ior__close_fd(fds[1]);
        pl->sig_io.fd = -1;
        return r;
    }
    sig_wfd = fds[1];
    sig_loop = pl;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    (void)sigaction(SIGINT, &sa, &old_int);
    (void)sigaction(SIGTERM, &sa, &old_term);
    return 0;
}

void ior__posix_signal_close(ior__posix_loop_t *pl)
{
    if (sig_loop != pl)
        return;
    (void)sigaction(SIGINT, &old_int, NULL);
    (void)sigaction(SIGTERM, &old_term, NULL);
    ior__io_stop(pl, &pl->sig_io);
    ior__close_fd(pl->sig_io.fd);
    ior__close_fd(sig_wfd);
    pl->sig_io.fd = -1;
    sig_wfd = -1;
    sig_loop = NULL;
}
