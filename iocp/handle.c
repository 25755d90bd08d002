/*
 * The FileHandle of iocpreactor, once for every kind of handle: the
 * ior__os_* transport functions the core calls, the read and send
 * completions, and the lifetime. What differs between a socket, an
 * overlapped pipe and a thread-served handle is in its kind table
 * (iocp.h); nothing here makes an OS call.
 *
 * Mirrors FileHandle.startReading/_readDone (at most one read outstanding;
 * pausing never cancels it, since a cancelled read can lose bytes: what
 * arrives while paused goes to the core, which holds it) and
 * FileHandle.doWrite/_cbWrite (one send at a time, released by
 * ior__core_send_end, also after a close: the chunks in flight must be
 * released in the order written).
 */
#include "iocp.h"

static void read_done(ior__iocp_op_t *op, DWORD bytes, DWORD err);
static void send_done(ior__iocp_op_t *op, DWORD bytes, DWORD err);

void ior__iocp_handle_init(ior__iocp_handle_t *h, const ior__iocp_kind_t *kind,
                           ior__iocp_loop_t *lp)
{
    h->kind = kind;
    h->refs = 1; /* the core's, until ior__os_transport_free */
    h->rop.done = read_done;
    h->sop.done = send_done;
    ior__core_transport_init(&h->base, &lp->base);
}

void ior__iocp_handle_started(ior__iocp_handle_t *h, ior__iocp_op_t *op,
                              int ok, DWORD bytes, DWORD err)
{
    if (op == &h->rop)
        h->reading = 1;
    else
        h->sending = 1;
    h->refs++;
    ior__iocp_op_started(ior__iocp_loop(h->base.loop), op, ok, bytes, err,
                         h->skip);
}

void ior__iocp_handle_unref(ior__iocp_handle_t *h)
{
    if (--h->refs > 0)
        return;
    h->kind->free(h);
}

static int can_read(const ior__iocp_handle_t *h)
{
    return !h->closed && !h->read_done && !h->reading && !h->delivering;
}

/* ------------------------------------------------------------------ */
/* The ior__os_* transport functions                                   */
/* ------------------------------------------------------------------ */

void ior__os_start_reading(ior_transport_t *t)
{
    ior__iocp_handle_t *h = ior__iocp_handle(t);

    /* Inside a delivery the read buffer is still being read: the next
     * read is posted when the delivery returns. */
    if (can_read(h))
        h->kind->post_read(h);
}

/* Pausing only stops re-posting; the read in flight stays (see above). */
void ior__os_stop_reading(ior_transport_t *t)
{
    (void)t;
}

void ior__os_start_writing(ior_transport_t *t)
{
    ior__iocp_handle_t *h = ior__iocp_handle(t);

    /* The completion of the send in flight continues with the rest. */
    if (h->sending || h->closed)
        return;
    if (!h->kind->post_send(h))
        ior__core_defer_drain(t);
}

size_t ior__os_try_write(ior_transport_t *t, const ior_buf_t *bufs, size_t n)
{
    ior__iocp_handle_t *h = ior__iocp_handle(t);

    if (!h->kind->try_write || h->sending || h->closed || n == 0)
        return 0;
    return h->kind->try_write(h, bufs, n);
}

void ior__os_shutdown_write(ior_transport_t *t)
{
    ior__iocp_handle_t *h = ior__iocp_handle(t);

    if (!h->closed && h->kind->shutdown)
        h->kind->shutdown(h);
}

/*
 * Mirrors FileHandle.connectionLost: requests still in flight complete
 * later (cancelled, or with what they did) and the transport is freed
 * only after the last of them (ior__iocp_handle_unref).
 */
void ior__os_close(ior_transport_t *t, int abort)
{
    ior__iocp_handle_t *h = ior__iocp_handle(t);

    if (h->closed)
        return;
    h->closed = 1;
    h->kind->close(h, abort);
}

void ior__os_transport_free(ior_transport_t *t)
{
    ior__iocp_handle_t *h = ior__iocp_handle(t);

    h->freed = 1;
    ior__iocp_handle_unref(h);
}

/* ------------------------------------------------------------------ */
/* Completions                                                         */
/* ------------------------------------------------------------------ */

/* Translated once, here, before any kind classifies it. */
static DWORD lookup_error(ior__iocp_handle_t *h, ior__iocp_op_t *op, DWORD err)
{
    return err == IOR__IOCP_ERR_LOOKUP ? h->kind->op_error(h, op) : err;
}

static void read_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_handle_t *h = IOR__CONTAINER(op, ior__iocp_handle_t, rop);
    const char *data = NULL;
    size_t len = 0;
    int code = 0;
    DWORD os = 0;
    int r;

    h->reading = 0;
    if (h->closed || h->freed || h->read_done) {
        /* Cancelled by the close, or the data is no longer wanted. */
        if (h->kind->read_rest)
            h->kind->read_rest(h, IOR__IOCP_READ_AGAIN);
        ior__iocp_handle_unref(h);
        return;
    }
    err = lookup_error(h, op, err);
    r = h->kind->read_result(h, bytes, err, &data, &len, &code, &os);
    if (r == IOR__IOCP_READ_DATA) {
        h->delivering = 1;
        ior__core_read(&h->base, data, len);
        h->delivering = 0;
    } else if (r == IOR__IOCP_READ_EOF) {
        h->read_done = 1;
        ior__core_read_eof(&h->base);
    } else if (r == IOR__IOCP_READ_ERROR) {
        h->read_done = 1;
        ior__core_error(&h->base, code, (int)os);
    }
    /* The core may have paused, closed or aborted us meanwhile. */
    if (can_read(h) && ior__core_wants_read(&h->base))
        h->kind->post_read(h);
    else if (!h->reading && h->kind->read_rest)
        h->kind->read_rest(h, r);
    ior__iocp_handle_unref(h);
}

static void send_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_handle_t *h = IOR__CONTAINER(op, ior__iocp_handle_t, sop);
    ior_transport_t *t = &h->base;
    size_t sent;

    h->sending = 0;
    err = lookup_error(h, op, err);
    sent = h->kind->send_result(h, bytes, &err);
    /* Also after a close: the chunks in flight must be released. */
    ior__core_send_end(t, sent);
    if (!h->closed) {
        if (err != 0) {
            ior__core_error(t, ior__iocp_error(err), (int)err);
        } else {
            /*
             * Rule 3 first: it may resume the producer, whose writes then
             * start the next send from ior__os_start_writing; whatever is
             * still queued after it goes out here.
             */
            ior__core_drained(t);
            if (!h->sending && !h->closed)
                (void)h->kind->post_send(h);
        }
    }
    ior__iocp_handle_unref(h);
}
