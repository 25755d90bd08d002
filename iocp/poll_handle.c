/*
 * Poll handles on IOCP: readiness of a foreign socket from the AFD driver,
 * as libuv's uv_poll, wepoll and mio get it. One IOCTL_AFD_POLL request
 * per handle is in flight on the loop's \Device\Afd handle, which is
 * associated with the completion port; the request is one-shot, so it is
 * posted again after each completion while events are asked, which makes
 * the handle level-triggered like epoll and poll. A change of events or a
 * stop cancels the request in flight (CancelIoEx) and the completion of
 * the cancelled one posts the new mask; a closed handle is freed by that
 * completion. The structures and codes are the driver's (undocumented,
 * stable since Windows XP and implemented by Wine).
 */
#include "iocp.h"

#include <string.h>

#define AFD_POLL_RECEIVE 0x0001u
#define AFD_POLL_SEND 0x0004u
#define AFD_POLL_DISCONNECT 0x0008u
#define AFD_POLL_ABORT 0x0010u
#define AFD_POLL_LOCAL_CLOSE 0x0020u
#define AFD_POLL_ACCEPT 0x0080u
#define AFD_POLL_CONNECT_FAIL 0x0100u
#define IOR__IOCTL_AFD_POLL 0x00012024u

#define IOR__STATUS_CANCELLED ((LONG)0xC0000120L)
#define IOR__STATUS_INVALID_HANDLE ((LONG)0xC0000008L)

#ifndef SIO_BASE_HANDLE
#define SIO_BASE_HANDLE _WSAIOR(IOC_WS2, 34)
#endif
#ifndef SIO_BSP_HANDLE_POLL
#define SIO_BSP_HANDLE_POLL _WSAIOR(IOC_WS2, 29)
#endif

typedef struct afd_poll_info {
    LARGE_INTEGER timeout;
    ULONG count;
    ULONG exclusive;
    struct {
        HANDLE handle;
        ULONG events;
        LONG status;
    } h[1];
} afd_poll_info_t;

typedef struct iocp_poll {
    struct ior_poll base;
    ior__iocp_op_t op;
    ior__iocp_loop_t *lp;
    SOCKET afd_socket; /* the base provider's socket: what AFD knows */
    afd_poll_info_t info;
    ULONG posted;    /* AFD mask of the request in flight; 0: none */
    int cancelling;  /* CancelIoEx asked for the request in flight */
} iocp_poll_t;

typedef struct ior__ustr {
    USHORT length;
    USHORT max_length;
    PWSTR buffer;
} ior__ustr_t;

typedef struct ior__objattr {
    ULONG length;
    HANDLE root;
    ior__ustr_t *name;
    ULONG attributes;
    PVOID security;
    PVOID qos;
} ior__objattr_t;

typedef LONG(NTAPI *ior__nt_create_file_fn)(HANDLE *, ACCESS_MASK,
                                            ior__objattr_t *, ior__iosb_t *,
                                            LARGE_INTEGER *, ULONG, ULONG,
                                            ULONG, ULONG, PVOID, ULONG);

/* The loop's \Device\Afd handle on its port, opened on first use. */
static int afd_device(ior__iocp_loop_t *lp)
{
    static WCHAR path[] = L"\\Device\\Afd\\ior";
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    ior__nt_create_file_fn create;
    ior__ustr_t name;
    ior__objattr_t attr;
    ior__iosb_t iosb;
    HANDLE h = NULL;
    LONG st;

    if (lp->afd != NULL)
        return 0;
    if (ntdll == NULL)
        return IOR_ENOTSUP;
    /* Through void (*)(void): a plain cast trips -Wcast-function-type. */
    create = (ior__nt_create_file_fn)(void (*)(void))GetProcAddress(
        ntdll, "NtCreateFile");
    if (create == NULL)
        return IOR_ENOTSUP;
    name.length = (USHORT)(sizeof(path) - sizeof(WCHAR));
    name.max_length = (USHORT)sizeof(path);
    name.buffer = path;
    memset(&attr, 0, sizeof(attr));
    attr.length = (ULONG)sizeof(attr);
    attr.name = &name;
    st = create(&h, SYNCHRONIZE, &attr, &iosb, NULL, 0,
                FILE_SHARE_READ | FILE_SHARE_WRITE, 1 /* FILE_OPEN */, 0,
                NULL, 0);
    if (st < 0)
        return IOR_EIO;
    if (CreateIoCompletionPort(h, lp->port, IOR__IOCP_KEY_IO, 0) == NULL) {
        DWORD err = GetLastError();
        CloseHandle(h);
        return ior__iocp_error(err);
    }
    (void)SetFileCompletionNotificationModes(h, FILE_SKIP_SET_EVENT_ON_HANDLE);
    lp->afd = h;
    return 0;
}

/*
 * The socket AFD knows: a layered provider (LSP) may have handed the
 * caller a socket of its own, so ask for the base one, as libuv does.
 */
static int base_socket(SOCKET s, SOCKET *out)
{
    DWORD bytes;
    SOCKET base = INVALID_SOCKET;
    int type;
    int len = (int)sizeof(type);

    if (getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&type, &len) != 0)
        return IOR_EBADF; /* closed, or not a socket */
    if (WSAIoctl(s, SIO_BASE_HANDLE, NULL, 0, &base, sizeof(base), &bytes,
                 NULL, NULL) == 0 &&
        base != INVALID_SOCKET) {
        *out = base;
        return 0;
    }
    if (WSAIoctl(s, SIO_BSP_HANDLE_POLL, NULL, 0, &base, sizeof(base), &bytes,
                 NULL, NULL) == 0 &&
        base != INVALID_SOCKET) {
        *out = base;
        return 0;
    }
    *out = s;
    return 0;
}

