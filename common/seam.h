/*
 * The seam between the portable core (common/) and a backend (iocp/,
 * posix/, or the fake backend of tests/core).
 *
 *   ior__core_*  what the core offers a backend;
 *   ior__os_*    what a backend must provide; the core calls these.
 *
 * Resolved at link time. Nothing here names an OS type.
 *
 * Object layout: a backend allocates its own structs with the core's struct
 * as the FIRST member, so a pointer to one is a pointer to the other:
 *
 *     struct ior__posix_loop { struct ior_loop base; int epfd; ... };
 *     struct ior__posix_fd { struct ior_transport base; ... };
 *
 * Rules a backend follows (the core relies on them):
 *  - It never calls a protocol or producer callback itself; it reports to
 *    the core (ior__core_read, _read_eof, _error, _send_end, _drained) and
 *    the core decides what the user sees.
 *  - ior__core_drained() and ior__core_read*() are called only from the
 *    loop (a poll dispatch), never from inside an ior__os_* function, since
 *    those run inside user calls. From inside ior__os_start_writing() a
 *    backend may send at once (send_begin/send_end) and then ask for the
 *    consequences with ior__core_defer_drain(); it may report an error with
 *    ior__core_error(), which only ever defers.
 *  - After ior__os_close() it keeps reporting completions of sends it had
 *    begun (ior__core_send_end), so their chunks are released; the core
 *    delivers connection_lost only once no send is in flight.
 *  - It frees a transport only after ior__os_transport_free() AND after its
 *    last OS operation on it has completed.
 */
#ifndef IOR_SEAM_H
#define IOR_SEAM_H

#include "ior.h"

#include <stddef.h>
#include <stdint.h>

/* Recovers the struct that embeds `member` (STYLE.md §7); both backends. */
#define IOR__CONTAINER(ptr, type, member)                                      \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ------------------------------------------------------------------ */
/* Allocation                                                          */
/* ------------------------------------------------------------------ */

void *ior__malloc(size_t size);
void *ior__calloc(size_t n, size_t size); /* zeroed; overflow → NULL */
void *ior__realloc(void *ptr, size_t size);
void ior__free(void *ptr);

/* ------------------------------------------------------------------ */
/* Timer heap                                                          */
/* ------------------------------------------------------------------ */

/*
 * A binary min-heap keyed on (deadline, sequence) over a slot table, so a
 * handle is (generation << 32 | slot + 1) and stale handles are detected
 * without touching freed memory.
 */
struct ior__timer_slot {
    uint64_t deadline;
    uint64_t seq;
    uint64_t period; /* 0 for a one-shot timer */
    ior_callback_t cb;
    void *user;
    /* IOR__TIMER_FREE when unused, IOR__TIMER_FIRING while its callback runs */
    uint32_t heap_index;
    uint32_t gen;
    uint32_t next_free;
};

#define IOR__TIMER_FREE UINT32_MAX
#define IOR__TIMER_FIRING (UINT32_MAX - 1)

typedef struct ior__timers {
    struct ior__timer_slot *slots;
    uint32_t nslots;
    uint32_t cap;
    uint32_t *heap; /* slot indexes; capacity == cap */
    uint32_t count;
    uint32_t free_head; /* IOR__TIMER_FREE when none */
    uint64_t next_seq;
} ior__timers_t;

void ior__timers_cleanup(ior__timers_t *h);

/* ------------------------------------------------------------------ */
/* Write queue                                                         */
/* ------------------------------------------------------------------ */

struct ior__chunk {
    struct ior__chunk *next;
    const char *base; /* first byte of the chunk's data; NULL for a file */
    size_t len;       /* bytes of data */
    size_t cap;       /* copy chunks: room for inline data; 0: borrowed */
    ior_release_cb release;
    void *ctx;
    /* File chunks (ior_transport_write_file): len bytes from foff. */
    intptr_t file;
    uint64_t foff;
    unsigned char is_file;
    /* copy chunks: inline data follows */
};

/*
 * A file region is queued as chunks of at most this many bytes, the most
 * one TransmitFile call sends (2^31 - 2); only the last carries the
 * release callback.
 */
#define IOR__FILE_CHUNK_MAX ((size_t)0x7FFFFFFEu)

