/*
 * The read side of the socket FileHandle. Mirrors iocpreactor's
 * FileHandle.startReading/_readDone: at most one overlapped read is
 * outstanding, and pausing never cancels it (a cancelled read can lose
 * bytes); what arrives while paused goes to the core, which holds it.
 *
 * Twisted differs: it reads into up to 16 × 4 KiB buffers. Under Wine
 * every overlapped request costs a round trip to the wine server, so
 * throughput follows bytes per request; here one buffer doubles, from
 * 16 KiB up to 256 KiB, each time a read fills it and halves when one does
 * not.
 *
 * A connection that has not received anything yet, or has been quiet for
 * IOR__IOCP_READ_IDLE_MS, waits in a zero-byte read that pins no memory;
 * when it completes, one non-blocking recv() into the loop's shared buffer
 * takes what arrived. While data flows, the next read is a real one into
 * the connection's buffer: a zero-byte read plus a recv() is two requests
 * where one would do, and under Wine each request is several wine-server
 * round trips (a request/response exchange ran at 0.5 of blocking
 * sockets' rate that way, about 0.8 with real reads). Before each wait the
 * loop cancels the real reads that have waited a whole idle period
 * (ior__iocp_read_sweep), so an idle connection still holds no buffer.
 * Cancelling is safe here, unlike for a pause: a read that already took
 * bytes completes with them, and one that did not leaves them in the
 * socket for the zero-byte read that replaces it.
 */
#include "iocp.h"

#include <limits.h>
#include <string.h>

/* The target of zero-byte reads: never written to. */
static char zero_target;

/*
 * Data arrived: the next read is a real one, larger if this one filled
 * its buffer (the stream is busy), smaller if not.
 */
static void adapt(ior__iocp_sock_t *sk, int full)
{
    if (full) {
        if (sk->read_size < IOR__IOCP_READ_MAX)
            sk->read_size *= 2;
    } else if (sk->read_size > IOR__IOCP_READ_MIN) {
        sk->read_size /= 2;
    }
    sk->zero_next = 0;
}

/* Real reads wait on the loop's list, oldest first, for the idle sweep. */
static void arm(ior__iocp_loop_t *lp, ior__iocp_sock_t *sk)
{
    sk->armed = 1;
    sk->armed_at = lp->base.now;
    sk->armed_next = NULL;
    sk->armed_prev = lp->armed_tail;
    if (lp->armed_tail)
        lp->armed_tail->armed_next = sk;
    else
        lp->armed_head = sk;
    lp->armed_tail = sk;
}

void ior__iocp_read_disarm(ior__iocp_sock_t *sk)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(sk->base.loop);

    if (!sk->armed)
        return;
    if (sk->armed_prev)
        sk->armed_prev->armed_next = sk->armed_next;
    else
        lp->armed_head = sk->armed_next;
    if (sk->armed_next)
        sk->armed_next->armed_prev = sk->armed_prev;
    else
        lp->armed_tail = sk->armed_prev;
    sk->armed_prev = sk->armed_next = NULL;
    sk->armed = 0;
}

int ior__iocp_read_sweep(ior__iocp_loop_t *lp, int timeout_ms)
{
    uint64_t now = lp->base.now;
    uint64_t left;
    ior__iocp_sock_t *sk;

    while ((sk = lp->armed_head) != NULL &&
           now - sk->armed_at >= lp->read_idle_ms) {
        ior__iocp_read_disarm(sk);
        /* The completion (cancelled, or data after all) comes as usual. */
        sk->idle_cancel = 1;
        lp->idle_cancels++;
        CancelIoEx((HANDLE)sk->s, &sk->rop.ov);
    }
    if (sk == NULL)
        return timeout_ms;
    left = sk->armed_at + lp->read_idle_ms - now;
    if (left > (uint64_t)INT_MAX)
        left = (uint64_t)INT_MAX;
    if (timeout_ms < 0 || left < (uint64_t)timeout_ms)
        return (int)left;
    return timeout_ms;
}

static void drop_buffer(ior__iocp_sock_t *sk)
{
    ior__free(sk->rbuf);
    sk->rbuf = NULL;
    sk->rbuf_len = 0;
}

/* A buffer of read_size for a real read; 0 on failure. */
static int ensure_buffer(ior__iocp_sock_t *sk)
{
    if (sk->rbuf && sk->rbuf_len == sk->read_size)
        return 1;
    drop_buffer(sk);
    sk->rbuf = (char *)ior__malloc(sk->read_size);
    if (!sk->rbuf)
        return 0;
    sk->rbuf_len = sk->read_size;
    if (sk->rbuf_len > sk->rbuf_peak)
        sk->rbuf_peak = sk->rbuf_len;
    return 1;
}

