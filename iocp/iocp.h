/*
 * The Windows backend's private header: the completion-port loop, the
 * overlapped operation ("op") every socket request is built from, and the
 * socket transport (Twisted's iocpreactor FileHandle on a TCP socket).
 *
 * WIN32_LEAN_AND_MEAN and _WIN32_WINNT come from the CMake target, so this
 * header can include winsock2.h first and windows.h after it.
 */
#ifndef IOR_IOCP_H
#define IOR_IOCP_H

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>

#include <stddef.h>

#include "seam.h"

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

/*
 * Passed as `err` to an op's done function when the completion packet
 * reports a failure whose Winsock code still has to be read with
 * WSAGetOverlappedResult (only the owner knows the socket).
 */
#define IOR__IOCP_ERR_LOOKUP ((DWORD)0xFFFFFFFFu)

typedef struct ior__iocp_op ior__iocp_op_t;
typedef void (*ior__iocp_done_fn)(ior__iocp_op_t *op, DWORD bytes, DWORD err);

/*
 * One overlapped request, embedded in its owner. The loop recovers it from
 * the completion entry's OVERLAPPED pointer and calls done() exactly once
 * per request, always from ior__os_loop_poll: a request that finished
 * inside the call that started it (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS,
 * or a synchronous failure) goes through the loop's ready list instead of
 * the port, so owners never see a completion inside a user call.
 */
struct ior__iocp_op {
    OVERLAPPED ov;
    ior__iocp_done_fn done;
    ior__iocp_op_t *ready_next;
    DWORD ready_bytes;
    DWORD ready_err;
};

/* Completion keys: socket requests, and the loop's own wake-up packet. */
#define IOR__IOCP_KEY_IO ((ULONG_PTR)1)
#define IOR__IOCP_KEY_WAKE ((ULONG_PTR)2)

/* The most WSABUFs one WSASend gathers (Wine fails larger ones). */
#define IOR__IOCP_MAX_SEND_BUFS 1024

/* Read buffer sizes: a busy stream grows to MAX per read. */
#define IOR__IOCP_READ_MIN (16u * 1024u)
#define IOR__IOCP_READ_MAX (256u * 1024u)
/*
 * Bytes of read buffers a loop's sockets may pin in real reads at once
 * (filehandle.c): beyond it a socket waits in a zero-byte read instead.
 * 4 MiB: 16 busy streams at the largest read, 256 at the smallest.
 */
#define IOR__IOCP_READ_BUDGET (4u * 1024u * 1024u)

struct ior__iocp_sock;

/* ntdll's IO_STATUS_BLOCK, for the Nt calls looked up at run time. */
typedef struct ior__iosb {
    union {
        LONG status;
        PVOID pointer;
    } u;
    ULONG_PTR information;
} ior__iosb_t;

typedef struct ior__iocp_loop {
    struct ior_loop base;
    HANDLE port;
    SRWLOCK lock;
    volatile LONG wake_posted; /* a wake-up packet is in the port */
    size_t outstanding;        /* requests started, done() not yet run */
    ior__iocp_op_t *ready_head;
    ior__iocp_op_t *ready_tail;
    unsigned poll_turn;        /* alternates ready-list/port priority */
    OVERLAPPED_ENTRY *entries; /* max_events of them */
    /* Scratch for one WSASend at a time (WSASend captures the array). */
    ior_buf_t send_bufs[IOR__IOCP_MAX_SEND_BUFS];
    WSABUF wsa_bufs[IOR__IOCP_MAX_SEND_BUFS];
    /* Non-blocking drain after a zero-byte read lands here, not pinned. */
    char *drain_buf;
    /* Per address family (0: IPv4, 1: IPv6): skip mode allowed? -1 unknown */
    int skip_ok[2];
    LPFN_CONNECTEX connectex[2];
    LPFN_TRANSMITFILE transmitfile; /* looked up on the first file send */
    /* 0 with IOR_IOCP_NO_DIRECT=1: writes always go overlapped. */
    int direct_ok;
    /* TransmitFile for file regions (loop.c: server editions). */
    int transmit_ok;
    /* For tests: requests that completed inline (skip-on-success). */
    unsigned long inline_successes;
    /* Read buffers of this loop's sockets, in bytes, and their budget. */
    size_t pinned;
    size_t read_budget; /* IOR__IOCP_READ_BUDGET; tests change it */
    /* For tests: zero-byte reads posted because the budget was spent. */
    unsigned long budget_zero_reads;
    /* \Device\Afd, opened for the first poll handle (poll_handle.c). */
    HANDLE afd;
} ior__iocp_loop_t;

