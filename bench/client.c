/*
 * client: the load generator of bench/run. It does not use ior, so every
 * server (ior-echo, uv_echo, twisted_echo, limit serve) is measured through
 * exactly the same code. Linux only (epoll, poll, blocking sockets).
 *
 *   client MODE [-h HOST] [-p PORT] [-t SECONDS] [-n COUNT] [-c CONNS]
 *               [-B BYTES] [-w WINDOW] [-s SIZE] [-T TIMEOUT]
 *
 * Modes (each prints one JSON line on stdout and exits 0, or prints a JSON
 * line with "error" and exits 1):
 *   pump      one connection, BYTES (1 GiB) echoed with at most WINDOW
 *             (512 KiB) in flight; every byte is checked; GiB/s.
 *   pingpong  one connection, SIZE (64) byte messages, one at a time, for
 *             SECONDS or COUNT round trips; round trips/s, p50/p99 latency.
 *   fanin     CONNS (100) connections, each with one SIZE-byte request
 *             outstanding; round trips/s.
 *   connrate  connect, send SIZE bytes, receive them, close; CONNS (8)
 *             such connections in progress at a time; connections/s.
 *   idle      open CONNS (10000) connections, each echoing one message
 *             (so the server has surely accepted it), print the JSON line
 *             when all are open, then hold them until SIGINT/SIGTERM or
 *             SECONDS (default 60) have passed.
 */
#include "client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Stream byte at offset o is o % PATTERN_PERIOD, so any echo can be checked
 * against one buffer without keeping what was sent. */
#define PATTERN_PERIOD 251
#define PUMP_CHUNK (256 * 1024)

static unsigned char pattern[PUMP_CHUNK + PATTERN_PERIOD];
static volatile sig_atomic_t stop_flag;

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const unsigned char *client_pattern(size_t offset)
{
    return pattern + offset % PATTERN_PERIOD;
}

int client_stopped(void)
{
    return stop_flag != 0;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

_Noreturn void fail(const client_opts_t *o, const char *what, int err)
{
    printf("{\"mode\":\"%s\",\"error\":\"%s: %s\"}\n", o->mode, what,
           err ? strerror(err) : "unexpected");
    fflush(stdout);
    exit(1);
}

/* The soft limit is raised to what is asked (at most the hard limit): idle
 * needs 10,000 descriptors and the default soft limit is often 1024. */
static void raise_nofile(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur >= want)
        return;
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

int client_socket(const client_opts_t *o, int nonblock)
{
    int one = 1;
    int fd = socket(o->addr.ss_family,
                    SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
                    0);
    if (fd < 0)
        return -1;
    /* Small messages must leave at once: Nagle would turn pingpong into a
     * test of the delayed-ACK timer. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* A blocking connected socket, or exit with an error line. */
int client_connect(const client_opts_t *o)
{
    int fd = client_socket(o, 0);
    if (fd < 0)
        fail(o, "socket", errno);
    if (connect(fd, (const struct sockaddr *)&o->addr, o->addrlen) != 0)
        fail(o, "connect", errno);
    return fd;
}

/* Sends all of buf on a blocking socket. */
void send_all(const client_opts_t *o, int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail(o, "send", errno);
        p += n;
        len -= (size_t)n;
    }
}

/* Receives exactly len bytes on a blocking socket and checks them. */
void recv_check(const client_opts_t *o, int fd, unsigned char *buf,
                size_t len, const void *expect)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, buf + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail(o, "recv", errno);
        if (n == 0)
            fail(o, "recv: early EOF", 0);
        got += (size_t)n;
    }
    if (memcmp(buf, expect, len) != 0)
        fail(o, "echo mismatch", 0);
}

static int pump_step_send(const client_opts_t *o, int fd, uint64_t *sent,
                          uint64_t recvd)
{
    uint64_t room = o->window - (*sent - recvd);
    uint64_t left = o->bytes - *sent;
    size_t len = PUMP_CHUNK;
    ssize_t n;
    if (room < len)
        len = (size_t)room;
    if (left < len)
        len = (size_t)left;
    if (len == 0)
        return 0;
    n = send(fd, client_pattern(*sent), len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0)
        fail(o, "send", errno);
    *sent += (uint64_t)n;
    return 1;
}

