/*
 * The native half of the cross-check (issue 3, part 6): a plain POSIX
 * sockets client, built with the host compiler, that drives ior-echo.exe
 * running under Wine.
 *
 *   crosscheck_client HOST PORT [BULK_MIB [CONNS [CONN_BYTES]]]
 *
 * 1. bulk: one connection sends BULK_MIB (default 64) MiB of a
 *    deterministic pattern while reading the echo back (poll, both
 *    directions at once, so neither side's buffers can deadlock us), then
 *    half-closes and reads to EOF; every byte that comes back is compared
 *    with the byte sent at that offset, and the count and a checksum (sum
 *    of the bytes) must match what went out.
 * 2. concurrency: CONNS (default 100) connections at once, each sending
 *    CONN_BYTES (default 4096) plus its index bytes of its own pattern,
 *    half-closing, and checking the echo to EOF.
 *
 * Prints the figures (MiB/s, time) and exits 0 only if everything matched;
 * 1 on a mismatch or error, 2 on bad usage. Every wait is bounded
 * (DEADLINE_S in all), so a stuck server fails the run instead of hanging.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_S 180.0
#define CHUNK (256 * 1024)

typedef struct stream {
    int fd;
    uint64_t seed;  /* pattern per connection */
    uint64_t total; /* bytes to send */
    uint64_t sent;
    uint64_t received;
    uint64_t sent_hash; /* checksum of what went out */
    uint64_t recv_hash; /* checksum of what came back */
    uint64_t mismatch;  /* bytes that differ from what was sent there */
    int shut;           /* our write side is shut */
    int eof;            /* the echo reached EOF */
    int failed;
} stream_t;

static double start_time;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The stream pattern: byte `off` of stream `seed` is
 * table[(off + seed) % PERIOD]. PERIOD is prime, so the pattern does not
 * line up with any buffer size; sends point straight into the table.
 */
#define PERIOD 65521u
static unsigned char table[PERIOD + CHUNK];

static void table_init(void)
{
    uint32_t x = 2463534242u;
    size_t i;
    for (i = 0; i < PERIOD; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        table[i] = (unsigned char)(x >> 11);
    }
    /* Repeat it, so any window of CHUNK bytes is contiguous. */
    for (i = PERIOD; i < sizeof(table); i++)
        table[i] = table[i - PERIOD];
}

static const unsigned char *pattern_at(uint64_t seed, uint64_t off)
{
    return table + (size_t)((off + seed) % PERIOD);
}

static uint64_t checksum(uint64_t h, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        h += p[i];
    return h;
}

/* Compares what arrived with what was sent at that offset. */
static uint64_t count_mismatch(const stream_t *s, const unsigned char *p,
                               size_t n)
{
    uint64_t bad = 0;
    size_t done = 0;
    while (done < n) {
        size_t k = n - done > CHUNK ? CHUNK : n - done;
        if (memcmp(p + done, pattern_at(s->seed, s->received + done), k))
            bad += k; /* counted per window: any difference fails */
        done += k;
    }
    return bad;
}

static int open_conn(const char *host, const char *port)
{
    struct addrinfo hints, *res, *ai;
    int fd = -1;
    int one = 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return fd;
}