static inline ior__iocp_loop_t *ior__iocp_loop(ior_loop_t *loop)
{
    return (ior__iocp_loop_t *)loop;
}

/*
 * Accounts for a request just handed to the OS. `ok` is the API's own
 * success result (TRUE, or 0 from a WSA call), `err` the error otherwise,
 * `skip` whether the handle has FILE_SKIP_COMPLETION_PORT_ON_SUCCESS.
 * Requests that will not produce a completion packet are put on the ready
 * list so done() runs from the loop exactly once.
 */
void ior__iocp_op_started(ior__iocp_loop_t *lp, ior__iocp_op_t *op, int ok,
                          DWORD bytes, DWORD err, int skip);
/*
 * Work that must not run inside the caller: counts op as started and runs
 * its done() from the loop's next dispatch with no bytes and err (0 for
 * success). No OS request is involved.
 */
void ior__iocp_op_defer(ior__iocp_loop_t *lp, ior__iocp_op_t *op, DWORD err);
/* Winsock's error for a failed request whose socket is still open. */
DWORD ior__iocp_op_error(SOCKET s, ior__iocp_op_t *op);

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* Handles: what sockets and pipes share, and the kind table           */
/* ------------------------------------------------------------------ */

typedef struct ior__iocp_handle ior__iocp_handle_t;

/* What a kind's read_result made of a finished read request. */
#define IOR__IOCP_READ_DATA 0  /* *data, *len: hand them to the core */
#define IOR__IOCP_READ_EOF 1   /* the peer's end: never read again */
#define IOR__IOCP_READ_ERROR 2 /* *err_out: never read again */
#define IOR__IOCP_READ_AGAIN 3 /* nothing to deliver: read again if wanted */

/*
 * The kinds of transport handle (libevent's bufferevent_ops shape): a
 * socket, an overlapped pipe or file, and a synchronous handle served by
 * threads. handle.c writes the ior__os_* transport functions, the read and
 * send completions and the lifetime once over this table; a kind holds
 * only its OS calls. Every member runs on the loop's thread.
 */
