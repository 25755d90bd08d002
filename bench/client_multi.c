/*
 * The many-connection modes of bench/client: fanin, connrate and idle, on
 * one epoll loop (see client.c for what each measures).
 */
#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256

typedef struct conn {
    int fd;
    int connecting; /* waiting for a non-blocking connect to finish */
    size_t got;     /* bytes of the current echo received */
} conn_t;

static int ep_new(const client_opts_t *o)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        fail(o, "epoll_create1", errno);
    return ep;
}

static void ep_set(const client_opts_t *o, int ep, int op, int fd,
                   uint32_t events, uint32_t idx)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u32 = idx;
    if (epoll_ctl(ep, op, fd, &ev) != 0)
        fail(o, "epoll_ctl", errno);
}

static conn_t *conns_new(const client_opts_t *o)
{
    conn_t *c = calloc(o->conns, sizeof(*c));
    unsigned i;
    if (c == NULL)
        fail(o, "malloc", ENOMEM);
    for (i = 0; i < o->conns; i++)
        c[i].fd = -1;
    return c;
}

/* Reads what has arrived of the current echo on c. Returns 1 once all
 * o->size bytes of it are in (and checked), 0 if more must come. */
static int echo_progress(const client_opts_t *o, conn_t *c)
{
    unsigned char buf[CLIENT_MAX_MSG];
    ssize_t n = recv(c->fd, buf, o->size - c->got, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0)
        fail(o, "recv", errno);
    if (n == 0)
        fail(o, "recv: early EOF", 0);
    if (memcmp(buf, client_pattern(c->got), (size_t)n) != 0)
        fail(o, "echo mismatch", 0);
    c->got += (size_t)n;
    if (c->got < o->size)
        return 0;
    c->got = 0;
    return 1;
}

/* One small request on a socket whose send buffer is empty: it always
 * fits, so a short send means something is badly wrong. */
static void send_request(const client_opts_t *o, int fd)
{
    ssize_t n = send(fd, client_pattern(0), o->size, MSG_NOSIGNAL);
    if (n != (ssize_t)o->size)
        fail(o, "send", n < 0 ? errno : 0);
}

void run_fanin(const client_opts_t *o)
{
    conn_t *c = conns_new(o);
    struct epoll_event ev[MAX_EVENTS];
    int ep = ep_new(o);
    uint64_t rts = 0;
    unsigned i, outstanding = o->conns;
    double t0, t, end, deadline;
    for (i = 0; i < o->conns; i++) {
        c[i].fd = client_connect(o);
        ep_set(o, ep, EPOLL_CTL_ADD, c[i].fd, EPOLLIN, i);
    }
    t0 = t = now_s();
    end = t0 + o->seconds;
    deadline = t0 + o->timeout;
    for (i = 0; i < o->conns; i++)
        send_request(o, c[i].fd);
    /* After `end` no new request goes out; the outstanding ones are
     * drained so that every connection closes cleanly. */
    while (outstanding > 0) {
        int k, n = epoll_wait(ep, ev, MAX_EVENTS, 100);
        if (n < 0 && errno != EINTR)
            fail(o, "epoll_wait", errno);
        if (t < end)
            t = now_s();
        if (now_s() > deadline)
            fail(o, "timeout", ETIMEDOUT);
        for (k = 0; k < n; k++) {
            conn_t *x = &c[ev[k].data.u32];
            if (!echo_progress(o, x))
                continue;
            if (t < end && !client_stopped()) {
                rts++;
                send_request(o, x->fd);
            } else {
                outstanding--;
            }
        }
    }
    for (i = 0; i < o->conns; i++)
        close(c[i].fd);
    close(ep);
    free(c);
    printf("{\"mode\":\"fanin\",\"conns\":%u,\"size\":%zu,"
           "\"round_trips\":%llu,\"seconds\":%.6f,\"rt_per_s\":%.1f}\n",
           o->conns, o->size, (unsigned long long)rts, t - t0,
           (double)rts / (t - t0));
}

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#define SOURCE_ADDRS 32

/*
 * Every closed connection leaves the client's end in TIME_WAIT for 60 s,
 * and one source address has only ~28,000 ephemeral ports: connrate
 * would measure the port allocator, and starve other programs on the
 * machine of ports. Towards 127.x.y.z the client therefore rotates over
 * the source addresses 127.0.0.2 to .33 (all of 127/8 is loopback); the
 * port is still picked at connect time (IP_BIND_ADDRESS_NO_PORT).
 */
static void bind_source(const client_opts_t *o, int fd)
{
    static unsigned next;
    const struct sockaddr_in *to = (const struct sockaddr_in *)&o->addr;
    struct sockaddr_in from;
    int one = 1;
    if (o->addr.ss_family != AF_INET ||
        (ntohl(to->sin_addr.s_addr) >> 24) != 127)
        return;
    memset(&from, 0, sizeof(from));
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(0x7f000002u + next++ % SOURCE_ADDRS);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&from, sizeof(from)) != 0)
        fail(o, "bind source address", errno);
}