typedef struct ior__wqueue {
    struct ior__chunk *head;
    struct ior__chunk *tail;
    size_t head_off; /* bytes of head already written */
    size_t bytes;    /* queued and not yet written: `buffered` */
    size_t inflight; /* bytes handed to the OS by send_begin, not ended */
    /* Borrowed chunks fully written, waiting for their release callback. */
    struct ior__chunk *done_head;
    struct ior__chunk *done_tail;
    int discarded; /* the queue was thrown away while a send was in flight */
} ior__wqueue_t;

/*
 * Copies bufs into dst, up to cap bytes, and returns how many: a backend
 * whose OS call takes one buffer gathers what ior__core_send_begin marked
 * (what does not fit stays queued: send_end takes a partial count).
 */
size_t ior__bufs_gather(char *dst, size_t cap, const ior_buf_t *bufs, size_t n);

/* ------------------------------------------------------------------ */
/* Loop (core part)                                                    */
/* ------------------------------------------------------------------ */

/* Something the loop must close when it is freed (listeners, connects). */
typedef struct ior__handle {
    struct ior__handle *prev;
    struct ior__handle *next;
    void (*close)(struct ior__handle *h);
} ior__handle_t;

/* A call queued for the loop's thread (call_from_thread, helper threads). */
struct ior__async {
    struct ior__async *next;
    ior_callback_t cb;
    void *user;
    int heap; /* allocated by call_from_thread: freed after it runs */
};

struct ior_loop {
    const char *backend_name;
    uint64_t now;
    ior__timers_t timers;
    /* Transports waiting for deferred work (see IOR__PEND_*). */
    ior_transport_t *pending_head;
    ior_transport_t *pending_tail;
    /* Every live transport (for ior_loop_free). */
    ior_transport_t *transports;
    ior__handle_t *handles;
    struct ior_poll *polls; /* open poll handles (common/poll.c) */
    size_t active;         /* transports + handles + other refs */
    unsigned max_events;   /* per poll dispatch */
    int running;
    int stop;
    /* Guarded by ior__os_loop_lock: */
    struct ior__async *async_head;
    struct ior__async *async_tail;
    int async_stop;
    int async_signalled;
    /* Helper threads (name lookups) that have not posted back yet. */
    size_t threads;
};

/* Called by ior__os_loop_create on the embedded base (max_events > 0). */
int ior__core_loop_init(ior_loop_t *loop, const char *backend_name,
                        unsigned max_events);
void ior__core_loop_update_time(ior_loop_t *loop);
/* The backend calls this when its wake-up fires (any time is harmless). */
void ior__core_loop_run_async(ior_loop_t *loop);
void ior__core_handle_add(ior_loop_t *loop, ior__handle_t *h);
void ior__core_handle_remove(ior_loop_t *loop, ior__handle_t *h);

/* ------------------------------------------------------------------ */
/* Transport (core part)                                               */
/* ------------------------------------------------------------------ */

/* Deferred work bits on a transport waiting in the loop's pending list. */
#define IOR__PEND_DRAIN 0x1   /* run ior__core_drained */
#define IOR__PEND_DELIVER 0x2 /* deliver held read data / EOF */
#define IOR__PEND_CLOSE 0x4   /* deliver connection_lost */
#define IOR__PEND_BEGIN 0x8   /* run ior__transport_begin (pipes) */

/* Read data held while paused, delivered in order on resume. */
typedef struct ior__rbuf {
    char *data;
    size_t off;
    size_t len;
    size_t cap;
} ior__rbuf_t;

struct ior_transport {
    ior_loop_t *loop;
    const ior_protocol_ops_t *proto;
    void *proto_user;
    const ior_producer_ops_t *producer;
    void *producer_user;
    /*
     * The transport whose registered producer this transport is (through
     * ior_transport_producer_ops), or NULL: whichever of the two goes
     * first unlinks the other (ior__producer_forget, ior__producer_gone).
     */
    ior_transport_t *consumer;

