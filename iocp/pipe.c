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
 * The kind is told by NtQueryInformationFile(FileModeInformation), as
 * libuv does: FILE_SYNCHRONOUS_IO_(NON)ALERT means synchronous. GetFileType
 * only tells pipes from files from character devices, not the mode.
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

/* NtQueryInformationFile(FileModeInformation), looked up at run time. */
typedef struct ior__iosb {
    union {
        LONG status;
        PVOID pointer;
    } u;
    ULONG_PTR information;
} ior__iosb_t;
typedef LONG(NTAPI *ior__nt_qif_fn)(HANDLE, ior__iosb_t *, PVOID, ULONG, ULONG);
#define IOR__FILE_MODE_INFORMATION 16
#define IOR__FILE_SYNCHRONOUS_IO_ALERT 0x10u
#define IOR__FILE_SYNCHRONOUS_IO_NONALERT 0x20u

/* GetFileType says "pipe" for sockets too; only Winsock knows. */
static int handle_is_socket(HANDLE h, DWORD type)
{
    int so_type = 0;
    int len = (int)sizeof(so_type);

    return type == FILE_TYPE_PIPE && getsockopt((SOCKET)h, SOL_SOCKET, SO_TYPE,
                                                (char *)&so_type, &len) == 0;
}

/* 1 if h was opened for overlapped I/O; 0 if synchronous or unknown. */
static int handle_is_overlapped(HANDLE h)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    ior__nt_qif_fn qif;
    ior__iosb_t io;
    ULONG mode = 0;

    if (!ntdll)
        return 0;
    /* Through void (*)(void): a plain cast trips -Wcast-function-type. */
    qif = (ior__nt_qif_fn)(void (*)(void))GetProcAddress(
        ntdll, "NtQueryInformationFile");
    if (!qif ||
        qif(h, &io, &mode, (ULONG)sizeof(mode), IOR__FILE_MODE_INFORMATION) < 0)
        return 0;
    return (mode & (IOR__FILE_SYNCHRONOUS_IO_ALERT |
                    IOR__FILE_SYNCHRONOUS_IO_NONALERT)) == 0;
}

static ior__iocp_pipe_t *pipe_of(ior_transport_t *t)
{
    return (ior__iocp_pipe_t *)(void *)t;
}

/* The other end went away while we wrote: EPIPE, whatever Windows says. */
static int write_error(DWORD err)
{
    if (err == ERROR_NO_DATA || err == ERROR_BROKEN_PIPE ||
        err == ERROR_PIPE_NOT_CONNECTED)
        return IOR_EPIPE;
    return ior__iocp_error(err);
}

/* A read error that means the writer closed its end (or end of file). */
static int is_eof_error(DWORD err)
{
    return err == ERROR_HANDLE_EOF || err == ERROR_BROKEN_PIPE ||
           err == ERROR_PIPE_NOT_CONNECTED;
}

/* The Win32 error of a finished request (the port only says "failed"). */
static DWORD op_error(ior__iocp_op_t *op)
{
    DWORD n = 0;

    /* bWait FALSE: only reads ov.Internal, so a closed handle is fine. */
    if (GetOverlappedResult(NULL, &op->ov, &n, FALSE))
        return 0;
    return GetLastError();
}

static void set_offset(OVERLAPPED *ov, uint64_t off)
{
    ov->Offset = (DWORD)(off & 0xFFFFFFFFu);
    ov->OffsetHigh = (DWORD)(off >> 32);
}

/* ------------------------------------------------------------------ */
/* Overlapped read                                                     */
/* ------------------------------------------------------------------ */

static void ovl_post_read(ior__iocp_pipe_t *p)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(p->base.loop);
    DWORD got = 0;
    DWORD err = 0;
    BOOL ok;

    if (!p->rbuf) {
        p->rbuf = (char *)ior__malloc(p->rbuf_len);
        if (!p->rbuf) {
            p->read_done = 1;
            ior__core_error(&p->base, IOR_ENOMEM, 0);
            return;
        }
    }
    memset(&p->rop.ov, 0, sizeof(p->rop.ov));
    if (p->is_file)
        set_offset(&p->rop.ov, p->read_off);
    ok = ReadFile(p->h, p->rbuf, (DWORD)p->rbuf_len, &got, &p->rop.ov);
    if (!ok)
        err = GetLastError();
    p->reading = 1;
    p->refs++;
    ior__iocp_op_started(lp, &p->rop, ok, got, err, p->skip);
}

