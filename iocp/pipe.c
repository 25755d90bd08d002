/*
 * Pipes, files and standard I/O as transports on the consumer core: the
 * FileHandle of iocpreactor with ReadFile/WriteFile, which Twisted leaves
 * as a TODO (and which it replaces by polling for stdio).
 *
 * Two paths, chosen per handle when it is opened:
 *  - overlapped: a handle opened with FILE_FLAG_OVERLAPPED (a named pipe,
 *    a file) joins the loop's port and behaves like a socket: one
 *    ReadFile and one WriteFile outstanding at most, completions from the
 *    port (or the ready list in skip-on-success mode);
 *  - threaded (pipe_thread.c): a synchronous handle (anonymous pipes from
 *    CreatePipe, consoles, files opened without the flag, and every stdio
 *    handle Wine gives a program started from a Linux shell) cannot be
 *    waited on through a port without blocking the loop: Windows would
 *    complete "overlapped" requests on it synchronously and Wine refuses
 *    to associate it at all (ERROR_INVALID_PARAMETER). A reader and/or
 *    writer thread does the blocking calls and posts their results.
 *
 * The kind is told by pipe_facts.c (without blocking the loop behind
 * another thread's read of a synchronous handle).
 *
 * Writes: WriteFile takes one buffer. A queued chunk of 16 KiB or more goes
 * out as it is (no copy); smaller chunks at the head are gathered into a
 * 64 KiB staging buffer first, so a stream of small writes costs one
 * request per 64 KiB instead of one per chunk (under Wine every request is
 * a round trip to the wine server). Measured under Wine 8 through an
 * overlapped named pipe, 256 MiB in 1 KiB writes: head chunk only 14-24
 * MiB/s, gathered 136-192 MiB/s; 64 KiB writes take the direct path
 * either way (350-650 MiB/s on a loaded 2-core machine).
 *
 * A pipe has no half-close: ior__os_shutdown_write does nothing (except on
 * a socket handle, which ior_pipe_open accepts too: it gets shutdown and
 * closesocket), and the peer sees EOF when the transport closes its
 * handle. A write-only or read-only transport closes as soon as its one
 * direction is done (the core counts the unused direction as closed), so
 * EOF reaches the peer right after the drain.
 */
#include "iocp.h"

#include <string.h>

/* A head chunk at least this long is written without a copy (0: always). */
#ifndef IOR__IOCP_PIPE_DIRECT
#define IOR__IOCP_PIPE_DIRECT (16u * 1024u)
#endif
/* Queued chunks looked at for one gathered write. */
#define IOR__IOCP_PIPE_GATHER 64
/*
 * A local IPC pipe is of message type (half-close is a zero-length
 * message): a write larger than the pipe's 64 KiB buffer is one message
 * the reader takes in ERROR_MORE_DATA pieces, which under Wine measured
 * about half as fast as messages that fit (bench/file_send local_*).
 */
#define IOR__IOCP_IPC_WRITE_MAX ((size_t)64 * 1024)

/*
 * One classification for both pipe kinds, made on the IOR_E* code so
 * that the Win32 codes are translated in one place (error.c): the writer
 * closing its end (broken pipe, not connected: IOR_EPIPE) or the end of
 * a file is EOF.
 */
int ior__iocp_pipe_classify(DWORD bytes, DWORD err, int zero_is_eof,
                            int *err_out, DWORD *os_out)
{
    int code;

    if (err == ERROR_MORE_DATA)
        err = 0; /* a message-mode pipe: the bytes read are valid */
    if (err == 0)
        return bytes > 0 || !zero_is_eof ? IOR__IOCP_READ_DATA
                                         : IOR__IOCP_READ_EOF;
    code = ior__iocp_error(err);
    if (err == ERROR_HANDLE_EOF || code == IOR_EPIPE)
        return IOR__IOCP_READ_EOF;
    *err_out = code;
    *os_out = err;
    return IOR__IOCP_READ_ERROR;
}

DWORD ior__iocp_pipe_op_error(ior__iocp_handle_t *h, ior__iocp_op_t *op)
{
    DWORD n = 0;

    (void)h;
    /* bWait FALSE: only reads ov.Internal, so a closed handle is fine. */
    if (GetOverlappedResult(NULL, &op->ov, &n, FALSE))
        return 0;
    return GetLastError();
}

void ior__iocp_pipe_free(ior__iocp_handle_t *h)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);

    ior__free(p->rbuf);
    ior__free(p->wbuf);
    ior__free(p);
}

static void set_offset(OVERLAPPED *ov, uint64_t off)
{
    ov->Offset = (DWORD)(off & 0xFFFFFFFFu);
    ov->OffsetHigh = (DWORD)(off >> 32);
}

