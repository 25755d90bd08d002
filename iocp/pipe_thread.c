/*
 * The threaded path of pipe.c: handles that cannot join a completion port
 * (anonymous pipes, consoles, synchronous files, Wine's stdio). Each
 * direction used gets one thread doing blocking ReadFile/WriteFile, which
 * posts its result to the loop's port, so the loop itself never blocks and
 * completions still arrive on the loop's thread (STYLE.md §7: the thread
 * does I/O only; every core call stays on the loop).
 *
 * One job at a time per direction, handed over by an auto-reset event:
 *  - the reader reads one buffer only when the loop asks (reading wanted
 *    and the previous buffer delivered), so pause_producing stops it after
 *    the read in flight, and a paused transport pins one buffer at most;
 *  - the writer writes what the loop copied into its staging buffer and
 *    reports the byte count. The copy is deliberate: a thread blocked in
 *    WriteFile (a reader that never reads) may outlive the transport, and
 *    must then not point into the core's queue, whose chunks are released
 *    when the transport closes.
 *
 * Lifetime: the threads and the transport share a small refcounted block
 * that owns the handle, the buffers and the events, and that the threads
 * never reach beyond: they post to the port only while the block is not
 * detached (checked under the block's lock, and the loop detaches before
 * the transport goes). Closing detaches, wakes idle threads, cancels a
 * blocked call (CancelSynchronousIo; CancelIoEx for an overlapped handle)
 * and waits for the threads for a bounded time: a thread that cannot be
 * stopped (a console read Windows will not cancel) is left to finish on
 * its own, holding only the block, so ior_loop_free never hangs.
 */
#include "iocp.h"

#include <string.h>

/*
 * Bytes per job (read buffer, write staging). Each job costs a thread
 * hand-off and a packet; under Wine 8, 64 KiB, 256 KiB and 1 MiB measured
 * the same within noise (pipe buffers are 64 KiB), so the smallest wins:
 * it is what a paused reader pins. Overridable at build time to measure.
 */
#ifndef IOR__PTHR_BUF
#define IOR__PTHR_BUF (64u * 1024u)
#endif

/* How long closing waits for a thread to leave a blocking call. */
#define IOR__PTHR_STOP_MS 250u

/* A direction's job, as seen under the block's lock. */
#define IOR__PTHR_IDLE 0   /* the loop owns the buffer; no job */
#define IOR__PTHR_BUSY 1   /* the thread owns the buffer */
#define IOR__PTHR_POSTED 2 /* done; a packet is in the port */

struct ior__iocp_pthr;

typedef struct ior__pdir {
    struct ior__iocp_pthr *b;
    HANDLE thread;
    HANDLE go; /* auto-reset: one job */
    HANDLE ev; /* overlapped handle: the request's event */
    int is_write;
    int state;          /* IOR__PTHR_*, under the lock */
    char *buf;          /* IOR__PTHR_BUF bytes */
    DWORD len;          /* write: bytes to write */
    uint64_t off;       /* overlapped file: where the next request starts */
    ior__iocp_op_t *op; /* the transport's op, posted when a job ends */
    ior__iocp_console_t *con; /* a console: its UTF-16 side (console.c) */
} ior__pdir_t;

struct ior__iocp_pthr {
    volatile LONG refs; /* the transport's + one per live thread */
    SRWLOCK lock;
    int detached; /* the transport closed: post nothing more */
    HANDLE h;
    HANDLE port;
    int overlapped;
    int is_file;
    int is_console;
    int is_socket;
    ior__pdir_t rd;
    ior__pdir_t wr;
};

static void pdir_release(ior__pdir_t *d)
{
    if (d->go)
        CloseHandle(d->go);
    if (d->ev)
        CloseHandle(d->ev);
    ior__free(d->buf);
    if (d->con)
        ior__iocp_console_free(d->con);
}

/* Any thread: the last reference closes the handle and frees the block. */
static void pthr_unref(struct ior__iocp_pthr *b)
{
    if (InterlockedDecrement(&b->refs) != 0)
        return;
    if (b->is_socket)
        closesocket((SOCKET)b->h);
    else
        CloseHandle(b->h);
    pdir_release(&b->rd);
    pdir_release(&b->wr);
    ior__free(b);
}

/* ------------------------------------------------------------------ */
/* The threads                                                         */
/* ------------------------------------------------------------------ */