    /* DESIGN.md state, one flag each. */
    unsigned char connected;
    unsigned char disconnecting;
    unsigned char disconnected;
    unsigned char write_disconnecting;
    unsigned char write_disconnected;
    unsigned char read_disconnected; /* EOF seen (and delivered) */
    unsigned char streaming;
    unsigned char producer_paused;
    /* Internal state. */
    unsigned char reading_paused; /* the transport's own pause_producing */
    unsigned char aborting;       /* abort asked; connection_lost pending */
    unsigned char closing;        /* connection_lost decided, pending */
    unsigned char eof_held;       /* EOF arrived while paused */
    unsigned char os_closed;      /* ior__os_close called */
    unsigned char began;          /* ior__transport_begin done */

    ior__wqueue_t q;
    size_t buffer_size;
    size_t low_water;
    size_t max_buffer;
    ior__rbuf_t held;

    int reason;   /* reason for connection_lost */
    int os_error; /* the OS error behind the last error */

    unsigned pending; /* IOR__PEND_* bits; nonzero while listed */
    ior_transport_t *pending_next;
    ior_transport_t *prev;
    ior_transport_t *next;

    /*
     * A transport layered over another one inside common/ (TLS,
     * common/tls.c): the layer stands where the backend would, and the
     * core calls it instead of the ior__os_* transport functions. NULL for
     * a backend's own transport; a backend never sees a layered one.
     */
    const struct ior__layer *layer;
    /*
     * Set by a layer whose transport below still holds bytes of a clean
     * close: connection_lost waits, as for a send in flight, until the
     * layer clears it and defers IOR__PEND_CLOSE.
     */
    unsigned char layer_hold;

    /* A child's stdin, stdout or stderr: told when the core frees it. */
    struct ior__proc *proc;
    unsigned char proc_index; /* 0, 1 or 2 */

    /*
     * TCP only (common/tcp.c): both addresses, captured when the
     * transport is made (ior__core_tcp_addrs), so they answer the same
     * for its whole life, after connection_lost and an abort included.
     */
    unsigned char tcp;
    ior_addr_t host;
    ior_addr_t peer;
};

/*
 * A new connected transport: defaults, linked into the loop (which it
 * keeps alive). The backend then calls the user's accept/connect callback
 * and, after it returns, ior__transport_begin().
 */
void ior__core_transport_init(ior_transport_t *t, ior_loop_t *loop);

/* Whether the core wants bytes now (connected, not paused or closing). */
int ior__core_wants_read(const ior_transport_t *t);

/* Bytes arrived (len > 0). Delivered now, or held if paused. */
void ior__core_read(ior_transport_t *t, const void *data, size_t len);
/* The peer closed its write side (DESIGN rule 11). */
void ior__core_read_eof(ior_transport_t *t);
/*
 * A read or write error: the transport closes at once with reason err
 * (an IOR_E* code) and the OS error kept. Defers; safe anywhere.
 */
void ior__core_error(ior_transport_t *t, int err, int os_error);

/*
 * Fills up to max_bufs buffers from the head of the queue (none longer
 * than max_len: larger chunks are split) and marks their bytes in flight.
 * Returns how many buffers; 0 if the queue is empty. Only one send may be
 * in flight: call it again only after ior__core_send_end.
 */
size_t ior__core_send_begin(ior_transport_t *t, ior_buf_t *bufs,
                            size_t max_bufs, size_t max_len);
/*
 * The OS wrote n bytes of the send in flight (n may be less than asked, or
 * 0 on error or cancel). Drops them from the queue, freeing copies;
 * release callbacks run later, from ior__core_drained. Safe anywhere.
 */
void ior__core_send_end(ior_transport_t *t, size_t n);

/* A file region at the head of the queue, for a backend that sends it. */
typedef struct ior__file_send {
    intptr_t file;   /* as given to ior_transport_write_file */
    uint64_t offset; /* where in the file the send starts */
    size_t len;      /* bytes to send (at most IOR__FILE_CHUNK_MAX) */
} ior__file_send_t;

/*
 * For a backend with a zero-copy file send (sendfile, TransmitFile): when
 * the head of the queue is a file region and a send may start, fills *fs,
 * marks those bytes in flight and returns 1; the send ends with
 * ior__core_send_end as any other. Else 0: ior__core_send_begin gives the
 * bytes, reading a piece of a file region into memory first (the copy
 * path every other sender takes, TLS and pipes included).
 */
