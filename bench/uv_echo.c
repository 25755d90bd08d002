/*
 * uv_echo: the libuv peer of ior-echo for bench/run, on Debian's
 * libuv1-dev. Same command line, same first stdout line, same behaviour:
 *
 *   uv_echo [-b ADDR] [-p PORT]
 *
 * Every byte read is written back. Flow control as ior-echo's (the
 * transport is its own streaming producer): after a write, if more than
 * 64 KiB wait in libuv's write queue, reading stops; it starts again when
 * the queue has drained. On EOF whatever is queued is sent (uv_shutdown
 * completes after the queued writes), then the connection is closed.
 * SIGINT/SIGTERM stop the loop; exit status 0.
 *
 * This is how a careful libuv user writes it: one malloc'd 64 KiB read
 * buffer per read, handed to uv_write without a copy and freed in the write
 * callback.
 */
#include <uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIGH_WATER (64 * 1024)
#define READ_SIZE (64 * 1024)

typedef struct conn {
    uv_tcp_t tcp;
    uv_shutdown_t shutdown;
    int paused;
} conn_t;

typedef struct wreq {
    uv_write_t req;
    uv_buf_t buf;
} wreq_t;

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigint_h, sigterm_h;

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    buf->base = malloc(READ_SIZE);
    buf->len = buf->base ? READ_SIZE : 0;
}

static void on_close(uv_handle_t *h)
{
    free(h->data);
}

static void on_write(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    uv_stream_t *s = req->handle;
    conn_t *c = s->data;
    free(w->buf.base);
    free(w);
    if (status < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, on_close);
        return;
    }
    /* Drained: resume_producing, as Twisted's doWrite does. */
    if (c->paused && uv_stream_get_write_queue_size(s) == 0 &&
        !uv_is_closing((uv_handle_t *)s)) {
        c->paused = 0;
        uv_read_start(s, on_alloc, on_read);
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    if (!uv_is_closing((uv_handle_t *)req->handle))
        uv_close((uv_handle_t *)req->handle, on_close);
}

static void echo(uv_stream_t *s, conn_t *c, char *base, size_t len)
{
    wreq_t *w = malloc(sizeof(*w));
    if (w == NULL) {
        free(base);
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    w->buf = uv_buf_init(base, (unsigned)len);
    if (uv_write(&w->req, s, &w->buf, 1, on_write) != 0) {
        free(base);
        free(w);
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    /* pause_producing once the queue passes the high-water mark. */
    if (uv_stream_get_write_queue_size(s) > HIGH_WATER) {
        c->paused = 1;
        uv_read_stop(s);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread > 0) {
        echo(s, c, buf->base, (size_t)nread);
        return;
    }
    free(buf->base);
    if (nread == 0)
        return;
    uv_read_stop(s);
    if (nread == UV_EOF && uv_shutdown(&c->shutdown, s, on_shutdown) == 0)
        return;
    uv_close((uv_handle_t *)s, on_close);
}

static void on_connection(uv_stream_t *srv, int status)
{
    conn_t *c;
    if (status < 0)
        return;
    c = calloc(1, sizeof(*c));
    if (c == NULL || uv_tcp_init(loop, &c->tcp) != 0) {
        free(c);
        return;
    }
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *h, int sig)
{
    (void)h;
    (void)sig;
    uv_stop(loop);
}

static int parse(int argc, char **argv, const char **ip, int *port)
{
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-b") == 0 && i + 1 < argc)
            *ip = argv[++i];
        else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
            *port = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: uv_echo [-b ADDR] [-p PORT]\n");
            return -1;
        }
    }
    return 0;
}

static int listen_on(const char *ip, int port)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss), r;
    char text[64];
    if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss) != 0) {
        fprintf(stderr, "uv_echo: bad address %s\n", ip);
        return -1;
    }
    uv_tcp_init(loop, &server);
    r = uv_tcp_bind(&server, (struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&server, 511, on_connection);
    if (r == 0)
        r = uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len);
    if (r != 0) {
        fprintf(stderr, "uv_echo: listen: %s\n", uv_strerror(r));
        return -1;
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, text, sizeof(text));
        printf("listening on [%s]:%d\n", text, ntohs(a->sin6_port));
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, text, sizeof(text));
        printf("listening on %s:%d\n", text, ntohs(a->sin_port));
    }
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *ip = "127.0.0.1";
    int port = 0;
    if (parse(argc, argv, &ip, &port) != 0)
        return 2;
    loop = uv_default_loop();
    if (listen_on(ip, port) != 0)
        return 1;
    uv_signal_init(loop, &sigint_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm_h);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
