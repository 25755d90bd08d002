/*
 * The TLS benchmark's other side, on OpenSSL directly (no event loop):
 *
 *   tls_peer serve --cert FILE --key FILE [-b ADDR] [-p PORT]
 *       an echo server, a thread per connection, blocking SSL_read and
 *       SSL_write; at the client's close_notify it sends its own and
 *       closes. First stdout line: "listening on ADDR:PORT".
 *   tls_peer pump -p PORT --ca FILE [-B BYTES]
 *       one connection, BYTES (default 1 GiB) echoed back and checked by
 *       count, at most 512 KiB in flight; {"gib_per_s": ...}
 *   tls_peer pingpong -p PORT --ca FILE [-t SECONDS]
 *       one connection, one 64-byte message at a time; {"rt_per_s": ...}
 *
 * The client's JSON has the keys of bench/client's, so bench/run treats
 * the TLS workloads as it treats the echo ones. The handshake is not
 * timed (it is once per run).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct opts {
    const char *mode;
    const char *cert, *key, *ca, *bind;
    int port;
    unsigned long long bytes;
    double seconds;
} opts_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const opts_t *o, const char *what)
{
    char err[256] = "";
    unsigned long e = ERR_get_error();
    if (e != 0)
        ERR_error_string_n(e, err, sizeof(err));
    printf("{\"mode\":\"%s\",\"error\":\"%s: %s %s\"}\n", o->mode, what,
           strerror(errno), err);
    exit(1);
}

/* ---- server --------------------------------------------------------- */

typedef struct conn {
    SSL_CTX *ctx;
    int fd;
} conn_t;

static void *serve_one(void *arg)
{
    conn_t *c = arg;
    SSL *ssl = SSL_new(c->ctx);
    char buf[65536];
    int n;
    if (ssl != NULL && SSL_set_fd(ssl, c->fd) == 1 && SSL_accept(ssl) == 1) {
        while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
            int off = 0;
            while (off < n) {
                int w = SSL_write(ssl, buf + off, n - off);
                if (w <= 0)
                    goto done;
                off += w;
            }
        }
        if (SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN)
            (void)SSL_shutdown(ssl);
    }
done:
    SSL_free(ssl);
    close(c->fd);
    free(c);
    return NULL;
}

static void run_serve(const opts_t *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int one = 1, fd;
    if (ctx == NULL ||
        SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1)
        die(o, "certificate");
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)o->port);
    inet_pton(AF_INET, o->bind, &a.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die(o, "listen");
    printf("listening on %s:%u\n", o->bind, (unsigned)ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        pthread_t th;
        conn_t *c = malloc(sizeof(*c));
        int cfd = accept(fd, NULL, NULL);
        if (cfd < 0 || c == NULL) {
            free(c);
            if (cfd >= 0)
                close(cfd);
            continue;
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->ctx = ctx;
        c->fd = cfd;
        if (pthread_create(&th, NULL, serve_one, c) != 0) {
            close(cfd);
            free(c);
            continue;
        }
        pthread_detach(th);
    }
}

/* ---- client ----------------------------------------------------------- */

static SSL *client_connect(const opts_t *o, int *fd_out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    struct sockaddr_in a;
    SSL *ssl;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1)
        die(o, "CA file");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)o->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        die(o, "connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 ||
        SSL_set1_host(ssl, "localhost") != 1 ||
        SSL_set_tlsext_host_name(ssl, "localhost") != 1 ||
        SSL_connect(ssl) != 1)
        die(o, "handshake");
    *fd_out = fd;
    return ssl;
}

