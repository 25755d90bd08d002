/*
 * Local IPC on Windows: named pipes, \\.\pipe\NAME (a bare NAME means
 * that), as libuv's uv_pipe. A listener keeps IOR__LOCAL_INSTANCES pipe
 * instances waiting in an overlapped ConnectNamedPipe each, so clients
 * arriving together are not refused with ERROR_PIPE_BUSY; a connected
 * instance becomes an ordinary overlapped pipe transport (pipe.c) and a
 * new instance takes its place. The first instance is created with
 * FILE_FLAG_FIRST_PIPE_INSTANCE, so a second server on the same name
 * fails; every instance refuses remote clients and grants access only to
 * the current user and SYSTEM. The pipe is of message type, read as a
 * byte stream: a zero-length message is then a read of zero bytes at the
 * other end, which is how a transport half-closes (pipe.c); a byte-type
 * pipe drops zero-length writes (seen under Wine). A client opens the
 * pipe with CreateFileW;
 * a server whose instances are all taken (ERROR_PIPE_BUSY) is tried again
 * from the loop, never by a thread blocked in WaitNamedPipe.
 */
#include "iocp.h"

#include <sddl.h>
#include <string.h>

#define IOR__LOCAL_INSTANCES 4
#define IOR__LOCAL_PIPE_BUF 65536
#define IOR__LOCAL_NAME_MAX 256 /* characters, \\.\pipe\ included */

static const wchar_t pipe_prefix[] = L"\\\\.\\pipe\\";

/* The full pipe name of name (UTF-8), as ior__malloc'd UTF-16. */
static int pipe_name(const char *name, wchar_t **out)
{
    const size_t plen = sizeof(pipe_prefix) / sizeof(wchar_t) - 1;
    wchar_t *w = NULL, *full;
    size_t n;
    int r = ior__iocp_utf16(name, &w);

    if (r != 0)
        return r;
    n = wcslen(w);
    if (n >= plen && _wcsnicmp(w, pipe_prefix, plen) == 0) {
        full = w;
    } else {
        full = (wchar_t *)ior__malloc((plen + n + 1) * sizeof(wchar_t));
        if (full == NULL) {
            ior__free(w);
            return IOR_ENOMEM;
        }
        memcpy(full, pipe_prefix, plen * sizeof(wchar_t));
        memcpy(full + plen, w, (n + 1) * sizeof(wchar_t));
        ior__free(w);
    }
    if (wcslen(full) > IOR__LOCAL_NAME_MAX || wcslen(full) == plen) {
        ior__free(full);
        return IOR_EINVAL;
    }
    *out = full;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Listening                                                           */
/* ------------------------------------------------------------------ */

typedef struct local_listener local_listener_t;

typedef struct local_instance {
    ior__iocp_op_t op;
    local_listener_t *l;
    HANDLE h;    /* the waiting instance, or NULL */
    int posted;  /* a ConnectNamedPipe is in flight */
} local_instance_t;

struct local_listener {
    struct ior_listener base; /* first: the core's part */
    ior__iocp_loop_t *lp;
    wchar_t *name;
    PSECURITY_DESCRIPTOR sd; /* current user and SYSTEM only */
    local_instance_t inst[IOR__LOCAL_INSTANCES];
    int refs; /* the listener's own, and one per posted request */
    int closed;
};

static void listener_unref(local_listener_t *l)
{
    if (--l->refs > 0)
        return;
    ior__free(l->name);
    if (l->sd != NULL)
        LocalFree(l->sd);
    ior__free(l);
}

/*
 * A DACL for the user this process runs as and SYSTEM, nobody else (the
 * default one lets every user open the pipe for reading).
 */
static int user_only_sd(PSECURITY_DESCRIPTOR *out)
{
    HANDLE tok = NULL;
    union {
        TOKEN_USER user;
        char space[256];
    } info;
    DWORD len = 0;
    static const wchar_t head[] = L"D:P(A;;GA;;;SY)(A;;GA;;;";
    const size_t hlen = sizeof(head) / sizeof(wchar_t) - 1;
    LPWSTR sid = NULL;
    wchar_t sddl[256];
    size_t n;
    int r = IOR_EIO;

    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return ior__iocp_error(GetLastError());
    if (GetTokenInformation(tok, TokenUser, &info, sizeof(info), &len) &&
        ConvertSidToStringSidW(info.user.User.Sid, &sid)) {
        n = wcslen(sid);
        if (hlen + n + 2 <= sizeof(sddl) / sizeof(sddl[0])) {
            memcpy(sddl, head, hlen * sizeof(wchar_t));
            memcpy(sddl + hlen, sid, n * sizeof(wchar_t));
            sddl[hlen + n] = L')';
            sddl[hlen + n + 1] = L'\0';
            if (ConvertStringSecurityDescriptorToSecurityDescriptorW(
                    sddl, SDDL_REVISION_1, out, NULL))
                r = 0;
        }
        LocalFree(sid);
    }
    CloseHandle(tok);
    return r;
}

static int new_instance(local_listener_t *l, int first, HANDLE *out)
{
    SECURITY_ATTRIBUTES sa;
    DWORD open = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED;
    HANDLE h;

    sa.nLength = sizeof(sa);
    sa.lpSecurityDescriptor = l->sd;
    sa.bInheritHandle = FALSE;
    if (first)
        open |= FILE_FLAG_FIRST_PIPE_INSTANCE;
    h = CreateNamedPipeW(l->name, open,
                         PIPE_TYPE_MESSAGE | PIPE_READMODE_BYTE | PIPE_WAIT |
                             PIPE_REJECT_REMOTE_CLIENTS,
                         PIPE_UNLIMITED_INSTANCES, IOR__LOCAL_PIPE_BUF,
                         IOR__LOCAL_PIPE_BUF, 0, &sa);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        /* The name is taken: another server made its first instance. */
        if (first && (err == ERROR_ACCESS_DENIED || err == ERROR_PIPE_BUSY))
            return IOR_EADDRINUSE;
        if (err == ERROR_INVALID_NAME || err == ERROR_BAD_PATHNAME)
            return IOR_EINVAL;
        return ior__iocp_error(err);
    }
    if (!CreateIoCompletionPort(h, l->lp->port, IOR__IOCP_KEY_IO, 0)) {
        DWORD err = GetLastError();
        CloseHandle(h);
        return ior__iocp_error(err);
    }
    *out = h;
    return 0;
}