int ior__core_send_file_begin(ior_transport_t *t, ior__file_send_t *fs);
/* DESIGN rule 3: release, resume the producer, close or half-close. */
void ior__core_drained(ior_transport_t *t);
/* Schedules ior__core_drained from the loop's pending list. */
void ior__core_defer_drain(ior_transport_t *t);

/* ------------------------------------------------------------------ */
/* Datagram send queue (UDP, both backends)                            */
/* ------------------------------------------------------------------ */

typedef struct ior__dgram {
    struct ior__dgram *next;
    ior_addr_t to; /* family 0: the connected peer */
    size_t len;
    /* data follows */
} ior__dgram_t;

typedef struct ior__dqueue {
    ior__dgram_t *head;
    ior__dgram_t *tail;
    size_t bytes; /* payload queued */
    size_t limit; /* most payload bytes queued at once */
    size_t count;
} ior__dqueue_t;

#define IOR__UDP_MAX_PAYLOAD 65507
#define IOR__UDP_DEFAULT_PACKET 8192
#define IOR__UDP_DEFAULT_QUEUE (1024 * 1024)

/*
 * Queues a copy of one datagram, all or nothing: IOR_ENOBUFS when it would
 * exceed the limit, IOR_EMSGSIZE beyond the UDP maximum, IOR_ENOMEM.
 */
int ior__dq_push(ior__dqueue_t *q, const void *data, size_t len,
                 const ior_addr_t *to);
/* The oldest datagram, or NULL; its bytes follow the header. */
ior__dgram_t *ior__dq_peek(const ior__dqueue_t *q);
const void *ior__dq_data(const ior__dgram_t *d);
void ior__dq_pop(ior__dqueue_t *q);
void ior__dq_clear(ior__dqueue_t *q);

/* ------------------------------------------------------------------ */
/* Addresses (common/addr.c)                                           */
/* ------------------------------------------------------------------ */

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes IPv4; others stay. */
void ior__addr_unmap(ior_addr_t *a);
/* IPv4 → ::ffff:a.b.c.d (port kept); IPv6 is copied unchanged. */
void ior__addr_map_v6(const ior_addr_t *a, ior_addr_t *out);
/* 0.0.0.0 and :: (any port): the wildcard address. */
int ior__addr_is_wildcard(const ior_addr_t *a);
/* 1 for 127.0.0.0/8, ::1 and IPv4-mapped 127.x (a valid family). */
int ior__addr_is_loopback(const ior_addr_t *a);

/* ------------------------------------------------------------------ */
/* TCP (common/tcp_listen.c, tcp_connect.c, tcp.c)                     */
/* ------------------------------------------------------------------ */

#define IOR__DEFAULT_BACKLOG 511
/* How often a local connect retries a server with no free instance. */
#define IOR__LOCAL_BUSY_RETRY_MS 10
#define IOR__ACCEPT_RETRY_MS 100
/* Linux's TCP_KEEPIDLE limit; the same bound on every backend. */
#define IOR__KEEPALIVE_MAX_IDLE 32767u

/*
 * The core's part of a listener: the backend's struct ior_listener-like
 * object starts with it (ior__os_tcp_listen allocates the whole thing).
 */
struct ior_listener {
    ior__handle_t handle; /* first: ior_loop_free closes it */
    ior_loop_t *loop;
    const ior_listener_ops_t *ops;
    void *user;
    ior_addr_t addr;        /* bound address, port real (the backend sets it) */
    ior_timer_id retry;     /* accept retry after a resource error, or 0 */
    unsigned char starting; /* inside ior_tcp_listen: accept_error is quiet */
    unsigned char closed;   /* ior_listener_close ran: report nothing more */
    unsigned char local;    /* a local (IPC) listener: no address */
};

/*
 * The core's part of a connect request, first in the backend's struct.
 * status is what the library decided itself (IOR_ETIMEDOUT, IOR_ECANCELED):
 * it wins over whatever the OS reports afterwards.
 */
typedef struct ior__connect {
    ior__handle_t handle; /* first: ior_loop_free cancels it */
    ior_loop_t *loop;
    ior_connect_cb cb;
    void *user;
    ior_addr_t peer;    /* the target, after the wildcard mapping */
    ior_timer_id timer; /* the timeout option, or 0 */
    int status;
    unsigned char local; /* a local (IPC) connect: not TCP, no peer */
} ior__connect_t;