/* ------------------------------------------------------------------ */
/* Overlapped read                                                     */
/* ------------------------------------------------------------------ */

/* As the socket path: double while reads fill the buffer, else halve. */
static void adapt(ior__iocp_pipe_t *p)
{
    size_t want = p->rbuf_len;
    DWORD bytes = p->last_read;

    p->last_read = 0;
    if (bytes == 0)
        return;
    if (bytes == p->rbuf_len && want < IOR__IOCP_READ_MAX)
        want *= 2;
    else if (bytes < p->rbuf_len / 2 && want > IOR__IOCP_READ_MIN)
        want /= 2;
    if (want != p->rbuf_len) {
        ior__free(p->rbuf);
        p->rbuf = NULL; /* allocated below at the new size */
        p->rbuf_len = want;
    }
}

static void ovl_post_read(ior__iocp_handle_t *h)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);
    DWORD got = 0;
    DWORD err = 0;
    BOOL ok;

    adapt(p); /* after the last read was delivered: its buffer is free */
    if (!p->rbuf) {
        p->rbuf = (char *)ior__malloc(p->rbuf_len);
        if (!p->rbuf) {
            h->read_done = 1;
            ior__core_error(&h->base, IOR_ENOMEM, 0);
            return;
        }
    }
    memset(&h->rop.ov, 0, sizeof(h->rop.ov));
    if (p->is_file)
        set_offset(&h->rop.ov, p->read_off);
    ok = ReadFile(p->os, p->rbuf, (DWORD)p->rbuf_len, &got, &h->rop.ov);
    if (!ok)
        err = GetLastError();
    ior__iocp_handle_started(h, &h->rop, ok, got, err);
}

static int ovl_read_result(ior__iocp_handle_t *h, DWORD bytes, DWORD err,
                           const char **data, size_t *len, int *err_out,
                           DWORD *os_out)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);
    /* Zero bytes: the end of a file, or a socket's FIN. A named pipe
     * also completes zero-byte messages, which are not an EOF. */
    int r = ior__iocp_pipe_classify(bytes, err,
                                    p->is_file || p->is_socket || p->ipc,
                                    err_out, os_out);

    if (r == IOR__IOCP_READ_DATA) {
        p->read_off += bytes;
        p->last_read = bytes;
        *data = p->rbuf;
        *len = bytes;
    }
    return r;
}

/* At the end of reading the buffer goes; a paused pipe keeps it. */
static void ovl_read_rest(ior__iocp_handle_t *h, int result)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);

    (void)result;
    if (h->read_done || h->closed) {
        ior__free(p->rbuf);
        p->rbuf = NULL;
    }
}

/* ------------------------------------------------------------------ */
/* Overlapped write                                                    */
/* ------------------------------------------------------------------ */

static int ovl_post_send(ior__iocp_handle_t *h)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);
    ior_buf_t bufs[IOR__IOCP_PIPE_GATHER];
    const void *base;
    size_t n;
    size_t len;
    DWORD put = 0;
    DWORD err = 0;
    BOOL ok;

    n = ior__core_send_begin(&h->base, bufs, IOR__IOCP_PIPE_GATHER,
                             p->ipc ? IOR__IOCP_IPC_WRITE_MAX
                                    : (size_t)1 << 30);
    if (n == 0)
        return 0;
    if (n == 1 || bufs[0].len >= IOR__IOCP_PIPE_DIRECT || !p->wbuf) {
        base = bufs[0].base;
        len = bufs[0].len;
    } else {
        /* What does not fit stays queued: send_end takes a partial count. */
        len = ior__bufs_gather(p->wbuf, IOR__IOCP_PIPE_CHUNK, bufs, n);
        base = p->wbuf;
    }
    memset(&h->sop.ov, 0, sizeof(h->sop.ov));
    if (p->is_file)
        set_offset(&h->sop.ov, p->write_off);
    ok = WriteFile(p->os, base, (DWORD)len, &put, &h->sop.ov);
    if (!ok)
        err = GetLastError();
    ior__iocp_handle_started(h, &h->sop, ok, put, err);
    return 1;
}

static size_t ovl_send_result(ior__iocp_handle_t *h, DWORD bytes, DWORD *err)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);

    if (*err != 0)
        bytes = 0;
    p->write_off += bytes;
    return bytes;
}

static void shut_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_pipe_t *p = IOR__CONTAINER(op, ior__iocp_pipe_t, shut_op);

    (void)bytes;
    (void)err; /* a peer already gone reads nothing either way */
    ior__iocp_handle_unref(&p->hd);
}

