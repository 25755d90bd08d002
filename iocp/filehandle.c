/*
 * The socket kind's read side: how a socket reads (handle.c holds the
 * completion and the rules every kind shares).
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
    ior__iocp_loop_t *lp = ior__iocp_loop(sk->hd.base.loop);

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
        CancelIoEx((HANDLE)sk->s, &sk->hd.rop.ov);
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

void ior__iocp_sock_post_read(ior__iocp_handle_t *h)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(&h->base);
    ior__iocp_loop_t *lp = ior__iocp_loop(h->base.loop);
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
    memset(&h->rop.ov, 0, sizeof(h->rop.ov));
    rc = WSARecv(sk->s, &buf, 1, &bytes, &flags, &h->rop.ov, NULL);
    if (rc != 0)
        err = (DWORD)WSAGetLastError();
    ior__iocp_handle_started(h, &h->rop, rc == 0, bytes, err);
}

static int read_error(DWORD err, int *err_out, DWORD *os_out)
{
    *err_out = ior__iocp_error(err);
    *os_out = err;
    return IOR__IOCP_READ_ERROR;
}

/* The zero-byte read completed: bytes (or EOF, or an error) are waiting. */
static int drain(ior__iocp_sock_t *sk, const char **data, size_t *len,
                 int *err_out, DWORD *os_out)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(sk->hd.base.loop);
    size_t want = sk->read_size;
    int n;

    n = recv(sk->s, lp->drain_buf, (int)want, 0);
    if (n > 0) {
        adapt(sk, (size_t)n == want);
        *data = lp->drain_buf;
        *len = (size_t)n;
        return IOR__IOCP_READ_DATA;
    }
    if (n == 0)
        return IOR__IOCP_READ_EOF;
    /* A spurious wake-up: just wait again. */
    if (WSAGetLastError() == WSAEWOULDBLOCK)
        return IOR__IOCP_READ_AGAIN;
    return read_error((DWORD)WSAGetLastError(), err_out, os_out);
}

int ior__iocp_sock_read_result(ior__iocp_handle_t *h, DWORD bytes, DWORD err,
                               const char **data, size_t *len, int *err_out,
                               DWORD *os_out)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(&h->base);

    ior__iocp_read_disarm(sk);
    sk->last_full = 0;
    if (err == ERROR_OPERATION_ABORTED && sk->idle_cancel) {
        /* Quiet for a whole idle period: wait in a zero-byte read. */
        sk->zero_next = 1;
        drop_buffer(sk);
        return IOR__IOCP_READ_AGAIN;
    }
    if (err != 0)
        return read_error(err, err_out, os_out);
    if (sk->zero_read) {
        /*
         * Paused meanwhile: leave the bytes in the socket, where TCP flow
         * control holds the peer back; resuming posts another zero-byte
         * read, which completes at once.
         */
        if (!ior__core_wants_read(&h->base))
            return IOR__IOCP_READ_AGAIN;
        return drain(sk, data, len, err_out, os_out);
    }
    if (bytes == 0)
        return IOR__IOCP_READ_EOF;
    sk->last_full = bytes == sk->rbuf_len;
    adapt(sk, sk->last_full);
    *data = sk->rbuf;
    *len = bytes;
    return IOR__IOCP_READ_DATA;
}

/* No read follows: keep a buffer only for a busy stream that paused. */
void ior__iocp_sock_read_rest(ior__iocp_handle_t *h, int result)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(&h->base);

    ior__iocp_read_disarm(sk);
    if (result != IOR__IOCP_READ_DATA || !sk->last_full)
        drop_buffer(sk);
}