/*
 * Sets t's addresses (IPv4-mapped ones become IPv4) and marks it TCP. The
 * backend calls it on an accepted transport before ior__core_accepted, and
 * on a connected one (host only: peer is the target) before
 * ior__core_connect_done.
 */
void ior__core_tcp_addrs(ior_transport_t *t, const ior_addr_t *host,
                         const ior_addr_t *peer);
/*
 * A connection was accepted: t is initialised (ior__core_transport_init,
 * ior__core_tcp_addrs). The core calls connection_accepted, then begins t.
 * The callback may close l: the backend checks l->closed afterwards and
 * must keep l's memory until its own accept dispatch has returned.
 */
void ior__core_accepted(ior_listener_t *l, ior_transport_t *t);
/*
 * A resource error (IOR_EMFILE, IOR_ENOBUFS, IOR_ENOMEM...) while accepting.
 * The backend has stopped accepting what failed; the core reports
 * accept_error (not from inside ior_tcp_listen) and calls
 * ior__os_listener_resume after IOR__ACCEPT_RETRY_MS. Connections that
 * their peer aborted before the accept are not reported: the backend
 * re-arms those at once. The callback may close l (as above).
 */
void ior__core_accept_failed(ior_listener_t *l, int err);
/*
 * The connect finished: t (initialised, addresses set) on success with
 * status 0, else t NULL. Called exactly once, from the loop (or from
 * ior__os_connect_cancel), never inside ior__os_connect_start. When
 * c->status is set the backend passes t NULL (the OS result is dropped)
 * and the core reports c->status with os_error 0. The core runs the
 * callback, then begins t; the backend frees c after this returns.
 */
void ior__core_connect_done(ior__connect_t *c, ior_transport_t *t, int status,
                            int os_error);

/* ------------------------------------------------------------------ */
/* What a backend provides                                             */
/* ------------------------------------------------------------------ */

/* Monotonic clock in milliseconds. */
uint64_t ior__os_now_ms(void);
/* The same clock in nanoseconds (ior_hrtime). */
uint64_t ior__os_hrtime_ns(void);

/*
 * Allocates the backend's loop (struct ior_loop first), calls
 * ior__core_loop_init on it and sets up the OS side. The core chose
 * backend (the option, else IOR_BACKEND, else NULL: this backend's
 * default; never "") and max_events (> 0). A name the backend does not
 * have is IOR_ENOTSUP.
 */
int ior__os_loop_create(ior_loop_t **out, const char *backend,
                        unsigned max_events);
/*
 * Copies environment variable name into buf (len bytes, NUL-terminated):
 * 0, or IOR_ENOENT when unset, empty or longer than len - 1. The CRT's
 * getenv is deprecated under MSVC and not thread-safe on Windows.
 */
int ior__os_getenv(const char *name, char *buf, size_t len);
/* Frees what ior__os_loop_create made; nothing is outstanding any more. */
void ior__os_loop_destroy(ior_loop_t *loop);
/*
 * Waits up to timeout_ms (-1: forever) for I/O and dispatches at most
 * loop->max_events of it, calling ior__core_loop_run_async on a wake-up.
 */
void ior__os_loop_poll(ior_loop_t *loop, int timeout_ms);
/* OS operations still referencing memory (freed transports included). */
size_t ior__os_loop_outstanding(const ior_loop_t *loop);
/* Makes a blocked ior__os_loop_poll return. Any thread. */
void ior__os_loop_wakeup(ior_loop_t *loop);
void ior__os_loop_lock(ior_loop_t *loop);
void ior__os_loop_unlock(ior_loop_t *loop);
/*
 * Interrupts (SIGINT/SIGTERM, Ctrl-C/Break/close) stop loop from now on.
 * The core calls it at most once per loop and never for a second loop
 * while one holds it (common/loop.c); ior__os_loop_destroy uninstalls.
 */
int ior__os_stop_on_interrupt(ior_loop_t *loop);
/* Starts a detached thread running fn(arg). IOR_ENOMEM, IOR_EAGAIN. */
int ior__os_thread_spawn(void (*fn)(void *arg), void *arg);
/*
 * Blocking name lookup on a helper thread: *addrs (from ior__malloc, port
 * set) and *n on success; IOR_ENAME when the name does not resolve.
 */
