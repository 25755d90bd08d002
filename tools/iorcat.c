/*
 * iorcat: a netcat-like tool on ior, following netcat-openbsd's
 * conventions where they apply.
 *
 *   iorcat [-46dNuv] [-e PROG] [-q SECS] [-w SECS] [-b ADDR] [-p PORT]
 *          HOST PORT
 *   iorcat -l [-46dkNuv] [-e PROG] [-q SECS] [-w SECS] [-b ADDR] [-p PORT]
 *          [ADDR] [PORT]
 *
 * -u (UDP) is iorcat_udp.c, -e (a program per connection) iorcat_exec.c.
 * Names are resolved on a helper thread (ior_resolve) and each address is
 * tried in turn. stdin, stdout and the socket are all ior transports with
 * flow control both ways (see iorcat_relay.c). Exit status 0 on success,
 * 1 on any error, as nc.
 */
#include "iorcat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE_LINES                                                        \
    "usage: iorcat [-46dNuv] [-e PROG] [-q SECS] [-w SECS] [-b ADDR]\n"     \
    "              [-p PORT] HOST PORT\n"                                   \
    "       iorcat -l [-46dkNuv] [-e PROG] [-q SECS] [-w SECS] [-b ADDR]\n" \
    "              [-p PORT] [ADDR] [PORT]\n"

static void usage(FILE *f)
{
    fprintf(f,
        USAGE_LINES
        "\n"
        "Connects to HOST PORT (or, with -l, waits for one connection) and\n"
        "copies stdin to the connection and the connection to stdout,\n"
        "with flow control both ways: a slow reader at either end slows\n"
        "the other side down instead of filling memory.\n"
        "\n"
        "  -4, -6      IPv4 or IPv6 addresses only\n"
        "  -b ADDR     local address (also -s); with -l, where to listen\n"
        "  -d          do not read stdin\n"
        "  -e PROG     run PROG for each connection, its stdin and stdout\n"
        "              connected to the socket (TCP only); PROG is split on\n"
        "              spaces into the program (PATH searched) and its\n"
        "              arguments, no shell; its stderr is ours. Exit status\n"
        "              1 if it exits non-zero\n"
        "  -k          with -l: after a connection ends, serve the next\n"
        "              (one at a time)\n"
        "  -l          listen instead of connecting (default: every\n"
        "              address, IPv6 and IPv4)\n"
        "  -N          shut down the sending side of the connection\n"
        "              (half-close) when stdin reaches EOF\n"
        "  -p PORT     with -l: the port to listen on (0: a free one,\n"
        "              shown with -v); else the local source port\n"
        "  -q SECS     after EOF on stdin, quit SECS later (0: at once;\n"
        "              TCP: implies -N)\n"
        "  -u          UDP: each read from stdin is sent as datagrams of up\n"
        "              to 8 KiB; with -l the first sender becomes the peer\n"
        "              (with -k: anyone, replies to the latest). UDP has no\n"
        "              EOF: it runs until -w, -q or an interrupt; an ICMP\n"
        "              port unreachable from the peer is an error (exit 1)\n"
        "  -v          verbose: connection details on stderr\n"
        "  -w SECS     connect timeout, and idle timeout of a connection\n"
        "              (TCP: not with -l; UDP -l: from the first datagram)\n"
        "  --progress  bytes and rates each way on stderr once a second\n"
        "  -h, --help  this text\n"
        "\n"
        "Without -N, EOF on stdin leaves the connection open. The program\n"
        "ends when the peer has closed its side, everything received is\n"
        "written to stdout, and stdin has ended and been sent; or with -q;\n"
        "or on an error (status 1). With -l, as nc -l, the peer's close\n"
        "ends it: what stdin has not yet given is not sent.\n"
        "HOST may be a name or a numeric address; PORT is numeric.\n");
}