/* As the socket path: double while reads fill the buffer, else halve. */
static void adapt(ior__iocp_pipe_t *p, DWORD bytes)
{
    size_t want = p->rbuf_len;

    if (bytes == p->rbuf_len && want < IOR__IOCP_READ_MAX)
        want *= 2;
    else if (bytes < p->rbuf_len / 2 && want > IOR__IOCP_READ_MIN)
        want /= 2;
    if (want != p->rbuf_len) {
        ior__free(p->rbuf);
        p->rbuf = NULL; /* the next post allocates the new size */
        p->rbuf_len = want;
    }
}

static void ovl_read_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_pipe_t *p = IOR__CONTAINER(op, ior__iocp_pipe_t, rop);

    p->reading = 0;
    if (p->closed || p->freed || p->read_done) {
        ior__iocp_pipe_unref(p);
        return;
    }
    if (err == IOR__IOCP_ERR_LOOKUP)
        err = op_error(op);
    if (err == ERROR_MORE_DATA)
        err = 0; /* a message-mode pipe: the bytes read are valid */
    /* Zero bytes: the end of a file, or a socket's FIN. A named pipe
     * also completes zero-byte messages, which are not an EOF. */
    if (is_eof_error(err) ||
        (err == 0 && bytes == 0 && (p->is_file || p->is_socket))) {
        p->read_done = 1;
        ior__core_read_eof(&p->base);
    } else if (err != 0) {
        p->read_done = 1;
        ior__core_error(&p->base, ior__iocp_error(err), (int)err);
    } else if (bytes > 0) {
        p->read_off += bytes;
        ior__core_read(&p->base, p->rbuf, bytes);
        adapt(p, bytes);
    }
    if (p->read_done) {
        ior__free(p->rbuf);
        p->rbuf = NULL;
    }
    /* The core may have paused, closed or aborted us meanwhile. */
    if (!p->closed && !p->read_done && !p->reading &&
        ior__core_wants_read(&p->base))
        ovl_post_read(p);
    ior__iocp_pipe_unref(p);
}

/* ------------------------------------------------------------------ */
/* Overlapped write                                                    */
/* ------------------------------------------------------------------ */

/*
 * Copies bufs into dst (up to cap bytes) and returns how many; the rest of
 * what send_begin marked stays queued (send_end takes a partial count).
 */
size_t ior__iocp_pipe_gather(char *dst, size_t cap, const ior_buf_t *bufs,
                             size_t n)
{
    size_t total = 0;
    size_t i;

    for (i = 0; i < n && total < cap; i++) {
        size_t k = bufs[i].len;
        if (k > cap - total)
            k = cap - total;
        memcpy(dst + total, bufs[i].base, k);
        total += k;
    }
    return total;
}

static int ovl_post_send(ior__iocp_pipe_t *p)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(p->base.loop);
    ior_buf_t bufs[IOR__IOCP_PIPE_GATHER];
    const void *base;
    size_t n;
    size_t len;
    DWORD put = 0;
    DWORD err = 0;
    BOOL ok;

    n = ior__core_send_begin(&p->base, bufs, IOR__IOCP_PIPE_GATHER,
                             (size_t)1 << 30);
    if (n == 0)
        return 0;
    if (n == 1 || bufs[0].len >= IOR__IOCP_PIPE_DIRECT || !p->wbuf) {
        base = bufs[0].base;
        len = bufs[0].len;
    } else {
        len = ior__iocp_pipe_gather(p->wbuf, IOR__IOCP_PIPE_CHUNK, bufs, n);
        base = p->wbuf;
    }
    memset(&p->sop.ov, 0, sizeof(p->sop.ov));
    if (p->is_file)
        set_offset(&p->sop.ov, p->write_off);
    ok = WriteFile(p->h, base, (DWORD)len, &put, &p->sop.ov);
    if (!ok)
        err = GetLastError();
    p->sending = 1;
    p->refs++;
    ior__iocp_op_started(lp, &p->sop, ok, put, err, p->skip);
    return 1;
}

