/*
 * The write side's completion and the close: what happens when the OS has
 * taken bytes (DESIGN rule 3) and how a transport ends (rule 9). Both run
 * from the loop, never from inside a user's call.
 */
#include "core.h"

/* One send at a time, and nothing more once a close is decided. */
static int send_may_start(const ior_transport_t *t)
{
    return t->q.inflight == 0 && !t->closing && !t->aborting &&
           !t->disconnected;
}

/*
 * The copy path of a file region: a piece this big is read into memory
 * just before it is sent, one allocation per piece. Under Wine, over TCP,
 * 128 KiB pieces measured 135 MiB/s and 256 KiB 600 (bench/file_send,
 * IOR_IOCP_TRANSMITFILE=0); 1 MiB was slower again.
 */
#define IOR__FILE_COPY_PIECE ((size_t)256 * 1024)

size_t ior__core_send_begin(ior_transport_t *t, ior_buf_t *bufs,
                            size_t max_bufs, size_t max_len)
{
    if (!send_may_start(t) || max_bufs == 0 || max_len == 0)
        return 0;
    if (ior__wq_head_file(&t->q) != NULL) {
        int os_error = 0;
        int rc = ior__wq_file_copy(&t->q, IOR__FILE_COPY_PIECE, &os_error);
        if (rc != 0) {
            /* The stream cannot go on without these bytes. */
            ior__core_error(t, rc, os_error);
            return 0;
        }
    }
    return ior__wq_peek(&t->q, bufs, max_bufs, max_len);
}

int ior__core_send_file_begin(ior_transport_t *t, ior__file_send_t *fs)
{
    if (!send_may_start(t) || ior__wq_head_file(&t->q) == NULL)
        return 0;
    ior__wq_peek_file(&t->q, fs);
    return 1;
}

void ior__core_send_end(ior_transport_t *t, size_t n)
{
    ior__wq_consume(&t->q, n);
    /* A close waiting for the OS to give the chunks back may go on. */
    if (t->disconnected)
        ior__transport_defer(t, IOR__PEND_CLOSE);
}

void ior__transport_defer(ior_transport_t *t, unsigned what)
{
    ior_loop_t *loop = t->loop;
    if (t->pending != 0) {
        t->pending |= what;
        return;
    }
    t->pending = what;
    t->pending_next = NULL;
    if (loop->pending_tail != NULL)
        loop->pending_tail->pending_next = t;
    else
        loop->pending_head = t;
    loop->pending_tail = t;
}

void ior__core_defer_drain(ior_transport_t *t)
{
    ior__transport_defer(t, IOR__PEND_DRAIN);
}

/* The queue drained and the write side is to be shut (rule 3, 7). */
static void finish_half_close(ior_transport_t *t)
{
    t->write_disconnected = 1;
    ior__t_shutdown_write(t);
    if (t->proto != NULL && t->proto->write_connection_lost != NULL)
        t->proto->write_connection_lost(t, t->proto_user);
    /* Both directions are done: nothing more can happen on it. */
    if (!t->closing && !t->disconnected && t->read_disconnected)
        ior__transport_close(t, IOR_EDONE, 0);
}

/*
 * Rule 3. Twisted's IOCP FileHandle sets producerPaused to True before
 * resuming; abstract.FileDescriptor sets it to False. False is right: a
 * pause from inside resume_producing must stick.
 */
void ior__core_drained(ior_transport_t *t)
{
    ior__wq_release_done(&t->q);
    if (t->disconnected || t->closing || t->q.inflight != 0)
        return;
    if (t->q.bytes <= t->low_water && t->producer != NULL &&
        (!t->streaming || t->producer_paused)) {
        t->producer_paused = 0;
        t->producer->resume_producing(t->producer_user);
        /*
         * A pull producer holds a close open until it is unregistered
         * (rule 6). A streaming one that wrote nothing when resumed needs
         * nothing more: without going on here a pending close or
         * half-close would wait for a drain that never comes. Twisted
         * differs (its doWrite stops after resuming) and hangs there. The
         * callback may have changed anything, so look again.
         */
        if (t->disconnected || t->closing || t->q.inflight != 0 ||
            (t->producer != NULL && (!t->streaming || t->producer_paused)))
            return;
    }
    if (t->q.bytes != 0)
        return;
    if (t->disconnecting)
        ior__transport_close(t, IOR_EDONE, 0);
    else if (t->write_disconnecting && !t->write_disconnected)
        finish_half_close(t);
}

void ior__transport_close(ior_transport_t *t, int reason, int os_error)
{
    if (t->disconnected || t->closing)
        return;
    t->closing = 1;
    t->reason = reason;
    if (os_error != 0)
        t->os_error = os_error;
    ior__transport_defer(t, IOR__PEND_CLOSE);
}

void ior__core_error(ior_transport_t *t, int err, int os_error)
{
    if (t->disconnected || t->closing)
        return;
    ior__transport_drop_held(t);
    ior__transport_close(t, err, os_error);
}

/* Nothing should list a transport being freed; be sure anyway. */
static void unlink_pending(ior_transport_t *t)
{
    ior_loop_t *loop = t->loop;
    ior_transport_t *p, *prev = NULL;

    if (t->pending == 0)
        return;
    for (p = loop->pending_head; p != NULL; prev = p, p = p->pending_next) {
        if (p != t)
            continue;
        if (prev != NULL)
            prev->pending_next = t->pending_next;
        else
            loop->pending_head = t->pending_next;
        if (loop->pending_tail == t)
            loop->pending_tail = prev;
        break;
    }
    t->pending = 0;
}

static void unlink_transport(ior_transport_t *t)
{
    ior_loop_t *loop = t->loop;
    unlink_pending(t);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        loop->transports = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    loop->active--;
}

/*
 * Rule 9, from the pending list: flags, unregistered from the transport
 * it produces for (if any), its own producer stopped and forgotten (a
 * transport producer forgets it too), I/O stopped, the queue released,
 * then connection_lost. When the OS still holds bytes of a send,
 * connection_lost waits for them, so nothing the user gave us is touched
 * after it.
 */
void ior__transport_run_close(ior_transport_t *t)
{
    if (!t->disconnected) {
        const ior_producer_ops_t *p;
        void *user;
        t->disconnected = 1;
        t->connected = 0;
        t->closing = 1;
        ior__transport_drop_held(t);
        /* The consumer that holds t as its producer forgets it first. */
        ior__producer_gone(t);
        ior__producer_forget(t, &p, &user);
        if (p != NULL)
            p->stop_producing(user);
        t->os_closed = 1;
        ior__t_close(t, t->aborting);
        ior__wq_discard(&t->q);
    }
    ior__wq_release_done(&t->q);
    if (t->q.inflight != 0 || t->layer_hold)
        return; /* ior__core_send_end (or the layer) brings us back */
    ior__wq_release_done(&t->q);
    if (t->proto != NULL && t->proto->connection_lost != NULL)
        t->proto->connection_lost(t, t->proto_user, t->reason);
    unlink_transport(t);
    if (t->proc != NULL)
        ior__proc_stdio_gone(t); /* may end the child's process */
    ior__t_transport_free(t);
}