typedef struct ior__iocp_kind {
    const char *name;
    /*
     * Starts the one read request on h->rop. Called only when h is open,
     * not reading, not read_done and not delivering. Sets h->reading and
     * takes a reference (ior__iocp_handle_started) when a request is
     * made; on a failure it cannot report through a completion it calls
     * ior__core_error itself and sets read_done.
     */
    void (*post_read)(ior__iocp_handle_t *h);
    /*
     * Classifies a finished read (h open, its data still wanted). err is
     * the Win32/Winsock code, IOR__IOCP_ERR_LOOKUP already resolved.
     * Returns IOR__IOCP_READ_*; for DATA it points *data and *len at the
     * bytes, which stay valid until read_rest; for ERROR *err_out is the
     * code to report (IOR_E* from ior__iocp_error, *os_out the raw one).
     */
    int (*read_result)(ior__iocp_handle_t *h, DWORD bytes, DWORD err,
                       const char **data, size_t *len, int *err_out,
                       DWORD *os_out);
    /*
     * After a read completion was handled and no new read was posted
     * (paused, closed, EOF or error): drops what the kind no longer
     * needs, such as a read buffer. May be NULL.
     */
    void (*read_rest)(ior__iocp_handle_t *h, int result);
    /* Starts one send of the queue's head on h->sop; 0 if it is empty. */
    int (*post_send)(ior__iocp_handle_t *h);
    /*
     * A finished send: returns how many bytes the core may release (a
     * failed request may still have written some) and does the kind's
     * bookkeeping (file offsets, thread state). *err is the code as for
     * read_result; a kind whose requests carry their error elsewhere
     * (threads) sets it. Called also after the close.
     */
    size_t (*send_result)(ior__iocp_handle_t *h, DWORD bytes, DWORD *err);
    /*
     * A non-blocking send from the caller's buffers, no completion
     * (the core's direct-write path); NULL if the kind has none.
     */
    size_t (*try_write)(ior__iocp_handle_t *h, const ior_buf_t *bufs,
                        size_t n);
    /* Half-close (ior__os_shutdown_write); NULL: the kind has none. */
    void (*shutdown)(ior__iocp_handle_t *h);
    /*
     * Closes the OS handle; requests in flight complete later (cancelled
     * or with what they did). abort: reset rather than close cleanly.
     */
    void (*close)(ior__iocp_handle_t *h, int abort);
    /* Frees the kind's own memory after the last reference. */
    void (*free)(ior__iocp_handle_t *h);
    /*
     * The OS code of a request whose completion said only "failed"
     * (IOR__IOCP_ERR_LOOKUP): Winsock's for a socket, Win32's otherwise.
     * Called before read_result/send_result, so each sees the real code.
     */
    DWORD (*op_error)(ior__iocp_handle_t *h, ior__iocp_op_t *op);
} ior__iocp_kind_t;

/*
 * The part of a transport every kind has: the core's struct first, then
 * the two requests and their state. A transport is freed after the core
 * called ior__os_transport_free and every request has completed (refs).
 */
struct ior__iocp_handle {
    struct ior_transport base;
    const ior__iocp_kind_t *kind;
    unsigned refs; /* requests in flight, + 1 until ior__os_transport_free */
    ior__iocp_op_t rop;
    ior__iocp_op_t sop;
    unsigned char skip;       /* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS */
    unsigned char reading;    /* rop started, done() not yet run */
    unsigned char sending;    /* sop started, done() not yet run */
    unsigned char read_done;  /* EOF or a read error: never read again */
    unsigned char delivering; /* a read's bytes are being handed over */
    unsigned char closed;     /* kind->close ran */
    unsigned char freed;      /* ior__os_transport_free ran */
};

static inline ior__iocp_handle_t *ior__iocp_handle(ior_transport_t *t)
{
    return (ior__iocp_handle_t *)(void *)t;
}

/*
 * Sets a new handle up (kind, first reference, completion functions) and
 * links it into the loop (ior__core_transport_init).
 */
void ior__iocp_handle_init(ior__iocp_handle_t *h, const ior__iocp_kind_t *kind,
                           ior__iocp_loop_t *lp);
/* Accounts for a request of h just handed to the OS (reference + loop). */
void ior__iocp_handle_started(ior__iocp_handle_t *h, ior__iocp_op_t *op,
                              int ok, DWORD bytes, DWORD err);
/* Drops a reference; frees the transport after the last one. */
void ior__iocp_handle_unref(ior__iocp_handle_t *h);

/* The kinds (socket.c, pipe.c, pipe_thread.c). */
extern const ior__iocp_kind_t ior__iocp_kind_socket;
extern const ior__iocp_kind_t ior__iocp_kind_pipe;
extern const ior__iocp_kind_t ior__iocp_kind_thread;

