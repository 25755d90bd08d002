/*
 * What every iorcat mode shares: logging, stdio, the exit status and the
 * end of the program, progress lines and totals, the -w idle and -q quit
 * timers, the -b/-p local address and the wildcard bind. A leaf over
 * ior.h: it calls no other iorcat file, only the mode table (c->mode).
 */
#include "iorcat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

void iorcat_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("iorcat: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
}

void iorcat_log_error(const char *what, int err, int os_error)
{
    char buf[256];
    if (os_error != 0)
        iorcat_log("%s: %s (%s)", what, ior_strerror(err),
                   ior_os_strerror(os_error, buf, sizeof buf));
    else
        iorcat_log("%s: %s", what, ior_strerror(err));
}

/* The connection t was lost with reason: TLS failures with their words. */
void iorcat_log_lost(const char *what, ior_transport_t *t, int reason)
{
    char why[256];
    if (ior_tls_reason(t, why, sizeof why)[0] != '\0')
        iorcat_log("%s: %s: %s", what, ior_strerror(reason), why);
    else
        iorcat_log_error(what, reason, ior_transport_os_error(t));
}

/* IOR_EDONE is a clean end; IOR_EABORTED is ours, and its cause logged. */
int iorcat_is_failure(int reason)
{
    return reason != IOR_EDONE && reason != IOR_EABORTED;
}

const char *iorcat_addr_text(const ior_addr_t *a, int with_port, char *buf,
                             size_t len)
{
    int r = with_port ? ior_addr_format(a, buf, len)
                      : ior_addr_format_ip(a, buf, len);
    return r == 0 ? buf : "?";
}

/* ------------------------------------------------------------------ */
/* The end of the program                                              */
/* ------------------------------------------------------------------ */

/*
 * The program may end once the socket, stdout and (-e) our stderr and the
 * child are all gone.
 */
static void check_exit(iorcat_t *c)
{
    if (c->finishing && c->sock == NULL && c->out == NULL && c->err == NULL &&
        c->proc == NULL && c->udp == NULL && !c->loop_done)
        ior_loop_stop(c->loop);
}

void iorcat_fail(iorcat_t *c, const char *what, int err)
{
    iorcat_log_error(what, err, 0);
    c->status = 1;
    iorcat_finish(c);
}

void iorcat_finish(iorcat_t *c)
{
    if (c->finishing) {
        check_exit(c);
        return;
    }
    c->finishing = 1;
    c->end_ms = ior_loop_now(c->loop);
    iorcat_cancel_timer(c, &c->progress_timer);
    iorcat_cancel_timer(c, &c->idle_timer);
    iorcat_cancel_timer(c, &c->quit_timer);
    /* First: the mode's socket may be stdout's producer. */
    if (c->mode->close != NULL)
        c->mode->close(c);
    if (c->in != NULL)
        (void)ior_transport_lose_connection(c->in);
    if (c->out != NULL)
        (void)ior_transport_lose_connection(c->out);
    if (c->err != NULL)
        (void)ior_transport_lose_connection(c->err);
    check_exit(c);
}

/* ------------------------------------------------------------------ */
/* stdio                                                               */
/* ------------------------------------------------------------------ */

static void out_lost(ior_transport_t *t, void *user, int reason)
{
    iorcat_t *c = user;
    /* The core has forgotten (and stopped) our producer, if any. */
    c->out = NULL;
    c->sock_on_out = 0;
    if (iorcat_is_failure(reason)) {
        iorcat_log_error("stdout", reason, ior_transport_os_error(t));
        c->status = 1;
        /* Nowhere to put what the peer sends: end it all. */
        if (c->sock != NULL)
            (void)ior_transport_abort_connection(c->sock);
        iorcat_finish(c);
        return;
    }
    check_exit(c);
}

static const ior_protocol_ops_t out_ops = {NULL, NULL, NULL, out_lost};

