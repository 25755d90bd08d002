/*
 * iorcat: shared state of the netcat-like tool. Only ior.h and the C
 * library; no platform #ifdef.
 *
 *   iorcat.c         the command line, name resolution and main(), which
 *                    picks one mode from the table below
 *   iorcat_common.c  what every mode shares (logging, the exit status and
 *                    the end of the program, progress and totals, the -w
 *                    idle and -q quit timers, the -b/-p local address, the
 *                    wildcard bind, stdio): a leaf over ior.h that calls
 *                    no other iorcat file except through the mode table
 *   iorcat_tcp.c     TCP connect, listen and accept, -k's queue of waiting
 *                    connections, for the TCP and -e modes
 *   iorcat_relay.c   the TCP mode: stdin/stdout <-> the connection
 *   iorcat_udp.c     the UDP mode (-u)
 *   iorcat_exec.c    the -e mode: a program per connection
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
    int unix_path;  /* -U: host is a local name (AF_UNIX path, named pipe) */
    int have_quit;  /* -q given */
    unsigned quit_s; /* -q: after stdin EOF, quit this much later */
    const char *exec; /* -e: the program (split on spaces), or NULL */
    const char *host; /* connect: destination; listen: address or NULL */
    const char *local; /* -b / -s: local address */
    uint16_t port;
    uint16_t local_port; /* -p without -l: source port */
    int have_local_port;
    /* TLS (--tls): client verifies HOST (or --servername) against the
     * system store or --ca; -l serves --cert and --key. */
    int tls;
    int tls_insecure;           /* --insecure */
    const char *tls_ca;         /* --ca FILE */
    const char *tls_servername; /* --servername NAME */
    const char *tls_cert;       /* --cert FILE */
    const char *tls_key;        /* --key FILE */
} iorcat_opts_t;

typedef struct iorcat iorcat_t;

/*
 * A mode: what iorcat does once it knows where to connect or listen.
 * main() picks one (TCP, UDP or -e) from the options; the shared code
 * reaches a mode only through this table. NULL members do nothing.
 */
typedef struct iorcat_mode {
    /* Before the loop runs: opens stdio (or what the mode uses instead). */
    int (*open)(iorcat_t *c);
    /* c->addrs resolved: connects, or with -l listens or binds. */
    void (*start)(iorcat_t *c);
    /* -l without an address: the wildcard of each family. */
    void (*start_any)(iorcat_t *c);
    /* TCP modes: serves the connection t (iorcat_tcp.c has set c->sock). */
    void (*serve)(iorcat_t *c, ior_transport_t *t);
    /* -w: nothing moved for wait_s seconds (iorcat_arm_idle). */
    void (*idle)(iorcat_t *c);
    /* iorcat_finish: closes the mode's own objects. */
    void (*close)(iorcat_t *c);
    /* After ior_loop_run returned: frees what open allocated. */
    void (*cleanup)(iorcat_t *c);
} iorcat_mode_t;

extern const iorcat_mode_t iorcat_tcp_mode;  /* iorcat_relay.c */
extern const iorcat_mode_t iorcat_udp_mode;  /* iorcat_udp.c */
extern const iorcat_mode_t iorcat_exec_mode; /* iorcat_exec.c */

struct iorcat {
    ior_loop_t *loop;
    iorcat_opts_t o;
    const iorcat_mode_t *mode;

    ior_transport_t *in;   /* stdin, NULL once lost */
    ior_transport_t *out;  /* stdout, NULL once lost */
    ior_transport_t *sock; /* the connection being served, or NULL */
    int in_eof;        /* stdin has ended: nothing more to send, ever */
    int net_eof;       /* the peer half-closed the current connection */
    int sock_on_out;   /* sock is registered as stdout's producer */
    int finishing;     /* no further connection: wind down and exit */
    int loop_done;     /* ior_loop_run has returned */
    int status;        /* exit status: 0 or 1 */
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
    ior_timer_id idle_timer; /* -w */
    ior_timer_id quit_timer; /* -q */
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
};

/* --- iorcat_common.c --------------------------------------------------- */

/* Prints "iorcat: " and the message on stderr. */
void iorcat_log(const char *fmt, ...);