/* Puts an instance in wait for a client; 0, or the error to report. */
static int post(local_listener_t *l, local_instance_t *in)
{
    BOOL ok;
    DWORD err;

    if (in->h == NULL) {
        int r = new_instance(l, 0, &in->h);
        if (r != 0) {
            in->h = NULL;
            return r;
        }
    }
    memset(&in->op.ov, 0, sizeof(in->op.ov));
    ok = ConnectNamedPipe(in->h, &in->op.ov);
    err = ok ? 0 : GetLastError();
    in->posted = 1;
    l->refs++;
    /* ERROR_PIPE_CONNECTED (a client came first) queues no packet: the
     * ready list runs done() with it, which takes it for a connection. */
    ior__iocp_op_started(l->lp, &in->op, ok, 0, err, 0);
    return 0;
}

static void instance_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    local_instance_t *in = IOR__CONTAINER(op, local_instance_t, op);
    local_listener_t *l = in->l;
    ior_transport_t *t = NULL;
    int r = 0;

    (void)bytes;
    in->posted = 0;
    if (err == IOR__IOCP_ERR_LOOKUP) {
        DWORD n;
        err = GetOverlappedResult(in->h, &op->ov, &n, FALSE) ? 0
                                                            : GetLastError();
    }
    if (l->closed) {
        if (in->h != NULL)
            CloseHandle(in->h);
        in->h = NULL;
        listener_unref(l);
        return;
    }
    if (err == 0 || err == ERROR_PIPE_CONNECTED) {
        r = ior__iocp_pipe_wrap(l->lp, in->h, 1, &t);
        if (r != 0)
            CloseHandle(in->h);
        in->h = NULL;
        if (r == 0)
            ior__core_accepted(&l->base, t); /* may close the listener */
    } else if (err == ERROR_NO_DATA) {
        /* The client came and went: make the instance wait again. */
        DisconnectNamedPipe(in->h);
    } else {
        CloseHandle(in->h);
        in->h = NULL;
        r = ior__iocp_error(err);
    }
    if (!l->closed && r == 0)
        r = post(l, in);
    if (!l->closed && r != 0)
        ior__core_accept_failed(&l->base, r); /* resume posts again */
    listener_unref(l);
}

int ior__os_local_listen(ior_loop_t *loop, const char *name,
                         ior_listener_t **out)
{
    local_listener_t *l;
    int i, r;

    l = (local_listener_t *)ior__calloc(1, sizeof(*l));
    if (l == NULL)
        return IOR_ENOMEM;
    l->lp = ior__iocp_loop(loop);
    l->refs = 1;
    for (i = 0; i < IOR__LOCAL_INSTANCES; i++) {
        l->inst[i].l = l;
        l->inst[i].op.done = instance_done;
    }
    r = pipe_name(name, &l->name);
    if (r == 0)
        r = user_only_sd(&l->sd);
    if (r == 0)
        r = new_instance(l, 1, &l->inst[0].h);
    if (r != 0) {
        l->refs = 1;
        listener_unref(l);
        return r;
    }
    *out = &l->base;
    return 0;
}

int ior__iocp_local_listener_start(ior_listener_t *base)
{
    local_listener_t *l = (local_listener_t *)base;
    int i, r = 0;

    for (i = 0; i < IOR__LOCAL_INSTANCES && r == 0; i++)
        r = post(l, &l->inst[i]);
    return r; /* the core closes the listener on an error */
}