int iorcat_open_stdio(iorcat_t *c, const ior_protocol_ops_t *in_ops)
{
    int r = ior_stdio_open(c->loop, 1, &out_ops, c, &c->out);
    if (r == IOR_EBADF) {
        c->out = NULL; /* no stdout at all: what arrives is dropped */
    } else if (r != 0) {
        iorcat_log_error("stdout", r, 0);
        return r;
    }
    if (c->o.no_stdin) {
        c->in_eof = 1;
        return 0;
    }
    r = ior_stdio_open(c->loop, 0, in_ops, c, &c->in);
    if (r == IOR_EBADF) {
        c->in = NULL; /* no stdin at all: as nc -d */
        c->in_eof = 1;
        return 0;
    }
    if (r != 0) {
        iorcat_log_error("stdin", r, 0);
        return r;
    }
    (void)ior_transport_pause_producing(c->in);
    return 0;
}

int iorcat_pass(ior_transport_t *to, const void *data, size_t len,
                const char *what)
{
    int r;
    if (to == NULL)
        return 1;
    r = ior_transport_write(to, data, len);
    if (r == 0)
        return 0;
    if (r == IOR_ENOTCONN || r == IOR_ESHUTDOWN)
        return 1; /* closing by itself: its connection_lost follows */
    iorcat_log_error(what, r, 0);
    return -1;
}

void iorcat_stdin_lost(iorcat_t *c, ior_transport_t *t, int reason)
{
    if (iorcat_is_failure(reason)) {
        iorcat_log_error("stdin", reason, ior_transport_os_error(t));
        c->status = 1;
    }
    c->in = NULL;
    c->in_eof = 1;
}

void iorcat_slot_pause(void *slot)
{
    ior_transport_t *t = *(ior_transport_t **)slot;
    if (t != NULL)
        (void)ior_transport_pause_producing(t);
}

void iorcat_slot_resume(void *slot)
{
    ior_transport_t *t = *(ior_transport_t **)slot;
    if (t != NULL)
        (void)ior_transport_resume_producing(t);
}

/* ------------------------------------------------------------------ */
/* Progress and totals                                                 */
/* ------------------------------------------------------------------ */

static double rate(uint64_t bytes, uint64_t ms)
{
    return ms == 0 ? 0.0 : (double)bytes / MIB / ((double)ms / 1000.0);
}

static void progress_tick(ior_loop_t *loop, void *user)
{
    iorcat_t *c = user;
    uint64_t now = ior_loop_now(loop);
    uint64_t dt = now - c->tick_ms;
    c->progress_timer = 0;
    /* Quiet while nothing moves (an idle -k server, a stalled peer). */
    if (c->sent != c->tick_sent || c->received != c->tick_received)
        iorcat_log("sent %.1f MiB (%.1f MiB/s), received %.1f MiB "
                   "(%.1f MiB/s)",
                   (double)c->sent / MIB, rate(c->sent - c->tick_sent, dt),
                   (double)c->received / MIB,
                   rate(c->received - c->tick_received, dt));
    c->tick_ms = now;
    c->tick_sent = c->sent;
    c->tick_received = c->received;
    (void)ior_call_later(loop, 1000, progress_tick, c, &c->progress_timer);
}

void iorcat_started(iorcat_t *c)
{
    uint64_t now = ior_loop_now(c->loop);
    if (c->start_ms != 0)
        return;
    c->start_ms = now ? now : 1;
    c->tick_ms = now;
    if (c->o.progress)
        (void)ior_call_later(c->loop, 1000, progress_tick, c,
                             &c->progress_timer);
}

void iorcat_report(const iorcat_t *c)
{
    uint64_t ms;
    if ((!c->o.progress && !c->o.verbose) || c->start_ms == 0)
        return;
    ms = c->end_ms > c->start_ms ? c->end_ms - c->start_ms : 0;
    iorcat_log("sent %llu bytes, received %llu bytes in %.2f s "
               "(%.1f MiB/s out, %.1f MiB/s in)",
               (unsigned long long)c->sent, (unsigned long long)c->received,
               (double)ms / 1000.0, rate(c->sent, ms), rate(c->received, ms));
}

/* ------------------------------------------------------------------ */
/* Timers: -w idle and -q quit                                         */
/* ------------------------------------------------------------------ */

