/*
 * httpd: a static-file HTTP/1.0 server. GET and HEAD of files under DIR;
 * a body is sent by a pull producer that reads 256 KiB per call (16 KiB
 * reads are about 4x slower under Wine: docs/guide.md), so however slow
 * the client, the server holds one chunk per connection. The body ends
 * when the connection closes, as HTTP/1.0 allows.
 *
 *   httpd [-b IP] [-p PORT] DIR
 *
 * The first line on stdout is "httpd: listening on ADDR:PORT". Paths with
 * "..", a backslash or a NUL are 404, as are missing files; other methods
 * 501; a request head over 8 KiB or without a proper request line 400.
 */
#include <ior.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_MAX 8192
#define CHUNK (256 * 1024)

typedef struct conn {
    ior_transport_t *t;
    char head[HEAD_MAX + 1];
    size_t head_len;
    int answered; /* the request is parsed: ignore what follows */
    FILE *body;   /* the file being sent, or NULL */
    char *chunk;
} conn_t;

static const char *root_dir;

static FILE *open_read(const char *path)
{
#ifdef _MSC_VER
    FILE *f = NULL;
    return fopen_s(&f, path, "rb") == 0 ? f : NULL;
#else
    return fopen(path, "rb");
#endif
}

static void finish(conn_t *c)
{
    if (c->body != NULL) {
        fclose(c->body);
        c->body = NULL;
    }
    ior_transport_unregister_producer(c->t);
    ior_transport_lose_connection(c->t);
}

/* The pull producer: one chunk per call, each drain asks for the next. */
static void body_resume(void *user)
{
    conn_t *c = user;
    size_t n = fread(c->chunk, 1, CHUNK, c->body);
    if (n > 0)
        ior_transport_write(c->t, c->chunk, n);
    if (n < CHUNK)
        finish(c); /* end of file, or a read error: the body ends here */
}

static void body_stop(void *user)
{
    conn_t *c = user;
    if (c->body != NULL) {
        fclose(c->body);
        c->body = NULL;
    }
}

static const ior_producer_ops_t body_ops = {NULL, body_resume, body_stop};

static void reply(conn_t *c, const char *status)
{
    char text[256];
    int n = snprintf(text, sizeof(text),
                     "HTTP/1.0 %s\r\nContent-Type: text/plain\r\n"
                     "Connection: close\r\n\r\n%s\n",
                     status, status);
    ior_transport_write(c->t, text, (size_t)n);
    ior_transport_lose_connection(c->t);
}

/* A path under root_dir, or 0 if the target must not be served. */
static int map_path(const char *target, char *path, size_t len)
{
    if (target[0] != '/' || strstr(target, "..") != NULL ||
        strchr(target, '\\') != NULL || strchr(target, ':') != NULL)
        return 0;
    if (strcmp(target, "/") == 0)
        target = "/index.html";
    return snprintf(path, len, "%s%s", root_dir, target) < (int)len;
}

/* Copies the next space-separated word of *p (at most len - 1 bytes). */
static int word(const char **p, char *out, size_t len)
{
    size_t n = strcspn(*p, " \r\n");
    if (n == 0 || n >= len)
        return 0;
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    if (**p == ' ')
        (*p)++;
    return 1;
}

static void serve(conn_t *c)
{
    char method[8], target[1024], version[16], path[2048];
    const char *p = c->head;
    static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Type: "
                             "application/octet-stream\r\n"
                             "Connection: close\r\n\r\n";
    int head_only;

    c->answered = 1;
    if (!word(&p, method, sizeof(method)) ||
        !word(&p, target, sizeof(target)) ||
        !word(&p, version, sizeof(version)) ||
        strncmp(version, "HTTP/", 5) != 0) {
        reply(c, "400 Bad Request");
        return;
    }
    head_only = strcmp(method, "HEAD") == 0;
    if (!head_only && strcmp(method, "GET") != 0) {
        reply(c, "501 Not Implemented");
        return;
    }
    if (!map_path(target, path, sizeof(path)) ||
        (c->body = open_read(path)) == NULL) {
        reply(c, "404 Not Found");
        return;
    }
    ior_transport_write(c->t, ok, sizeof(ok) - 1);
    if (head_only || (c->chunk = malloc(CHUNK)) == NULL) {
        fclose(c->body);
        c->body = NULL;
        ior_transport_lose_connection(c->t);
        return;
    }
    ior_transport_register_producer(c->t, &body_ops, c, 0);
}

static void on_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    conn_t *c = user;
    (void)t;
    if (c->answered)
        return;
    if (n > HEAD_MAX - c->head_len) {
        reply(c, "400 Bad Request");
        c->answered = 1;
        return;
    }
    memcpy(c->head + c->head_len, d, n);
    c->head_len += n;
    c->head[c->head_len] = '\0';
    if (strstr(c->head, "\r\n\r\n") != NULL || strstr(c->head, "\n\n"))
        serve(c);
}

/*
 * A client may shut its write side once the request is out (nc -N does):
 * being half-close aware keeps the answer going; without this the core
 * would stop the producer at EOF, as Twisted does.
 */
static void on_eof(ior_transport_t *t, void *user)
{
    conn_t *c = user;
    if (!c->answered)
        ior_transport_lose_connection(t);
}

static void on_lost(ior_transport_t *t, void *user, int reason)
{
    conn_t *c = user;
    (void)t;
    (void)reason;
    if (c->body != NULL)
        fclose(c->body);
    free(c->chunk);
    free(c);
}

static const ior_protocol_ops_t http_ops = {.data_received = on_data,
                                            .read_connection_lost = on_eof,
                                            .connection_lost = on_lost};

static void accepted(ior_listener_t *l, void *user, ior_transport_t *t)
{
    conn_t *c = calloc(1, sizeof(*c));
    (void)l;
    (void)user;
    if (c == NULL) {
        ior_transport_abort_connection(t);
        return;
    }
    c->t = t;
    ior_transport_set_protocol(t, &http_ops, c);
}

static const ior_listener_ops_t listener_ops = {.connection_accepted =
                                                    accepted};

int main(int argc, char **argv)
{
    const char *ip = "127.0.0.1";
    long port = 0;
    ior_loop_t *loop;
    ior_listener_t *l;
    ior_addr_t a;
    char text[IOR_ADDR_STRLEN];
    int i = 1;

    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-b") == 0)
            ip = argv[i + 1];
        else if (strcmp(argv[i], "-p") == 0)
            port = strtol(argv[i + 1], NULL, 10);
        else
            break;
    }
    if (argc - i != 1 || port < 0 || port > 65535) {
        fprintf(stderr, "usage: httpd [-b IP] [-p PORT] DIR\n");
        return 2;
    }
    root_dir = argv[i];
    if (ior_loop_new(&loop, NULL) != 0 ||
        ior_addr_parse(&a, ip, (uint16_t)port) != 0 ||
        ior_tcp_listen(loop, &a, NULL, &listener_ops, NULL, &l) != 0 ||
        ior_listener_address(l, &a) != 0) {
        fprintf(stderr, "httpd: cannot listen on %s:%ld\n", ip, port);
        return 1;
    }
    ior_addr_format(&a, text, sizeof(text));
    printf("httpd: listening on %s\n", text);
    fflush(stdout);
    ior_loop_stop_on_interrupt(loop);
    ior_loop_run(loop);
    ior_listener_close(l);
    ior_loop_free(loop);
    return 0;
}
