/*
 * limit: the loopback ceiling, with plain blocking sockets and a thread per
 * connection — no event loop at all. Builds for Linux and for Windows
 * (MinGW; run under Wine by `bench/run --wine`).
 *
 *   limit serve [-b ADDR] [-p PORT]
 *       A blocking echo server, a thread per connection; the same command
 *       line and first stdout line ("listening on ADDR:PORT") as ior-echo.
 *       On EOF it has already sent everything (sends block) and closes.
 *       Exits 0 on SIGINT/SIGTERM (Ctrl-C on Windows).
 *
 *   limit pump|pingpong|fanin|connrate [-h HOST -p PORT] [-t SECONDS]
 *         [-B BYTES] [-c CONNS] [-s SIZE]
 *       The workloads of bench/client with blocking client threads. With no
 *       -p it starts its own `serve` in-process on 127.0.0.1:0, so
 *       `limit pump` is the loopback GiB/s ceiling of this machine (or of
 *       Wine's sockets, under Wine). One JSON line, like bench/client.
 */
#include "limit_os.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SHUT_WR
#define SHUT_WR SD_SEND
#endif

#define ECHO_BUF (64 * 1024)
#define PATTERN_PERIOD 251
#define PUMP_CHUNK (256 * 1024)
#define MAX_MSG 4096

typedef struct opts {
    const char *mode;
    const char *host;
    const char *port;
    double seconds;
    uint64_t bytes;
    unsigned conns;
    size_t size;
} opts_t;

static unsigned char pattern[PUMP_CHUNK + PATTERN_PERIOD];
static atomic_int stop_flag;
static const opts_t *g_opts;

static const unsigned char *pat(uint64_t offset)
{
    return pattern + offset % PATTERN_PERIOD;
}

static void die(const char *what)
{
    printf("{\"tool\":\"limit\",\"mode\":\"%s\",\"error\":\"%s (os error "
           "%d)\"}\n",
           g_opts ? g_opts->mode : "?", what, sock_errno());
    fflush(stdout);
    exit(1);
}

static void send_all(sock_t s, const unsigned char *p, size_t len)
{
    while (len > 0) {
        int n = send(s, (const char *)p, (int)len, 0);
        if (n <= 0)
            die("send");
        p += n;
        len -= (size_t)n;
    }
}

/* Receives exactly len bytes and checks them against pat(offset). */
static void recv_check(sock_t s, unsigned char *buf, size_t len,
                       uint64_t offset)
{
    size_t got = 0;
    while (got < len) {
        int n = recv(s, (char *)buf + got, (int)(len - got), 0);
        if (n < 0)
            die("recv");
        if (n == 0)
            die("early EOF");
        got += (size_t)n;
    }
    if (memcmp(buf, pat(offset), len) != 0)
        die("echo mismatch");
}

static void nodelay(sock_t s)
{
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
}

/* ---- server ---------------------------------------------------------- */

typedef struct echo_job {
    job_t job;
    sock_t s;
} echo_job_t;

/* Sends all of buf; 0, or -1 if the connection failed. */
static int send_buf(sock_t s, const char *p, int n)
{
    while (n > 0) {
        int k = send(s, p, n, 0);
        if (k <= 0)
            return -1;
        p += k;
        n -= k;
    }
    return 0;
}

static void echo_conn(void *arg)
{
    echo_job_t *e = arg;
    char *buf = malloc(ECHO_BUF);
    /* A blocking send is the flow control: while the client does not read,
     * this thread does not read either. EOF (0) or an error ends it. */
    while (buf != NULL) {
        int n = recv(e->s, buf, ECHO_BUF, 0);
        if (n <= 0 || send_buf(e->s, buf, n) != 0)
            break;
    }
    sock_close(e->s);
    free(buf);
    free(e);
}

static void accept_loop(void *arg)
{
    sock_t l = *(sock_t *)arg;
    for (;;) {
        echo_job_t *e;
        sock_t s = accept(l, NULL, NULL);
        if (s == BAD_SOCK)
            continue;
        nodelay(s);
        e = calloc(1, sizeof(*e));
        if (e == NULL) {
            sock_close(s);
            continue;
        }
        e->s = s;
        e->job.fn = echo_conn;
        e->job.arg = e;
        if (job_start(&e->job, 1) != 0) {
            sock_close(s);
            free(e);
        }
    }
}

static struct addrinfo *resolve(const char *host, const char *port,
                                int passive)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        die("bad address");
    return res;
}