/* One step of sending; returns -1 on a hard error. */
static int do_send(stream_t *s)
{
    while (s->sent < s->total) {
        size_t n =
            s->total - s->sent > CHUNK ? CHUNK : (size_t)(s->total - s->sent);
        const unsigned char *p = pattern_at(s->seed, s->sent);
        ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
        if (w < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        s->sent_hash = checksum(s->sent_hash, p, (size_t)w);
        s->sent += (uint64_t)w;
        if ((size_t)w < n)
            return 0;
    }
    if (!s->shut) {
        if (shutdown(s->fd, SHUT_WR) != 0)
            return -1;
        s->shut = 1;
    }
    return 0;
}

/* One step of receiving; returns -1 on a hard error. */
static int do_recv(stream_t *s, unsigned char *buf)
{
    for (;;) {
        ssize_t r = recv(s->fd, buf, CHUNK, 0);
        if (r < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        if (r == 0) {
            s->eof = 1;
            return 0;
        }
        s->mismatch += count_mismatch(s, buf, (size_t)r);
        s->recv_hash = checksum(s->recv_hash, buf, (size_t)r);
        s->received += (uint64_t)r;
    }
}

/* Drives every stream to EOF with poll; returns the number that failed. */
static int run_streams(stream_t *ss, int n)
{
    struct pollfd *pfd = calloc((size_t)n, sizeof(*pfd));
    unsigned char *buf = malloc(CHUNK);
    int live = n;
    int failed = 0;
    int i;

    if (!pfd || !buf) {
        free(pfd);
        free(buf);
        return n;
    }
    while (live > 0) {
        if (now_s() - start_time > DEADLINE_S) {
            fprintf(stderr, "crosscheck: deadline passed, %d streams open\n",
                    live);
            failed += live;
            break;
        }
        for (i = 0; i < n; i++) {
            pfd[i].fd = (ss[i].eof || ss[i].failed) ? -1 : ss[i].fd;
            pfd[i].events = POLLIN;
            if (ss[i].sent < ss[i].total)
                pfd[i].events |= POLLOUT;
            pfd[i].revents = 0;
        }
        if (poll(pfd, (nfds_t)n, 1000) < 0 && errno != EINTR)
            break;
        for (i = 0; i < n; i++) {
            stream_t *s = &ss[i];
            if (pfd[i].fd < 0 || pfd[i].revents == 0)
                continue;
            if (do_send(s) != 0 || do_recv(s, buf) != 0) {
                fprintf(stderr, "crosscheck: stream %d: %s\n", i,
                        strerror(errno));
                s->failed = 1;
            }
            if (s->eof || s->failed) {
                live--;
                if (s->failed || s->received != s->total ||
                    s->recv_hash != s->sent_hash || s->mismatch != 0) {
                    fprintf(stderr,
                            "crosscheck: stream %d: sent %llu received "
                            "%llu, checksum %s, %llu bytes differ\n",
                            i, (unsigned long long)s->sent,
                            (unsigned long long)s->received,
                            s->recv_hash == s->sent_hash ? "equal" : "differs",
                            (unsigned long long)s->mismatch);
                    failed++;
                }
            }
        }
    }
    free(pfd);
    free(buf);
    return failed;
}

static int open_streams(stream_t *ss, int n, const char *host, const char *port,
                        uint64_t bytes, int grow)
{
    int i;
    for (i = 0; i < n; i++) {
        memset(&ss[i], 0, sizeof(ss[i]));
        ss[i].seed = (uint64_t)i + 1;
        ss[i].total = bytes + (grow ? (uint64_t)i : 0);
        ss[i].fd = open_conn(host, port);
        if (ss[i].fd < 0) {
            fprintf(stderr, "crosscheck: connect %d to %s:%s: %s\n", i, host,
                    port, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void close_streams(stream_t *ss, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (ss[i].fd >= 0)
            close(ss[i].fd);
}

int main(int argc, char **argv)
{
    unsigned long mib = 64, conns = 100, conn_bytes = 4096;
    stream_t bulk;
    stream_t *many;
    double t0, dt;
    int failed;

    if (argc < 3 || argc > 6) {
        fprintf(stderr,
                "usage: %s HOST PORT [BULK_MIB [CONNS "
                "[CONN_BYTES]]]\n",
                argv[0]);
        return 2;
    }
    if (argc > 3)
        mib = strtoul(argv[3], NULL, 10);
    if (argc > 4)
        conns = strtoul(argv[4], NULL, 10);
    if (argc > 5)
        conn_bytes = strtoul(argv[5], NULL, 10);
    if (conns == 0 || conns > 10000)
        return 2;
    start_time = now_s();
    table_init();

    t0 = now_s();
    if (open_streams(&bulk, 1, argv[1], argv[2], (uint64_t)mib << 20, 0))
        return 1;
    failed = run_streams(&bulk, 1);
    dt = now_s() - t0;
    close_streams(&bulk, 1);
    printf("crosscheck bulk: %lu MiB echoed in %.2f s, %.1f MiB/s each way, "
           "checksum %s\n",
           mib, dt, dt > 0 ? (double)mib / dt : 0.0,
           failed ? "MISMATCH" : "ok");
    if (failed)
        return 1;

    many = calloc(conns, sizeof(*many));
    if (!many)
        return 1;
    t0 = now_s();
    if (open_streams(many, (int)conns, argv[1], argv[2], conn_bytes, 1)) {
        close_streams(many, (int)conns);
        free(many);
        return 1;
    }
    failed = run_streams(many, (int)conns);
    dt = now_s() - t0;
    close_streams(many, (int)conns);
    free(many);
    printf("crosscheck concurrency: %lu connections x ~%lu bytes echoed in "
           "%.2f s, %d failed\n",
           conns, conn_bytes, dt, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}