/* One blocking ReadFile/WriteFile; waits on an event for overlapped h. */
static BOOL do_call(struct ior__iocp_pthr *b, ior__pdir_t *d, char *buf,
                    DWORD len, DWORD *n)
{
    OVERLAPPED ov;
    OVERLAPPED *pov = NULL;
    BOOL ok;

    *n = 0;
    if (b->overlapped) {
        memset(&ov, 0, sizeof(ov));
        /* Low bit set: no completion packet, even if h is on some port. */
        ov.hEvent = (HANDLE)((ULONG_PTR)d->ev | 1u);
        if (b->is_file) {
            ov.Offset = (DWORD)(d->off & 0xFFFFFFFFu);
            ov.OffsetHigh = (DWORD)(d->off >> 32);
        }
        pov = &ov;
    }
    ok = d->is_write ? WriteFile(b->h, buf, len, n, pov)
                     : ReadFile(b->h, buf, len, n, pov);
    if (!ok && pov && GetLastError() == ERROR_IO_PENDING)
        ok = GetOverlappedResult(b->h, pov, n, TRUE);
    if (ok)
        d->off += *n;
    return ok;
}

/* Runs one job; returns the Win32 error (0 on success) and the count. */
static DWORD do_job(struct ior__iocp_pthr *b, ior__pdir_t *d, DWORD *count)
{
    DWORD n = 0;
    DWORD done = 0;
    DWORD err;

    if (d->con) {
        /* A console: UTF-8 in and out through its UTF-16 calls. */
        err = d->is_write
                  ? ior__iocp_console_write(b->h, d->con, d->buf, d->len)
                  : ior__iocp_console_read(b->h, d->con, d->buf,
                                           IOR__PTHR_BUF, &n);
        *count = err != 0 ? 0 : d->is_write ? d->len : n;
        return err;
    }
    if (!d->is_write) {
        if (!do_call(b, d, d->buf, IOR__PTHR_BUF, &n)) {
            DWORD err = GetLastError();
            /*
             * A message-mode pipe whose message is larger than the
             * buffer: these n bytes are valid and the rest follows in
             * the next read. Reported as data (not 0 bytes: an EOF).
             */
            if (err == ERROR_MORE_DATA) {
                *count = n;
                return 0;
            }
            *count = 0;
            return err;
        }
        *count = n;
        return 0;
    }
    /* A pipe takes all of a blocking write; a console may take less. */
    while (done < d->len) {
        if (!do_call(b, d, d->buf + done, d->len - done, &n)) {
            *count = done;
            return GetLastError();
        }
        if (n == 0)
            break;
        done += n;
    }
    *count = done;
    return 0;
}

static DWORD WINAPI pdir_main(LPVOID arg)
{
    ior__pdir_t *d = (ior__pdir_t *)arg;
    struct ior__iocp_pthr *b = d->b;

    for (;;) {
        DWORD count = 0;
        DWORD err;
        int stop;

        WaitForSingleObject(d->go, INFINITE);
        AcquireSRWLockExclusive(&b->lock);
        stop = b->detached;
        ReleaseSRWLockExclusive(&b->lock);
        if (stop)
            break;
        err = do_job(b, d, &count);
        AcquireSRWLockExclusive(&b->lock);
        if (!b->detached) {
            /* The op is the transport's, alive until it is detached. */
            d->state = IOR__PTHR_POSTED;
            d->op->ov.Offset = err; /* read back by the done function */
            PostQueuedCompletionStatus(b->port, count, IOR__IOCP_KEY_IO,
                                       &d->op->ov);
        }
        ReleaseSRWLockExclusive(&b->lock);
    }
    pthr_unref(b);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Loop side                                                           */
/* ------------------------------------------------------------------ */

static void set_state(struct ior__iocp_pthr *b, ior__pdir_t *d, int state)
{
    AcquireSRWLockExclusive(&b->lock);
    d->state = state;
    ReleaseSRWLockExclusive(&b->lock);
}

static void stop_threads(ior__iocp_pipe_t *p);

/* Hands the thread one job; its packet comes back through the port. */
static void kick(ior__iocp_pipe_t *p, ior__pdir_t *d)
{
    set_state(p->thr, d, IOR__PTHR_BUSY);
    memset(&d->op->ov, 0, sizeof(d->op->ov));
    /* Counts the request as outstanding until its done() runs. */
    ior__iocp_handle_started(&p->hd, d->op, 0, 0, ERROR_IO_PENDING);
    SetEvent(d->go);
}

/* The thread's error travels in ov.Offset; the loop's own in err. */
static DWORD job_error(ior__iocp_op_t *op, DWORD err)
{
    return err != 0 ? err : op->ov.Offset;
}

static void thr_post_read(ior__iocp_handle_t *h)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);

    if (p->thr->rd.thread)
        kick(p, &p->thr->rd);
}