static void run_pump(const opts_t *o)
{
    int fd;
    SSL *ssl = client_connect(o, &fd);
    static char out[16384], in[65536];
    unsigned long long sent = 0, recvd = 0, window = 512 * 1024;
    double t0, t1;
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    memset(out, 'x', sizeof(out));
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
        die(o, "fcntl");
    t0 = now_s();
    while (recvd < o->bytes) {
        struct pollfd p = {fd, POLLIN, 0};
        int progress = 0;
        if (sent < o->bytes && sent - recvd < window) {
            size_t n = sizeof(out);
            int w;
            if (o->bytes - sent < n)
                n = (size_t)(o->bytes - sent);
            w = SSL_write(ssl, out, (int)n);
            if (w > 0) {
                sent += (unsigned long long)w;
                progress = 1;
            } else if (SSL_get_error(ssl, w) == SSL_ERROR_WANT_WRITE) {
                p.events |= POLLOUT;
            } else if (SSL_get_error(ssl, w) != SSL_ERROR_WANT_READ) {
                die(o, "write");
            }
        }
        for (;;) {
            int r = SSL_read(ssl, in, sizeof(in));
            if (r > 0) {
                recvd += (unsigned long long)r;
                progress = 1;
                continue;
            }
            if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
                die(o, "read");
            break;
        }
        if (!progress)
            (void)poll(&p, 1, 100);
    }
    t1 = now_s();
    printf("{\"mode\":\"pump\",\"bytes\":%llu,\"window\":%llu,"
           "\"seconds\":%.6f,\"gib_per_s\":%.4f}\n",
           o->bytes, window, t1 - t0,
           (double)o->bytes / (t1 - t0) / (1024.0 * 1024 * 1024));
    (void)SSL_shutdown(ssl); /* best effort: close_notify, then go */
    close(fd);
}

static void run_pingpong(const opts_t *o)
{
    int fd;
    SSL *ssl = client_connect(o, &fd);
    char msg[64], back[64];
    unsigned long long rts = 0;
    double t0 = now_s(), t = t0;
    memset(msg, 'p', sizeof(msg));
    while (t < t0 + o->seconds) {
        int got = 0;
        if (SSL_write(ssl, msg, sizeof(msg)) != (int)sizeof(msg))
            die(o, "write");
        while (got < (int)sizeof(back)) {
            int r = SSL_read(ssl, back + got, (int)sizeof(back) - got);
            if (r <= 0)
                die(o, "read");
            got += r;
        }
        rts++;
        t = now_s();
    }
    printf("{\"mode\":\"pingpong\",\"size\":64,\"round_trips\":%llu,"
           "\"seconds\":%.6f,\"rt_per_s\":%.1f}\n",
           rts, t - t0, (double)rts / (t - t0));
    (void)SSL_shutdown(ssl);
    close(fd);
}

int main(int argc, char **argv)
{
    opts_t o;
    int i;
    memset(&o, 0, sizeof(o));
    o.mode = argc > 1 ? argv[1] : "";
    o.bind = "127.0.0.1";
    o.bytes = 1ull << 30;
    o.seconds = 5;
    signal(SIGPIPE, SIG_IGN);
    for (i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--cert") == 0)
            o.cert = v;
        else if (strcmp(k, "--key") == 0)
            o.key = v;
        else if (strcmp(k, "--ca") == 0)
            o.ca = v;
        else if (strcmp(k, "-b") == 0)
            o.bind = v;
        else if (strcmp(k, "-p") == 0)
            o.port = atoi(v);
        else if (strcmp(k, "-B") == 0)
            o.bytes = strtoull(v, NULL, 10);
        else if (strcmp(k, "-t") == 0)
            o.seconds = atof(v);
    }
    if (strcmp(o.mode, "serve") == 0 && o.cert && o.key)
        run_serve(&o);
    else if (strcmp(o.mode, "pump") == 0 && o.ca && o.port)
        run_pump(&o);
    else if (strcmp(o.mode, "pingpong") == 0 && o.ca && o.port)
        run_pingpong(&o);
    else {
        fprintf(stderr, "usage: tls_peer serve --cert F --key F [-b A] [-p P]"
                        " | pump|pingpong -p P --ca F [-B N] [-t S]\n");
        return 2;
    }
    return 0;
}