static int pump_step_recv(const client_opts_t *o, int fd, unsigned char *buf,
                          uint64_t *recvd)
{
    ssize_t n = recv(fd, buf, PUMP_CHUNK, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0)
        fail(o, "recv", errno);
    if (n == 0)
        fail(o, "recv: early EOF", 0);
    if (memcmp(buf, client_pattern(*recvd), (size_t)n) != 0)
        fail(o, "echo mismatch", 0);
    *recvd += (uint64_t)n;
    return 1;
}

/* Waits for the server to close after our half-close: it must flush and
 * close (the echo servers' EOF rule), not hang. */
static void expect_close(const client_opts_t *o, int fd, double deadline)
{
    unsigned char buf[4096];
    struct pollfd p = {fd, POLLIN, 0};
    shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t n;
        if (poll(&p, 1, 100) == 0) {
            if (now_s() > deadline)
                fail(o, "server did not close after EOF", 0);
            continue;
        }
        n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0)
            return;
        if (n < 0 && errno != EINTR)
            fail(o, "recv after EOF", errno);
        if (n > 0)
            fail(o, "bytes after the echo", 0);
    }
}

static void run_pump(const client_opts_t *o)
{
    int fd = client_connect(o);
    unsigned char *buf = malloc(PUMP_CHUNK);
    uint64_t sent = 0, recvd = 0;
    double t0, t1, deadline = now_s() + o->timeout;
    if (buf == NULL)
        fail(o, "malloc", ENOMEM);
    t0 = now_s();
    while (recvd < o->bytes) {
        int progress = pump_step_recv(o, fd, buf, &recvd);
        progress |= pump_step_send(o, fd, &sent, recvd);
        if (!progress) {
            struct pollfd p = {fd, POLLIN, 0};
            if (sent < o->bytes && sent - recvd < o->window)
                p.events |= POLLOUT;
            if (poll(&p, 1, 100) == 0 && now_s() > deadline)
                fail(o, "timeout", ETIMEDOUT);
        }
    }
    t1 = now_s();
    expect_close(o, fd, deadline);
    close(fd);
    free(buf);
    printf("{\"mode\":\"pump\",\"bytes\":%llu,\"window\":%llu,"
           "\"seconds\":%.6f,\"gib_per_s\":%.4f}\n",
           (unsigned long long)o->bytes, (unsigned long long)o->window,
           t1 - t0, (double)o->bytes / (t1 - t0) / (1024.0 * 1024 * 1024));
}

/* Latency histogram in microseconds, the last bucket catches the rest. */
#define LAT_BUCKETS 10000

static double lat_percentile(const unsigned *h, uint64_t total, double q)
{
    uint64_t want = (uint64_t)((double)total * q), seen = 0;
    int i;
    for (i = 0; i < LAT_BUCKETS; i++) {
        seen += h[i];
        if (seen > want)
            return i;
    }
    return LAT_BUCKETS;
}

static void run_pingpong(const client_opts_t *o)
{
    int fd = client_connect(o);
    unsigned char buf[CLIENT_MAX_MSG];
    unsigned *hist = calloc(LAT_BUCKETS, sizeof(*hist));
    uint64_t rts = 0;
    double t0 = now_s(), t = t0, end = t0 + o->seconds;
    if (hist == NULL)
        fail(o, "malloc", ENOMEM);
    while ((o->count ? rts < o->count : t < end) && !client_stopped()) {
        double t_prev = t;
        size_t us;
        send_all(o, fd, client_pattern(rts), o->size);
        recv_check(o, fd, buf, o->size, client_pattern(rts));
        t = now_s();
        us = (size_t)((t - t_prev) * 1e6);
        hist[us < LAT_BUCKETS ? us : LAT_BUCKETS - 1]++;
        rts++;
    }
    expect_close(o, fd, now_s() + o->timeout);
    close(fd);
    printf("{\"mode\":\"pingpong\",\"size\":%zu,\"round_trips\":%llu,"
           "\"seconds\":%.6f,\"rt_per_s\":%.1f,\"p50_us\":%.0f,"
           "\"p99_us\":%.0f}\n",
           o->size, (unsigned long long)rts, t - t0, (double)rts / (t - t0),
           lat_percentile(hist, rts, 0.5), lat_percentile(hist, rts, 0.99));
    free(hist);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: client pump|pingpong|fanin|connrate|idle [-h HOST] "
               "[-p PORT]\n"
               "  [-t SECONDS] [-n COUNT] [-c CONNS] [-B BYTES] [-w WINDOW]"
               " [-s SIZE] [-T TIMEOUT]\n"
               "One JSON line per run on stdout. See the top of client.c.\n");
}

