/*
 * iorcat: a netcat-like tool on ior, following netcat-openbsd's
 * conventions where they apply.
 *
 *   iorcat [-46dNuv] [-e PROG] [-q SECS] [-w SECS] [-b ADDR] [-p PORT]
 *          HOST PORT
 *   iorcat -l [-46dkNuv] [-e PROG] [-q SECS] [-w SECS] [-b ADDR] [-p PORT]
 *          [ADDR] [PORT]
 *
 * This file parses the command line, resolves the name (on a helper
 * thread, ior_resolve) and picks the mode: TCP (iorcat_relay.c over
 * iorcat_tcp.c), UDP (-u, iorcat_udp.c) or a program per connection (-e,
 * iorcat_exec.c); iorcat.h lists the files. stdin, stdout and the socket
 * are all ior transports with flow control both ways. Exit status 0 on
 * success, 1 on any error, as nc.
 */
#include "iorcat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE_LINES                                                        \
    "usage: iorcat [-46dNuv] [-e PROG] [-q SECS] [-w SECS] [-b ADDR]\n"     \
    "              [-p PORT] [--tls [--ca FILE] [--insecure]\n"            \
    "              [--servername NAME]] HOST PORT\n"                       \
    "       iorcat -l [-46dkNuv] [-e PROG] [-q SECS] [-w SECS] [-b ADDR]\n" \
    "              [-p PORT] [--tls --cert FILE --key FILE] [ADDR] [PORT]\n"  \
    "       iorcat -U [-l] [-dkNv] [-q SECS] [-w SECS] PATH\n"

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
        "  -U          PATH is a local name instead of HOST PORT: a Unix\n"
        "              domain socket (netcat-openbsd's -U); on Windows a\n"
        "              named pipe (\\\\.\\pipe\\NAME, or a bare NAME)\n"
        "  -v          verbose: connection details on stderr\n"
        "  -w SECS     connect timeout, and idle timeout of a connection\n"
        "              (TCP: not with -l; UDP -l: from the first datagram)\n"
        "  --progress  bytes and rates each way on stderr once a second\n"
        "  --tls       TLS over the connection (TCP only). A client checks\n"
        "              the server's certificate against the system's CAs\n"
        "              (or --ca FILE, PEM) and its name against HOST (or\n"
        "              --servername NAME, also sent as SNI); --insecure\n"
        "              checks nothing. With -l: --cert FILE (PEM chain)\n"
        "              and --key FILE (PEM). -N sends close_notify at\n"
        "              stdin's EOF. A TLS failure ends with status 1 and\n"
        "              says why\n"
        "  -h, --help  this text\n"
        "\n"
        "Without -N, EOF on stdin leaves the connection open. The program\n"
        "ends when the peer has closed its side, everything received is\n"
        "written to stdout, and stdin has ended and been sent; or with -q;\n"
        "or on an error (status 1). With -l, as nc -l, the peer's close\n"
        "ends it: what stdin has not yet given is not sent.\n"
        "HOST may be a name or a numeric address; PORT is numeric.\n");
}

/* A decimal number from 0 to max, digits only. */
static int parse_num(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    *out = strtoul(s, &end, 10);
    return *end == '\0' && *out <= max ? 0 : -1;
}