/*
 * A pipe cannot half-close: its peer sees EOF at the close (a one-way
 * transport closes right after this anyway). A socket handed to
 * ior_pipe_open (stdio of an inetd-style child) can. A local IPC pipe
 * (message type, local.c) says it with a zero-length message, which
 * ReadFile documents as a read of zero bytes at the other end; ior reads
 * that as EOF there.
 */
static void ovl_shutdown(ior__iocp_handle_t *h)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);
    DWORD put = 0;
    BOOL ok;

    if (p->ipc && p->os) {
        memset(&p->shut_op.ov, 0, sizeof(p->shut_op.ov));
        p->shut_op.done = shut_done;
        ok = WriteFile(p->os, p->wbuf, 0, &put, &p->shut_op.ov);
        h->refs++;
        ior__iocp_op_started(ior__iocp_loop(h->base.loop), &p->shut_op, ok, 0,
                             ok ? 0 : GetLastError(), h->skip);
        return;
    }
    if (!p->is_socket || !p->os)
        return;
    if (shutdown((SOCKET)p->os, SD_SEND) != 0) {
        int err = WSAGetLastError();
        ior__core_error(&h->base, ior__iocp_error((DWORD)err), err);
    }
}

static void ovl_close(ior__iocp_handle_t *h, int abort)
{
    ior__iocp_pipe_t *p = ior__iocp_pipe(h);

    (void)abort; /* a pipe has no reset */
    if (h->reading || h->sending)
        CancelIoEx(p->os, NULL);
    /* Under Wine, CloseHandle on a socket sends no FIN: no EOF, ever. */
    if (p->is_socket)
        closesocket((SOCKET)p->os);
    else
        CloseHandle(p->os);
    p->os = NULL;
}

const ior__iocp_kind_t ior__iocp_kind_pipe = {
    "pipe",
    ovl_post_read,
    ovl_read_result,
    ovl_read_rest,
    ovl_post_send,
    ovl_send_result,
    NULL, /* no direct write: WriteFile has no non-blocking mode */
    ovl_shutdown,
    ovl_close,
    ior__iocp_pipe_free,
    ior__iocp_pipe_op_error,
};

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

/*
 * A message-mode named pipe is read as the byte stream a transport is:
 * in byte read mode no read ends with ERROR_MORE_DATA. 1 when the handle
 * still reads messages (switching was refused: a client end opened
 * without FILE_WRITE_ATTRIBUTES).
 */
static int reads_messages(HANDLE h)
{
    DWORD state = 0;
    DWORD mode = PIPE_READMODE_BYTE;

    if (!GetNamedPipeHandleStateW(h, &state, NULL, NULL, NULL, NULL, 0) ||
        !(state & PIPE_READMODE_MESSAGE))
        return 0; /* not a named pipe, or byte mode already */
    return SetNamedPipeHandleState(h, &mode, NULL, NULL) ? 0 : 1;
}

/*
 * Joins the port (unless on_port: already there); 1 if the handle cannot
 * (then it takes the thread path).
 */
static int ovl_attach(ior__iocp_loop_t *lp, ior__iocp_pipe_t *p, HANDLE h,
                      DWORD type, int on_port)
{
    LARGE_INTEGER zero;
    LARGE_INTEGER pos;

    p->wbuf = (char *)ior__malloc(IOR__IOCP_PIPE_CHUNK);
    if (!p->wbuf)
        return IOR_ENOMEM;
    if (!on_port && !CreateIoCompletionPort(h, lp->port, IOR__IOCP_KEY_IO, 0))
        return 1; /* e.g. already on another port: use threads */
    p->os = h;
    p->rbuf_len = IOR__IOCP_READ_MIN;
    if (type == FILE_TYPE_DISK) {
        /* Overlapped file I/O ignores the file pointer: start at it. */
        p->is_file = 1;
        zero.QuadPart = 0;
        if (SetFilePointerEx(h, zero, &pos, FILE_CURRENT))
            p->read_off = p->write_off = (uint64_t)pos.QuadPart;
    }
    /*
     * IOR_IOCP_NO_SKIP: as for sockets, test the packet-per-request path.
     * A pipe still reading messages stays out of skip mode too: a read
     * ending at once with ERROR_MORE_DATA then always gets its packet
     * (Wine queues none in skip mode; Windows documents skipping for
     * success only), so its bytes come exactly once either way.
     */
    if (!reads_messages(h) &&
        GetEnvironmentVariableA("IOR_IOCP_NO_SKIP", NULL, 0) == 0 &&
        SetFileCompletionNotificationModes(
            h, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                   FILE_SKIP_SET_EVENT_ON_HANDLE))
        p->hd.skip = 1;
    return 0;
}

