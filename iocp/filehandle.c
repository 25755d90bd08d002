/*
 * The socket kind's read side: how a socket reads (handle.c holds the
 * completion and the rules every kind shares).
 *
 * Twisted differs: it reads into up to 16 x 4 KiB buffers. Under Wine
 * every overlapped request costs a round trip to the wine server, so
 * throughput follows bytes per request; here one buffer doubles, from
 * 16 KiB up to 256 KiB, each time a read fills it and halves when one does
 * not.
 *
 * A connection that has not received anything yet waits in a zero-byte
 * read that pins no memory; when it completes, one non-blocking recv()
 * into the loop's shared buffer takes what arrived. While data flows, the
 * next read is a real one into the connection's buffer: a zero-byte read
 * plus a recv() is two requests where one would do, and under Wine each
 * request is several wine-server round trips (a request/response exchange
 * ran at 0.5 of blocking sockets' rate that way, about 0.8 with real
 * reads).
 *
 * A real read waits for data as long as it takes: a pending socket read is
 * never cancelled except to close the socket. Microsoft documents that a
 * cancelled socket operation (but accept) can leave the socket in a state
 * where only closing it is safe, and CancelIoEx cancels every receive of
 * the socket (dotnet/corefx#32981); Wine forgives it, Windows need not.
 * What bounds the memory instead is a loop-wide budget (read_budget, as
 * libuv bounds its "active streams"): a real read is posted only while the
 * buffers pinned by the loop's sockets fit in it, else a zero-byte read.
 * So a quiet connection that was busy keeps at most its share of the
 * budget, and 10,000 idle ones pin nothing beyond it.
 */
#include "iocp.h"

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

void ior__iocp_read_unpin(ior__iocp_sock_t *sk)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(sk->hd.base.loop);

    lp->pinned -= sk->pinned_len;
    sk->pinned_len = 0;
}

static void drop_buffer(ior__iocp_sock_t *sk)
{
    ior__iocp_read_unpin(sk);
    ior__free(sk->rbuf);
    sk->rbuf = NULL;
    sk->rbuf_len = 0;
}

/*
 * A buffer of read_size for a real read; 0 when the loop's budget has no
 * room for it (counting what this socket pins now) or memory is short.
 */
static int ensure_buffer(ior__iocp_sock_t *sk)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(sk->hd.base.loop);

    if (sk->rbuf && sk->rbuf_len == sk->read_size)
        return 1;
    if (lp->pinned - sk->pinned_len + sk->read_size > lp->read_budget) {
        lp->budget_zero_reads++;
        return 0;
    }
    drop_buffer(sk);
    sk->rbuf = (char *)ior__malloc(sk->read_size);
    if (!sk->rbuf)
        return 0;
    sk->rbuf_len = sk->read_size;
    sk->pinned_len = sk->rbuf_len;
    lp->pinned += sk->pinned_len;
    if (sk->rbuf_len > sk->rbuf_peak)
        sk->rbuf_peak = sk->rbuf_len;
    return 1;
}

void ior__iocp_sock_post_read(ior__iocp_handle_t *h)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(&h->base);
    WSABUF buf;
    DWORD bytes = 0;
    DWORD flags = 0;
    DWORD err = 0;
    int rc;

    /* Over budget or out of memory: a zero-byte read and the shared
     * drain buffer. */
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

    sk->last_full = 0;
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

    if (result != IOR__IOCP_READ_DATA || !sk->last_full)
        drop_buffer(sk);
}
