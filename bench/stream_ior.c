/*
 * stream_ior: the ior server of the memory benchmark. Every connection is
 * sent BYTES (default 1 GiB) in 64 KiB chunks, then closed.
 *
 *   stream_ior -m producer|loop [-b ADDR] [-p PORT] [-B BYTES]
 *
 *   producer  a streaming producer writes while it is not paused; the
 *             transport pauses it past buffer_size and resumes it when the
 *             queue drains, so a slow reader costs about buffer_size.
 *   loop      everything is written at once (ior_transport_write copies),
 *             as a naive server would: the queue holds it all.
 *
 * Same first stdout line as ior-echo; stops on SIGINT/SIGTERM. bench/run
 * reads VmHWM from /proc while slow_reader drains it at 1 MiB/s.
 */
#include "ior.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024)

typedef struct stream {
    ior_transport_t *t;
    unsigned long long left;
    int paused;
    int stopped;
} stream_t;

static unsigned char chunk[CHUNK];
static unsigned long long total_bytes = 1ull << 30;
static int use_producer = 1;

static size_t next_len(const stream_t *s)
{
    return s->left < CHUNK ? (size_t)s->left : CHUNK;
}

static void finish(stream_t *s)
{
    if (use_producer)
        ior_transport_unregister_producer(s->t);
    ior_transport_lose_connection(s->t);
}

/* Writes until the transport pauses us (from inside a write) or all is
 * sent. */
static void on_resume(void *user)
{
    stream_t *s = user;
    s->paused = 0;
    while (!s->paused && !s->stopped && s->left > 0) {
        size_t n = next_len(s);
        if (ior_transport_write(s->t, chunk, n) != 0) {
            s->stopped = 1;
            return;
        }
        s->left -= n;
    }
    if (s->left == 0 && !s->stopped) {
        s->stopped = 1;
        finish(s);
    }
}

static void on_pause(void *user)
{
    ((stream_t *)user)->paused = 1;
}

static void on_stop(void *user)
{
    ((stream_t *)user)->stopped = 1;
}

static const ior_producer_ops_t producer_ops = {on_pause, on_resume,
                                                on_stop};

static void on_lost(ior_transport_t *t, void *user, int reason)
{
    (void)t;
    (void)reason;
    free(user);
}

static const ior_protocol_ops_t stream_protocol = {NULL, NULL, NULL,
                                                   on_lost};

static void write_everything(stream_t *s)
{
    while (s->left > 0) {
        size_t n = next_len(s);
        if (ior_transport_write(s->t, chunk, n) != 0)
            break;
        s->left -= n;
    }
    finish(s);
}

static void on_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    stream_t *s = calloc(1, sizeof(*s));
    (void)l;
    (void)user;
    if (s == NULL)
        return; /* no protocol: the library closes it */
    s->t = t;
    s->left = total_bytes;
    if (ior_transport_set_protocol(t, &stream_protocol, s) != 0) {
        free(s);
        return;
    }
    if (!use_producer) {
        write_everything(s);
    } else if (ior_transport_register_producer(t, &producer_ops, s, 1) == 0) {
        on_resume(s); /* a streaming producer starts by itself */
    } else {
        ior_transport_abort_connection(t);
    }
}

static const ior_listener_ops_t listener_ops = {on_accept, NULL};

static int parse(int argc, char **argv, const char **ip, uint16_t *port)
{
    int i;
    for (i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "-m") == 0 && strcmp(v, "producer") == 0)
            use_producer = 1;
        else if (strcmp(a, "-m") == 0 && strcmp(v, "loop") == 0)
            use_producer = 0;
        else if (strcmp(a, "-b") == 0)
            *ip = v;
        else if (strcmp(a, "-p") == 0)
            *port = (uint16_t)atoi(v);
        else if (strcmp(a, "-B") == 0)
            total_bytes = strtoull(v, NULL, 10);
        else
            break;
    }
    if (i < argc) {
        fprintf(stderr, "usage: stream_ior -m producer|loop [-b ADDR] "
                        "[-p PORT] [-B BYTES]\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *ip = "127.0.0.1";
    uint16_t port = 0;
    ior_addr_t addr;
    ior_loop_t *loop;
    ior_listener_t *l;
    char text[IOR_ADDR_STRLEN];
    int r;
    if (parse(argc, argv, &ip, &port) != 0 ||
        ior_addr_parse(&addr, ip, port) != 0)
        return 2;
    memset(chunk, 'x', sizeof(chunk));
    if (ior_loop_new(&loop, NULL) != 0)
        return 1;
    r = ior_tcp_listen(loop, &addr, NULL, &listener_ops, NULL, &l);
    if (r == 0)
        r = ior_listener_address(l, &addr);
    if (r == 0)
        r = ior_addr_format(&addr, text, sizeof(text));
    if (r != 0) {
        fprintf(stderr, "stream_ior: listen: %s\n", ior_strerror(r));
        return 1;
    }
    ior_loop_stop_on_interrupt(loop);
    printf("listening on %s\n", text);
    fflush(stdout);
    ior_loop_run(loop);
    ior_listener_close(l);
    ior_loop_free(loop);
    return 0;
}