/* The core checked dirs and -1 (common/pipe.c). */
int ior__os_pipe_open(ior_loop_t *loop, intptr_t os_handle, unsigned dirs,
                      ior_transport_t **out)
{
    HANDLE h = (HANDLE)os_handle;
    ior__iocp_facts_t facts;
    ior__iocp_pipe_t *p;
    int threaded = 0;
    int rc;

    if (h == NULL || h == INVALID_HANDLE_VALUE)
        return IOR_EBADF;
    rc = ior__iocp_handle_facts(h, &facts);
    if (rc != 0)
        return rc;
    if (facts.type == FILE_TYPE_UNKNOWN && facts.type_error != NO_ERROR)
        return IOR_EBADF;
    p = (ior__iocp_pipe_t *)ior__calloc(1, sizeof(*p));
    if (!p)
        return IOR_ENOMEM;
    p->is_socket = (unsigned char)facts.is_socket;
    rc = facts.overlapped
             ? ovl_attach(ior__iocp_loop(loop), p, h, facts.type, 0)
             : 1;
    if (rc == 1) {
        threaded = 1;
        rc = ior__iocp_pthr_open(ior__iocp_loop(loop), p, h, &facts, dirs);
    }
    if (rc != 0) {
        ior__free(p->wbuf);
        ior__free(p);
        return rc;
    }
    ior__iocp_handle_init(&p->hd,
                          threaded ? &ior__iocp_kind_thread
                                   : &ior__iocp_kind_pipe,
                          ior__iocp_loop(loop));
    *out = &p->hd.base;
    return 0;
}

int ior__iocp_pipe_wrap(ior__iocp_loop_t *lp, HANDLE h, int on_port,
                        ior_transport_t **out)
{
    ior__iocp_pipe_t *p = (ior__iocp_pipe_t *)ior__calloc(1, sizeof(*p));
    int rc;

    if (!p)
        return IOR_ENOMEM;
    rc = ovl_attach(lp, p, h, FILE_TYPE_PIPE, on_port);
    if (rc != 0) {
        ior__free(p->wbuf);
        ior__free(p);
        return rc == 1 ? IOR_EIO : rc;
    }
    p->ipc = 1;
    ior__iocp_handle_init(&p->hd, &ior__iocp_kind_pipe, lp);
    *out = &p->hd.base;
    return 0;
}

/*
 * The transport owns a duplicate of the standard handle, as on POSIX, so
 * closing it leaves the process's own handle (and GetStdHandle) intact:
 * a later write to stderr by the C runtime still works. The reader of a
 * pipe on our stdout therefore sees EOF when the process exits, not when
 * the transport closes (the same as POSIX, where descriptor 1 stays open).
 */
/* 1 when Winsock knows h as a socket; asked without blocking the loop. */
static int is_socket_handle(HANDLE h)
{
    ior__iocp_facts_t f;

    return ior__iocp_handle_facts(h, &f) == 0 && f.is_socket;
}

/*
 * A socket as a standard handle (a program started by inetd, socat or a
 * service manager): Winsock duplicates it, since DuplicateHandle does not
 * make a socket that every provider (LSP) knows, as Microsoft documents.
 * Overlapped, so the transport takes the port path.
 */
static int dup_socket(HANDLE h, intptr_t *out)
{
    WSAPROTOCOL_INFOW info;
    SOCKET s;

    if (WSADuplicateSocketW((SOCKET)h, GetCurrentProcessId(), &info) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    s = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                   &info, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET)
        return ior__iocp_error((DWORD)WSAGetLastError());
    *out = (intptr_t)s;
    return 0;
}

int ior__os_stdio_dup(int which, intptr_t *out)
{
    static const DWORD ids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
                                 STD_ERROR_HANDLE};
    HANDLE self = GetCurrentProcess();
    HANDLE h = GetStdHandle(ids[which]);
    HANDLE dup;

    if (h == NULL || h == INVALID_HANDLE_VALUE)
        return IOR_EBADF;
    if (is_socket_handle(h))
        return dup_socket(h, out);
    if (!DuplicateHandle(self, h, self, &dup, 0, FALSE, DUPLICATE_SAME_ACCESS))
        return ior__iocp_error(GetLastError());
    *out = (intptr_t)dup;
    return 0;
}

void ior__os_handle_close(intptr_t h)
{
    if (is_socket_handle((HANDLE)h))
        closesocket((SOCKET)h);
    else
        CloseHandle((HANDLE)h);
}
