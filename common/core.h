/*
 * Core-private declarations: what the files of common/ share among
 * themselves and a backend never calls (the backend's side is seam.h).
 * None of these is named ior__core_*; tests/core may use them to drive
 * the core directly.
 */
#ifndef IOR_CORE_H
#define IOR_CORE_H

#include "seam.h"

/* ------------------------------------------------------------------ */
/* Timer heap                                                          */
/* ------------------------------------------------------------------ */

void ior__timers_init(ior__timers_t *h);
int ior__timers_add(ior__timers_t *h, uint64_t deadline, uint64_t period,
                    ior_callback_t cb, void *user, ior_timer_id *out);
int ior__timers_cancel(ior__timers_t *h, ior_timer_id id);
/* Moves a pending or firing timer to a new deadline (a new sequence too). */
int ior__timers_restart(ior__timers_t *h, ior_timer_id id, uint64_t deadline);
/* Earliest deadline; 0 with *has = 0 when empty. */
uint64_t ior__timers_next(const ior__timers_t *h, int *has);
/*
 * Takes the earliest timer out of the heap if its deadline <= now and its
 * sequence is below seq_limit; returns 1, its callback and its handle, else
 * 0. The timer is then firing: call ior__timers_fired once the callback
 * has returned, which re-arms a repeating timer or frees the slot (unless
 * the callback cancelled or restarted it).
 */
int ior__timers_pop_due(ior__timers_t *h, uint64_t now, uint64_t seq_limit,
                        ior_callback_t *cb, void **user, ior_timer_id *id);
void ior__timers_fired(ior__timers_t *h, ior_timer_id id, uint64_t now);

/* ------------------------------------------------------------------ */
/* Connect requests (tcp_connect.c), for connect_many.c                */
/* ------------------------------------------------------------------ */

/*
 * ior_tcp_connect that also hands back the request, valid until its
 * callback has run, so it can be cancelled.
 */
int ior__tcp_connect_start(ior_loop_t *loop, const ior_addr_t *addr,
                           const ior_connect_options_t *opts,
                           ior_connect_cb cb, void *user, ior__connect_t **out);
/* The request ends with IOR_ECANCELED (its callback may run right away). */
void ior__tcp_connect_cancel(ior__connect_t *c);
/*
 * What every connect does once the backend made its request (c->peer set
 * for TCP, c->local for IPC): the timeout, the handle, the start. On an
 * error c is discarded.
 */
int ior__connect_begin(ior__connect_t *c, ior_loop_t *loop,
                       const ior_connect_options_t *opts, ior_connect_cb cb,
                       void *user, ior__connect_t **out);
/* What every listen does once the backend made its listener. */
int ior__listener_begin(ior_listener_t *l, ior_loop_t *loop,
                        const ior_listener_ops_t *ops, void *user,
                        ior_listener_t **out);

/* ------------------------------------------------------------------ */
/* Write queue                                                         */
/* ------------------------------------------------------------------ */

/* The queue itself (common/wqueue.c); the core's write path uses these. */
void ior__wq_init(ior__wqueue_t *q);
/* Appends a copy (all or nothing). IOR_ENOMEM leaves q unchanged. */
int ior__wq_push_copy(ior__wqueue_t *q, const ior_buf_t *bufs, size_t n,
                      size_t total);
int ior__wq_push_ref(ior__wqueue_t *q, const void *data, size_t len,
                     ior_release_cb release, void *ctx);
/*
 * A file region (split into chunks of IOR__FILE_CHUNK_MAX), all or
 * nothing; release rides on the last chunk.
 */
int ior__wq_push_file(ior__wqueue_t *q, intptr_t file, uint64_t offset,
                      uint64_t length, ior_release_cb release, void *ctx);
/* Buffers up to the first file chunk (none when the head is one). */
size_t ior__wq_peek(ior__wqueue_t *q, ior_buf_t *bufs, size_t max_bufs,
                    size_t max_len);
/* The head chunk when it is a file chunk with bytes left, else NULL. */
struct ior__chunk *ior__wq_head_file(const ior__wqueue_t *q);
/*
 * Marks up to the head file chunk's remaining bytes in flight and fills
 * *fs (the head must be a file chunk: ior__wq_head_file).
 */
void ior__wq_peek_file(ior__wqueue_t *q, ior__file_send_t *fs);
/*
 * The copy path: reads up to max bytes of the head file chunk into a copy
 * chunk put before it. IOR_ENOMEM, or IOR_EIO with *os_error (0: the file
 * ended early) leave q unchanged.
 */
int ior__wq_file_copy(ior__wqueue_t *q, size_t max, int *os_error);
void ior__wq_consume(ior__wqueue_t *q, size_t n);
/*
 * Throws the queue away, releasing in the order written: at once when no
 * send is in flight, else the whole queue after the send ends.
 */
void ior__wq_discard(ior__wqueue_t *q);
/* Runs and frees the done list (release callbacks may re-enter). */
void ior__wq_release_done(ior__wqueue_t *q);

/* ------------------------------------------------------------------ */
/* Loop (core part)                                                    */
/* ------------------------------------------------------------------ */

