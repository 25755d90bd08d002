/*
 * iorcat: shared state of the netcat-like tool. iorcat.c parses the
 * command line and sets up the connection (resolve, connect, listen);
 * iorcat_relay.c moves bytes between stdin/stdout and the socket and
 * decides when the program is done; iorcat_udp.c is the UDP mode (-u) and
 * iorcat_exec.c runs a program on each connection (-e). Only ior.h and
 * the C library.
 */
#ifndef IORCAT_H
#define IORCAT_H

#include "ior.h"

#include <stddef.h>
#include <stdint.h>

typedef struct iorcat_opts {
    int listen;     /* -l */
    int keep;       /* -k: serve one connection after another */
    int verbose;    /* -v */
    int half_close; /* -N: shutdown(SHUT_WR) on the socket at stdin EOF */
    int family;     /* 0, IOR_AF_INET (-4) or IOR_AF_INET6 (-6) */
    int progress;   /* --progress */
    int no_stdin;   /* -d: do not read stdin */
    unsigned wait_s; /* -w: connect and idle timeout, 0: none */
    int udp;        /* -u */
    int have_quit;  /* -q given */
    unsigned quit_s; /* -q: after stdin EOF, quit this much later */
    const char *exec; /* -e: the program (split on spaces), or NULL */
    const char *host; /* connect: destination; listen: address or NULL */
    const char *local; /* -b / -s: local address */
    uint16_t port;
    uint16_t local_port; /* -p without -l: source port */
    int have_local_port;
} iorcat_opts_t;

typedef struct iorcat {
    ior_loop_t *loop;
    iorcat_opts_t o;

    ior_transport_t *in;   /* stdin, NULL once lost */
    ior_transport_t *out;  /* stdout, NULL once lost */
    ior_transport_t *sock; /* the connection being served, or NULL */
    int in_eof;        /* stdin has ended: nothing more to send, ever */
    int net_eof;       /* the peer half-closed the current connection */
    int sock_on_out;   /* sock is registered as stdout's producer */
    int finishing;     /* no further connection: wind down and exit */
    int loop_done;     /* ior_loop_run has returned */
    int status;        /* exit status: 0 or 1 */
    int idle_closed;   /* the idle timeout closed the connection */
    int connections;   /* connections served */

    /* Listening (-l). */
    ior_listener_t *listener;
    ior_timer_id listener_timer; /* its close, deferred to the loop */
    ior_transport_t **waiting; /* -k: accepted, paused, served in order */
    size_t nwaiting;
    size_t capwaiting;

    /* Connecting: the resolved addresses, tried in turn. */
    ior_addr_t *addrs;
    size_t naddrs;
    size_t next_addr;

    /* Timers and counters. */
    ior_timer_id progress_timer;
    ior_timer_id idle_timer;
    uint64_t last_activity;
    uint64_t start_ms; /* first connection served; 0: none yet */
    uint64_t end_ms;
    uint64_t sent;      /* stdin -> socket */
    uint64_t received;  /* socket -> stdout */
    uint64_t tick_ms;   /* last progress line */
    uint64_t tick_sent;
    uint64_t tick_received;

    /* UDP (-u), iorcat_udp.c. */
    ior_udp_t *udp;     /* NULL once closed */
    ior_addr_t peer;    /* where stdin goes, once have_peer */
    int have_peer;
    int udp_on_out;     /* the socket is stdout's producer */
    unsigned char *pend; /* stdin bytes the full send queue refused */
    size_t npend;
    size_t offpend;     /* of which sent */
    ior_timer_id drain_timer; /* polls the send queue while stdin waits */
    ior_timer_id quit_timer;  /* -q */

    /* -e, iorcat_exec.c: the child serving c->sock. */
    char **exec_argv;   /* NULL-terminated, from o.exec */
    char *exec_buf;     /* the strings of exec_argv */
    ior_transport_t *err;  /* our stderr, fed by the child's */
    ior_process_t *proc;   /* NULL once ended */
    ior_transport_t *cin;  /* the child's stdin, NULL once lost */
    ior_transport_t *cout; /* its stdout */
    ior_transport_t *cerr; /* its stderr */
    int sock_on_cin;   /* the socket is the child stdin's producer */
    int cout_on_sock;  /* the child's stdout is the socket's producer */
    int cerr_on_err;   /* the child's stderr is our stderr's producer */
    int sock_done;     /* the served socket is lost */
    int proc_done;     /* the child has ended (or never started) */
    int sock_failed;   /* ... with an error */
    int child_failed;  /* ... with a non-zero status */
} iorcat_t;

/* Prints "iorcat: " and the message on stderr. */
void iorcat_log(const char *fmt, ...);

/* A transport error as "what: reason (OS message)" on stderr. */
void iorcat_log_error(const char *what, int err, int os_error);

/* Opens stdin (paused) and stdout as transports. 0 or an IOR_E* code. */
int iorcat_open_stdio(iorcat_t *c);

/*
 * A connection is established (connect callback or accept): sets its
 * protocol and, unless one is being served (-k), starts relaying.
 */
void iorcat_connected(iorcat_t *c, ior_transport_t *t);

/*
 * The local address for -b/-p (wildcard when -b is absent) in the
 * destination's family; -1 after saying why.
 */
int iorcat_local_addr(const iorcat_t *c, int family, ior_addr_t *out);

/* Listens on the first of c->addrs that works (-l with an address). */
void iorcat_listen_on(iorcat_t *c);

/* Closes the listener from the loop (never inside its own callback). */
void iorcat_close_listener(iorcat_t *c);

/* Nothing more will be connected: close what is open and end the loop. */
void iorcat_finish(iorcat_t *c);

/* With -v or --progress: the totals and average rates on stderr. */
void iorcat_report(const iorcat_t *c);

/* The first connection (or UDP peer) is being served: start the clock. */
void iorcat_started(iorcat_t *c);

/* -k: the served connection is over; serve the next waiting one, or end. */
void iorcat_connection_done(iorcat_t *c);

/* An IOR_EDONE or IOR_EABORTED reason is not a failure. */
int iorcat_is_failure(int reason);

/* --- iorcat_udp.c ------------------------------------------------------ */

/* stdin's protocol in UDP mode. */
extern const ior_protocol_ops_t iorcat_udp_in_ops;

/* -u: sends to the first of c->addrs that works. */
void iorcat_udp_connect(iorcat_t *c);

/* -u -l: binds the first of c->addrs that works. */
void iorcat_udp_listen_on(iorcat_t *c);

/*
 * No address given: every address, dual-stack unless -4/-6, through
 * bind_fn (TCP listen or UDP bind); a failure ends the program.
 */
void iorcat_bind_any(iorcat_t *c,
                     int (*bind_fn)(iorcat_t *c, const ior_addr_t *a,
                                    int v6only),
                     const char *what);

/* -u -l without an address: every address (dual-stack unless -4/-6). */
void iorcat_udp_listen_any(iorcat_t *c);

/* Closes the UDP socket and drops its timers (nothing if none). */
void iorcat_udp_close(iorcat_t *c);

/* --- iorcat_exec.c ----------------------------------------------------- */

/* -e: splits o.exec into argv and opens our stderr. 0 or IOR_E*. */
int iorcat_exec_init(iorcat_t *c);

/* -e: serves c->sock (set by the caller) with a new child. */
void iorcat_exec_serve(iorcat_t *c, ior_transport_t *t);

/* Interrupted: terminates a running child. Frees what init allocated. */
void iorcat_exec_cleanup(iorcat_t *c);

#endif /* IORCAT_H */