static void ovl_send_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_pipe_t *p = IOR__CONTAINER(op, ior__iocp_pipe_t, sop);
    ior_transport_t *t = &p->base;

    p->sending = 0;
    if (err == IOR__IOCP_ERR_LOOKUP)
        err = op_error(op);
    if (err != 0)
        bytes = 0;
    p->write_off += bytes;
    /* Also after a close: the chunks in flight must be released. */
    ior__core_send_end(t, bytes);
    if (!p->closed) {
        if (err != 0) {
            ior__core_error(t, write_error(err), (int)err);
        } else {
            ior__core_drained(t);
            if (!p->sending && !p->closed)
                ovl_post_send(p);
        }
    }
    ior__iocp_pipe_unref(p);
}

/* ------------------------------------------------------------------ */
/* The ior__os_* functions for pipes                                   */
/* ------------------------------------------------------------------ */

void ior__iocp_pipe_start_reading(ior_transport_t *t)
{
    ior__iocp_pipe_t *p = pipe_of(t);

    if (p->closed || p->read_done || p->reading)
        return;
    if (p->threaded)
        ior__iocp_pthr_start_reading(p);
    else
        ovl_post_read(p);
}

void ior__iocp_pipe_start_writing(ior_transport_t *t)
{
    ior__iocp_pipe_t *p = pipe_of(t);

    /* The completion of the write in flight continues with the rest. */
    if (p->sending || p->closed)
        return;
    if (p->threaded)
        ior__iocp_pthr_start_writing(p);
    else if (!ovl_post_send(p))
        ior__core_defer_drain(t);
}

/*
 * Requests in flight complete later (cancelled, or with what they did);
 * the transport is freed after the last of them, as for sockets.
 */
void ior__iocp_pipe_close(ior_transport_t *t)
{
    ior__iocp_pipe_t *p = pipe_of(t);

    if (p->closed)
        return;
    p->closed = 1;
    if (p->threaded) {
        ior__iocp_pthr_close(p);
        return;
    }
    if (p->reading || p->sending)
        CancelIoEx(p->h, NULL);
    /* Under Wine, CloseHandle on a socket sends no FIN: no EOF, ever. */
    if (p->is_socket)
        closesocket((SOCKET)p->h);
    else
        CloseHandle(p->h);
    p->h = NULL;
}

/*
 * A pipe cannot half-close: its peer sees EOF at the close (a one-way
 * transport closes right after this anyway). A socket handed to
 * ior_pipe_open (stdio of an inetd-style child) can.
 */
void ior__iocp_pipe_shutdown_write(ior_transport_t *t)
{
    ior__iocp_pipe_t *p = pipe_of(t);
    HANDLE h = p->threaded ? NULL : p->h;

    if (p->closed || !p->is_socket || !h)
        return;
    if (shutdown((SOCKET)h, SD_SEND) != 0) {
        int err = WSAGetLastError();
        ior__core_error(t, ior__iocp_error((DWORD)err), err);
    }
}

void ior__iocp_pipe_free(ior_transport_t *t)
{
    ior__iocp_pipe_t *p = pipe_of(t);

    p->freed = 1;
    ior__iocp_pipe_unref(p);
}

void ior__iocp_pipe_unref(ior__iocp_pipe_t *p)
{
    if (--p->refs > 0)
        return;
    ior__free(p->rbuf);
    ior__free(p->wbuf);
    ior__free(p);
}

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

/* Joins the port; 0 if the handle cannot (then it takes the thread path). */
static int ovl_attach(ior__iocp_loop_t *lp, ior__iocp_pipe_t *p, HANDLE h,
                      DWORD type)
{
    LARGE_INTEGER zero;
    LARGE_INTEGER pos;

    p->wbuf = (char *)ior__malloc(IOR__IOCP_PIPE_CHUNK);
    if (!p->wbuf)
        return IOR_ENOMEM;
    if (!CreateIoCompletionPort(h, lp->port, IOR__IOCP_KEY_IO, 0))
        return 1; /* e.g. already on another port: use threads */
    p->h = h;
    p->rop.done = ovl_read_done;
    p->sop.done = ovl_send_done;
    p->rbuf_len = IOR__IOCP_READ_MIN;
    if (type == FILE_TYPE_DISK) {
        /* Overlapped file I/O ignores the file pointer: start at it. */
        p->is_file = 1;
        zero.QuadPart = 0;
        if (SetFilePointerEx(h, zero, &pos, FILE_CURRENT))
            p->read_off = p->write_off = (uint64_t)pos.QuadPart;
    }
    /* IOR_IOCP_NO_SKIP: as for sockets, test the packet-per-request path. */
    if (GetEnvironmentVariableA("IOR_IOCP_NO_SKIP", NULL, 0) == 0 &&
        SetFileCompletionNotificationModes(
            h, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                   FILE_SKIP_SET_EVENT_ON_HANDLE))
        p->skip = 1;
    return 0;
}