/* Listens on host:port and writes "ADDR:PORT" (the real port) to text. */
static sock_t listen_on(const char *host, const char *port, char *text,
                        size_t len)
{
    struct addrinfo *ai = resolve(host, port, 1);
    struct sockaddr_storage ss;
    sock_len_t sl = sizeof(ss);
    char ip[64], sv[16];
    int one = 1;
    sock_t l = socket(ai->ai_family, SOCK_STREAM, 0);
    if (l == BAD_SOCK)
        die("socket");
#ifndef _WIN32
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
#else
    (void)one;
#endif
    if (bind(l, ai->ai_addr, (sock_len_t)ai->ai_addrlen) != 0)
        die("bind");
    freeaddrinfo(ai);
    if (listen(l, 511) != 0)
        die("listen");
    if (getsockname(l, (struct sockaddr *)&ss, &sl) != 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, ip, sizeof(ip), sv,
                    sizeof(sv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        die("getsockname");
    snprintf(text, len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", ip,
             sv);
    return l;
}

static int run_serve(const opts_t *o)
{
    char text[96];
    sock_t l = listen_on(o->host, o->port, text, sizeof(text));
    exit_on_interrupt();
    printf("listening on %s\n", text);
    fflush(stdout);
    accept_loop(&l);
    return 0;
}

/* ---- in-process clients ---------------------------------------------- */

static sock_t dial(const opts_t *o)
{
    struct addrinfo *ai = resolve(o->host, o->port, 0);
    sock_t s = socket(ai->ai_family, SOCK_STREAM, 0);
    if (s == BAD_SOCK)
        die("socket");
    if (connect(s, ai->ai_addr, (sock_len_t)ai->ai_addrlen) != 0)
        die("connect");
    freeaddrinfo(ai);
    nodelay(s);
    return s;
}

typedef struct pump_writer {
    job_t job;
    sock_t s;
    uint64_t bytes;
} pump_writer_t;

static void pump_write(void *arg)
{
    pump_writer_t *w = arg;
    uint64_t sent = 0;
    while (sent < w->bytes) {
        uint64_t left = w->bytes - sent;
        size_t len = left < PUMP_CHUNK ? (size_t)left : PUMP_CHUNK;
        send_all(w->s, pat(sent), len);
        sent += len;
    }
}

static void run_pump(const opts_t *o)
{
    pump_writer_t w;
    unsigned char *buf = malloc(PUMP_CHUNK);
    uint64_t recvd = 0;
    double t0, t1;
    if (buf == NULL)
        die("malloc");
    w.s = dial(o);
    w.bytes = o->bytes;
    w.job.fn = pump_write;
    w.job.arg = &w;
    t0 = now_s();
    if (job_start(&w.job, 0) != 0)
        die("thread");
    while (recvd < o->bytes) {
        int n = recv(w.s, (char *)buf, PUMP_CHUNK, 0);
        if (n <= 0)
            die(n == 0 ? "early EOF" : "recv");
        if (memcmp(buf, pat(recvd), (size_t)n) != 0)
            die("echo mismatch");
        recvd += (uint64_t)n;
    }
    t1 = now_s();
    job_join(&w.job);
    shutdown(w.s, SHUT_WR);
    if (recv(w.s, (char *)buf, 1, 0) != 0)
        die("server did not close after EOF");
    sock_close(w.s);
    free(buf);
    printf("{\"tool\":\"limit\",\"mode\":\"pump\",\"bytes\":%llu,"
           "\"seconds\":%.6f,\"gib_per_s\":%.4f}\n",
           (unsigned long long)o->bytes, t1 - t0,
           (double)o->bytes / (t1 - t0) / (1024.0 * 1024 * 1024));
}

typedef struct worker {
    job_t job;
    const opts_t *o;
    int per_conn; /* connrate: a new connection for every round trip */
    uint64_t count;
} worker_t;

static void worker_run(void *arg)
{
    worker_t *w = arg;
    unsigned char buf[MAX_MSG];
    sock_t s = w->per_conn ? BAD_SOCK : dial(w->o);
    while (!atomic_load(&stop_flag)) {
        if (w->per_conn)
            s = dial(w->o);
        send_all(s, pat(0), w->o->size);
        recv_check(s, buf, w->o->size, 0);
        if (w->per_conn) {
            sock_close(s);
            s = BAD_SOCK;
        }
        w->count++;
    }
    if (s != BAD_SOCK)
        sock_close(s);
}

/* pingpong (1 thread), fanin (CONNS threads) and connrate (CONNS threads):
 * every thread runs blocking round trips until the time is up. */
static void run_workers(const opts_t *o, unsigned n, int per_conn,
                        const char *key)
{
    worker_t *w = calloc(n, sizeof(*w));
    uint64_t total = 0;
    unsigned i;
    double t0, t1;
    if (w == NULL)
        die("malloc");
    t0 = now_s();
    for (i = 0; i < n; i++) {
        w[i].o = o;
        w[i].per_conn = per_conn;
        w[i].job.fn = worker_run;
        w[i].job.arg = &w[i];
        if (job_start(&w[i].job, 0) != 0)
            die("thread");
    }
    sleep_s(o->seconds);
    atomic_store(&stop_flag, 1);
    t1 = now_s();
    for (i = 0; i < n; i++) {
        job_join(&w[i].job);
        total += w[i].count;
    }
    free(w);
    printf("{\"tool\":\"limit\",\"mode\":\"%s\",\"conns\":%u,\"size\":%zu,"
           "\"%s\":%llu,\"seconds\":%.6f,\"%s\":%.1f}\n",
           o->mode, n, o->size, per_conn ? "connections" : "round_trips",
           (unsigned long long)total, t1 - t0, key,
           (double)total / (t1 - t0));
}

static void usage(FILE *f)
{
    fprintf(f, "usage: limit serve [-b ADDR] [-p PORT]\n"
               "       limit pump|pingpong|fanin|connrate [-h HOST -p PORT]"
               " [-t SECONDS] [-B BYTES] [-c CONNS] [-s SIZE]\n");
}

static void parse(int argc, char **argv, opts_t *o)
{
    int i;
    if (argc < 2 || argv[1][0] == '-') {
        usage(argc < 2 ? stderr : stdout);
        exit(argc < 2 ? 2 : 0);
    }
    o->mode = argv[1];
    o->host = "127.0.0.1";
    o->seconds = 2;
    o->bytes = 1ull << 30;
    o->conns = strcmp(o->mode, "fanin") == 0 ? 100 : 8;
    o->size = 64;
    for (i = 2; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "-b") == 0 || strcmp(a, "-h") == 0)
            o->host = v;
        else if (strcmp(a, "-p") == 0)
            o->port = v;
        else if (strcmp(a, "-t") == 0)
            o->seconds = strtod(v, NULL);
        else if (strcmp(a, "-B") == 0)
            o->bytes = strtoull(v, NULL, 10);
        else if (strcmp(a, "-c") == 0)
            o->conns = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "-s") == 0)
            o->size = (size_t)strtoul(v, NULL, 10);
        else
            break;
    }
    if (i < argc || o->size == 0 || o->size > MAX_MSG || o->conns == 0) {
        usage(stderr);
        exit(2);
    }
}

