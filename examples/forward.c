/*
 * forward: a TCP port forwarder. Each connection accepted on the listen
 * address is relayed to HOST:PORT and back, with flow control both ways
 * (each side is registered as the other's producer, so a slow reader on
 * one side stops reading on the other) and half-close passed through (an
 * EOF from one side shuts the other's write side; the pair ends when both
 * directions have).
 *
 *   forward [-b LISTEN_IP] [-p LISTEN_PORT] HOST PORT
 *
 * The first line on stdout is "forward: listening on ADDR:PORT" (with the
 * real port when -p is 0, the default). Ctrl-C stops it.
 */
#include <ior.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct side side_t;

/* One relayed connection: the accepted side and the upstream side. */
typedef struct pair {
    side_t *down; /* accepted from a client */
    side_t *up;   /* connected to HOST:PORT */
    int sides;    /* sides still alive; the pair is freed at 0 */
} pair_t;

struct side {
    ior_transport_t *t; /* NULL once lost */
    pair_t *pair;
    side_t *other;
};

static const char *target_host;
static uint16_t target_port;

static void side_data(ior_transport_t *t, void *user, const void *d,
                      size_t n)
{
    side_t *s = user;
    (void)t;
    if (s->other->t != NULL)
        ior_transport_write(s->other->t, d, n); /* may pause us */
}

/*
 * EOF from this side: the other side's write side follows, once drained.
 * When a transport has seen EOF and shut its write side, the core closes
 * it (both directions done), so nothing more is needed here.
 */
static void side_eof(ior_transport_t *t, void *user)
{
    side_t *s = user;
    (void)t;
    if (s->other->t != NULL)
        ior_transport_lose_write_connection(s->other->t);
}

static void pair_release(pair_t *p)
{
    if (--p->sides == 0) {
        free(p->down);
        free(p->up);
        free(p);
    }
}

/*
 * A reset or error ends the other side too; a clean close of this side
 * (both directions done) lets the other side finish its queue first.
 */
static void side_lost(ior_transport_t *t, void *user, int reason)
{
    side_t *s = user;
    (void)t;
    s->t = NULL;
    if (s->other->t != NULL) {
        if (reason == IOR_EDONE)
            ior_transport_lose_connection(s->other->t);
        else
            ior_transport_abort_connection(s->other->t);
    }
    pair_release(s->pair);
}

static const ior_protocol_ops_t side_ops = {
    .data_received = side_data,
    .read_connection_lost = side_eof,
    .connection_lost = side_lost,
};

/* Each side produces for the other: a full queue pauses the reader. */
static void relay(side_t *a, side_t *b)
{
    ior_transport_register_producer(a->t, &ior_transport_producer_ops, b->t,
                                    1);
    ior_transport_register_producer(b->t, &ior_transport_producer_ops, a->t,
                                    1);
}

static void upstream_connected(ior_loop_t *loop, void *user,
                               ior_transport_t *t, int status, int os_error)
{
    pair_t *p = user;
    char why[128];
    (void)loop;
    if (status != 0) {
        fprintf(stderr, "forward: %s:%u: %s (%s)\n", target_host,
                (unsigned)target_port, ior_strerror(status),
                ior_os_strerror(os_error, why, sizeof(why)));
        p->sides--; /* the upstream side never lived */
        if (p->down->t != NULL)
            ior_transport_abort_connection(p->down->t);
        else
            pair_release(p);
        return;
    }
    p->up->t = t;
    ior_transport_set_protocol(t, &side_ops, p->up);
    if (p->down->t == NULL) { /* the client left while we connected */
        ior_transport_abort_connection(t);
        return;
    }
    relay(p->down, p->up);
    ior_transport_resume_producing(p->down->t);
}

static void accepted(ior_listener_t *l, void *user, ior_transport_t *t)
{
    pair_t *p = calloc(1, sizeof(*p));
    (void)l;
    (void)user;
    if (p == NULL || (p->down = calloc(1, sizeof(side_t))) == NULL ||
        (p->up = calloc(1, sizeof(side_t))) == NULL) {
        if (p != NULL)
            free(p->down);
        free(p);
        ior_transport_abort_connection(t);
        return;
    }
    p->sides = 2;
    p->down->pair = p->up->pair = p;
    p->down->other = p->up;
    p->up->other = p->down;
    p->down->t = t;
    ior_transport_set_protocol(t, &side_ops, p->down);
    /* Hold the client's bytes in the kernel until upstream is there. */
    ior_transport_pause_producing(t);
    if (ior_tcp_connect_name(ior_transport_loop(t), target_host, target_port,
                             NULL, upstream_connected, p) != 0) {
        p->sides--;
        ior_transport_abort_connection(t);
    }
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
    if (argc - i != 2 || port < 0 || port > 65535 ||
        atol(argv[i + 1]) <= 0 || atol(argv[i + 1]) > 65535) {
        fprintf(stderr, "usage: forward [-b LISTEN_IP] [-p LISTEN_PORT] "
                        "HOST PORT\n");
        return 2;
    }
    target_host = argv[i];
    target_port = (uint16_t)atol(argv[i + 1]);
    if (ior_loop_new(&loop, NULL) != 0 ||
        ior_addr_parse(&a, ip, (uint16_t)port) != 0 ||
        ior_tcp_listen(loop, &a, NULL, &listener_ops, NULL, &l) != 0 ||
        ior_listener_address(l, &a) != 0) {
        fprintf(stderr, "forward: cannot listen on %s:%ld\n", ip, port);
        return 1;
    }
    ior_addr_format(&a, text, sizeof(text));
    printf("forward: listening on %s\n", text);
    fflush(stdout);
    ior_loop_stop_on_interrupt(loop);
    ior_loop_run(loop);
    ior_listener_close(l);
    ior_loop_free(loop); /* closes the pairs still open */
    return 0;
}