int ior_pipe_open(ior_loop_t *loop, intptr_t os_handle, unsigned dirs,
                  const ior_protocol_ops_t *ops, void *user,
                  ior_transport_t **out)
{
    HANDLE h = (HANDLE)os_handle;
    ior__iocp_pipe_t *p;
    DWORD type;
    int ovl;
    int rc = 1;

    if (!loop || !ops || !out || dirs == 0 ||
        (dirs & ~(unsigned)(IOR_PIPE_READ | IOR_PIPE_WRITE)) != 0)
        return IOR_EINVAL;
    if (h == NULL || h == INVALID_HANDLE_VALUE)
        return IOR_EBADF;
    SetLastError(0);
    type = GetFileType(h);
    if (type == FILE_TYPE_UNKNOWN && GetLastError() != NO_ERROR)
        return IOR_EBADF;
    p = (ior__iocp_pipe_t *)ior__calloc(1, sizeof(*p));
    if (!p)
        return IOR_ENOMEM;
    p->kind = IOR__IOCP_KIND_PIPE;
    p->refs = 1; /* the core's, until ior__os_transport_free */
    p->is_socket = (unsigned char)handle_is_socket(h, type);
    ovl = handle_is_overlapped(h);
    if (ovl)
        rc = ovl_attach(ior__iocp_loop(loop), p, h, type);
    if (rc == 1) {
        p->threaded = 1;
        rc = ior__iocp_pthr_open(ior__iocp_loop(loop), p, h, ovl,
                                 type == FILE_TYPE_DISK, dirs);
    }
    if (rc != 0) {
        ior__free(p->wbuf);
        ior__free(p);
        return rc;
    }
    ior__core_transport_init(&p->base, loop);
    ior__core_transport_set_direction(&p->base, (dirs & IOR_PIPE_READ) != 0,
                                      (dirs & IOR_PIPE_WRITE) != 0);
    (void)ior_transport_set_protocol(&p->base, ops, user);
    /* Reading starts from the loop, after this returns. */
    ior__core_defer(&p->base, IOR__PEND_BEGIN);
    *out = &p->base;
    return 0;
}

/*
 * The transport owns a duplicate of the standard handle, as on POSIX, so
 * closing it leaves the process's own handle (and GetStdHandle) intact:
 * a later write to stderr by the C runtime still works. The reader of a
 * pipe on our stdout therefore sees EOF when the process exits, not when
 * the transport closes (the same as POSIX, where descriptor 1 stays open).
 */
int ior_stdio_open(ior_loop_t *loop, int which, const ior_protocol_ops_t *ops,
                   void *user, ior_transport_t **out)
{
    static const DWORD ids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
                                 STD_ERROR_HANDLE};
    HANDLE self = GetCurrentProcess();
    HANDLE h;
    HANDLE dup;
    int rc;

    if (which < 0 || which > 2 || !loop || !ops || !out)
        return IOR_EINVAL;
    h = GetStdHandle(ids[which]);
    if (h == NULL || h == INVALID_HANDLE_VALUE)
        return IOR_EBADF;
    if (!DuplicateHandle(self, h, self, &dup, 0, FALSE, DUPLICATE_SAME_ACCESS))
        return ior__iocp_error(GetLastError());
    rc = ior_pipe_open(loop, (intptr_t)dup,
                       which == 0 ? IOR_PIPE_READ : IOR_PIPE_WRITE, ops, user,
                       out);
    if (rc != 0)
        CloseHandle(dup);
    return rc;
}