static unsigned long long num_arg(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    else if (*end == 'G' || *end == 'g')
        v <<= 30, end++;
    if (*s == '\0' || *end != '\0') {
        fprintf(stderr, "client: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

static void resolve(client_opts_t *o, const char *host, const char *port)
{
    struct addrinfo hints, *res;
    int r;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    r = getaddrinfo(host, port, &hints, &res);
    if (r != 0) {
        fprintf(stderr, "client: %s: %s\n", host, gai_strerror(r));
        exit(2);
    }
    memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
    o->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
}

static void defaults(client_opts_t *o)
{
    int fanin = strcmp(o->mode, "fanin") == 0;
    int idle = strcmp(o->mode, "idle") == 0;
    o->seconds = idle ? 60 : 2;
    o->conns = idle ? 10000 : fanin ? 100 : 8;
    o->bytes = 1ull << 30;
    o->window = 512 * 1024;
    o->size = 64;
    o->timeout = 60;
}

static void parse(int argc, char **argv, client_opts_t *o)
{
    const char *host = "127.0.0.1", *port = NULL;
    int i;
    if (argc < 2 || argv[1][0] == '-') {
        usage(argc < 2 ? stderr : stdout);
        exit(argc < 2 ? 2 : 0);
    }
    o->mode = argv[1];
    defaults(o);
    for (i = 2; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "-h") == 0)
            host = v;
        else if (strcmp(a, "-p") == 0)
            port = v;
        else if (strcmp(a, "-t") == 0)
            o->seconds = strtod(v, NULL);
        else if (strcmp(a, "-T") == 0)
            o->timeout = strtod(v, NULL);
        else if (strcmp(a, "-n") == 0)
            o->count = num_arg(v);
        else if (strcmp(a, "-c") == 0)
            o->conns = (unsigned)num_arg(v);
        else if (strcmp(a, "-B") == 0)
            o->bytes = num_arg(v);
        else if (strcmp(a, "-w") == 0)
            o->window = num_arg(v);
        else if (strcmp(a, "-s") == 0)
            o->size = (size_t)num_arg(v);
        else
            break;
    }
    if (i < argc || port == NULL || o->size == 0 ||
        o->size > CLIENT_MAX_MSG || o->window == 0 || o->conns == 0) {
        usage(stderr);
        exit(2);
    }
    resolve(o, host, port);
}

int main(int argc, char **argv)
{
    client_opts_t o;
    struct sigaction sa;
    size_t i;
    memset(&o, 0, sizeof(o));
    parse(argc, argv, &o);
    for (i = 0; i < sizeof(pattern); i++)
        pattern[i] = (unsigned char)(i % PATTERN_PERIOD);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile(o.conns + 64);
    if (strcmp(o.mode, "pump") == 0)
        run_pump(&o);
    else if (strcmp(o.mode, "pingpong") == 0)
        run_pingpong(&o);
    else if (strcmp(o.mode, "fanin") == 0)
        run_fanin(&o);
    else if (strcmp(o.mode, "connrate") == 0)
        run_connrate(&o);
    else if (strcmp(o.mode, "idle") == 0)
        run_idle(&o);
    else {
        usage(stderr);
        return 2;
    }
    fflush(stdout);
    return 0;
}