int ior__os_resolve(const char *host, uint16_t port, int family,
                    ior_addr_t **addrs, size_t *n);

void ior__os_start_reading(ior_transport_t *t);
void ior__os_stop_reading(ior_transport_t *t);
/*
 * The queue has bytes, or a close or half-close waits for a drain: send
 * now or soon, and call ior__core_drained (directly from the loop, or via
 * ior__core_defer_drain) when the queue empties. Called with an empty
 * queue too: then just defer a drain.
 */
void ior__os_start_writing(ior_transport_t *t);
/*
 * Optional fast path of a copying write into an idle transport (the queue
 * is empty, nothing is in flight, no close decided): write what the OS
 * takes at once, without blocking, straight from the caller's buffers, and
 * return how many bytes that was (0: none, or no fast path here). The core
 * queues the rest. It must not call back into the core: an error is
 * "nothing taken", and the queued path reports it from the loop.
 */
size_t ior__os_try_write(ior_transport_t *t, const ior_buf_t *bufs,
                         size_t n);
/* Shut the send side (the queue is empty). */
void ior__os_shutdown_write(ior_transport_t *t);
/*
 * Stop all I/O and close the OS handle; abort: reset (linger 0). Outstanding
 * operations are cancelled; sends in flight are still reported through
 * ior__core_send_end.
 */
void ior__os_close(ior_transport_t *t, int abort);
/* The core is done with t: free it once no OS operation references it. */
void ior__os_transport_free(ior_transport_t *t);

/* TCP (the core has checked every argument: families, NULLs, defaults). */
/*
 * Allocates the backend's listener (struct ior_listener first, zeroed),
 * creates the socket, binds addr, listens with backlog (> 0) and sets
 * (*out)->addr to the bound address. Not accepting yet. ipv6_only: for an
 * IPv6 addr, 1 refuses IPv4 clients, 0 is dual-stack. flags: the checked
 * IOR_LISTEN_* bits.
 */
int ior__os_tcp_listen(ior_loop_t *loop, const ior_addr_t *addr, int backlog,
                       int ipv6_only, unsigned flags, ior_listener_t **out);
/* Starts accepting. On error the core calls ior__os_listener_close. */
int ior__os_listener_start(ior_listener_t *l);
/* The retry delay after ior__core_accept_failed is over: accept again. */
void ior__os_listener_resume(ior_listener_t *l);
/* Stops accepting, closes the socket; frees l once nothing uses it. */
void ior__os_listener_close(ior_listener_t *l);
/*
 * Local IPC (common/local.c): name is checked (not empty, fits). POSIX:
 * an AF_UNIX path; Windows: a full \\.\pipe\ name. A listener as
 * ior__os_tcp_listen makes one (l->local set by the core); a connect
 * request as ior__os_tcp_connect, started by ior__os_connect_start.
 */
int ior__os_local_listen(ior_loop_t *loop, const char *name,
                         ior_listener_t **out);
int ior__os_local_connect(ior_loop_t *loop, const char *name,
                          ior__connect_t **out);

/*
 * Allocates the backend's request (ior__connect_t first, zeroed), creates
 * the socket and binds it (to bind, same family as addr, or the wildcard
 * where the OS needs one). Nothing is started; IOR_E* leaves nothing.
 */
int ior__os_tcp_connect(ior_loop_t *loop, const ior_addr_t *addr,
                        const ior_addr_t *bind, ior__connect_t **out);
/*
 * Starts connecting to c->peer. Never fails here: any error, immediate
 * ones included, comes later through ior__core_connect_done.
 */
void ior__os_connect_start(ior__connect_t *c);
/* A request never started (the core could not arm it): close and free. */
void ior__os_connect_discard(ior__connect_t *c);
/*
 * The core decided c->status (timeout, loop freed): stop the attempt; the
 * backend still calls ior__core_connect_done once (now or from the loop).
 */
void ior__os_connect_cancel(ior__connect_t *c);
/* setsockopt on a live TCP transport (checked: TCP, open, idle bounded). */
int ior__os_tcp_nodelay(ior_transport_t *t, int on);
int ior__os_tcp_keepalive(ior_transport_t *t, int on, unsigned idle_seconds);