static int thr_read_result(ior__iocp_handle_t *h, DWORD bytes, DWORD err,
                           const char **data, size_t *len, int *err_out,
                           DWORD *os_out)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);
    int r;

    set_state(p->thr, &p->thr->rd, IOR__PTHR_IDLE);
    err = job_error(&h->rop, err);
    /* Only a console's Ctrl-C cancels a live job: read again. */
    if (err == ERROR_OPERATION_ABORTED)
        return IOR__IOCP_READ_AGAIN;
    /* A zero-byte read is EOF too: a file's end, a console's ^Z. */
    r = ior__iocp_pipe_classify(bytes, err, 1, err_out, os_out);
    if (r == IOR__IOCP_READ_DATA) {
        *data = p->thr->rd.buf;
        *len = bytes;
    }
    return r;
}

/* Copies the head of the queue into the staging buffer and starts it. */
static int thr_post_send(ior__iocp_handle_t *h)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);
    ior__pdir_t *d = &p->thr->wr;
    ior_buf_t bufs[16];
    size_t n;

    if (!d->thread)
        return 0;
    n = ior__core_send_begin(&h->base, bufs, 16, IOR__PTHR_BUF);
    if (n == 0)
        return 0;
    d->len = (DWORD)ior__bufs_gather(d->buf, IOR__PTHR_BUF, bufs, n);
    kick(p, d);
    return 1;
}

/* A console may have taken part of a write that then failed: count it. */
static size_t thr_send_result(ior__iocp_handle_t *h, DWORD bytes, DWORD *err)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);

    *err = job_error(&h->sop, *err);
    /* After the close the block may be gone: touch nothing of it. */
    if (!h->closed)
        set_state(p->thr, &p->thr->wr, IOR__PTHR_IDLE);
    return bytes;
}

static void thr_close(ior__iocp_handle_t *h, int abort)
{
    (void)abort; /* a pipe has no reset */
    stop_threads(ior__iocp_pipe(h));
}

/*
 * No half-close: the threads own the handle, and a pipe's peer sees EOF
 * at the close (a one-way transport closes right after the drain).
 */
const ior__iocp_kind_t ior__iocp_kind_thread = {
    "thread",
    thr_post_read,
    thr_read_result,
    NULL,
    thr_post_send,
    thr_send_result,
    NULL,
    NULL,
    thr_close,
    ior__iocp_pipe_free,
    ior__iocp_pipe_op_error,
};

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