/* -1: wait forever; 0: do not wait; else ms until the next timer. */
int ior__loop_timeout(ior_loop_t *loop);
void ior__loop_run_timers(ior_loop_t *loop);
void ior__loop_run_pending(ior_loop_t *loop);
int ior__loop_alive(const ior_loop_t *loop);
void ior__loop_ref(ior_loop_t *loop);
void ior__loop_unref(ior_loop_t *loop);
/*
 * Queues a for the loop's thread and wakes it; any thread, never fails
 * (the caller owns a's memory until a->cb runs).
 */
void ior__loop_post(ior_loop_t *loop, struct ior__async *a);

/* ------------------------------------------------------------------ */
/* Transport (core part)                                               */
/* ------------------------------------------------------------------ */

/*
 * A transport that uses one direction only (pipes, stdio): the unused one
 * counts as closed from the start, without callbacks. Call right after
 * ior__core_transport_init.
 */
void ior__transport_set_direction(ior_transport_t *t, int readable,
                                       int writable);

/*
 * The accept/connect callback has returned: without a protocol the
 * transport is aborted; otherwise reading starts (unless paused).
 */
void ior__transport_begin(ior_transport_t *t);

/* Schedules a pending-list job (IOR__PEND_*) for t. */
void ior__transport_defer(ior_transport_t *t, unsigned what);
/*
 * Core-private (common/transport.c): t forgets its producer (flags
 * cleared) and returns it in *ops and *user without calling it; a transport
 * producer forgets t as its consumer. *ops is NULL when there was none.
 */
void ior__producer_forget(ior_transport_t *t, const ior_producer_ops_t **ops,
                          void **user);
/*
 * Core-private: t is going (rule 9). If it is another transport's
 * producer, that transport unregisters it (rule 5), so nothing is left
 * pointing at t.
 */
void ior__producer_gone(ior_transport_t *t);

/*
 * What a layered transport does where a backend would (seam.h's transport
 * functions, same rules): each one runs instead of the ior__os_* call of
 * the same name when t->layer is set. try_write may be NULL (no direct
 * write); tcp_opt answers nodelay/keepalive for the transport below.
 */
struct ior__layer {
    void (*start_reading)(ior_transport_t *t);
    void (*stop_reading)(ior_transport_t *t);
    void (*start_writing)(ior_transport_t *t);
    size_t (*try_write)(ior_transport_t *t, const ior_buf_t *bufs, size_t n);
    void (*shutdown_write)(ior_transport_t *t);
    void (*close)(ior_transport_t *t, int abort);
    void (*transport_free)(ior_transport_t *t);
    /* The transport below, for TCP options and addresses; or NULL. */
    ior_transport_t *(*below)(ior_transport_t *t);
};

/* The core's one way to the transport functions: layer, else backend. */
static inline void ior__t_start_reading(ior_transport_t *t)
{
    if (t->layer != NULL)
        t->layer->start_reading(t);
    else
        ior__os_start_reading(t);
}

static inline void ior__t_stop_reading(ior_transport_t *t)
{
    if (t->layer != NULL)
        t->layer->stop_reading(t);
    else
        ior__os_stop_reading(t);
}

static inline void ior__t_start_writing(ior_transport_t *t)
{
    if (t->layer != NULL)
        t->layer->start_writing(t);
    else
        ior__os_start_writing(t);
}

static inline size_t ior__t_try_write(ior_transport_t *t,
                                      const ior_buf_t *bufs, size_t n)
{
    if (t->layer == NULL)
        return ior__os_try_write(t, bufs, n);
    return t->layer->try_write != NULL ? t->layer->try_write(t, bufs, n) : 0;
}

static inline void ior__t_shutdown_write(ior_transport_t *t)
{
    if (t->layer != NULL)
        t->layer->shutdown_write(t);
    else
        ior__os_shutdown_write(t);
}

static inline void ior__t_close(ior_transport_t *t, int abort)
{
    if (t->layer != NULL)
        t->layer->close(t, abort);
    else
        ior__os_close(t, abort);
}

static inline void ior__t_transport_free(ior_transport_t *t)
{
    if (t->layer != NULL)
        t->layer->transport_free(t);
    else
        ior__os_transport_free(t);
}

/* ------------------------------------------------------------------ */
/* Datagram send queue (UDP, both backends)                            */
/* ------------------------------------------------------------------ */

void ior__dq_init(ior__dqueue_t *q, size_t limit);

/* Core-private, shared between common/ files. */
void ior__transport_close(ior_transport_t *t, int reason, int os_error);
void ior__transport_run_close(ior_transport_t *t);
void ior__transport_run_deliver(ior_transport_t *t);
void ior__transport_drop_held(ior_transport_t *t);

/* ------------------------------------------------------------------ */
/* Addresses (common/addr.c)                                           */
/* ------------------------------------------------------------------ */

/* 1 for IOR_AF_INET and IOR_AF_INET6, the only families ior uses. */
int ior__addr_family_ok(const ior_addr_t *a);

/* ------------------------------------------------------------------ */
/* UDP (common/udp.c, udp_mcast.c)                                     */
/* ------------------------------------------------------------------ */

/* 0, or IOR_EAFNOSUPPORT when u cannot reach a (family valid). */
int ior__udp_reaches(const ior_udp_t *u, const ior_addr_t *a);

/* ------------------------------------------------------------------ */
/* Child processes (process.c)                                         */
/* ------------------------------------------------------------------ */

/* The core frees t, a child's stdio (close.c). May end the process. */
void ior__proc_stdio_gone(ior_transport_t *t);

#endif /* IOR_CORE_H */
