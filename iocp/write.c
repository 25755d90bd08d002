/*
 * The write side of the socket FileHandle. Mirrors FileHandle.doWrite /
 * _cbWrite: one overlapped WSASend at a time. Twisted differs: it copies
 * up to 128 KiB of its buffer into one string per send; here the queued
 * chunks themselves go out, up to 1024 of them gathered in one WSABUF
 * array (Wine fails a larger array synchronously yet still queues a
 * completion for it, so never more), and the core keeps them pinned until
 * ior__core_send_end.
 *
 * A send that completes inside WSASend (skip-on-success) is handed to the
 * loop's ready list by ior__iocp_op_started, so ior__core_send_end and
 * ior__core_drained always run from the loop dispatch, never inside the
 * user's write call that led to ior__os_start_writing.
 */
#include "iocp.h"

#include <string.h>

/* Per-buffer cap: WSABUF.len is a ULONG and so is the completion count. */
#define IOR__IOCP_MAX_SEND_LEN ((size_t)1 << 30)

/* Starts a WSASend of what is queued; 0 if the queue is empty. */
static int post_send(ior__iocp_sock_t *sk)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(sk->base.loop);
    size_t n;
    size_t i;
    DWORD sent = 0;
    DWORD err = 0;
    int rc;

    n = ior__core_send_begin(&sk->base, lp->send_bufs, IOR__IOCP_MAX_SEND_BUFS,
                             IOR__IOCP_MAX_SEND_LEN);
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        lp->wsa_bufs[i].buf = (CHAR *)lp->send_bufs[i].base;
        lp->wsa_bufs[i].len = (ULONG)lp->send_bufs[i].len;
    }
    memset(&sk->sop.ov, 0, sizeof(sk->sop.ov));
    /* WSASend captures the WSABUF array, so the loop's scratch is reused. */
    rc = WSASend(sk->s, lp->wsa_bufs, (DWORD)n, &sent, 0, &sk->sop.ov, NULL);
    if (rc != 0)
        err = (DWORD)WSAGetLastError();
    sk->sending = 1;
    sk->refs++;
    ior__iocp_op_started(lp, &sk->sop, rc == 0, sent, err, sk->skip);
    return 1;
}

/*
 * The core's fast path for a write into an idle transport: a plain
 * non-blocking WSASend (the socket is in FIONBIO mode) straight from the
 * caller's buffers. No OVERLAPPED, so no completion is queued; under Wine
 * this saves the overlapped round trip through wineserver that dominates
 * small writes. Would-block or an error is "nothing taken": the core
 * queues the bytes and the overlapped path takes over (and reports any
 * error from the loop), so real Windows loses nothing.
 */
size_t ior__os_try_write(ior_transport_t *t, const ior_buf_t *bufs, size_t n)
{
    ior__iocp_sock_t *sk;
    ior__iocp_loop_t *lp;
    DWORD sent = 0;
    size_t i;

    if (ior__iocp_is_pipe(t))
        return 0;
    sk = ior__iocp_sock(t);
    lp = ior__iocp_loop(t->loop);
    if (!lp->direct_ok || sk->sending || sk->closed || n == 0 ||
        n > IOR__IOCP_MAX_SEND_BUFS)
        return 0;
    for (i = 0; i < n; i++) {
        if (bufs[i].len > IOR__IOCP_MAX_SEND_LEN)
            return 0;
        lp->wsa_bufs[i].buf = (CHAR *)bufs[i].base;
        lp->wsa_bufs[i].len = (ULONG)bufs[i].len;
    }
    if (WSASend(sk->s, lp->wsa_bufs, (DWORD)n, &sent, 0, NULL, NULL) == 0)
        return sent;
    /* An error too: the overlapped send meets it and reports it from the
     * loop, as it would have without this fast path. */
    return 0;
}

void ior__os_start_writing(ior_transport_t *t)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(t);

    if (ior__iocp_is_pipe(t)) {
        ior__iocp_pipe_start_writing(t); /* pipe.c */
        return;
    }
    /* The completion of the send in flight continues with the rest. */
    if (sk->sending || sk->closed)
        return;
    if (!post_send(sk))
        ior__core_defer_drain(t);
}

void ior__iocp_send_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_sock_t *sk = IOR__CONTAINER(op, ior__iocp_sock_t, sop);
    ior_transport_t *t = &sk->base;

    sk->sending = 0;
    if (err == IOR__IOCP_ERR_LOOKUP)
        err = ior__iocp_op_error(sk->s, op);
    if (sk->freed) {
        /* Cannot happen: the core waits for send_end before freeing. */
        ior__iocp_sock_unref(sk);
        return;
    }
    /* Also after a close: the chunks in flight must be released. */
    ior__core_send_end(t, err ? 0 : bytes);
    if (sk->closed) {
        ior__iocp_sock_unref(sk);
        return;
    }
    if (err != 0) {
        ior__core_error(t, ior__iocp_error(err), (int)err);
    } else {
        /*
         * Rule 3 first: it may resume the producer, whose writes then
         * start the next send from ior__os_start_writing; whatever is
         * still queued after it goes out here.
         */
        ior__core_drained(t);
        if (!sk->sending && !sk->closed)
            post_send(sk);
    }
    ior__iocp_sock_unref(sk);
}