static ULONG afd_mask(unsigned events)
{
    /* Errors and resets always: they report every asked event. */
    ULONG m = AFD_POLL_ABORT | AFD_POLL_CONNECT_FAIL | AFD_POLL_LOCAL_CLOSE;
    if (events & IOR_POLL_READABLE)
        m |= AFD_POLL_RECEIVE | AFD_POLL_ACCEPT | AFD_POLL_DISCONNECT;
    if (events & IOR_POLL_WRITABLE)
        m |= AFD_POLL_SEND;
    if (events & IOR_POLL_DISCONNECT)
        m |= AFD_POLL_DISCONNECT;
    return m;
}

static unsigned poll_events(ULONG afd)
{
    unsigned ev = 0;
    if (afd & (AFD_POLL_RECEIVE | AFD_POLL_ACCEPT))
        ev |= IOR_POLL_READABLE;
    if (afd & AFD_POLL_SEND)
        ev |= IOR_POLL_WRITABLE;
    /* EOF is readable too, as a FIN is on epoll (EPOLLIN | EPOLLRDHUP). */
    if (afd & AFD_POLL_DISCONNECT)
        ev |= IOR_POLL_READABLE | IOR_POLL_DISCONNECT;
    if (afd & (AFD_POLL_ABORT | AFD_POLL_CONNECT_FAIL))
        ev |= IOR__POLL_ERROR;
    return ev;
}

static void post(iocp_poll_t *p)
{
    ULONG mask = afd_mask(p->base.events);
    BOOL ok;
    DWORD err;

    memset(&p->op.ov, 0, sizeof(p->op.ov));
    p->info.timeout.QuadPart = INT64_MAX;
    p->info.count = 1;
    p->info.exclusive = FALSE;
    p->info.h[0].handle = (HANDLE)p->afd_socket;
    p->info.h[0].events = mask;
    p->info.h[0].status = 0;
    ok = DeviceIoControl(p->lp->afd, IOR__IOCTL_AFD_POLL, &p->info,
                         (DWORD)sizeof(p->info), &p->info,
                         (DWORD)sizeof(p->info), NULL, &p->op.ov);
    err = ok ? 0 : GetLastError();
    p->posted = mask;
    p->cancelling = 0;
    /* No skip mode on the AFD handle: an inline success still queues. */
    ior__iocp_op_started(p->lp, &p->op, ok, 0, err, 0);
}

/* What a finished request says: 0 and events, or the watch's failure. */
static int outcome(iocp_poll_t *p, DWORD err, unsigned *events)
{
    LONG st = (LONG)p->op.ov.Internal;

    *events = 0;
    if (err != 0 && err != IOR__IOCP_ERR_LOOKUP) /* failed at once */
        return err == ERROR_INVALID_HANDLE ? IOR_EBADF : ior__iocp_error(err);
    if (st == IOR__STATUS_INVALID_HANDLE)
        return IOR_EBADF;
    if (st < 0)
        return IOR_EIO;
    if (p->info.count < 1)
        return 0; /* nothing happened (a timeout we never set) */
    if (p->info.h[0].events & AFD_POLL_LOCAL_CLOSE)
        return IOR_EBADF; /* the owner closed the socket under the watch */
    *events = poll_events(p->info.h[0].events);
    return 0;
}

static void poll_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    iocp_poll_t *p = IOR__CONTAINER(op, iocp_poll_t, op);
    int cancelled = p->cancelling;
    unsigned events;
    int status;

    (void)bytes;
    p->posted = 0;
    p->cancelling = 0;
    if (p->base.closed) {
        ior__free(p);
        return;
    }
    if (cancelled && (LONG)p->op.ov.Internal == IOR__STATUS_CANCELLED)
        status = 0, events = 0;
    else
        status = outcome(p, err, &events);
    if (status != 0 || events != 0)
        ior__core_poll_ready(&p->base, status, events);
    /* The callback may have changed, stopped or closed it. */
    if (!p->base.closed && p->base.events != 0 && p->posted == 0)
        post(p);
}

int ior__os_poll_open(ior_loop_t *loop, intptr_t sock, ior_poll_t **out)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(loop);
    iocp_poll_t *p;
    SOCKET base;
    int r = base_socket((SOCKET)sock, &base);

    if (r != 0)
        return r;
    r = afd_device(lp);
    if (r != 0)
        return r;
    p = (iocp_poll_t *)ior__calloc(1, sizeof(*p));
    if (p == NULL)
        return IOR_ENOMEM;
    p->lp = lp;
    p->afd_socket = base;
    p->op.done = poll_done;
    *out = &p->base;
    return 0;
}

/* Cancels the request in flight; its completion posts what is asked then. */
static void cancel_posted(iocp_poll_t *p)
{
    if (p->posted == 0 || p->cancelling)
        return;
    p->cancelling = 1;
    (void)CancelIoEx(p->lp->afd, &p->op.ov);
}

int ior__os_poll_update(ior_poll_t *base)
{
    iocp_poll_t *p = (iocp_poll_t *)base;

    if (p->posted == 0) {
        if (base->events != 0)
            post(p);
        return 0;
    }
    if (base->events == 0 || afd_mask(base->events) != p->posted)
        cancel_posted(p);
    return 0;
}

void ior__os_poll_close(ior_poll_t *base)
{
    iocp_poll_t *p = (iocp_poll_t *)base;

    if (p->posted == 0) {
        ior__free(p);
        return;
    }
    cancel_posted(p); /* freed by the completion */
}