/* An error as "what: reason (OS message)" on stderr. */
void iorcat_log_error(const char *what, int err, int os_error);
/* A lost connection's reason, with the TLS engine's words if any. */
void iorcat_log_lost(const char *what, ior_transport_t *t, int reason);

/* An IOR_EDONE or IOR_EABORTED reason is not a failure. */
int iorcat_is_failure(int reason);

/* "1.2.3.4" (with_port: "1.2.3.4:80"), or "?" if a cannot be written. */
const char *iorcat_addr_text(const ior_addr_t *a, int with_port, char *buf,
                             size_t len);

/*
 * Opens stdout and, unless -d, stdin with in_ops (paused: nothing is read
 * before there is somewhere to send it). A missing one (IOR_EBADF) is as
 * if closed. 0 or an IOR_E* code, said on stderr.
 */
int iorcat_open_stdio(iorcat_t *c, const ior_protocol_ops_t *in_ops);

/*
 * Writes data to `to`: 0 written; 1 dropped (`to` is NULL, or closing by
 * itself); -1 refused otherwise, said on stderr as `what`: the caller
 * ends what it was relaying.
 */
int iorcat_pass(ior_transport_t *to, const void *data, size_t len,
                const char *what);

/* stdin's connection_lost: says why if it failed; stdin has ended. */
void iorcat_stdin_lost(iorcat_t *c, ior_transport_t *t, int reason);

/*
 * Producer callbacks over a transport held in a field of iorcat_t (user =
 * that ior_transport_t ** slot): pause and resume it while the slot is
 * set. For a transport that must outlive the consumer it feeds, where
 * ior_transport_producer_ops's stop (lose_connection) would close it.
 */
void iorcat_slot_pause(void *slot);
void iorcat_slot_resume(void *slot);

/* The first connection (or UDP peer) is being served: start the clock. */
void iorcat_started(iorcat_t *c);

/* -w: (re)arms the idle timer; mode->idle runs once nothing has moved. */
void iorcat_arm_idle(iorcat_t *c);

/* -q: the program ends quit_s seconds from now (iorcat_finish). */
void iorcat_arm_quit(iorcat_t *c);

/* Cancels a timer if *id is set, and clears it. */
void iorcat_cancel_timer(iorcat_t *c, ior_timer_id *id);

/*
 * The local address for -b/-p (wildcard when -b is absent) in the
 * destination's family; -1 after saying why.
 */
int iorcat_local_addr(const iorcat_t *c, int family, ior_addr_t *out);

/*
 * -l with an address: the first of c->addrs that bind_fn (TCP listen or
 * UDP bind) takes; if none does, the program ends.
 */
void iorcat_bind_first(iorcat_t *c,
                       int (*bind_fn)(iorcat_t *c, const ior_addr_t *a,
                                      int v6only),
                       const char *what);

/*
 * -l without an address: every address, dual-stack unless -4/-6, through
 * bind_fn (TCP listen or UDP bind); a failure ends the program.
 */
void iorcat_bind_any(iorcat_t *c,
                     int (*bind_fn)(iorcat_t *c, const ior_addr_t *a,
                                    int v6only),
                     const char *what);

/* Says why, sets exit status 1 and ends the program. */
void iorcat_fail(iorcat_t *c, const char *what, int err);

/*
 * Nothing more will be connected: closes what is open (mode->close, then
 * stdio) and ends the loop once all of it is gone. Called again, it only
 * checks whether that is so.
 */
void iorcat_finish(iorcat_t *c);

/* With -v or --progress: the totals and average rates on stderr. */
void iorcat_report(const iorcat_t *c);

/* --- iorcat_tcp.c ------------------------------------------------------ */

/* mode->start and mode->start_any of the TCP modes (TCP and -e). */
void iorcat_tcp_start(iorcat_t *c);
void iorcat_tcp_start_any(iorcat_t *c);

/* mode->idle of the TCP modes: closes the connection (reset if stuck). */
void iorcat_tcp_idle(iorcat_t *c);

/* mode->close of the TCP modes: the listener and the waiting ones. */
void iorcat_tcp_close(iorcat_t *c);

/* The served connection is over: -k serves the next waiting one, else end. */
void iorcat_connection_done(iorcat_t *c);

#endif /* IORCAT_H */