/*
 * Files for ior_transport_write_file (the core has checked NULLs and that
 * offset + length does not wrap). Check: 0 when file is an open regular
 * file at least offset + length bytes long; IOR_EBADF (not an open regular
 * file), IOR_EINVAL (the region goes past its end). Read: up to len bytes
 * at offset without moving any file pointer, blocking, into buf; *got is
 * how many (0: end of file). IOR_EIO with *os_error on failure.
 */
int ior__os_file_check(intptr_t file, uint64_t offset, uint64_t length);
int ior__os_file_read(intptr_t file, uint64_t offset, void *buf, size_t len,
                      size_t *got, int *os_error);

/* The OS's own message for an OS error code (ior_os_strerror), into buf. */
void ior__os_strerror(int os_error, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* UDP (common/udp.c, udp_mcast.c)                                     */
/* ------------------------------------------------------------------ */

/*
 * The core's part of a UDP socket, first in the backend's struct. The core
 * checks every argument (NULLs, closed, families, sizes) and keeps the
 * state below; the backend sends, reads and sets options.
 */
struct ior_udp {
    ior__handle_t handle; /* first: ior_loop_free closes it */
    ior_loop_t *loop;
    const ior_udp_ops_t *ops;
    void *user;
    ior__dqueue_t q;   /* datagrams waiting (ior__dq_init by the core) */
    size_t max_packet; /* longer datagrams are delivered truncated */
    ior_addr_t peer;   /* connected: the peer */
    int family;        /* IOR_AF_INET or IOR_AF_INET6: the socket's own */
    unsigned char v6only;
    unsigned char connected;
    unsigned char paused;
    unsigned char closed;
};

/*
 * Allocates the backend's socket (struct ior_udp first, zeroed), creates
 * the socket with opts' options and binds addr (family valid). Not
 * reading yet; the core fills its part after this returns.
 */
int ior__os_udp_open(ior_loop_t *loop, const ior_addr_t *addr,
                     const ior_udp_options_t *opts, ior_udp_t **out);
/* Starts reading. On error the core calls ior__os_udp_close. */
int ior__os_udp_start(ior_udp_t *u);
/* u->closed is set: stop, close the socket, free u once the OS lets go. */
void ior__os_udp_close(ior_udp_t *u);
int ior__os_udp_address(const ior_udp_t *u, ior_addr_t *out);
/*
 * Sends or queues one datagram (to NULL: the connected peer). Checked: to
 * is reachable from this socket, len fits the queue and UDP.
 */
int ior__os_udp_send(ior_udp_t *u, const void *data, size_t len,
                     const ior_addr_t *to);
/* Checked as a send's to; the core records peer and connected after. */
int ior__os_udp_connect(ior_udp_t *u, const ior_addr_t *peer);
/* Bytes waiting that are still the library's (not pinned by the OS). */
size_t ior__os_udp_queued(const ior_udp_t *u);
/* u->paused changed: stop or start reading. */
void ior__os_udp_reading(ior_udp_t *u);
/*
 * Multicast, checked: group reachable from the socket, iface NULL ("any")
 * or of the group's family; ttl in 0..255.
 */
int ior__os_udp_membership(ior_udp_t *u, const ior_addr_t *group,
                           const ior_addr_t *iface, int join);
int ior__os_udp_multicast_ttl(ior_udp_t *u, int ttl);
int ior__os_udp_multicast_loop(ior_udp_t *u, int on);
/* iface NULL: the system's choice; else reachable from the socket. */
int ior__os_udp_multicast_if(ior_udp_t *u, const ior_addr_t *iface);

/* ------------------------------------------------------------------ */
/* Pipes and stdio (common/pipe.c)                                     */
/* ------------------------------------------------------------------ */

/*
 * Wraps os_handle (not -1; dirs valid) in a new, initialised transport
 * that owns it: IOR_EBADF when it is not an open handle. The core sets
 * the direction and the protocol and defers the start.
 */
int ior__os_pipe_open(ior_loop_t *loop, intptr_t os_handle, unsigned dirs,
                      ior_transport_t **out);
/* A new handle for standard stream which (0..2): IOR_EBADF if none. */
int ior__os_stdio_dup(int which, intptr_t *out);
/* Closes a handle that ior__os_stdio_dup made and no transport took. */
void ior__os_handle_close(intptr_t h);

/* ------------------------------------------------------------------ */
/* Child processes (process.c)                                         */
/* ------------------------------------------------------------------ */

/*
 * The start of each backend's struct ior_process. The backend starts the
 * child and watches for its exit; the core decides when process_ended
 * runs: once the exit was reported and the core has freed all three stdio
 * transports (after their connection_lost). Then it calls release, which
 * stops watching and frees the process (now or once the OS lets go).
 */
typedef struct ior__proc {
    ior__handle_t handle; /* first: ior_loop_free closes it */
    ior_loop_t *loop;
    const ior_process_ops_t *ops;
    void *user;
    void (*release)(struct ior__proc *p);
    long pid;
    ior_transport_t *stdio[3]; /* NULL once freed by the core */
    int open_stdio;
    unsigned char exited; /* the exit was reported */
    unsigned char ended;  /* process_ended delivered */
    int exit_code;
    int term_signal;
} ior__proc_t;

void ior__core_proc_init(ior__proc_t *p, ior_loop_t *loop,
                         const ior_process_ops_t *ops, void *user,
                         void (*release)(ior__proc_t *p));
/* t is the child's stdio `which` (0, 1, 2): the core reports its end. */
void ior__core_proc_attach(ior__proc_t *p, int which, ior_transport_t *t);
/* The stdio transports stop reporting to p (ior_loop_free). */
void ior__core_proc_detach_stdio(ior__proc_t *p);
/* A failed spawn: the stdio made so far is aborted without callbacks. */
void ior__core_proc_abort_stdio(ior__proc_t *p);
/* The backend saw the child exit. May run process_ended and release p. */
void ior__core_proc_exited(ior__proc_t *p, int exit_code, int term_signal);
/*
 * Allocates the backend's process with ior__calloc (ior__proc_t first),
 * calls ior__core_proc_init with the backend's release hook and sets its
 * handle.close; NULL when out of memory. Nothing is started yet.
 */
ior__proc_t *ior__os_process_alloc(ior_loop_t *loop,
                                   const ior_process_ops_t *ops, void *user);
/*
 * Starts the child of p (checked: argv has a program) with its stdio
 * transports and watches for its exit; sets p->pid. On error the core
 * aborts the stdio made so far and frees p with ior__free (the backend
 * holds nothing else of it then).
 */
int ior__os_process_start(ior__proc_t *p, const ior_process_options_t *opts);
/* Sends signum (> 0; the exit not yet reported). IOR_ESTATE if gone. */
int ior__os_process_kill(ior__proc_t *p, int signum);

/* ------------------------------------------------------------------ */
/* Poll handles for foreign sockets (common/poll.c)                    */
/* ------------------------------------------------------------------ */

/* Reported by a backend with the events: error or hang-up on the socket. */
#define IOR__POLL_ERROR 0x100u

/* The start of each backend's poll handle. */
struct ior_poll {
    ior__handle_t handle; /* first: ior_loop_free closes it */
    ior_loop_t *loop;
    struct ior_poll *next; /* loop->polls */
    intptr_t sock;
    ior_poll_cb_t cb;
    void *user;
    unsigned events; /* IOR_POLL_* asked; 0 when stopped */
    unsigned char closed;
};

/*
 * Allocates the backend's handle (struct ior_poll first, zeroed) for sock
 * (not -1): IOR_EBADF when it is not an open socket. Watches nothing yet.
 */
int ior__os_poll_open(ior_loop_t *loop, intptr_t sock, ior_poll_t **out);
/* p->events changed (0: stop). Errors other than IOR_ENOMEM are rare. */
int ior__os_poll_update(ior_poll_t *p);
/* p->closed is set: stop, and free p once the OS lets go. */
void ior__os_poll_close(ior_poll_t *p);
/*
 * The backend saw events on p's socket (IOR_POLL_* and IOR__POLL_ERROR),
 * or status < 0: the watch failed. Filters, stops on failure, calls back.
 */
void ior__core_poll_ready(ior_poll_t *p, int status, unsigned events);

#endif /* IOR_SEAM_H */
