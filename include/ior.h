/*
 * ior: an event loop for native network tools.
 *
 * One header, C standard headers only. Every fallible function returns 0 or
 * a negative IOR_E* code and never aborts; results come back through
 * out-pointers. Objects (loop, transport, listener) are opaque and owned by
 * the library.
 *
 * Threading: one thread runs a loop and makes every call on its objects.
 * The exceptions are ior_loop_stop() and ior_loop_call_from_thread(), which
 * any thread may call while the loop exists.
 *
 * Callbacks: a call that returns an error has queued nothing and will call
 * nothing. A completion (connect done, a write_ref release, connection_lost)
 * is never delivered from inside the call that started it. The documented
 * exception is flow control: ior_transport_write() may call the registered
 * producer's pause_producing before it returns, as Twisted does.
 *
 * Inside a callback: every callback may call any function on any object of
 * its loop (write, register/unregister a producer, lose, abort, close a
 * listener or UDP socket, start timers and connects), and may free its own
 * state once told it is stopped or lost (DESIGN rule 12). Only
 * ior_loop_run() and ior_loop_free() of the same loop are refused there
 * (IOR_ESTATE).
 *
 * Lifetime, in one place:
 * - a transport is freed by the library after its connection_lost returns;
 *   stop_producing (to its producer, and to it as a producer) comes first;
 * - a listener and a UDP socket are freed by their close call
 *   (ior_listener_close, ior_udp_close): no callback after it returns;
 * - a connect request ends with its callback, which runs exactly once
 *   (IOR_ECANCELED if the loop is freed first);
 * - a process is freed after its process_ended returns;
 * - a loop is freed by ior_loop_free(), which closes what is still open;
 *   after it none of its objects may be touched.
 *
 * The rules cited as "DESIGN rule N" are those of docs/DESIGN.md, the
 * project's contract.
 */
#ifndef IOR_H
#define IOR_H

#include <stddef.h>
#include <stdint.h>

/*
 * The version of this header; ior_version() is the library's. Bumped by
 * hand (CMakeLists.txt reads it from here): MINOR for additions, MAJOR
 * for changes that break callers. See CHANGELOG.md.
 */
#define IOR_VERSION_MAJOR 0
#define IOR_VERSION_MINOR 2
#define IOR_VERSION_PATCH 0
#define IOR_VERSION_STRING "0.2.0"
#define IOR_VERSION_HEX                                                      \
    ((IOR_VERSION_MAJOR << 16) | (IOR_VERSION_MINOR << 8) | IOR_VERSION_PATCH)

/*
 * IOR_API marks the exported functions. A program using ior as a DLL (or
 * shared library) defines IOR_SHARED, as ior::ior_shared and
 * `pkg-config ior-shared` do; the static library needs nothing.
 */
#if defined(_WIN32) && defined(IOR_SHARED)
#ifdef IOR_BUILDING
#define IOR_API __declspec(dllexport)
#else
#define IOR_API __declspec(dllimport)
#endif
#elif defined(IOR_SHARED) && defined(IOR_BUILDING) && defined(__GNUC__)
#define IOR_API __attribute__((visibility("default")))
#else
#define IOR_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* IOR_VERSION_HEX and IOR_VERSION_STRING of the library linked. */
IOR_API unsigned ior_version(void);
IOR_API const char *ior_version_string(void);

/*
 * The loop clock in nanoseconds (monotonic, any thread), for measuring
 * latency, as libuv's uv_hrtime. ior_loop_now() is the same clock in
 * milliseconds, cached per iteration.
 */
IOR_API uint64_t ior_hrtime(void);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * One table: the code, its fixed value (identical on every OS) and its
 * message. IOR_EDONE and IOR_EABORTED are reasons handed to
 * connection_lost rather than failures of a call.
 */
#define IOR_ERRNO_MAP(XX)                                                    \
    XX(EINVAL, -1, "invalid argument")                                       \
    XX(ENOMEM, -2, "out of memory")                                          \
    XX(ENOTCONN, -3, "transport is not connected")                           \
    XX(ESHUTDOWN, -4, "write side of the transport is closed")               \
    XX(EBUSY, -5, "already registered or in use")                            \
    XX(EDONE, -6, "connection closed cleanly")                               \
    XX(EABORTED, -7, "connection aborted locally")                           \
    XX(ECONNLOST, -8, "connection lost")                                     \
    XX(ECONNRESET, -9, "connection reset by peer")                           \
    XX(ECONNREFUSED, -10, "connection refused")                              \
    XX(ETIMEDOUT, -11, "operation timed out")                                \
    XX(ENETUNREACH, -12, "network is unreachable")                           \
    XX(EHOSTUNREACH, -13, "host is unreachable")                             \
    XX(EADDRINUSE, -14, "address already in use")                            \
    XX(EADDRNOTAVAIL, -15, "address not available")                          \
    XX(EAFNOSUPPORT, -16, "address family not supported")                    \
    XX(EMFILE, -17, "too many open files or sockets")                        \
    XX(ENOBUFS, -18, "no buffer space available")                            \
    XX(ECANCELED, -19, "operation canceled")                                 \
    XX(EPIPE, -20, "broken pipe")                                            \
    XX(EIO, -21, "input/output error")                                       \
    XX(ENOTSUP, -22, "operation not supported")                              \
    XX(ERANGE, -23, "value out of range")                                    \
    XX(ESTATE, -24, "not allowed in this state or callback")                 \
    XX(ENOENT, -25, "no such entry")                                         \
    XX(EACCES, -26, "permission denied")                                     \
    XX(EMSGSIZE, -27, "message too long")                                    \
    XX(ECONNABORTED, -28, "connection aborted")                              \
    XX(EBADF, -29, "bad, closed or foreign handle")                          \
    XX(EAGAIN, -30, "resource temporarily unavailable")                      \
    XX(ENAME, -31, "name could not be resolved")                             \
    XX(ETLS, -32, "TLS handshake or record failed")                          \
    XX(ECERT, -33, "peer certificate not trusted")                           \
    XX(ETRUNCATED, -34, "connection ended without TLS close_notify")

typedef enum ior_errno {
#define IOR__ERR_ENUM(name, value, msg) IOR_##name = (value),
    IOR_ERRNO_MAP(IOR__ERR_ENUM)
#undef IOR__ERR_ENUM
    IOR_E__LAST = -35
} ior_errno_t;

/* The message for an IOR_E* code, "success" for 0, "unknown error" else. */
IOR_API const char *ior_strerror(int err);

