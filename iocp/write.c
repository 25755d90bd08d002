/*
 * The socket kind's write side (handle.c holds the send completion):
 * one overlapped WSASend at a time, as FileHandle.doWrite. Twisted
 * differs: it copies up to 128 KiB of its buffer into one string per
 * send; here the queued
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

static DWORD transmitfile_for(ior__iocp_sock_t *sk, ior__iocp_loop_t *lp)
{
    GUID guid = WSAID_TRANSMITFILE;
    DWORD got = 0;

    if (lp->transmitfile == NULL &&
        WSAIoctl(sk->s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid,
                 (DWORD)sizeof(guid), (void *)&lp->transmitfile,
                 (DWORD)sizeof(lp->transmitfile), &got, NULL, NULL) != 0)
        return (DWORD)WSAGetLastError();
    return 0;
}

/*
 * A file region at the head of the queue goes out as one overlapped
 * TransmitFile from the file (the core keeps pieces within its 2^31 - 2
 * limit; the caller has looked the function up). The file offset rides
 * in the OVERLAPPED. A synchronous success says nothing about the count;
 * the OVERLAPPED's InternalHigh holds it.
 */
static void post_transmit(ior__iocp_handle_t *h, const ior__file_send_t *fs)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(&h->base);
    ior__iocp_loop_t *lp = ior__iocp_loop(h->base.loop);
    DWORD sent = 0;
    DWORD err = 0;
    BOOL ok;

    memset(&h->sop.ov, 0, sizeof(h->sop.ov));
    h->sop.ov.Offset = (DWORD)(fs->offset & 0xFFFFFFFFu);
    h->sop.ov.OffsetHigh = (DWORD)(fs->offset >> 32);
    sk->file_send = 1;
    ok = lp->transmitfile(sk->s, (HANDLE)fs->file, (DWORD)fs->len, 0,
                          &h->sop.ov, NULL, 0);
    if (!ok)
        err = (DWORD)WSAGetLastError();
    else
        sent = (DWORD)h->sop.ov.InternalHigh;
    ior__iocp_handle_started(h, &h->sop, ok, sent, err);
}

/* Starts a WSASend of what is queued; 0 if the queue is empty. */
int ior__iocp_sock_post_send(ior__iocp_handle_t *h)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(&h->base);
    ior__iocp_loop_t *lp = ior__iocp_loop(h->base.loop);
    ior__file_send_t fs;
    size_t n;
    size_t i;
    DWORD sent = 0;
    DWORD err = 0;
    int rc;

    if (lp->transmit_ok && !sk->no_transmit &&
        ior__core_send_file_begin(&h->base, &fs)) {
        if (transmitfile_for(sk, lp) == 0) {
            post_transmit(h, &fs);
            return 1;
        }
        /* No TransmitFile from this provider: the copy path, from now on. */
        ior__core_send_end(&h->base, 0);
        sk->no_transmit = 1;
    }
    sk->file_send = 0;
    n = ior__core_send_begin(&h->base, lp->send_bufs, IOR__IOCP_MAX_SEND_BUFS,
                             IOR__IOCP_MAX_SEND_LEN);
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        lp->wsa_bufs[i].buf = (CHAR *)lp->send_bufs[i].base;
        lp->wsa_bufs[i].len = (ULONG)lp->send_bufs[i].len;
    }
    memset(&h->sop.ov, 0, sizeof(h->sop.ov));
    /* WSASend captures the WSABUF array, so the loop's scratch is reused. */
    rc = WSASend(sk->s, lp->wsa_bufs, (DWORD)n, &sent, 0, &h->sop.ov, NULL);
    if (rc != 0)
        err = (DWORD)WSAGetLastError();
    ior__iocp_handle_started(h, &h->sop, rc == 0, sent, err);
    return 1;
}

/*
 * A failed send took nothing the core may release. A TransmitFile that
 * sent nothing without an error met the end of the file: the file is
 * shorter than its region now, and the stream cannot go on.
 */
size_t ior__iocp_sock_send_result(ior__iocp_handle_t *h, DWORD bytes,
                                  DWORD *err)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(&h->base);
    if (*err == 0 && bytes == 0 && sk->file_send)
        *err = ERROR_HANDLE_EOF;
    return *err != 0 ? 0 : bytes;
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
size_t ior__iocp_sock_try_write(ior__iocp_handle_t *h, const ior_buf_t *bufs,
                                size_t n)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(&h->base);
    ior__iocp_loop_t *lp = ior__iocp_loop(h->base.loop);
    DWORD sent = 0;
    size_t i;

    if (!lp->direct_ok || n > IOR__IOCP_MAX_SEND_BUFS)
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
