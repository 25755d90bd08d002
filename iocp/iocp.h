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

#include "internal.h"

/* Recovers the struct that embeds `member` (STYLE.md §7). */
#define IOR__CONTAINER(ptr, type, member)                                      \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

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
    /* For tests: requests that completed inline (skip-on-success). */
    unsigned long inline_successes;
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
/* Winsock's error for a failed request whose socket is still open. */
DWORD ior__iocp_op_error(SOCKET s, ior__iocp_op_t *op);

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

/* A TCP transport: the core's struct first. */
typedef struct ior__iocp_sock {
    struct ior_transport base;
    SOCKET s;
    int family;    /* AF_INET or AF_INET6 */
    int skip;      /* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is set */
    unsigned refs; /* requests in flight, + 1 until ior__os_transport_free */

    ior__iocp_op_t rop;
    char *rbuf;              /* real-read buffer; NULL in zero-byte mode */
    size_t rbuf_len;         /* its size */
    size_t read_size;        /* size of the next real read */
    size_t rbuf_peak;        /* largest read buffer ever posted (tests) */
    unsigned char reading;   /* rop is posted */
    unsigned char zero_read; /* the posted read is the zero-byte one */
    unsigned char zero_next; /* the next read is a zero-byte one */
    unsigned char read_done; /* EOF or a read error: never read again */

    ior__iocp_op_t sop;
    unsigned char sending; /* sop is posted */
    unsigned char closed;  /* socket closed (ior__os_close) */
    unsigned char freed;   /* ior__os_transport_free was called */

    ior_addr_t host; /* cached on first query (accept: from AcceptEx) */
    ior_addr_t peer;
} ior__iocp_sock_t;

static inline ior__iocp_sock_t *ior__iocp_sock(ior_transport_t *t)
{
    return (ior__iocp_sock_t *)t;
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

/* Drops a reference; frees the transport after the last one. */
void ior__iocp_sock_unref(ior__iocp_sock_t *sk);

/* Read side (filehandle.c): the read request's completion. */
void ior__iocp_read_done(ior__iocp_op_t *op, DWORD bytes, DWORD err);
/* Write side (write.c): the send request's completion. */
void ior__iocp_send_done(ior__iocp_op_t *op, DWORD bytes, DWORD err);

/* ------------------------------------------------------------------ */
/* Addresses and errors                                                */
/* ------------------------------------------------------------------ */

/* ior_addr_t → SOCKADDR; returns its length, 0 for a bad address. */
int ior__iocp_addr_to_sockaddr(const ior_addr_t *a, SOCKADDR_STORAGE *ss);
/* SOCKADDR → ior_addr_t; IOR_EAFNOSUPPORT for other families. */
int ior__iocp_addr_from_sockaddr(const struct sockaddr *sa, ior_addr_t *out);
/* AF_INET / AF_INET6 for an ior_addr_t, 0 if unset or unknown. */
int ior__iocp_af(const ior_addr_t *a);

/* Translates a Winsock or Win32 error code into an IOR_E* code. */
int ior__iocp_error(DWORD err);

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

#endif /* IOR_IOCP_H */