static inline int ior__iocp_is_socket(const ior_transport_t *t)
{
    return ((const ior__iocp_handle_t *)(const void *)t)->kind ==
           &ior__iocp_kind_socket;
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

/* A TCP transport. */
typedef struct ior__iocp_sock {
    ior__iocp_handle_t hd;
    SOCKET s;
    int family; /* AF_INET or AF_INET6 */

    char *rbuf;              /* real-read buffer; NULL in zero-byte mode */
    size_t rbuf_len;         /* its size */
    size_t read_size;        /* size of the next real read */
    size_t rbuf_peak;        /* largest read buffer ever posted (tests) */
    unsigned char zero_read; /* the posted read is the zero-byte one */
    unsigned char zero_next; /* the next read is a zero-byte one */
    unsigned char last_full; /* the last read filled its buffer */
    size_t pinned_len;       /* rbuf_len counted in the loop's pinned */
    unsigned char file_send; /* the send in flight is a TransmitFile */
    unsigned char no_transmit; /* no TransmitFile here: the copy path */
} ior__iocp_sock_t;

static inline ior__iocp_sock_t *ior__iocp_sock(ior_transport_t *t)
{
    return (ior__iocp_sock_t *)(void *)t;
}

/*
 * A new overlapped, non-inheritable TCP socket, associated with the loop's
 * port and in skip-on-success mode when its provider is IFS. *skip tells.
 * Returns 0 or an IOR_E* code (*os_err gets the Winsock code).
 */
int ior__iocp_socket(ior__iocp_loop_t *lp, int family, SOCKET *out, int *skip,
                     int *os_err);

/*
 * Wraps a connected socket (accepted or connected) in a transport and
 * links it into the loop (ior__core_transport_init). On failure the socket
 * is left open for the caller to close.
 */
int ior__iocp_sock_new(ior__iocp_loop_t *lp, SOCKET s, int family, int skip,
                       ior__iocp_sock_t **out);

/* The socket kind's read side (filehandle.c). */
void ior__iocp_sock_post_read(ior__iocp_handle_t *h);
int ior__iocp_sock_read_result(ior__iocp_handle_t *h, DWORD bytes, DWORD err,
                               const char **data, size_t *len, int *err_out,
                               DWORD *os_out);
void ior__iocp_sock_read_rest(ior__iocp_handle_t *h, int result);
/* The socket's read buffer leaves the loop's budget (closing). */
void ior__iocp_read_unpin(ior__iocp_sock_t *sk);
/* The socket kind's write side (write.c). */
int ior__iocp_sock_post_send(ior__iocp_handle_t *h);
size_t ior__iocp_sock_send_result(ior__iocp_handle_t *h, DWORD bytes,
                                  DWORD *err);
size_t ior__iocp_sock_try_write(ior__iocp_handle_t *h, const ior_buf_t *bufs,
                                size_t n);

/* ------------------------------------------------------------------ */
/* Pipes, files and stdio (pipe.c, pipe_thread.c)                      */
/* ------------------------------------------------------------------ */

/* Read size and the staging buffer that gathers small queued chunks. */
#define IOR__IOCP_PIPE_CHUNK (64u * 1024u)

struct ior__iocp_pthr; /* pipe_thread.c: the threads' own block */

/*
 * A transport over a HANDLE that is not a socket. Overlapped handles
 * (named pipes, files opened with FILE_FLAG_OVERLAPPED) use the port like
 * a socket (kind "pipe"); the others (anonymous pipes, consoles,
 * synchronous files) get a reader and/or writer thread that posts its
 * results to the port (kind "thread").
 */
typedef struct ior__iocp_pipe {
    ior__iocp_handle_t hd;
    unsigned char is_file;   /* overlapped file: explicit offsets */
    unsigned char is_socket; /* a SOCKET: closesocket, shutdown */
    unsigned char ipc;       /* local IPC (local.c): zero bytes are EOF */
    HANDLE os;               /* overlapped path (threaded: in thr) */
    ior__iocp_op_t shut_op;  /* ipc: the zero-byte write of a half-close */
    char *rbuf;      /* overlapped read buffer */
    size_t rbuf_len; /* its size: grows while reads fill it */
    char *wbuf;      /* staging for a gather of small chunks */
    DWORD last_read; /* bytes of the last read: sizes the next one */
    uint64_t read_off;  /* is_file: where the next read starts */
    uint64_t write_off; /* is_file: where the next write starts */
    struct ior__iocp_pthr *thr;
} ior__iocp_pipe_t;

static inline ior__iocp_pipe_t *ior__iocp_pipe(ior__iocp_handle_t *h)
{
    return (ior__iocp_pipe_t *)(void *)h;
}

/*
 * What a read of a pipe, file or console means: IOR__IOCP_READ_* for a
 * finished request that read `bytes` with Win32 code err (0: success).
 * zero_is_eof: whether zero bytes with success is the end (a file, a
 * socket, a console's ^Z) rather than an empty message of a named pipe.
 */
int ior__iocp_pipe_classify(DWORD bytes, DWORD err, int zero_is_eof,
                            int *err_out, DWORD *os_out);
/*
 * A transport for h, an overlapped named pipe end (pipe.c), on the port
 * already when on_port. It owns h once this returns 0; on an error h
 * stays the caller's.
 */
int ior__iocp_pipe_wrap(ior__iocp_loop_t *lp, HANDLE h, int on_port,
                        ior_transport_t **out);
/*
 * Local IPC over named pipes (local.c): the listener and connect entry
 * points of accept.c and connect.c hand a local one (base->local) here.
 */
int ior__iocp_local_listener_start(ior_listener_t *base);
void ior__iocp_local_listener_resume(ior_listener_t *base);
void ior__iocp_local_listener_close(ior_listener_t *base);
void ior__iocp_local_connect_start(ior__connect_t *base);
void ior__iocp_local_connect_cancel(ior__connect_t *base);
void ior__iocp_local_connect_discard(ior__connect_t *base);

/* What both pipe kinds share (pipe.c): the memory, and the lookup. */
void ior__iocp_pipe_free(ior__iocp_handle_t *h);
DWORD ior__iocp_pipe_op_error(ior__iocp_handle_t *h, ior__iocp_op_t *op);

/*
 * What ior_pipe_open learns of a handle (pipe_facts.c). answered 0: the
 * queries did not return in time, which only a synchronous handle with a
 * call in progress elsewhere does; the rest is then 0 and type says pipe.
 */
typedef struct ior__iocp_facts {
    DWORD type;       /* GetFileType */
    DWORD type_error; /* its error, for FILE_TYPE_UNKNOWN */
    int overlapped;   /* opened with FILE_FLAG_OVERLAPPED */
    int is_socket;
    int is_console;
    int answered;
} ior__iocp_facts_t;
/* 0, IOR_EBADF (not a handle) or IOR_ENOMEM. */
int ior__iocp_handle_facts(HANDLE h, ior__iocp_facts_t *out);

/*
 * console.c: a console read and written as UTF-8 (ReadConsoleW and
 * WriteConsoleW), and a blocked read ended for a close. The state is the
 * pipe threads'; only the trap and untrap run on the loop's thread.
 */
#define IOR__CONSOLE_BUF (64u * 1024u)
typedef struct ior__iocp_console ior__iocp_console_t;
ior__iocp_console_t *ior__iocp_console_new(void);
void ior__iocp_console_free(ior__iocp_console_t *c);
/* One line (or what fits) as UTF-8 into out: a Win32 error, 0 with *n 0
 * at the end of input, ERROR_OPERATION_ABORTED for Ctrl-C or a trap. */
DWORD ior__iocp_console_read(HANDLE h, ior__iocp_console_t *c, char *out,
                             DWORD cap, DWORD *n);
/* All of in (len <= IOR__CONSOLE_BUF): a Win32 error or 0. */
DWORD ior__iocp_console_write(HANDLE h, ior__iocp_console_t *c,
                              const char *in, DWORD len);
/* Ends a read in progress with an Enter key; 1 if one was put in. */
int ior__iocp_console_trap_read(HANDLE h, ior__iocp_console_t *c);
/* After the trapped read ended: the cursor back where it was. */
void ior__iocp_console_untrap(ior__iocp_console_t *c);
int ior__iocp_console_is_reading(const ior__iocp_console_t *c);

/*
 * pipe_thread.c. Starts the threads for the directions used; their block
 * then owns h (closed when the block goes) and p->thr is set. On error
 * nothing is left behind and h is still the caller's. facts->overlapped:
 * h could not join the port although opened with FILE_FLAG_OVERLAPPED;
 * a disk file's offsets are then tracked too.
 */
int ior__iocp_pthr_open(ior__iocp_loop_t *lp, ior__iocp_pipe_t *p, HANDLE h,
                        const ior__iocp_facts_t *facts, unsigned dirs);

/* ------------------------------------------------------------------ */
/* Addresses and errors                                                */
/* ------------------------------------------------------------------ */

/* ior_addr_t → SOCKADDR; returns its length, 0 for a bad address. */
int ior__iocp_addr_to_sockaddr(const ior_addr_t *a, SOCKADDR_STORAGE *ss);
/* SOCKADDR → ior_addr_t; IOR_EAFNOSUPPORT for other families. */
int ior__iocp_addr_from_sockaddr(const struct sockaddr *sa, ior_addr_t *out);
/* AF_INET / AF_INET6 for an ior_addr_t, 0 if unset or unknown. */
int ior__iocp_af(const ior_addr_t *a);

/*
 * Whether every provider of s hands out IFS handles, the condition for
 * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS (socket.c).
 */
int ior__iocp_provider_is_ifs(SOCKET s);

/* Translates a Winsock or Win32 error code into an IOR_E* code. */
int ior__iocp_error(DWORD err);
/*
 * 1 under Wine (its ntdll exports wine_get_version; Windows' does not),
 * for the few places that work around Wine (process.c, tls_schannel.c).
 */
int ior__iocp_under_wine(void);

/* ------------------------------------------------------------------ */
/* UDP (udp.c, udp_sock.c, udp_opt.c)                                 */
/* ------------------------------------------------------------------ */

/*
 * The read buffer of a UDP socket: larger than any UDP payload, so the OS
 * never truncates a datagram into it and WSARecvFrom never ends with
 * WSAEMSGSIZE (see udp.c for why that matters); max_packet_size is applied
 * when the datagram is delivered.
 */
#define IOR__IOCP_UDP_RBUF 65536u
/* Delay before reading again after an unexpected read error. */
#define IOR__IOCP_UDP_RETRY_MS 100

/* A UDP socket; the core's part (common/udp.c) first. */
typedef struct ior__iocp_udp {
    struct ior_udp base; /* first: handle, ops, queue, state flags */
    ior__iocp_loop_t *lp;
    SOCKET s;
    int af;        /* AF_INET or AF_INET6 */
    int skip;      /* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is set */
    unsigned refs; /* 1 until ior_udp_close, + 1 per request posted */

    unsigned char reading;      /* rop is posted */
    unsigned char held;         /* a finished read waits for resume */
    unsigned char job_posted;   /* dop is on the ready list */
    unsigned char refused;      /* a send collected a refusal: report it */
    unsigned char head_retried; /* the head is being sent a second time */
    unsigned char sending;      /* sop is posted (the queue head is pinned) */
    unsigned char retry_armed;  /* a read waits for retry_timer */
    ior_timer_id retry_timer;

    ior__iocp_op_t rop;
    char *rbuf; /* IOR__IOCP_UDP_RBUF bytes */
    SOCKADDR_STORAGE from;
    INT from_len;
    DWORD rflags;
    DWORD held_bytes;
    DWORD held_err;

    ior__iocp_op_t dop; /* loop work: a held read, a refusal (udp.c) */

    ior__iocp_op_t sop;
    SOCKADDR_STORAGE to; /* the head's destination, pinned while sending */

    SOCKADDR_STORAGE peer_ss; /* connected: only its datagrams are delivered */
    int peer_len;
} ior__iocp_udp_t;

/*
 * ior_addr_t → SOCKADDR for this socket (the core checked it can reach
 * it): an IPv4 address on an IPv6 socket becomes ::ffff:a.b.c.d. Returns
 * the length.
 */
int ior__iocp_udp_sockaddr(const ior__iocp_udp_t *u, const ior_addr_t *a,
                           SOCKADDR_STORAGE *ss);
/* Drops a reference; frees u (and what it still queues) after the last. */
void ior__iocp_udp_unref(ior__iocp_udp_t *u);

/* ------------------------------------------------------------------ */
/* Processes (process.c, process_cmdline.c)                            */
/* ------------------------------------------------------------------ */

/*
 * One argument (not argv[0]) quoted by the MSVC rules, so the child's C
 * runtime (or CommandLineToArgvW) gives it back exactly. Writes into out
 * unless it is NULL (no NUL added) and returns the length.
 */
size_t ior__iocp_quote_arg(const char *arg, char *out);
/*
 * The command line for argv (UTF-8, NUL-terminated, ior__malloc): argv[0]
 * by the program-name rules (IOR_EINVAL if it holds a quote), the others
 * by ior__iocp_quote_arg, separated by spaces. IOR_ENOMEM.
 */
int ior__iocp_build_cmdline(const char *const *argv, char **out);
/* UTF-8 → NUL-terminated UTF-16 (ior__malloc). IOR_EINVAL, IOR_ENOMEM. */
int ior__iocp_utf16(const char *s, wchar_t **out);
/* "K=V" list → a CREATE_UNICODE_ENVIRONMENT block. IOR_EINVAL, IOR_ENOMEM. */
int ior__iocp_build_env(const char *const *env, wchar_t **out);
/*
 * process_pipe.c: the child's stdio pipes, ours[i] (overlapped, not
 * inheritable) and child[i] (synchronous, inheritable); on error nothing
 * is left open. IOR_E* codes.
 */
int ior__iocp_proc_pipes(HANDLE ours[3], HANDLE child[3]);
/* Closes the non-NULL handles among hs[0..n-1] and sets them NULL. */
void ior__iocp_close_handles(HANDLE *hs, int n);

/* ------------------------------------------------------------------ */
/* For tests (tests/wine)                                              */
/* ------------------------------------------------------------------ */

/* The console control handler registered by ior_loop_stop_on_interrupt. */
BOOL WINAPI ior__iocp_console_handler(DWORD ctrl_type);
/* Bytes of read buffer the transport pins now (0 during a zero-byte read). */
size_t ior__iocp_read_buffer_size(const ior_transport_t *t);
/* The largest read buffer the transport has posted. */
size_t ior__iocp_read_buffer_peak(const ior_transport_t *t);
/* Whether the transport's socket is in skip-on-success mode. */
int ior__iocp_skip_mode(const ior_transport_t *t);
/* Requests of this loop that completed inline and skipped the port. */
unsigned long ior__iocp_inline_successes(const ior_loop_t *loop);
/* Sets the loop's budget of pinned read buffers, in bytes. */
void ior__iocp_set_read_budget(ior_loop_t *loop, size_t bytes);
/* Bytes of read buffers the loop's sockets pin now. */
size_t ior__iocp_pinned(const ior_loop_t *loop);
/* Zero-byte reads the loop posted because the budget was spent. */
unsigned long ior__iocp_budget_zero_reads(const ior_loop_t *loop);
/* 1 while a console transport's reader thread is inside ReadConsoleW. */
int ior__iocp_console_reading(const ior_transport_t *t);

#endif /* IOR_IOCP_H */