static int pdir_start(struct ior__iocp_pthr *b, ior__pdir_t *d, int is_write,
                      ior__iocp_op_t *op)
{
    d->b = b;
    d->is_write = is_write;
    d->op = op;
    d->go = CreateEventW(NULL, FALSE, FALSE, NULL);
    d->ev = b->overlapped ? CreateEventW(NULL, TRUE, FALSE, NULL) : NULL;
    d->buf = (char *)ior__malloc(IOR__PTHR_BUF);
    if (!d->buf)
        return IOR_ENOMEM;
    if (b->is_console && !(d->con = ior__iocp_console_new()))
        return IOR_ENOMEM;
    if (!d->go || (b->overlapped && !d->ev))
        return ior__iocp_error(GetLastError());
    /* A small stack: the thread only loops around one blocking call. */
    InterlockedIncrement(&b->refs);
    d->thread = CreateThread(NULL, 64 * 1024, pdir_main, d,
                             STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (!d->thread) {
        InterlockedDecrement(&b->refs);
        return IOR_EAGAIN;
    }
    return 0;
}

/* Stops a thread within IOR__PTHR_STOP_MS, else leaves it to finish. */
static void pdir_stop(struct ior__iocp_pthr *b, ior__pdir_t *d)
{
    ULONGLONG start = GetTickCount64();
    int trapped = 0;

    if (!d->thread)
        return;
    SetEvent(d->go); /* an idle thread wakes, sees detached, leaves */
    /* A console read ends only by input: give it an Enter (console.c). */
    if (d->con && !d->is_write)
        trapped = ior__iocp_console_trap_read(b->h, d->con);
    /*
     * A thread between its detached check and its blocking call is not
     * cancellable yet: cancel again until it has left.
     */
    while (WaitForSingleObject(d->thread, 1) == WAIT_TIMEOUT &&
           GetTickCount64() - start < IOR__PTHR_STOP_MS) {
        CancelSynchronousIo(d->thread);
        if (b->overlapped)
            CancelIoEx(b->h, NULL);
    }
    if (trapped && WaitForSingleObject(d->thread, 0) == WAIT_OBJECT_0)
        ior__iocp_console_untrap(d->con);
    CloseHandle(d->thread);
    d->thread = NULL;
}

/*
 * A job the thread will no longer post (detached while busy) completes
 * through the loop's ready list instead, so every started request still
 * gets exactly one done() and the outstanding count stays right.
 */
static void complete_aborted(ior__iocp_loop_t *lp, ior__iocp_op_t *op)
{
    lp->outstanding--; /* counted when the job went to the thread */
    ior__iocp_op_defer(lp, op, ERROR_OPERATION_ABORTED);
}

static void stop_threads(ior__iocp_pipe_t *p)
{
    struct ior__iocp_pthr *b = p->thr;
    ior__iocp_loop_t *lp = ior__iocp_loop(p->hd.base.loop);
    int rs;
    int ws;

    AcquireSRWLockExclusive(&b->lock);
    b->detached = 1;
    rs = b->rd.state;
    ws = b->wr.state;
    ReleaseSRWLockExclusive(&b->lock);
    if (rs == IOR__PTHR_BUSY)
        complete_aborted(lp, &p->hd.rop);
    if (ws == IOR__PTHR_BUSY)
        complete_aborted(lp, &p->hd.sop);
    pdir_stop(b, &b->rd);
    pdir_stop(b, &b->wr);
    p->thr = NULL;
    pthr_unref(b);
}

int ior__iocp_pthr_open(ior__iocp_loop_t *lp, ior__iocp_pipe_t *p, HANDLE h,
                        const ior__iocp_facts_t *facts, unsigned dirs)
{
    struct ior__iocp_pthr *b;
    int rc = 0;

    b = (struct ior__iocp_pthr *)ior__calloc(1, sizeof(*b));
    if (!b)
        return IOR_ENOMEM;
    b->refs = 1; /* the transport's */
    InitializeSRWLock(&b->lock);
    b->h = h;
    b->port = lp->port;
    b->overlapped = facts->overlapped;
    b->is_file = facts->type == FILE_TYPE_DISK && facts->overlapped;
    b->is_console = facts->is_console;
    b->is_socket = p->is_socket;
    if (b->is_file) {
        LARGE_INTEGER zero;
        LARGE_INTEGER pos;
        zero.QuadPart = 0;
        if (SetFilePointerEx(h, zero, &pos, FILE_CURRENT))
            b->rd.off = b->wr.off = (uint64_t)pos.QuadPart;
    }
    if (dirs & IOR_PIPE_READ)
        rc = pdir_start(b, &b->rd, 0, &p->hd.rop);
    if (rc == 0 && (dirs & IOR_PIPE_WRITE))
        rc = pdir_start(b, &b->wr, 1, &p->hd.sop);
    if (rc != 0) {
        /* The handle stays the caller's: stop what started, keep h. */
        b->h = GetCurrentProcess(); /* a pseudo-handle: closing is a no-op */
        b->is_socket = 0;
        b->detached = 1;
        pdir_stop(b, &b->rd);
        pdir_stop(b, &b->wr);
        pthr_unref(b);
        return rc;
    }
    p->thr = b;
    return 0;
}

/* Test hook (iocp.h). */
int ior__iocp_console_reading(const ior_transport_t *t)
{
    const ior__iocp_handle_t *h = (const ior__iocp_handle_t *)(const void *)t;
    const ior__iocp_pipe_t *p = (const ior__iocp_pipe_t *)(const void *)h;

    return h->kind == &ior__iocp_kind_thread && p->thr != NULL &&
           ior__iocp_console_is_reading(p->thr->rd.con);
}