/* Starts a non-blocking connect on slot idx; it is registered for
 * EPOLLOUT, which reports the connect's end. */
static void conn_start(const client_opts_t *o, int ep, conn_t *c,
                       uint32_t idx)
{
    c->fd = client_socket(o, 1);
    if (c->fd < 0)
        fail(o, "socket", errno);
    bind_source(o, c->fd);
    c->connecting = 1;
    c->got = 0;
    if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addrlen) != 0 &&
        errno != EINPROGRESS)
        fail(o, "connect", errno);
    ep_set(o, ep, EPOLL_CTL_ADD, c->fd, EPOLLOUT, idx);
}

/* The connect finished: check it and send the request. */
static void conn_connected(const client_opts_t *o, int ep, conn_t *c,
                           uint32_t idx)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
        fail(o, "connect", err ? err : errno);
    c->connecting = 0;
    ep_set(o, ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, idx);
    send_request(o, c->fd);
}

/* One event for slot idx. Returns 1 when that connection's echo is
 * complete. */
static int conn_event(const client_opts_t *o, int ep, conn_t *c, uint32_t idx)
{
    if (c->connecting) {
        conn_connected(o, ep, c, idx);
        return 0;
    }
    return echo_progress(o, c);
}

void run_connrate(const client_opts_t *o)
{
    conn_t *c = conns_new(o);
    struct epoll_event ev[MAX_EVENTS];
    int ep = ep_new(o);
    uint64_t done = 0;
    unsigned i, active = o->conns;
    double t0 = now_s(), t = t0, end = t0 + o->seconds;
    double deadline = t0 + o->timeout;
    for (i = 0; i < o->conns; i++)
        conn_start(o, ep, &c[i], i);
    while (active > 0) {
        int k, n = epoll_wait(ep, ev, MAX_EVENTS, 100);
        if (n < 0 && errno != EINTR)
            fail(o, "epoll_wait", errno);
        if (t < end)
            t = now_s();
        if (now_s() > deadline)
            fail(o, "timeout", ETIMEDOUT);
        for (k = 0; k < n; k++) {
            uint32_t idx = ev[k].data.u32;
            if (!conn_event(o, ep, &c[idx], idx))
                continue;
            /* close() also removes it from the epoll set. */
            close(c[idx].fd);
            c[idx].fd = -1;
            if (t < end && !client_stopped()) {
                done++;
                conn_start(o, ep, &c[idx], idx);
            } else {
                active--;
            }
        }
    }
    close(ep);
    free(c);
    printf("{\"mode\":\"connrate\",\"concurrency\":%u,\"size\":%zu,"
           "\"connections\":%llu,\"seconds\":%.6f,\"conn_per_s\":%.1f}\n",
           o->conns, o->size, (unsigned long long)done, t - t0,
           (double)done / (t - t0));
}

/* Opens every idle connection, at most `window` connects or echoes in
 * progress at a time so a server with a short listen backlog is not
 * flooded with SYNs it drops (a dropped SYN costs a 1 s retransmit). */
static void idle_open(const client_opts_t *o, conn_t *c, int ep)
{
    struct epoll_event ev[MAX_EVENTS];
    unsigned next = 0, ready = 0, busy = 0, window = 64;
    double deadline = now_s() + o->timeout;
    while (ready < o->conns) {
        int k, n;
        while (busy < window && next < o->conns) {
            conn_start(o, ep, &c[next], next);
            next++;
            busy++;
        }
        n = epoll_wait(ep, ev, MAX_EVENTS, 100);
        if (n < 0 && errno != EINTR)
            fail(o, "epoll_wait", errno);
        if (now_s() > deadline || client_stopped())
            fail(o, "timeout opening connections", ETIMEDOUT);
        for (k = 0; k < n; k++) {
            uint32_t idx = ev[k].data.u32;
            if (!conn_event(o, ep, &c[idx], idx))
                continue;
            /* Idle from now on: the client stops watching it. */
            ep_set(o, ep, EPOLL_CTL_DEL, c[idx].fd, 0, idx);
            busy--;
            ready++;
        }
    }
}

void run_idle(const client_opts_t *o)
{
    conn_t *c = conns_new(o);
    int ep = ep_new(o);
    unsigned i;
    double t0 = now_s(), t1, end;
    sigset_t none;
    idle_open(o, c, ep);
    t1 = now_s();
    printf("{\"mode\":\"idle\",\"conns\":%u,\"open_seconds\":%.6f}\n",
           o->conns, t1 - t0);
    fflush(stdout);
    /* Hold until a signal or the duration; epoll_pwait on an empty set is
     * a sleep that a signal interrupts. */
    sigemptyset(&none);
    end = t1 + o->seconds;
    while (!client_stopped() && now_s() < end) {
        struct epoll_event ev;
        double left = end - now_s();
        epoll_pwait(ep, &ev, 1, left > 1 ? 1000 : (int)(left * 1000) + 1,
                    &none);
    }
    for (i = 0; i < o->conns; i++)
        close(c[i].fd);
    close(ep);
    free(c);
}