/* No -p: serve on 127.0.0.1:0 in this process and point the client at
 * it. */
static void start_local_server(opts_t *o)
{
    static sock_t l;
    static job_t j;
    static char text[96], port[16];
    const char *colon;
    l = listen_on(o->host, "0", text, sizeof(text));
    colon = strrchr(text, ':');
    snprintf(port, sizeof(port), "%s", colon + 1);
    o->port = port;
    j.fn = accept_loop;
    j.arg = &l;
    if (job_start(&j, 1) != 0)
        die("thread");
}

int main(int argc, char **argv)
{
    opts_t o;
    size_t i;
    memset(&o, 0, sizeof(o));
    parse(argc, argv, &o);
    g_opts = &o;
    for (i = 0; i < sizeof(pattern); i++)
        pattern[i] = (unsigned char)(i % PATTERN_PERIOD);
    if (net_init() != 0)
        die("WSAStartup");
    if (strcmp(o.mode, "serve") == 0) {
        if (o.port == NULL)
            o.port = "0";
        return run_serve(&o);
    }
    if (o.port == NULL)
        start_local_server(&o);
    if (strcmp(o.mode, "pump") == 0)
        run_pump(&o);
    else if (strcmp(o.mode, "pingpong") == 0)
        run_workers(&o, 1, 0, "rt_per_s");
    else if (strcmp(o.mode, "fanin") == 0)
        run_workers(&o, o.conns, 0, "rt_per_s");
    else if (strcmp(o.mode, "connrate") == 0)
        run_workers(&o, o.conns, 1, "conn_per_s");
    else {
        usage(stderr);
        return 2;
    }
    fflush(stdout);
    return 0;
}