void iorcat_cancel_timer(iorcat_t *c, ior_timer_id *id)
{
    if (*id != 0)
        (void)ior_timer_cancel(c->loop, *id);
    *id = 0;
}

/*
 * Wakes up when wait_s could have passed since the last activity, and
 * only then: an active connection costs one timer per wait_s, not one per
 * byte moved.
 */
static void idle_tick(ior_loop_t *loop, void *user)
{
    iorcat_t *c = user;
    uint64_t limit = (uint64_t)c->o.wait_s * 1000;
    uint64_t idle = ior_loop_now(loop) - c->last_activity;
    c->idle_timer = 0;
    if (c->finishing)
        return;
    if (idle < limit) {
        (void)ior_call_later(loop, limit - idle, idle_tick, c, &c->idle_timer);
        return;
    }
    if (c->mode->idle != NULL)
        c->mode->idle(c);
}

void iorcat_arm_idle(iorcat_t *c)
{
    c->last_activity = ior_loop_now(c->loop);
    iorcat_cancel_timer(c, &c->idle_timer);
    if (c->o.wait_s > 0)
        (void)ior_call_later(c->loop, (uint64_t)c->o.wait_s * 1000, idle_tick,
                             c, &c->idle_timer);
}

/*
 * -q, as nc: the program ends this long after stdin's EOF; a TCP mode
 * still sends what is queued for the peer before its socket closes.
 */
static void quit_tick(ior_loop_t *loop, void *user)
{
    iorcat_t *c = user;
    (void)loop;
    c->quit_timer = 0;
    if (c->o.verbose)
        iorcat_log("stdin ended %u s ago: quitting (-q)", c->o.quit_s);
    iorcat_finish(c);
}

void iorcat_arm_quit(iorcat_t *c)
{
    if (!c->o.have_quit || c->quit_timer != 0 || c->finishing)
        return;
    (void)ior_call_later(c->loop, (uint64_t)c->o.quit_s * 1000, quit_tick, c,
                         &c->quit_timer);
}

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

int iorcat_local_addr(const iorcat_t *c, int family, ior_addr_t *out)
{
    const char *ip = c->o.local;
    if (ip == NULL)
        ip = family == IOR_AF_INET6 ? "::" : "0.0.0.0";
    if (ior_addr_parse(out, ip, c->o.local_port) != 0) {
        iorcat_log("-b: '%s' is not a numeric address", ip);
        return -1;
    }
    return 0;
}

void iorcat_bind_first(iorcat_t *c,
                       int (*bind_fn)(iorcat_t *c, const ior_addr_t *a,
                                      int v6only),
                       const char *what)
{
    char text[IOR_ADDR_STRLEN];
    size_t i;
    for (i = 0; i < c->naddrs; i++) {
        int r = bind_fn(c, &c->addrs[i], c->o.family == IOR_AF_INET6);
        if (r == 0)
            return;
        iorcat_log("%s on %s: %s", what,
                   iorcat_addr_text(&c->addrs[i], 1, text, sizeof text),
                   ior_strerror(r));
    }
    c->status = 1;
    iorcat_finish(c);
}

void iorcat_bind_any(iorcat_t *c,
                     int (*bind_fn)(iorcat_t *c, const ior_addr_t *a,
                                    int v6only),
                     const char *what)
{
    ior_addr_t a;
    int r = IOR_EAFNOSUPPORT;
    if (c->o.family != IOR_AF_INET) {
        (void)ior_addr_parse(&a, "::", c->o.port);
        r = bind_fn(c, &a, c->o.family == IOR_AF_INET6);
    }
    if (r != 0 && c->o.family != IOR_AF_INET6) {
        (void)ior_addr_parse(&a, "0.0.0.0", c->o.port);
        r = bind_fn(c, &a, 0);
    }
    if (r != 0) {
        iorcat_log("%s on port %u: %s", what, (unsigned)c->o.port,
                   ior_strerror(r));
        c->status = 1;
        iorcat_finish(c);
    }
}