static int parse_port(const char *s, uint16_t *out)
{
    unsigned long v;
    if (parse_num(s, 65535, &v) != 0)
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

/* A number of seconds for -q or -w: 0 to 86400. */
static int parse_secs(const char *s, unsigned *out)
{
    unsigned long v;
    if (parse_num(s, 86400, &v) != 0)
        return -1;
    *out = (unsigned)v;
    return 0;
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
    case 'U': o->unix_path = 1; return 0;
    case 'v': o->verbose = 1; return 0;
    case 'e':
        if (*val == '\0')
            return bad_arg("-e needs a program", NULL);
        o->exec = val;
        return 0;
    case 'q':
        if (parse_secs(val, &o->quit_s) != 0)
            return bad_arg("bad -q time", val);
        o->have_quit = 1;
        return 0;
    case 'b':
    case 's': o->local = val; return 0;
    case 'p':
        if (parse_port(val, &o->local_port) != 0)
            return bad_arg("bad port", val);
        o->have_local_port = 1;
        return 0;
    case 'w':
        if (parse_secs(val, &o->wait_s) != 0)
            return bad_arg("bad timeout", val);
        return 0;
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
    if (o->unix_path) {
        if (npos != 1)
            return bad_arg("-U needs one PATH", NULL);
        if (o->udp || o->tls || o->exec != NULL || o->local != NULL ||
            o->have_local_port || o->family != 0)
            return bad_arg("-U takes none of -u, --tls, -e, -b, -p, -4, -6",
                           NULL);
        o->host = pos[0];
        if (o->keep && !o->listen)
            return bad_arg("-k needs -l", NULL);
        if (o->have_quit)
            o->half_close = 1;
        return 0;
    }
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

/* The long options that take a value, and where each one goes. */
static const char *const long_with_value[] = {"--ca", "--servername",
                                              "--cert", "--key", NULL};

static const char *long_value(const char *a)
{
    size_t i;
    for (i = 0; long_with_value[i] != NULL; i++)
        if (strcmp(a, long_with_value[i]) == 0)
            return long_with_value[i];
    return NULL;
}

static const char **long_value_slot(iorcat_opts_t *o, const char *a)
{
    if (strcmp(a, "--ca") == 0)
        return &o->tls_ca;
    if (strcmp(a, "--servername") == 0)
        return &o->tls_servername;
    if (strcmp(a, "--cert") == 0)
        return &o->tls_cert;
    return &o->tls_key;
}

/* TLS options only with --tls, for TCP, and a server needs both files. */
static int check_tls(const iorcat_opts_t *o)
{
    int any = o->tls_insecure || o->tls_ca || o->tls_servername ||
              o->tls_cert || o->tls_key;
    if (!o->tls)
        return any ? bad_arg("TLS options need --tls", NULL) : 0;
    if (o->udp)
        return bad_arg("--tls is for TCP (not with -u)", NULL);
    if (o->listen && (o->tls_cert == NULL || o->tls_key == NULL))
        return bad_arg("-l --tls needs --cert and --key", NULL);
    if (!o->listen && (o->tls_cert || o->tls_key))
        return bad_arg("--cert and --key are for -l", NULL);
    if (o->listen && (o->tls_ca || o->tls_insecure || o->tls_servername))
        return bad_arg("--ca, --insecure and --servername are for a client",
                       NULL);
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
        } else if (strcmp(a, "--tls") == 0) {
            o->tls = 1;
        } else if (strcmp(a, "--insecure") == 0) {
            o->tls_insecure = 1;
        } else if (long_value(a) != NULL) {
            if (i + 1 < argc)
                *long_value_slot(o, a) = argv[++i];
            else
                r = bad_arg("option needs a value", a);
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
    if (r == 0)
        r = check_tls(o);
    free(pos);
    return r;
}

/* ------------------------------------------------------------------ */
/* Resolving                                                           */
/* ------------------------------------------------------------------ */

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
    c->mode->start(c);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

static int start(iorcat_t *c)
{
    int r;
    if (c->o.unix_path) {
        c->mode->start(c); /* a name, nothing to resolve */
        return 0;
    }
    if (c->o.listen && c->o.host == NULL) {
        c->mode->start_any(c);
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
    c.mode = c.o.udp            ? &iorcat_udp_mode
             : c.o.exec != NULL ? &iorcat_exec_mode
                                : &iorcat_tcp_mode;
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
    if (c.mode->open(&c) != 0 || start(&c) != 0) {
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
    if (c.mode->cleanup != NULL)
        c.mode->cleanup(&c);
    ior_loop_free(c.loop);
    iorcat_report(&c);
    free(c.addrs);
    free(c.waiting);
    return c.status;
}
