/*
 * Outgoing TCP connections. Mirrors iocpreactor.tcp.Client (ConnectEx on a
 * socket bound first, as ConnectEx requires, then SO_UPDATE_CONNECT_CONTEXT
 * so shutdown and getpeername work). The timeout is a core timer that
 * cancels the request; the callback runs exactly once, from the loop:
 * a ConnectEx that fails at once still goes through the ready list.
 */
#include "iocp.h"

#include <string.h>

typedef struct ior__iocp_connect {
    ior__iocp_op_t op;
    ior__handle_t h;
    ior__iocp_loop_t *lp;
    SOCKET s;
    int family;
    int skip;
    ior_connect_cb cb;
    void *user;
    ior_timer_id timer;
    int timer_armed;
    int handle_live;
    int status; /* ETIMEDOUT or ECANCELED, decided before the completion */
} ior__iocp_connect_t;

static void connect_timeout(ior_loop_t *loop, void *user)
{
    ior__iocp_connect_t *c = (ior__iocp_connect_t *)user;

    (void)loop;
    c->timer_armed = 0;
    if (c->status == 0) {
        c->status = IOR_ETIMEDOUT;
        CancelIoEx((HANDLE)c->s, &c->op.ov);
    }
}

/* Drops the loop reference and the timer; idempotent. */
static void connect_release(ior__iocp_connect_t *c)
{
    if (c->handle_live) {
        c->handle_live = 0;
        ior__core_handle_remove(&c->lp->base, &c->h);
    }
    if (c->timer_armed) {
        ior_timer_cancel(&c->lp->base, c->timer);
        c->timer_armed = 0;
    }
}

/* ior_loop_free: the callback gets IOR_ECANCELED once the request is back. */
static void connect_handle_close(ior__handle_t *h)
{
    ior__iocp_connect_t *c = IOR__CONTAINER(h, ior__iocp_connect_t, h);

    connect_release(c);
    if (c->status == 0) {
        c->status = IOR_ECANCELED;
        CancelIoEx((HANDLE)c->s, &c->op.ov);
    }
}

static void connect_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_connect_t *c = IOR__CONTAINER(op, ior__iocp_connect_t, op);
    ior_loop_t *loop = &c->lp->base;
    ior__iocp_sock_t *sk = NULL;
    int status = c->status;
    int os_error = 0;

    (void)bytes;
    if (err == IOR__IOCP_ERR_LOOKUP)
        err = ior__iocp_op_error(c->s, op);
    if (status == 0 && err != 0) {
        status = ior__iocp_error(err);
        os_error = (int)err;
    }
    if (status == 0) {
        setsockopt(c->s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0);
        status = ior__iocp_sock_new(c->lp, c->s, c->family, c->skip, &sk);
    }
    if (status != 0)
        closesocket(c->s);
    /* The transport (if any) now keeps the loop alive. */
    connect_release(c);
    if (sk) {
        c->cb(loop, c->user, &sk->base, 0, 0);
        ior__core_transport_begin(&sk->base);
    } else {
        c->cb(loop, c->user, NULL, status, os_error);
    }
    ior__free(c);
}

static int connectex_for(ior__iocp_connect_t *c, LPFN_CONNECTEX *fn)
{
    GUID guid = WSAID_CONNECTEX;
    int idx = c->family == AF_INET6 ? 1 : 0;
    DWORD got = 0;

    if (!c->lp->connectex[idx] &&
        WSAIoctl(c->s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid,
                 (DWORD)sizeof(guid), (void *)&c->lp->connectex[idx],
                 (DWORD)sizeof(c->lp->connectex[idx]), &got, NULL, NULL) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    *fn = c->lp->connectex[idx];
    return 0;
}

/* Creates the socket and binds it (to opts->bind or the wildcard). */
static int open_socket(ior__iocp_connect_t *c,
                       const ior_connect_options_t *opts)
{
    SOCKADDR_STORAGE ss;
    ior_addr_t any;
    const ior_addr_t *local = &any;
    int os_err;
    int len;
    int rc;

    rc = ior__iocp_socket(c->lp, c->family, &c->s, &c->skip, &os_err);
    if (rc != 0)
        return rc;
    memset(&any, 0, sizeof(any));
    any.family = c->family == AF_INET6 ? IOR_AF_INET6 : IOR_AF_INET;
    if (opts && opts->bind) {
        if (ior__iocp_af(opts->bind) != c->family)
            return IOR_EINVAL;
        local = opts->bind;
    }
    len = ior__iocp_addr_to_sockaddr(local, &ss);
    if (bind(c->s, (struct sockaddr *)&ss, len) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    return 0;
}

int ior_tcp_connect(ior_loop_t *loop, const ior_addr_t *addr,
                    const ior_connect_options_t *opts, ior_connect_cb cb,
                    void *user)
{
    ior__iocp_connect_t *c;
    LPFN_CONNECTEX connectex = NULL;
    SOCKADDR_STORAGE ss;
    DWORD err = 0;
    BOOL ok;
    int len;
    int rc;

    if (!loop || !addr || !cb)
        return IOR_EINVAL;
    c = (ior__iocp_connect_t *)ior__calloc(1, sizeof(*c));
    if (!c)
        return IOR_ENOMEM;
    c->lp = ior__iocp_loop(loop);
    c->family = ior__iocp_af(addr);
    c->cb = cb;
    c->user = user;
    c->s = INVALID_SOCKET;
    c->op.done = connect_done;
    len = ior__iocp_addr_to_sockaddr(addr, &ss);
    if (!c->family || len == 0)
        rc = addr->family == 0 ? IOR_EINVAL : IOR_EAFNOSUPPORT;
    else
        rc = open_socket(c, opts);
    if (rc == 0)
        rc = connectex_for(c, &connectex);
    if (rc == 0 && opts && opts->timeout_ms > 0) {
        rc = ior_call_later(loop, opts->timeout_ms, connect_timeout, c,
                            &c->timer);
        c->timer_armed = (rc == 0);
    }
    if (rc != 0) {
        if (c->s != INVALID_SOCKET)
            closesocket(c->s);
        ior__free(c);
        return rc;
    }
    c->h.close = connect_handle_close;
    c->handle_live = 1;
    ior__core_handle_add(loop, &c->h);
    ok = connectex(c->s, (struct sockaddr *)&ss, len, NULL, 0, NULL, &c->op.ov);
    if (!ok)
        err = (DWORD)WSAGetLastError();
    ior__iocp_op_started(c->lp, &c->op, ok, 0, err, c->skip);
    return 0;
}
