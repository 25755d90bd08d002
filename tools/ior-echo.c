/*
 * ior-echo: a flow-controlled TCP echo server, built only on ior.h.
 *
 * Each connection is registered as the streaming producer of its own
 * writes (Twisted's echo does registerProducer(transport, True)): when a
 * client stops reading, the queue passes buffer_size, the transport pauses
 * its own reading, and the server holds at most about buffer_size plus one
 * read per connection. On EOF from the client it sends what it still has,
 * then closes.
 *
 *   ior-echo [-b ADDR] [-p PORT]
 *
 * The first line on stdout is "listening on ADDR:PORT" with the real port
 * (IPv6 as [::1]:PORT). Runs until SIGINT or SIGTERM (Ctrl-C or
 * Ctrl-Break on Windows) and then exits 0.
 */
#include "ior.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct echo_stats {
    unsigned long accepted;
    unsigned long open;
} echo_stats_t;

static echo_stats_t stats;

static void on_data(ior_transport_t *t, void *user, const void *data,
                    size_t len)
{
    int r = ior_transport_write(t, data, len);
    (void)user;
    if (r != 0 && r != IOR_ESHUTDOWN && r != IOR_ENOTCONN) {
        fprintf(stderr, "ior-echo: write: %s\n", ior_strerror(r));
        ior_transport_abort_connection(t);
    }
}

/* The client half-closed: flush what it sent us, then close. */
static void on_eof(ior_transport_t *t, void *user)
{
    (void)user;
    ior_transport_lose_connection(t);
}

static void on_lost(ior_transport_t *t, void *user, int reason)
{
    (void)t;
    (void)user;
    (void)reason;
    stats.open--;
}

static const ior_protocol_ops_t echo_protocol = {
    on_data,
    on_eof,
    NULL,
    on_lost,
};

/* --cert and --key: every connection speaks TLS (a server). */
static ior_tls_options_t tls;

static void on_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    (void)l;
    (void)user;
    if (tls.server) {
        ior_transport_t *tt = NULL;
        int r = ior_tls_start(t, &tls, &echo_protocol, NULL, &tt);
        if (r != 0) {
            fprintf(stderr, "ior-echo: TLS: %s\n", ior_strerror(r));
            ior_transport_abort_connection(t);
            return;
        }
        t = tt;
    } else if (ior_transport_set_protocol(t, &echo_protocol, NULL) != 0) {
        return; /* left without a protocol: the library closes it */
    }
    if (ior_transport_register_producer(t, &ior_transport_producer_ops, t, 1) !=
        0) {
        ior_transport_abort_connection(t);
    }
    stats.accepted++;
    stats.open++;
}

static void on_accept_error(ior_listener_t *l, void *user, int err)
{
    (void)l;
    (void)user;
    fprintf(stderr, "ior-echo: accept: %s (retrying)\n", ior_strerror(err));
}

static const ior_listener_ops_t echo_listener = {on_accept, on_accept_error};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ior-echo [-b ADDR] [-p PORT] [--cert FILE --key FILE]\n"
            "\n"
            "A flow-controlled TCP echo server: every byte a client sends\n"
            "comes back; a client that stops reading is not buffered for\n"
            "beyond about 64 KiB. On EOF the server sends what is left and\n"
            "closes.\n"
            "\n"
            "  -b ADDR   numeric IPv4 or IPv6 address (default 127.0.0.1)\n"
            "  -p PORT   TCP port (default 0: pick a free one)\n"
            "  --cert FILE, --key FILE  serve TLS with this PEM chain and\n"
            "            key (both needed)\n"
            "  -h, --help  this text\n"
            "\n"
            "The first line on stdout is 'listening on ADDR:PORT'. Stops on\n"
            "SIGINT or SIGTERM (Ctrl-C or Ctrl-Break on Windows). The\n"
            "environment variable IOR_BACKEND picks the poller on POSIX\n"
            "(epoll or poll).\n");
}

static int parse_port(const char *s, uint16_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int parse_args(int argc, char **argv, const char **ip, uint16_t *port)
{
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc) {
            *ip = argv[++i];
        } else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc) {
            tls.cert_file = argv[++i];
        } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            tls.key_file = argv[++i];
        } else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
            if (parse_port(argv[++i], port) != 0) {
                fprintf(stderr, "ior-echo: bad port '%s'\n", argv[i]);
                return -1;
            }
        } else {
            fprintf(stderr, "ior-echo: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return -1;
        }
    }
    if ((tls.cert_file != NULL) != (tls.key_file != NULL)) {
        fprintf(stderr, "ior-echo: --cert and --key go together\n");
        return -1;
    }
    tls.server = tls.cert_file != NULL;
    return 0;
}

static int serve(ior_loop_t *loop, const ior_addr_t *addr)
{
    ior_listener_t *l;
    ior_addr_t bound;
    char text[IOR_ADDR_STRLEN];
    int r = ior_tcp_listen(loop, addr, NULL, &echo_listener, NULL, &l);
    if (r != 0) {
        fprintf(stderr, "ior-echo: listen: %s\n", ior_strerror(r));
        return 1;
    }
    if (ior_listener_address(l, &bound) != 0 ||
        ior_addr_format(&bound, text, sizeof(text)) != 0) {
        fprintf(stderr, "ior-echo: cannot read the bound address\n");
        ior_listener_close(l);
        return 1;
    }
    r = ior_loop_stop_on_interrupt(loop);
    if (r != 0)
        fprintf(stderr, "ior-echo: no interrupt handling: %s\n",
                ior_strerror(r));
    printf("listening on %s\n", text);
    fflush(stdout);
    ior_loop_run(loop);
    ior_listener_close(l);
    return 0;
}

int main(int argc, char **argv)
{
    const char *ip = "127.0.0.1";
    uint16_t port = 0;
    ior_addr_t addr;
    ior_loop_t *loop;
    int rc;
    int r;
    if (parse_args(argc, argv, &ip, &port) != 0)
        return 2;
    if (ior_addr_parse(&addr, ip, port) != 0) {
        fprintf(stderr, "ior-echo: '%s' is not a numeric IP address\n", ip);
        return 2;
    }
    r = ior_loop_new(&loop, NULL);
    if (r != 0) {
        fprintf(stderr, "ior-echo: loop: %s\n", ior_strerror(r));
        return 1;
    }
    rc = serve(loop, &addr);
    ior_loop_free(loop);
    return rc;
}