void ior__iocp_local_listener_resume(ior_listener_t *base)
{
    local_listener_t *l = (local_listener_t *)base;
    int i, r = 0;

    l->refs++; /* a report may close the listener */
    for (i = 0; i < IOR__LOCAL_INSTANCES && !l->closed && r == 0; i++)
        if (!l->inst[i].posted)
            r = post(l, &l->inst[i]);
    if (r != 0 && !l->closed)
        ior__core_accept_failed(&l->base, r);
    listener_unref(l);
}

/* The waiting instances are cancelled; each completion frees its part. */
void ior__iocp_local_listener_close(ior_listener_t *base)
{
    local_listener_t *l = (local_listener_t *)base;
    int i;

    if (l->closed)
        return;
    l->closed = 1;
    for (i = 0; i < IOR__LOCAL_INSTANCES; i++) {
        local_instance_t *in = &l->inst[i];
        if (in->posted) {
            CancelIoEx(in->h, &in->op.ov);
        } else if (in->h != NULL) {
            CloseHandle(in->h);
            in->h = NULL;
        }
    }
    listener_unref(l);
}

/* ------------------------------------------------------------------ */
/* Connecting                                                          */
/* ------------------------------------------------------------------ */

typedef struct local_connect {
    ior__connect_t base; /* first: the core's part */
    ior__iocp_loop_t *lp;
    ior__iocp_op_t op;   /* the result, through the loop's ready list */
    wchar_t *name;
    HANDLE h;
    ior_timer_id retry;  /* the next try at a busy server, or 0 */
    int reported;        /* the result is on its way to done() */
} local_connect_t;

static void connect_free(local_connect_t *c)
{
    if (c->h != NULL)
        CloseHandle(c->h);
    ior__free(c->name);
    ior__free(c);
}

static void report(local_connect_t *c, DWORD err)
{
    c->reported = 1;
    ior__iocp_op_defer(c->lp, &c->op, err);
}

static void try_open(local_connect_t *c);

static void retry_fired(ior_loop_t *loop, void *user)
{
    local_connect_t *c = (local_connect_t *)user;
    (void)loop;
    c->retry = 0;
    try_open(c);
}

static void try_open(local_connect_t *c)
{
    /* SECURITY_IDENTIFICATION: the server may learn who we are, not act
     * as us. */
    HANDLE h = CreateFileW(c->name, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                           OPEN_EXISTING,
                           FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT |
                               SECURITY_IDENTIFICATION,
                           NULL);
    DWORD err;

    if (h != INVALID_HANDLE_VALUE) {
        c->h = h;
        report(c, 0);
        return;
    }
    err = GetLastError();
    if (err == ERROR_PIPE_BUSY &&
        ior_call_later(&c->lp->base, IOR__LOCAL_BUSY_RETRY_MS, retry_fired, c,
                       &c->retry) == 0)
        return;
    report(c, err);
}

static void connect_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    local_connect_t *c = IOR__CONTAINER(op, local_connect_t, op);
    ior_transport_t *t = NULL;
    int r;

    (void)bytes;
    if (c->base.status != 0 || err != 0) {
        /* The core's own status (timeout, cancel) wins over err. */
        ior__core_connect_done(&c->base, NULL,
                               err != 0 ? ior__iocp_error(err) : IOR_EIO,
                               (int)err);
        connect_free(c);
        return;
    }
    r = ior__iocp_pipe_wrap(c->lp, c->h, 0, &t);
    if (r != 0) {
        ior__core_connect_done(&c->base, NULL, r, 0);
        connect_free(c);
        return;
    }
    c->h = NULL; /* the transport's now */
    ior__core_connect_done(&c->base, t, 0, 0);
    connect_free(c);
}

int ior__os_local_connect(ior_loop_t *loop, const char *name,
                          ior__connect_t **out)
{
    local_connect_t *c = (local_connect_t *)ior__calloc(1, sizeof(*c));
    int r;

    if (c == NULL)
        return IOR_ENOMEM;
    c->lp = ior__iocp_loop(loop);
    c->op.done = connect_done;
    r = pipe_name(name, &c->name);
    if (r != 0) {
        ior__free(c);
        return r;
    }
    *out = &c->base;
    return 0;
}

void ior__iocp_local_connect_start(ior__connect_t *base)
{
    try_open((local_connect_t *)base);
}

/* A retry waiting on its timer is reported now; else done() is coming. */
void ior__iocp_local_connect_cancel(ior__connect_t *base)
{
    local_connect_t *c = (local_connect_t *)base;

    if (c->reported)
        return;
    if (c->retry != 0)
        (void)ior_timer_cancel(&c->lp->base, c->retry);
    c->retry = 0;
    report(c, ERROR_OPERATION_ABORTED);
}

void ior__iocp_local_connect_discard(ior__connect_t *base)
{
    connect_free((local_connect_t *)base);
}