static void post_read(ior__iocp_sock_t *sk)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(sk->base.loop);
    WSABUF buf;
    DWORD bytes = 0;
    DWORD flags = 0;
    DWORD err = 0;
    int rc;

    /* Out of memory: a zero-byte read and the shared drain buffer. */
    if (!sk->zero_next && !ensure_buffer(sk))
        sk->zero_next = 1;
    if (sk->zero_next) {
        drop_buffer(sk);
        buf.buf = &zero_target;
        buf.len = 0;
    } else {
        buf.buf = sk->rbuf;
        buf.len = (ULONG)sk->rbuf_len;
    }
    sk->zero_read = sk->zero_next;
    sk->idle_cancel = 0;
    if (!sk->zero_read)
        arm(lp, sk);
    memset(&sk->rop.ov, 0, sizeof(sk->rop.ov));
    rc = WSARecv(sk->s, &buf, 1, &bytes, &flags, &sk->rop.ov, NULL);
    if (rc != 0)
        err = (DWORD)WSAGetLastError();
    sk->reading = 1;
    sk->refs++;
    ior__iocp_op_started(lp, &sk->rop, rc == 0, bytes, err, sk->skip);
}

void ior__os_start_reading(ior_transport_t *t)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(t);

    if (ior__iocp_is_pipe(t)) {
        ior__iocp_pipe_start_reading(t); /* pipe.c */
        return;
    }
    /* Inside read_done's delivery the buffer is still being read: the
     * read is posted when the delivery returns. */
    if (!sk->reading && !sk->delivering && !sk->closed && !sk->read_done)
        post_read(sk);
}

/* Pausing only stops re-posting; the read in flight stays (see above). */
void ior__os_stop_reading(ior_transport_t *t)
{
    (void)t;
}

static void read_failed(ior__iocp_sock_t *sk, DWORD err)
{
    sk->read_done = 1;
    drop_buffer(sk);
    ior__core_error(&sk->base, ior__iocp_error(err), (int)err);
}

static void read_eof(ior__iocp_sock_t *sk)
{
    sk->read_done = 1;
    drop_buffer(sk);
    ior__core_read_eof(&sk->base);
}

/* The zero-byte read completed: bytes (or EOF, or an error) are waiting. */
static void drain(ior__iocp_sock_t *sk)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(sk->base.loop);
    size_t want = sk->read_size;
    int n;

    n = recv(sk->s, lp->drain_buf, (int)want, 0);
    if (n > 0) {
        adapt(sk, (size_t)n == want);
        ior__core_read(&sk->base, lp->drain_buf, (size_t)n);
    } else if (n == 0) {
        read_eof(sk);
    } else {
        DWORD err = (DWORD)WSAGetLastError();
        /* A spurious wake-up: just wait again. */
        if (err != WSAEWOULDBLOCK)
            read_failed(sk, err);
    }
}

void ior__iocp_read_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_sock_t *sk = IOR__CONTAINER(op, ior__iocp_sock_t, rop);
    int full = 0;

    sk->reading = 0;
    ior__iocp_read_disarm(sk);
    if (sk->closed || sk->freed || sk->read_done) {
        /* Cancelled by ior__os_close, or the data is no longer wanted. */
        ior__iocp_sock_unref(sk);
        return;
    }
    if (err == IOR__IOCP_ERR_LOOKUP)
        err = ior__iocp_op_error(sk->s, op);
    if (err == ERROR_OPERATION_ABORTED && sk->idle_cancel) {
        /* Quiet for a whole idle period: wait in a zero-byte read. */
        sk->zero_next = 1;
        drop_buffer(sk);
    } else if (err != 0) {
        read_failed(sk, err);
    } else if (sk->zero_read) {
        /*
         * Paused meanwhile: leave the bytes in the socket, where TCP flow
         * control holds the peer back; resuming posts another zero-byte
         * read, which completes at once.
         */
        if (ior__core_wants_read(&sk->base))
            drain(sk);
    } else if (bytes == 0) {
        read_eof(sk);
    } else {
        full = bytes == sk->rbuf_len;
        adapt(sk, full);
        sk->delivering = 1;
        ior__core_read(&sk->base, sk->rbuf, bytes);
        sk->delivering = 0;
    }
    /* The core may have paused, closed or aborted us meanwhile. */
    if (!sk->closed && !sk->read_done && !sk->reading &&
        ior__core_wants_read(&sk->base))
        post_read(sk);
    else if (!sk->reading && !full)
        drop_buffer(sk); /* paused on a quiet stream: keep nothing */
    ior__iocp_sock_unref(sk);
}