static int parse_port(const char *s, uint16_t *out)
{
    char *end;
    unsigned long v;
    if (*s < '0' || *s > '9')
        return -1;
    v = strtoul(s, &end, 10);
    if (*end != '\0' || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int bad_arg(const char *what, const char *arg)
{
    if (arg != NULL)
        fprintf(stderr, "iorcat: %s '%s'\n", what, arg);
    else
        fprintf(stderr, "iorcat: %s\n", what);
    fprintf(stderr, USAGE_LINES "       iorcat --help\n");
    return 1;
}

/* One option letter; *val is its argument when it takes one. */
static int apply_opt(iorcat_opts_t *o, char opt, const char *val)
{
    switch (opt) {
    case '4': o->family = IOR_AF_INET; return 0;
    case '6': o->family = IOR_AF_INET6; return 0;
    case 'd': o->no_stdin = 1; return 0;
    case 'k': o->keep = 1; return 0;
    case 'l': o->listen = 1; return 0;
    case 'N': o->half_close = 1; return 0;
    case 'u': o->udp = 1; return 0;
    case 'v': o->verbose = 1; return 0;
    case 'e':
        if (*val == '\0')
            return bad_arg("-e needs a program", NULL);
        o->exec = val;
        return 0;
    case 'q': {
        char *end;
        unsigned long v = strtoul(val, &end, 10);
        if (*val < '0' || *val > '9' || *end != '\0' || v > 86400)
            return bad_arg("bad -q time", val);
        o->quit_s = (unsigned)v;
        o->have_quit = 1;
        return 0;
    }
    case 'b':
    case 's': o->local = val; return 0;
    case 'p':
        if (parse_port(val, &o->local_port) != 0)
            return bad_arg("bad port", val);
        o->have_local_port = 1;
        return 0;
    case 'w': {
        char *end;
        unsigned long v = strtoul(val, &end, 10);
        if (*val < '0' || *val > '9' || *end != '\0' || v > 86400)
            return bad_arg("bad timeout", val);
        o->wait_s = (unsigned)v;
        return 0;
    }
    default: {
        char s[2] = {opt, '\0'};
        return bad_arg("unknown option", s);
    }
    }
}

static int takes_value(char opt)
{
    return opt == 'b' || opt == 's' || opt == 'p' || opt == 'w' ||
           opt == 'e' || opt == 'q';
}

/* Places HOST and PORT from the arguments that are not options. */
static int place_positional(iorcat_opts_t *o, char **pos, int npos)
{
    const char *port = NULL;
    if (!o->listen) {
        if (npos != 2)
            return bad_arg(npos < 2 ? "missing HOST or PORT"
                                    : "too many arguments",
                           NULL);
        o->host = pos[0];
        port = pos[1];
    } else if (npos == 2) {
        o->host = pos[0];
        port = pos[1];
    } else if (npos == 1 && o->have_local_port) {
        o->host = pos[0];
    } else if (npos == 1) {
        port = pos[0];
    } else if (npos != 0 || !o->have_local_port) {
        return bad_arg(npos > 2 ? "too many arguments"
                                : "-l needs a PORT (or -p PORT)",
                       NULL);
    }
    if (o->listen) {
        if (o->host == NULL)
            o->host = o->local;
        o->port = o->local_port;
    }
    if (port != NULL && parse_port(port, &o->port) != 0)
        return bad_arg("bad port", port);
    if (!o->listen && o->port == 0)
        return bad_arg("bad port", port);
    if (o->keep && !o->listen)
        return bad_arg("-k needs -l", NULL);
    if (o->exec != NULL && o->udp)
        return bad_arg("-e works with TCP only, not with -u", NULL);
    if (o->have_quit && !o->udp)
        o->half_close = 1; /* as nc: -q implies -N */
    return 0;
}

/* 0: go on; 1: error (printed); 2: --help was printed. */
static int parse_args(int argc, char **argv, iorcat_opts_t *o)
{
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, i, r = 0, only_pos = 0;
    if (pos == NULL)
        return 1;
    for (i = 1; i < argc && r == 0; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            pos[npos++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            only_pos = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            r = 2;
        } else if (strcmp(a, "--progress") == 0) {
            o->progress = 1;
        } else if (a[1] == '-') {
            r = bad_arg("unknown option", a);
        } else {
            const char *p;
            for (p = a + 1; *p != '\0' && r == 0; p++) {
                if (!takes_value(*p)) {
                    r = apply_opt(o, *p, NULL);
                    continue;
                }
                if (p[1] != '\0')
                    r = apply_opt(o, *p, p + 1);
                else if (i + 1 < argc)
                    r = apply_opt(o, *p, argv[++i]);
                else
                    r = bad_arg("option needs a value", a);
                break;
            }
        }
    }
    if (r == 0)
        r = place_positional(o, pos, npos);
    free(pos);
    return r;
}

/* ------------------------------------------------------------------ */
/* Connecting                                                          */
/* ------------------------------------------------------------------ */

static void try_next(iorcat_t *c);

static void on_connect(ior_loop_t *loop, void *user, ior_transport_t *t,
                       int status, int os_error)
{
    (void)os_error;
    iorcat_t *c = user;
    const ior_addr_t *a = &c->addrs[c->next_addr - 1];
    char ip[IOR_ADDR_STRLEN];
    (void)loop;
    if (ior_addr_format_ip(a, ip, sizeof ip) != 0)
        strcpy(ip, "?");
    if (status != 0) {
        if (status == IOR_ECANCELED || c->finishing)
            return; /* the loop is going away */
        iorcat_log("connect to %s port %u (%s) failed: %s", c->o.host,
                   (unsigned)c->o.port, ip, ior_strerror(status));
        try_next(c);
        return;
    }
    if (c->o.verbose && strcmp(ip, c->o.host) == 0)
        iorcat_log("Connection to %s %u port [tcp/*] succeeded!", ip,
                   (unsigned)c->o.port);
    else if (c->o.verbose)
        iorcat_log("Connection to %s (%s) %u port [tcp/*] succeeded!",
                   c->o.host, ip, (unsigned)c->o.port);
    iorcat_connected(c, t);
}

int iorcat_local_addr(const iorcat_t *c, int family, ior_addr_t *out)
{
    const char *ip = c->o.local;
    if (ip == NULL)
        ip = family == IOR_AF_INET6 ? "::" : "0.0.0.0";
    if (ior_addr_parse(out, ip, c->o.local_port) != 0) {
        iorcat_log("-b: '%s' is not a numeric address", ip);
        return -1;
    }
    return 0;
}

static void try_next(iorcat_t *c)
{
    while (c->next_addr < c->naddrs) {
        const ior_addr_t *a = &c->addrs[c->next_addr++];
        ior_connect_options_t opts;
        ior_addr_t bind;
        int r;
        memset(&opts, 0, sizeof opts);
        opts.timeout_ms = (uint64_t)c->o.wait_s * 1000;
        if (c->o.local != NULL || c->o.have_local_port) {
            if (iorcat_local_addr(c, a->family, &bind) != 0)
                break;
            opts.bind = &bind;
        }
        r = ior_tcp_connect(c->loop, a, &opts, on_connect, c);
        if (r == 0)
            return;
        iorcat_log("connect to %s port %u failed: %s", c->o.host,
                   (unsigned)c->o.port, ior_strerror(r));
    }
    c->status = 1;
    iorcat_finish(c);
}

/* Keeps a copy: the resolver's addresses live only during the callback. */
static int keep_addrs(iorcat_t *c, const ior_addr_t *addrs, size_t n)
{
    c->addrs = malloc(n * sizeof *addrs);
    if (c->addrs == NULL)
        return IOR_ENOMEM;
    memcpy(c->addrs, addrs, n * sizeof *addrs);
    c->naddrs = n;
    c->next_addr = 0;
    return 0;
}

static void on_resolved(ior_loop_t *loop, void *user, int status,
                        const ior_addr_t *addrs, size_t n)
{
    iorcat_t *c = user;
    (void)loop;
    if (status == IOR_ECANCELED || c->finishing)
        return;
    if (status == 0)
        status = keep_addrs(c, addrs, n);
    if (status != 0) {
        iorcat_log("%s: %s", c->o.host, ior_strerror(status));
        c->status = 1;
        iorcat_finish(c);
        return;
    }
    if (c->o.udp && c->o.listen)
        iorcat_udp_listen_on(c);
    else if (c->o.udp)
        iorcat_udp_connect(c);
    else if (c->o.listen)
        iorcat_listen_on(c);
    else
        try_next(c);
}

/* ------------------------------------------------------------------ */
/* Listening                                                           */
/* ------------------------------------------------------------------ */

static void on_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    iorcat_t *c = user;
    (void)l;
    iorcat_connected(c, t);
    if (!c->o.keep)
        iorcat_close_listener(c); /* nc -l serves one connection */
}

static void on_accept_error(ior_listener_t *l, void *user, int err)
{
    (void)l;
    (void)user;
    iorcat_log("accept: %s (still listening)", ior_strerror(err));
}

static const ior_listener_ops_t listener_ops = {on_accept, on_accept_error};

static int listen_one(iorcat_t *c, const ior_addr_t *a, int v6only)
{
    ior_listen_options_t lo;
    ior_addr_t bound;
    char text[IOR_ADDR_STRLEN];
    int r;
    memset(&lo, 0, sizeof lo);
    lo.ipv6_only = v6only;
    r = ior_tcp_listen(c->loop, a, &lo, &listener_ops, c, &c->listener);
    if (r != 0)
        return r;
    if (c->o.verbose && ior_listener_address(c->listener, &bound) == 0 &&
        ior_addr_format(&bound, text, sizeof text) == 0)
        iorcat_log("listening on %s", text);
    return 0;
}

/* Listens on the first of c->addrs that works. */
void iorcat_listen_on(iorcat_t *c)
{
    int r = IOR_EADDRNOTAVAIL;
    char text[IOR_ADDR_STRLEN];
    size_t i;
    for (i = 0; i < c->naddrs; i++) {
        r = listen_one(c, &c->addrs[i], c->o.family == IOR_AF_INET6);
        if (r == 0)
            return;
        if (ior_addr_format(&c->addrs[i], text, sizeof text) != 0)
            strcpy(text, "?");
        iorcat_log("listen on %s: %s", text, ior_strerror(r));
    }
    c->status = 1;
    iorcat_finish(c);
}

/*
 * No address given: every address, dual-stack unless -4 or -6; bind_fn
 * is the TCP listen or the UDP bind. What fails is reported as "what".
 */
void iorcat_bind_any(iorcat_t *c,
                     int (*bind_fn)(iorcat_t *c, const ior_addr_t *a,
                                    int v6only),
                     const char *what)
{
    ior_addr_t a;
    int r = IOR_EAFNOSUPPORT;
    if (c->o.family != IOR_AF_INET) {
        (void)ior_addr_parse(&a, "::", c->o.port);
        r = bind_fn(c, &a, c->o.family == IOR_AF_INET6);
    }
    if (r != 0 && c->o.family != IOR_AF_INET6) {
        (void)ior_addr_parse(&a, "0.0.0.0", c->o.port);
        r = bind_fn(c, &a, 0);
    }
    if (r != 0) {
        iorcat_log("%s on port %u: %s", what, (unsigned)c->o.port,
                   ior_strerror(r));
        c->status = 1;
        iorcat_finish(c);
    }
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

static int start(iorcat_t *c)
{
    int r;
    if (c->o.listen && c->o.host == NULL) {
        if (c->o.udp)
            iorcat_udp_listen_any(c);
        else
            iorcat_bind_any(c, listen_one, "listen");
        return 0;
    }
    r = ior_resolve(c->loop, c->o.host, c->o.port, c->o.family, on_resolved,
                    c);
    if (r != 0)
        iorcat_log("%s: %s", c->o.host, ior_strerror(r));
    return r;
}

int main(int argc, char **argv)
{
    iorcat_t c;
    int r;
    memset(&c, 0, sizeof c);
    r = parse_args(argc, argv, &c.o);
    if (r != 0)
        return r == 2 ? 0 : 1;
    r = ior_loop_new(&c.loop, NULL);
    if (r != 0) {
        iorcat_log("loop: %s", ior_strerror(r));
        return 1;
    }
    if (c.o.verbose)
        iorcat_log("ior backend: %s", ior_loop_backend(c.loop));
    r = ior_loop_stop_on_interrupt(c.loop);
    if (r != 0 && c.o.verbose)
        iorcat_log("no interrupt handling: %s", ior_strerror(r));
    if (iorcat_open_stdio(&c) != 0 || start(&c) != 0) {
        c.status = 1;
        iorcat_finish(&c);
    }
    ior_loop_run(c.loop);
    c.loop_done = 1;
    if (!c.finishing) {
        /* Interrupted (SIGINT, Ctrl-C): fine only for an idle -k server. */
        if (!(c.o.keep && c.sock == NULL))
            c.status = 1;
        if (c.o.verbose)
            iorcat_log("interrupted");
        c.end_ms = ior_loop_now(c.loop);
        c.finishing = 1;
    }
    c.listener = NULL; /* ior_loop_free closes it */
    iorcat_exec_cleanup(&c);
    iorcat_udp_close(&c);
    ior_loop_free(c.loop);
    iorcat_report(&c);
    free(c.addrs);
    free(c.waiting);
    return c.status;
}
