/*
 * loadgen: a TCP load generator for echo-like servers. CONNS connections
 * each send a SIZE-byte request and wait for SIZE bytes back, REQUESTS
 * times; with -r, requests start at most RATE per second in total (a
 * repeating timer hands out the budget every 10 ms). At the end one line:
 *
 *   loadgen: N requests, E errors, X req/s, latency us p50 A p90 B p99 C max D
 *
 *   loadgen [-c CONNS] [-n REQUESTS] [-s SIZE] [-r RATE] HOST PORT
 *
 * Exit status 0 when every request was answered in full, else 1.
 */
#include <ior.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 10

typedef struct conn {
    ior_transport_t *t;
    long done;        /* requests answered */
    size_t got;       /* bytes of the current answer */
    uint64_t sent_ns; /* when the current request went out */
    int waiting;      /* a request is out, or waits for the rate budget */
} conn_t;

static long conns = 8, requests = 100, size = 64, rate = 0;
static const char *host;
static uint16_t port;
static char *request;
static conn_t *all;
static uint64_t *lat_ns; /* one per answered request */
static long answered, errors, finished;
static double budget; /* requests the rate allows now */
static ior_timer_id ticker;
static uint64_t start_ns;

static void conn_finished(ior_loop_t *loop)
{
    if (++finished == conns)
        ior_loop_stop(loop);
}

static void send_request(conn_t *c)
{
    if (rate > 0) {
        if (budget < 1.0) {
            c->waiting = 1; /* the ticker sends it */
            return;
        }
        budget -= 1.0;
    }
    c->waiting = 0;
    c->got = 0;
    c->sent_ns = ior_hrtime();
    ior_transport_write(c->t, request, (size_t)size);
}

static void on_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    conn_t *c = user;
    (void)d;
    c->got += n;
    if (c->got < (size_t)size)
        return;
    if (c->got > (size_t)size)
        errors++; /* more than asked: not an echo of ours */
    lat_ns[answered++] = ior_hrtime() - c->sent_ns;
    if (++c->done == requests)
        ior_transport_lose_connection(t);
    else
        send_request(c);
}

static void on_lost(ior_transport_t *t, void *user, int reason)
{
    conn_t *c = user;
    if (reason != IOR_EDONE || c->done < requests)
        errors += requests - c->done;
    c->t = NULL;
    conn_finished(ior_transport_loop(t));
}

static const ior_protocol_ops_t ops = {.data_received = on_data,
                                       .connection_lost = on_lost};

static void connected(ior_loop_t *loop, void *user, ior_transport_t *t,
                      int status, int os_error)
{
    conn_t *c = user;
    (void)os_error;
    if (status != 0) {
        fprintf(stderr, "loadgen: connect: %s\n", ior_strerror(status));
        errors += requests;
        conn_finished(loop);
        return;
    }
    c->t = t;
    ior_transport_set_protocol(t, &ops, c);
    ior_transport_set_nodelay(t, 1);
    send_request(c);
}

static void tick(ior_loop_t *loop, void *user)
{
    double per_tick = (double)rate * TICK_MS / 1000.0;
    long i;
    (void)loop;
    (void)user;
    budget += per_tick;
    if (budget > per_tick && budget > 1.0)
        budget = per_tick > 1.0 ? per_tick : 1.0; /* no burst after a stall */
    for (i = 0; i < conns && budget >= 1.0; i++)
        if (all[i].t != NULL && all[i].waiting)
            send_request(&all[i]);
}

static int by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p)
{
    long k = (long)(p * (double)(answered - 1) + 0.5);
    return answered > 0 ? (double)lat_ns[k] / 1000.0 : 0.0;
}

int main(int argc, char **argv)
{
    ior_loop_t *loop;
    double secs;
    long i;
    int a = 1;

    for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
        long v = strtol(argv[a + 1], NULL, 10);
        if (strcmp(argv[a], "-c") == 0)
            conns = v;
        else if (strcmp(argv[a], "-n") == 0)
            requests = v;
        else if (strcmp(argv[a], "-s") == 0)
            size = v;
        else if (strcmp(argv[a], "-r") == 0)
            rate = v;
        else
            break;
    }
    if (argc - a != 2 || conns < 1 || conns > 100000 || requests < 1 ||
        size < 1 || size > (1L << 24) || rate < 0 || atol(argv[a + 1]) < 1 ||
        atol(argv[a + 1]) > 65535) {
        fprintf(stderr, "usage: loadgen [-c CONNS] [-n REQUESTS] [-s SIZE] "
                        "[-r RATE] HOST PORT\n");
        return 2;
    }
    host = argv[a];
    port = (uint16_t)atol(argv[a + 1]);
    all = calloc((size_t)conns, sizeof(*all));
    lat_ns = calloc((size_t)(conns * requests), sizeof(*lat_ns));
    request = malloc((size_t)size);
    if (all == NULL || lat_ns == NULL || request == NULL ||
        ior_loop_new(&loop, NULL) != 0)
        return 1;
    memset(request, 'x', (size_t)size);
    if (rate > 0 &&
        ior_call_every(loop, TICK_MS, TICK_MS, tick, NULL, &ticker) != 0)
        return 1;
    start_ns = ior_hrtime();
    for (i = 0; i < conns; i++)
        if (ior_tcp_connect_name(loop, host, port, NULL, connected,
                                 &all[i]) != 0) {
            errors += requests;
            finished++;
        }
    if (finished < conns)
        ior_loop_run(loop);
    secs = (double)(ior_hrtime() - start_ns) / 1e9;
    ior_loop_free(loop);
    qsort(lat_ns, (size_t)answered, sizeof(*lat_ns), by_value);
    printf("loadgen: %ld requests, %ld errors, %.0f req/s, latency us p50 "
           "%.0f p90 %.0f p99 %.0f max %.0f\n",
           answered, errors, secs > 0 ? (double)answered / secs : 0.0,
           pct(0.50), pct(0.90), pct(0.99), pct(1.0));
    free(all);
    free(lat_ns);
    free(request);
    return errors == 0 && answered == conns * requests ? 0 : 1;
}