/* The name ("EINVAL", ...) of an IOR_E* code, "OK" for 0, else "UNKNOWN". */
IOR_API const char *ior_err_name(int err);

/*
 * The operating system's own message for an OS error code (errno on POSIX,
 * a Winsock or Win32 error code on Windows), written into buf (always
 * terminated when len > 0). Returns buf.
 */
IOR_API const char *ior_os_strerror(int os_error, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Allocator                                                           */
/* ------------------------------------------------------------------ */

/*
 * Every allocation of the library goes through one allocator. Any function
 * may return NULL; the library then fails the call with IOR_ENOMEM and
 * changes nothing. Set it before creating a loop; NULL restores malloc. The
 * functions may be called from any thread that calls
 * ior_loop_call_from_thread().
 */
typedef struct ior_allocator {
    void *(*malloc_fn)(void *ctx, size_t size);
    void *(*realloc_fn)(void *ctx, void *ptr, size_t size);
    void (*free_fn)(void *ctx, void *ptr);
    void *ctx;
} ior_allocator_t;

/* Returns IOR_EINVAL if any function is missing. */
IOR_API int ior_set_allocator(const ior_allocator_t *allocator);

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

#define IOR_AF_INET 4
#define IOR_AF_INET6 6

/* An IPv4 or IPv6 address and port, the same layout on every OS. */
typedef struct ior_addr {
    uint16_t family;   /* IOR_AF_INET or IOR_AF_INET6; 0 when unset */
    uint16_t port;     /* host byte order */
    uint32_t scope_id; /* IPv6 scope (interface index), else 0 */
    uint8_t bytes[16]; /* network order; IPv4 uses the first 4 */
} ior_addr_t;

/* The longest text ior_addr_format writes, terminator included. */
#define IOR_ADDR_STRLEN 64

/*
 * Parses a numeric IPv4 ("127.0.0.1") or IPv6 ("::1", "fe80::1%3")
 * address; no name lookup. IOR_EINVAL if it is not one.
 */
IOR_API int ior_addr_parse(ior_addr_t *out, const char *ip, uint16_t port);

/*
 * Writes "1.2.3.4:80" or "[::1]:80". IOR_ERANGE if len is too small,
 * IOR_EINVAL for an unset address.
 */
IOR_API int ior_addr_format(const ior_addr_t *addr, char *buf, size_t len);

/* Writes the address alone ("1.2.3.4", "::1"). Same errors. */
IOR_API int ior_addr_format_ip(const ior_addr_t *addr, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Loop                                                                */
/* ------------------------------------------------------------------ */

typedef struct ior_loop ior_loop_t;
typedef struct ior_transport ior_transport_t;
typedef struct ior_listener ior_listener_t;

typedef struct ior_loop_options {
    /*
     * "epoll" or "poll" (POSIX), "iocp" (Windows). NULL or "" takes the
     * environment variable IOR_BACKEND, then the build's default (epoll on
     * Linux, iocp on Windows). A name this build does not have fails with
     * IOR_ENOTSUP, on every platform.
     */
    const char *backend;
    /*
     * Most completions or ready handles dispatched per iteration before
     * timers and wake-ups get their turn; 0 means the default (256).
     */
    unsigned max_events_per_iteration;
} ior_loop_options_t;

/* Creates a loop. opts may be NULL. */
IOR_API int ior_loop_new(ior_loop_t **out, const ior_loop_options_t *opts);

/* "epoll", "poll" or "iocp". */
IOR_API const char *ior_loop_backend(const ior_loop_t *loop);

/*
 * Runs until ior_loop_stop() or until nothing is left to do (no transport,
 * listener, timer, pending connect or deferred work). Returns 0, or
 * IOR_ESTATE if called from inside a callback of this loop.
 */
IOR_API int ior_loop_run(ior_loop_t *loop);

/*
 * Makes ior_loop_run() return after the current iteration. Safe from any
 * thread and from a signal or console handler context of this library.
 */
IOR_API void ior_loop_stop(ior_loop_t *loop);

/*
 * Closes everything still open (transports get connection_lost with
 * IOR_EABORTED, listeners close, timers are dropped without firing), waits
 * for every outstanding OS operation to finish, and frees the loop.
 * IOR_ESTATE if called while the loop runs.
 */
IOR_API int ior_loop_free(ior_loop_t *loop);

/* The loop's cached monotonic time in milliseconds, updated each iteration. */
IOR_API uint64_t ior_loop_now(const ior_loop_t *loop);

/*
 * SIGINT and SIGTERM (POSIX), Ctrl-C, Ctrl-Break and console close
 * (Windows) stop this loop promptly. One loop per process at a time: the
 * same loop again is 0, another loop IOR_EBUSY until this one is freed.
 * Call it from one thread at a time.
 */
IOR_API int ior_loop_stop_on_interrupt(ior_loop_t *loop);

typedef void (*ior_callback_t)(ior_loop_t *loop, void *user);

/*
 * Runs cb(loop, user) on the loop's thread, soon. Safe from any thread.
 * Calls are delivered in the order made by each thread. IOR_ENOMEM.
 */
IOR_API int ior_loop_call_from_thread(ior_loop_t *loop, ior_callback_t cb,
                                      void *user);

/* ------------------------------------------------------------------ */
/* Timers                                                              */
/* ------------------------------------------------------------------ */

/* A timer handle; 0 is never a valid one. Stale handles are detected. */
typedef uint64_t ior_timer_id;

/*
 * Calls cb(loop, user) once, delay_ms from now. Timers with the same
 * deadline fire in the order they were scheduled. A timer scheduled from a
 * timer callback never fires in the same pass, even with delay 0. out may be
 * NULL. IOR_EINVAL (loop or cb NULL), IOR_ENOMEM.
 */
IOR_API int ior_call_later(ior_loop_t *loop, uint64_t delay_ms,
                           ior_callback_t cb, void *user, ior_timer_id *out);

/*
 * Calls cb(loop, user) first_ms from now and then every period_ms until
 * cancelled (libuv's repeat). It keeps its phase: each deadline is the last
 * one plus the period, unless the loop fell a whole period behind, when the
 * missed firings are skipped rather than run in a burst. The handle stays
 * valid across firings. IOR_EINVAL (loop or cb NULL, period_ms 0),
 * IOR_ENOMEM.
 */
IOR_API int ior_call_every(ior_loop_t *loop, uint64_t first_ms,
                           uint64_t period_ms, ior_callback_t cb, void *user,
                           ior_timer_id *out);

/*
 * Moves a timer to fire delay_ms from now, keeping its handle and its
 * period (libuv's uv_timer_again, with the delay given): a pending timer,
 * or the timer whose callback is running, which re-arms a one-shot timer
 * from inside its own callback. The timer then fires after every timer
 * already due at the same deadline. IOR_ENOENT for a handle that fired and
 * returned or was cancelled.
 */
IOR_API int ior_timer_restart(ior_loop_t *loop, ior_timer_id id,
                              uint64_t delay_ms);

/*
 * Cancels a timer that has not fired: a one-shot timer that has not fired,
 * or any later firing of a repeating one (also from inside its callback).
 * IOR_ENOENT if a one-shot timer already fired (also from inside its own
 * callback) or the timer was cancelled (the handle is then stale; nothing
 * happens).
 */
IOR_API int ior_timer_cancel(ior_loop_t *loop, ior_timer_id id);

/* ------------------------------------------------------------------ */
/* Producers and protocols                                             */
/* ------------------------------------------------------------------ */

/*
 * A producer: something that writes into a consumer (a transport) and can
 * be told to slow down. Streaming (push) producers get pause/resume;
 * pull producers get resume_producing each time the consumer wants more
 * and must write only from inside it. pause_producing may be NULL for a
 * pull producer.
 */
typedef struct ior_producer_ops {
    void (*pause_producing)(void *user);
    void (*resume_producing)(void *user);
    void (*stop_producing)(void *user);
} ior_producer_ops_t;

/*
 * The transport's own producer interface: register a transport as the
 * producer of another (or of itself, as an echo server does) with
 * user = the transport. Calls ior_transport_pause_producing() and friends.
 */
extern IOR_API const ior_producer_ops_t ior_transport_producer_ops;

/*
 * What a transport tells its protocol. Every member may be NULL except
 * connection_lost... which may be NULL too. read_connection_lost != NULL
 * marks the protocol half-close aware (DESIGN rule 11).
 */
typedef struct ior_protocol_ops {
    /* Bytes in order, never zero of them. data is valid during the call. */
    void (*data_received)(ior_transport_t *t, void *user, const void *data,
                          size_t len);
    /* The peer closed its write side; we may still write. */
    void (*read_connection_lost)(ior_transport_t *t, void *user);
    /* Our half-close finished: the queue drained and the send side shut. */
    void (*write_connection_lost)(ior_transport_t *t, void *user);
    /*
     * Exactly once. reason: IOR_EDONE (closed cleanly), IOR_EABORTED
     * (ior_transport_abort_connection) or the error that closed it; the OS
     * error, if any, is ior_transport_os_error(). After it returns the
     * transport is freed: do not touch it again.
     */
    void (*connection_lost)(ior_transport_t *t, void *user, int reason);
} ior_protocol_ops_t;

/* ------------------------------------------------------------------ */
/* Transport: the consumer core                                        */
/* ------------------------------------------------------------------ */

typedef struct ior_buf {
    const void *base;
    size_t len;
} ior_buf_t;

/*
 * Release callback of a zero-copy write: called exactly once, when the
 * bytes are sent or discarded, never from inside the write call.
 */
typedef void (*ior_release_cb)(void *ctx, const void *base, size_t len);

/*
 * Sets the protocol and its user pointer. Call it from the accept or
 * connect callback; reading starts once that callback returns. May be called
 * again later to switch protocols. IOR_EINVAL (NULL t or ops), IOR_ENOTCONN.
 */
IOR_API int ior_transport_set_protocol(ior_transport_t *t,
                                       const ior_protocol_ops_t *ops,
                                       void *user);

IOR_API void *ior_transport_user(const ior_transport_t *t);
IOR_API ior_loop_t *ior_transport_loop(const ior_transport_t *t);

/*
 * Queues a copy of data (DESIGN rule 1). len 0 does nothing and returns 0.
 * IOR_EINVAL (NULL t, or NULL data with len > 0), IOR_ENOTCONN (not
 * connected, closing by abort, or lost), IOR_ESHUTDOWN (write side closed
 * or half-close asked), IOR_ENOBUFS (beyond max_buffer), IOR_ENOMEM. On
 * error nothing is queued. May call the producer's pause_producing. After
 * lose_connection writes are still taken and sent before the close, as in
 * Twisted (the transport is connected until the queue drains).
 */
IOR_API int ior_transport_write(ior_transport_t *t, const void *data,
                                size_t len);

/*
 * Queues data without copying; release(ctx, data, len) runs exactly once
 * when the bytes have been sent or discarded. On error the release callback
 * is not taken (the caller still owns data); nor is it for len 0, which
 * queues nothing. Errors as ior_transport_write.
 */
IOR_API int ior_transport_write_ref(ior_transport_t *t, const void *data,
                                    size_t len, ior_release_cb release,
                                    void *ctx);

/*
 * Queues length bytes of a file from offset, in order with the writes
 * around it and counted in the buffered bytes like them (water marks,
 * max_buffer, producers). os_file is a POSIX descriptor or a Windows
 * HANDLE cast to intptr_t, of a regular file opened for reading; it must
 * stay open, and the region unchanged, until release(ctx, NULL, 0) runs:
 * exactly once, when the region has been sent or discarded (release may
 * be NULL). The OS sends it from the file where it can (sendfile on
 * Linux, TransmitFile on a socket of a Windows Server edition); elsewhere
 * (TLS, pipes, client editions of Windows, which run at most two
 * TransmitFile calls at once, other systems) it is read into memory
 * 256 KiB at a time just before it is sent. ior reads at explicit
 * offsets; on POSIX the file position does not move, on Windows a handle
 * opened without FILE_FLAG_OVERLAPPED may have its file pointer moved, so
 * do not rely on it until the release.
 * The region never takes the direct path, but on an idle transport its
 * first piece may go out (or be read) inside this call, as queued bytes
 * may.
 *
 * IOR_EINVAL (NULL t, os_file -1, offset + length beyond 2^64 or beyond
 * the end of the file), IOR_EBADF (not a regular file open for reading),
 * IOR_ERANGE (a 32-bit build cannot count that many buffered bytes), then
 * as ior_transport_write. length 0 queues nothing and takes no release. If
 * the file cannot be read when its turn comes (it shrank, a read error),
 * the transport closes: connection_lost with IOR_EIO.
 */
IOR_API int ior_transport_write_file(ior_transport_t *t, intptr_t os_file,
                                     uint64_t offset, uint64_t length,
                                     ior_release_cb release, void *ctx);

/*
 * As n copying writes, checked and allocated once: all of it is queued or
 * none. IOR_EINVAL also for NULL bufs with n > 0 or a NULL base with len > 0.
 */
IOR_API int ior_transport_write_sequence(ior_transport_t *t,
                                         const ior_buf_t *bufs, size_t n);

/*
 * Registers a producer (DESIGN rule 4). IOR_EINVAL (NULL t or ops, a
 * streaming producer without pause_producing, or ior_transport_producer_ops
 * with user NULL), IOR_EBUSY (one is registered, or the transport given as
 * producer already produces for another: nothing changes). On a
 * disconnected transport the producer's stop_producing runs at once and 0
 * is returned. A pull producer gets resume_producing at once.
 *
 * A transport registered as the producer of another (a relay) is linked to
 * it: when the producer goes, the consumer unregisters it before its
 * connection_lost; when the consumer goes, the producer is stopped and
 * forgotten (DESIGN rule 5). A producer transport already lost (inside its
 * own connection_lost) is IOR_ENOTCONN.
 *
 * A registered pull producer keeps a lose_connection() waiting until it is
 * unregistered, as in Twisted. At EOF, a transport whose protocol has no
 * read_connection_lost stops and forgets its producer instead (rule 11).
 */
IOR_API int ior_transport_register_producer(ior_transport_t *t,
                                            const ior_producer_ops_t *ops,
                                            void *user, int streaming);

/* DESIGN rule 5. IOR_EINVAL (NULL), IOR_ENOENT (none registered). */
IOR_API int ior_transport_unregister_producer(ior_transport_t *t);

/*
 * Closes after the queue drains and no producer is left to resume
 * (DESIGN rule 6); connection_lost(IOR_EDONE) follows from the loop.
 * IOR_EINVAL, IOR_ENOTCONN (already lost). Repeated calls return 0.
 */
IOR_API int ior_transport_lose_connection(ior_transport_t *t);

/* Half-close after the queue drains (DESIGN rule 7). Errors as above. */
IOR_API int ior_transport_lose_write_connection(ior_transport_t *t);

/*
 * Discards the queue (release callbacks run, from the loop for bytes the OS
 * still holds), resets the connection and reports connection_lost with
 * IOR_EABORTED from the loop. Safe at any point, repeatedly: 0 each time
 * unless t is NULL (IOR_EINVAL). No data_received after it.
 */
IOR_API int ior_transport_abort_connection(ior_transport_t *t);

/* unregister_producer, then lose_connection. */
IOR_API int ior_transport_stop_consuming(ior_transport_t *t);

/*
 * The transport as a producer (DESIGN rule 10): pause stops reading at
 * once (no data_received after it returns); resume restarts it, delivering
 * bytes read but not yet delivered first, from the loop; stop is
 * lose_connection. IOR_EINVAL for NULL; IOR_ENOTCONN once lost.
 */
IOR_API int ior_transport_pause_producing(ior_transport_t *t);
IOR_API int ior_transport_resume_producing(ior_transport_t *t);
IOR_API int ior_transport_stop_producing(ior_transport_t *t);

/*
 * High-water mark (default 65536) and low-water mark (default 0). The low
 * mark must not exceed the high one: IOR_ERANGE. max_buffer (default 0:
 * no limit) refuses, with IOR_ENOBUFS, a write that would take the queue
 * beyond it; it must be 0 or at least buffer_size.
 */
IOR_API int ior_transport_set_buffer_size(ior_transport_t *t,
                                          size_t high_water);
IOR_API int ior_transport_set_low_water(ior_transport_t *t, size_t low_water);
IOR_API int ior_transport_set_max_buffer(ior_transport_t *t, size_t max_buffer);
IOR_API size_t ior_transport_buffer_size(const ior_transport_t *t);
IOR_API size_t ior_transport_low_water(const ior_transport_t *t);

/* Bytes queued and not yet reported written by the OS. 0 for NULL. */
IOR_API size_t ior_transport_buffered(const ior_transport_t *t);

/* Transport state flags, for tools and tests. */
#define IOR_TS_CONNECTED 0x01
#define IOR_TS_DISCONNECTING 0x02
#define IOR_TS_DISCONNECTED 0x04
#define IOR_TS_WRITE_DISCONNECTING 0x08
#define IOR_TS_WRITE_DISCONNECTED 0x10
#define IOR_TS_READ_DISCONNECTED 0x20
#define IOR_TS_PRODUCER 0x40
#define IOR_TS_PRODUCER_PAUSED 0x80
#define IOR_TS_STREAMING 0x100
#define IOR_TS_READING_PAUSED 0x200
IOR_API unsigned ior_transport_state(const ior_transport_t *t);

/*
 * The OS error (errno, WSAGetLastError or GetLastError value) behind the
 * last error on this transport, or 0.
 */
IOR_API int ior_transport_os_error(const ior_transport_t *t);

/* ------------------------------------------------------------------ */
/* TCP                                                                 */
/* ------------------------------------------------------------------ */

typedef struct ior_listener_ops {
    /*
     * A new connection. Call ior_transport_set_protocol(t, ...) here; a
     * transport left without a protocol is closed when this returns.
     */
    void (*connection_accepted)(ior_listener_t *l, void *user,
                                ior_transport_t *t);
    /*
     * Optional: a non-fatal accept error (IOR_EMFILE, IOR_ENOBUFS, ...).
     * The listener keeps listening and retries by itself.
     */
    void (*accept_error)(ior_listener_t *l, void *user, int err);
} ior_listener_ops_t;

typedef struct ior_listen_options {
    int backlog;    /* 0: the default (511) */
    int ipv6_only;  /* for an IPv6 address: 1 refuses IPv4; 0 dual-stack */
    unsigned flags; /* IOR_LISTEN_*; 0 for the defaults */
} ior_listen_options_t;

/*
 * Windows: let this listener bind while connections accepted on its port
 * by an earlier listener (a server restarted quickly) are still open. By
 * default a listener holds its port with SO_EXCLUSIVEADDRUSE, so no other
 * socket can ever bind over it (SO_REUSEADDR on Windows would let one);
 * the price, as Microsoft documents, is that a new listener cannot bind
 * the port until the old one's accepted connections have closed
 * (IOR_EADDRINUSE). With this flag the listener uses Windows' default
 * sharing instead: the restart works, and a program that sets
 * SO_REUSEADDR could bind the same port. POSIX: no effect (listeners use
 * SO_REUSEADDR, which allows the restart and never a second listener).
 */
#define IOR_LISTEN_QUICK_RESTART 0x1u

/*
 * POSIX: SO_REUSEPORT. Several listeners that all set it may listen on the
 * same address and port, and the kernel spreads new connections across
 * them (Linux hashes each connection to one listener), so a server can run
 * one loop per thread with a listener each. Every listener on the port
 * must set it, and (Linux) belong to the same user. IOR_ENOTSUP on Windows,
 * which has no such option (SO_REUSEADDR there lets sockets steal a port,
 * not share its connections), and on a POSIX system without SO_REUSEPORT.
 */
#define IOR_LISTEN_REUSEPORT 0x2u

/*
 * Listens on addr (port 0 picks a free port). opts may be NULL. IOR_EINVAL,
 * IOR_EADDRINUSE, IOR_EADDRNOTAVAIL, IOR_EAFNOSUPPORT, IOR_EACCES,
 * IOR_EMFILE, IOR_ENOMEM.
 */
IOR_API int ior_tcp_listen(ior_loop_t *loop, const ior_addr_t *addr,
                           const ior_listen_options_t *opts,
                           const ior_listener_ops_t *ops, void *user,
                           ior_listener_t **out);

/* The address the listener is bound to, with the real port. */
IOR_API int ior_listener_address(const ior_listener_t *l, ior_addr_t *out);

/* Stops listening and frees l; no callback after it returns. */
IOR_API void ior_listener_close(ior_listener_t *l);

/*
 * Connect result: on success t is connected and status is 0 (call
 * ior_transport_set_protocol here); otherwise t is NULL and status is
 * IOR_ECONNREFUSED, IOR_ENETUNREACH, IOR_EHOSTUNREACH, IOR_ETIMEDOUT,
 * IOR_ECANCELED (loop freed) or another code. os_error is the OS error
 * behind a failed status (errno, or the Winsock/Win32 code; its message is
 * ior_os_strerror), 0 on success and when the library decided the status
 * itself (IOR_ETIMEDOUT from the timeout option, IOR_ECANCELED).
 */
typedef void (*ior_connect_cb)(ior_loop_t *loop, void *user,
                               ior_transport_t *t, int status, int os_error);

typedef struct ior_connect_options {
    uint64_t timeout_ms;     /* 0: no timeout beyond the OS's own */
    const ior_addr_t *bind;  /* local address, or NULL */
} ior_connect_options_t;

/*
 * Starts a connection; cb runs later from the loop, exactly once, never
 * from inside this call. opts may be NULL. IOR_EINVAL, IOR_EAFNOSUPPORT,
 * IOR_EMFILE, IOR_ENOMEM (then cb never runs).
 */
IOR_API int ior_tcp_connect(ior_loop_t *loop, const ior_addr_t *addr,
                            const ior_connect_options_t *opts,
                            ior_connect_cb cb, void *user);

/* How long an attempt of ior_tcp_connect_addrs/_name runs alone. */
#define IOR_CONNECT_ATTEMPT_DELAY_MS 250

/*
 * Connects to the first of addrs that answers, as RFC 8305 "Happy
 * Eyeballs": the addresses are tried with the families alternating
 * (starting with addrs[0]'s), one attempt at a time; the next starts
 * IOR_CONNECT_ATTEMPT_DELAY_MS after the last one or as soon as every
 * running attempt has failed. The first success wins and the other
 * attempts are cancelled (one that connects anyway is closed). cb runs
 * once, from the loop, never inside this call: with the transport, or
 * with the last attempt's failure and its os_error, IOR_ETIMEDOUT when
 * opts->timeout_ms (one limit for the whole) ran out, IOR_ECANCELED at
 * ior_loop_free. opts->bind (may be NULL) keeps only addresses of its
 * family (none left: IOR_EAFNOSUPPORT). IOR_EINVAL (NULLs, n 0, a bad
 * family), IOR_ENOMEM, or ior_tcp_connect's code when no attempt could
 * start (then cb never runs).
 */
IOR_API int ior_tcp_connect_addrs(ior_loop_t *loop, const ior_addr_t *addrs,
                                  size_t n, const ior_connect_options_t *opts,
                                  ior_connect_cb cb, void *user);

/*
 * Resolves host (ior_resolve) and connects to its addresses as
 * ior_tcp_connect_addrs, IPv6 first (Twisted's connectTCP(host)). The
 * timeout covers the resolution too; a name that does not resolve is
 * cb(IOR_ENAME). IOR_EINVAL, IOR_ENOMEM (then cb never runs).
 */
IOR_API int ior_tcp_connect_name(ior_loop_t *loop, const char *host,
                                 uint16_t port,
                                 const ior_connect_options_t *opts,
                                 ior_connect_cb cb, void *user);

/* The local and remote addresses of a connected TCP transport. */
IOR_API int ior_transport_host_address(const ior_transport_t *t,
                                       ior_addr_t *out);
IOR_API int ior_transport_peer_address(const ior_transport_t *t,
                                       ior_addr_t *out);

/* TCP_NODELAY on or off. IOR_ENOTSUP on a transport that is not TCP. */
IOR_API int ior_transport_set_nodelay(ior_transport_t *t, int on);

/* SO_KEEPALIVE with the given idle time in seconds (0: OS default). */
IOR_API int ior_transport_set_keepalive(ior_transport_t *t, int on,
                                        unsigned idle_seconds);

/* ------------------------------------------------------------------ */
/* Local IPC: Unix domain sockets, Windows named pipes                 */
/* ------------------------------------------------------------------ */

/*
 * Listens on a local name; connections arrive as ordinary transports
 * through ops (as ior_tcp_listen). POSIX: name is the path of an AF_UNIX
 * stream socket (at most 107 bytes); a socket file left by a dead server
 * is replaced, a live server's is IOR_EADDRINUSE, and any other file at
 * the path is IOR_EADDRINUSE and left alone; ior_listener_close removes
 * the socket file. Windows: a named pipe, "\\\\.\\pipe\\NAME" or a bare NAME
 * meaning that (at most 256 characters). Its first instance is created
 * with FILE_FLAG_FIRST_PIPE_INSTANCE, so a second server on the same name
 * is IOR_EADDRINUSE; remote clients are refused; only the current user
 * and SYSTEM may open it; four instances wait for clients at a time.
 * Half-close works on both: ior_transport_lose_write_connection shuts an
 * AF_UNIX socket's write side as on TCP; a named pipe has no half-close
 * of its own, so ior sends a zero-length message, which the ior transport
 * at the other end reads as EOF (another program reads zero bytes).
 * ior_listener_address is IOR_ENOTSUP. IOR_EINVAL (NULLs, empty or too
 * long name), IOR_EADDRINUSE, IOR_EACCES, IOR_ENOENT (no such directory),
 * IOR_EMFILE, IOR_ENOMEM.
 */
IOR_API int ior_local_listen(ior_loop_t *loop, const char *name,
                             const ior_listener_ops_t *ops, void *user,
                             ior_listener_t **out);

/*
 * Connects to a local name (as ior_local_listen names it); cb as for
 * ior_tcp_connect: the transport, or IOR_ENOENT (nobody listens on that
 * name; POSIX: no such file), IOR_ECONNREFUSED (POSIX: a socket file
 * nobody serves), IOR_EACCES, IOR_ETIMEDOUT (opts->timeout_ms), or
 * IOR_ECANCELED. A Windows server whose instances are all taken
 * (ERROR_PIPE_BUSY) is retried from the loop every 10 ms until one is
 * free or the timeout ends; no thread waits in WaitNamedPipe. opts may be
 * NULL; opts->bind must be NULL. IOR_EINVAL, IOR_ENOMEM.
 */
IOR_API int ior_local_connect(ior_loop_t *loop, const char *name,
                              const ior_connect_options_t *opts,
                              ior_connect_cb cb, void *user);

/* ------------------------------------------------------------------ */
/* Name resolution                                                     */
/* ------------------------------------------------------------------ */

/*
 * Result of ior_resolve: status 0 with n >= 1 addresses (valid during the
 * call, port filled in), or IOR_ENAME / IOR_ECANCELED (loop freed) / another
 * code with n == 0.
 */
typedef void (*ior_resolve_cb)(ior_loop_t *loop, void *user, int status,
                               const ior_addr_t *addrs, size_t n);

/*
 * Resolves host (a name or a numeric address) without blocking the loop:
 * the lookup runs on a helper thread and cb runs on the loop, exactly once,
 * never from inside this call. family: 0 (any), IOR_AF_INET or
 * IOR_AF_INET6. IOR_EINVAL, IOR_ENOMEM.
 */
IOR_API int ior_resolve(ior_loop_t *loop, const char *host, uint16_t port,
                        int family, ior_resolve_cb cb, void *user);

/* ------------------------------------------------------------------ */
/* Pipes and standard I/O                                              */
/* ------------------------------------------------------------------ */

#define IOR_PIPE_READ 0x1
#define IOR_PIPE_WRITE 0x2

/*
 * Wraps an OS handle (a POSIX file descriptor, or a Windows HANDLE cast to
 * intptr_t) as a transport on the same consumer core as a socket. dirs says
 * which directions are used (IOR_PIPE_READ | IOR_PIPE_WRITE); a direction
 * not used counts as already closed, so EOF on a read-only pipe ends it and
 * lose_connection on a write-only one closes it after the drain. The
 * transport owns the handle and closes it. Reading starts from the loop
 * after this returns. A reader that went away is a write error (IOR_EPIPE),
 * never a signal. IOR_EINVAL, IOR_EBADF, IOR_ENOMEM.
 */
IOR_API int ior_pipe_open(ior_loop_t *loop, intptr_t os_handle, unsigned dirs,
                          const ior_protocol_ops_t *ops, void *user,
                          ior_transport_t **out);

/*
 * Standard input (0, read-only), output (1) or error (2, write-only) as a
 * transport: pipes, files, consoles/ttys and sockets all work.
 */
IOR_API int ior_stdio_open(ior_loop_t *loop, int which,
                           const ior_protocol_ops_t *ops, void *user,
                           ior_transport_t **out);

/* ------------------------------------------------------------------ */
/* UDP                                                                 */
/* ------------------------------------------------------------------ */

typedef struct ior_udp ior_udp_t;

typedef struct ior_udp_ops {
    /*
     * A datagram from `from`. truncated is nonzero when it was longer than
     * max_packet_size: data then holds its first max_packet_size bytes.
     */
    void (*datagram_received)(ior_udp_t *u, void *user, const void *data,
                              size_t len, const ior_addr_t *from,
                              int truncated);
    /*
     * Connected UDP only: the peer's port is closed (ICMP port unreachable).
     * The socket stays usable. POSIX reports it; Windows reports it on
     * connected sockets (SIO_UDP_CONNRESET, off for unconnected ones). Wine
     * 8 reports it once and then never receives on that socket again (a
     * Wine bug: its server stops polling a socket after an ICMP error).
     */
    void (*connection_refused)(ior_udp_t *u, void *user);
    /* Optional: a queued datagram could not be sent (the error code). */
    void (*send_error)(ior_udp_t *u, void *user, int err);
} ior_udp_ops_t;

typedef struct ior_udp_options {
    size_t max_packet_size; /* 0: 8192, as Twisted */
    size_t max_send_queue;  /* bytes waiting to be sent; 0: 1 MiB */
    int ipv6_only;          /* for an IPv6 address: 1 refuses IPv4 */
    int reuse_address;      /* SO_REUSEADDR (several multicast listeners) */
} ior_udp_options_t;

/*
 * Binds a UDP socket (port 0 picks one) and starts reading. opts may be
 * NULL. IOR_EINVAL, IOR_EADDRINUSE, IOR_EADDRNOTAVAIL, IOR_EAFNOSUPPORT,
 * IOR_EMFILE, IOR_ENOMEM.
 */
IOR_API int ior_udp_listen(ior_loop_t *loop, const ior_addr_t *addr,
                           const ior_udp_options_t *opts,
                           const ior_udp_ops_t *ops, void *user,
                           ior_udp_t **out);
IOR_API int ior_udp_address(const ior_udp_t *u, ior_addr_t *out);

/*
 * Queues a copy of one datagram for `to`; never blocks the loop. All of it
 * is queued or nothing: IOR_ENOBUFS when the send queue is full,
 * IOR_EMSGSIZE beyond 65507 bytes, IOR_EINVAL, IOR_EAFNOSUPPORT,
 * IOR_ESTATE (a connected socket must use ior_udp_write).
 */
IOR_API int ior_udp_send_to(ior_udp_t *u, const void *data, size_t len,
                            const ior_addr_t *to);
/* Fixes the peer: only its datagrams arrive; ior_udp_write sends to it. */
IOR_API int ior_udp_connect(ior_udp_t *u, const ior_addr_t *peer);
/* Connected UDP: as ior_udp_send_to to the peer. IOR_ENOTCONN if none. */
IOR_API int ior_udp_write(ior_udp_t *u, const void *data, size_t len);
/* Bytes queued by send_to/write and not yet handed to the OS. */
IOR_API size_t ior_udp_send_queue_size(const ior_udp_t *u);

/* Reading as a producer: no datagram_received after pause returns. */
IOR_API int ior_udp_pause_reading(ior_udp_t *u);
IOR_API int ior_udp_resume_reading(ior_udp_t *u);
/* Producer ops over pause/resume (stop closes the socket); user = the udp. */
extern IOR_API const ior_producer_ops_t ior_udp_producer_ops;

/* Multicast. iface: the local interface address, or NULL for any. */
IOR_API int ior_udp_join_group(ior_udp_t *u, const ior_addr_t *group,
                               const ior_addr_t *iface);
IOR_API int ior_udp_leave_group(ior_udp_t *u, const ior_addr_t *group,
                                const ior_addr_t *iface);
IOR_API int ior_udp_set_multicast_ttl(ior_udp_t *u, int ttl);
IOR_API int ior_udp_set_multicast_loop(ior_udp_t *u, int on);
IOR_API int ior_udp_set_multicast_interface(ior_udp_t *u,
                                            const ior_addr_t *iface);

/*
 * Closes the socket and frees u (queued datagrams are dropped); no
 * callback after it returns.
 */
IOR_API void ior_udp_close(ior_udp_t *u);

/* ------------------------------------------------------------------ */
/* Readiness of sockets owned by another library                       */
/* ------------------------------------------------------------------ */

/*
 * A poll handle watches a socket that ior does not own (c-ares, libcurl's
 * multi interface, libpq, ZeroMQ, libssh2 hand one over and ask "tell me
 * when it is readable or writable"), as libuv's uv_poll. IOCP asks the
 * AFD driver (IOCTL_AFD_POLL) on the loop's completion port; POSIX uses
 * the loop's epoll or poll. The socket stays the caller's: ior never
 * reads, writes or closes it.
 *
 * Level-triggered on every backend: while the socket is ready for an
 * event that was asked, the callback runs again on each loop iteration,
 * until the caller reads, writes, changes the events or stops.
 *
 *   IOR_POLL_READABLE    data, EOF, a connection to accept, or an error.
 *   IOR_POLL_WRITABLE    room to send, or a connect that finished (either
 *                        way: read SO_ERROR to learn which).
 *   IOR_POLL_DISCONNECT  the peer closed its side (FIN) or reset.
 * An error or reset on the socket reports every event that was asked.
 */
typedef struct ior_poll ior_poll_t;

#define IOR_POLL_READABLE 0x1u
#define IOR_POLL_WRITABLE 0x2u
#define IOR_POLL_DISCONNECT 0x4u

/*
 * status 0: events holds the ready events (only those asked). status < 0:
 * the watch itself failed (IOR_EBADF: the OS says the socket was closed
 * under it; IOR_ENOMEM, IOR_EIO), events is 0 and the handle is stopped.
 */
typedef void (*ior_poll_cb_t)(ior_poll_t *p, void *user, int status,
                              unsigned events);

/*
 * A stopped poll handle for os_socket (a POSIX descriptor, or a Windows
 * SOCKET cast to intptr_t), which must stay open until the handle is
 * closed. One handle per socket and loop: a second is IOR_EBUSY. Never
 * one for a socket ior itself owns (a transport's or listener's).
 * IOR_EINVAL (NULL arguments, -1), IOR_EBADF (not an open socket),
 * IOR_ENOMEM.
 */
IOR_API int ior_poll_open(ior_loop_t *loop, intptr_t os_socket,
                          ior_poll_cb_t cb, void *user, ior_poll_t **out);

/*
 * Starts watching events (IOR_POLL_* bits, not 0), or changes them on a
 * started handle; from inside the callback too. A started handle keeps
 * ior_loop_run running, a stopped one does not. IOR_EINVAL (unknown bits,
 * 0, a closed handle).
 */
IOR_API int ior_poll_start(ior_poll_t *p, unsigned events);

/* Stops watching; the callback does not run again until a start. */
IOR_API int ior_poll_stop(ior_poll_t *p);

/*
 * Stops and frees the handle (once the OS has let go of a request in
 * flight); the callback never runs again. From inside the callback too.
 * The socket is left open. ior_loop_free closes handles still open.
 */
IOR_API void ior_poll_close(ior_poll_t *p);

/* ------------------------------------------------------------------ */
/* Child processes                                                     */
/* ------------------------------------------------------------------ */

typedef struct ior_process ior_process_t;

typedef struct ior_process_ops {
    /*
     * Once: the child has exited and its three stdio transports have all
     * delivered connection_lost. exit_code: the exit status (0-255 on
     * POSIX, the 32-bit code on Windows), or -1 when killed by a signal,
     * which term_signal then names (POSIX). p is freed after this returns.
     */
    void (*process_ended)(ior_process_t *p, void *user, int exit_code,
                          int term_signal);
} ior_process_ops_t;

typedef struct ior_process_options {
    const char *file;         /* the program; NULL: argv[0] (PATH searched) */
    const char *const *argv;  /* NULL-terminated; argv[0] required */
    /*
     * "K=V" NULL-terminated; NULL: inherit. Windows: the variables a
     * Windows program needs (SYSTEMROOT, WINDIR, SYSTEMDRIVE, TEMP, PATH,
     * HOMEDRIVE, HOMEPATH, USERPROFILE, USERNAME, USERDOMAIN, LOGONSERVER)
     * that env lacks are added from the parent, as libuv does: without
     * SYSTEMROOT, Winsock fails in the child.
     */
    const char *const *env;
    const char *cwd;          /* NULL: inherit */
    unsigned flags;           /* IOR_PROCESS_*; 0 for the defaults */
} ior_process_options_t;

/*
 * Windows: let the program be a batch file (.bat, .cmd). CreateProcess
 * runs one through cmd.exe, which parses the command line again by its
 * own rules, so arguments quoted for a program can still run commands
 * (the "BatBadBut" class). Without this flag such a program is IOR_EINVAL;
 * with it, pass only arguments you trust. No effect elsewhere.
 */
#define IOR_PROCESS_ALLOW_BATCH 0x1u

/*
 * Let the child outlive this process. By default a Windows child is in a
 * job object of this process with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, so
 * it (and what it starts, unless it breaks away) ends when this process
 * ends, even by a crash or TerminateProcess; and it shares this process's
 * console, so Ctrl-C reaches it too. A detached child is in no job of
 * ours and has a console and process group of its own (Windows), or a
 * session of its own (POSIX: setsid, so the terminal's SIGINT and SIGHUP
 * do not reach it). On POSIX a child that is not detached still outlives
 * a parent that dies, as with fork.
 */
#define IOR_PROCESS_DETACHED 0x2u

/*
 * Starts a child whose stdin, stdout and stderr are pipes on the loop,
 * each a transport on the shared consumer core: stdin write-only,
 * stdout and stderr read-only. Set their protocols with
 * ior_transport_set_protocol(ior_process_stdio(p, i), ...) right after this
 * returns; reading starts from the loop. Arguments reach the child exactly
 * (Windows: quoted by the MSVC rules). No other handle is inherited.
 * IOR_EINVAL, IOR_ENOENT (no such program), IOR_EACCES, IOR_ENOMEM,
 * IOR_EMFILE.
 */
IOR_API int ior_process_spawn(ior_loop_t *loop,
                              const ior_process_options_t *opts,
                              const ior_process_ops_t *ops, void *user,
                              ior_process_t **out);

/* Stdio transport 0, 1 or 2; NULL once it has been lost. */
IOR_API ior_transport_t *ior_process_stdio(ior_process_t *p, int which);
/* The process id. */
IOR_API long ior_process_pid(const ior_process_t *p);

#define IOR_SIGTERM 15
#define IOR_SIGKILL 9
#define IOR_SIGINT 2
/*
 * Sends a signal (POSIX numbers). Windows: IOR_SIGTERM and IOR_SIGKILL
 * terminate the process (exit code 1), others are IOR_ENOTSUP.
 * IOR_ESTATE once the child has exited.
 */
IOR_API int ior_process_signal(ior_process_t *p, int signum);
/* ior_process_signal(p, IOR_SIGTERM). */
IOR_API int ior_process_terminate(ior_process_t *p);

/* ------------------------------------------------------------------ */
/* TLS                                                                 */
/* ------------------------------------------------------------------ */

/* What the handshake agreed on. The strings live as long as t. */
typedef struct ior_tls_info {
    const char *version; /* "TLSv1.2", "TLSv1.3" */
    const char *cipher;  /* the engine's name of the cipher suite */
    const char *alpn;    /* the protocol chosen, or NULL: none */
} ior_tls_info_t;

typedef struct ior_tls_options {
    int server; /* 1: this side accepts the handshake; 0: client */
    /*
     * Client: the name sent as SNI and checked against the peer's
     * certificate (DNS name or IP address). Required unless insecure.
     */
    const char *server_name;
    const char *ca_file; /* client: PEM file of trusted CAs; NULL: system */
    int insecure;        /* client: 1 verifies nothing (tests, lab tools) */
    /* NULL-terminated ALPN protocol names, most preferred first; NULL. */
    const char *const *alpn;
    const char *cert_file; /* server: PEM chain, leaf first */
    const char *key_file;  /* server: PEM private key */
    /*
     * Server, instead of cert_file and key_file: a PKCS#12 (.pfx, .p12)
     * file with the chain and the key, and its password (NULL: none).
     */
    const char *pfx_file;
    const char *pfx_password;
    /*
     * Windows server, instead of files: the first certificate in the
     * user's personal store (CurrentUser\My) whose subject contains this
     * text, with its key. IOR_ENOTSUP elsewhere.
     */
    const char *store_subject;
    /* A handshake not done in this time fails with IOR_ETIMEDOUT; 0: 30 s */
    uint32_t handshake_timeout_ms;
    /* Optional: the handshake is done (before any data_received). */
    void (*handshake_done)(ior_transport_t *t, void *user,
                           const ior_tls_info_t *info);
    /* Optional: when ior_tls_start fails, the engine's words land here. */
    char *error;
    size_t error_len;
} ior_tls_options_t;

/*
 * Starts TLS over the connected transport inner, which from now on
 * belongs to the TLS layer (do not use it again). *out is an ordinary
 * transport for the plaintext: write, write_ref, write_sequence,
 * producers and water marks, lose_connection (sends close_notify, then
 * closes), lose_write_connection (sends close_notify and half-closes TCP;
 * a TLS 1.3 peer may go on writing, a TLS 1.2 peer normally closes),
 * abort_connection, connection_lost exactly once. Writes made before the
 * handshake is done wait for it, and are never sent when it fails.
 * connection_lost reasons of its own: IOR_ECERT (verification failed:
 * unknown CA, wrong name, expired), IOR_ETLS (any other handshake or
 * record failure), IOR_ETRUNCATED (the peer closed TCP without
 * close_notify), IOR_ETIMEDOUT (handshake timeout); ior_tls_reason gives
 * the engine's words. Reading starts from the loop, after this returns.
 * IOR_EINVAL (NULL, no server_name for a verifying client, no cert and
 * key or PFX for a server, or both), IOR_ENOTCONN (inner closed or
 * closing), IOR_ENOTSUP (no
 * TLS engine in this build), IOR_ETLS (the engine refused the options:
 * an unreadable or invalid certificate, key or CA file), IOR_ENOMEM.
 */
IOR_API int ior_tls_start(ior_transport_t *inner, const ior_tls_options_t *opts,
                          const ior_protocol_ops_t *ops, void *user,
                          ior_transport_t **out);

/*
 * Connects to addr (as ior_tcp_connect, copts may be NULL) and starts TLS
 * on the connection with topts, copied (its strings must stay valid until
 * cb runs). cb runs once, from the loop: with the TLS transport and
 * status 0 (set its protocol there, as after ior_tcp_connect; the
 * handshake follows, and a verification failure is its connection_lost),
 * or with t NULL and the connect's error, or ior_tls_start's. Returns
 * what ior_tcp_connect returns, or ior_tls_start's option errors
 * (IOR_EINVAL) at once; then cb never runs.
 */
IOR_API int ior_tls_connect(ior_loop_t *loop, const ior_addr_t *addr,
                            const ior_connect_options_t *copts,
                            const ior_tls_options_t *topts, ior_connect_cb cb,
                            void *user);

/*
 * The engine's reason for the last TLS failure of t, as text ("" when
 * none), into buf; valid until t is freed (inside connection_lost too).
 * Returns buf. IOR_EINVAL handling: NULL t or buf writes nothing.
 */
IOR_API const char *ior_tls_reason(const ior_transport_t *t, char *buf,
                                   size_t len);

/* The engine this build uses: "openssl", "schannel" or "none". */
IOR_API const char *ior_tls_engine(void);

#ifdef __cplusplus
}
#endif

#endif /* IOR_H */
