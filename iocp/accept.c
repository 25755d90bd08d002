/*
 * TCP listeners. Mirrors iocpreactor.tcp.Port (doAccept/cbAccept).
 * Twisted differs: it keeps one AcceptEx posted at a time, so a burst of
 * connections waits for a loop iteration each; here IOR__IOCP_ACCEPTS are
 * posted ahead and each is re-posted as soon as its connection is handed
 * over. A pending connection that its peer aborted, or a resource error
 * (WSAEMFILE, WSAENOBUFS), never stops the listener: the request is
 * re-posted, at once for an aborted peer, after a short delay otherwise.
 */
#include "iocp.h"

#include <string.h>

#define IOR__IOCP_ACCEPTS 16
#define IOR__IOCP_ACCEPT_RETRY_MS 100
/* AcceptEx wants 16 bytes more than the largest address, per address. */
#define IOR__IOCP_ADDR_SLOT ((DWORD)sizeof(SOCKADDR_STORAGE) + 16)

typedef struct ior__iocp_accept {
    ior__iocp_op_t op;
    struct ior_listener *l;
    SOCKET as;
    int as_skip;
    int posted;
    int waiting; /* to be re-posted by the retry timer */
    char addrs[2 * sizeof(SOCKADDR_STORAGE) + 32];
} ior__iocp_accept_t;

struct ior_listener {
    ior__handle_t h;
    ior__iocp_loop_t *lp;
    SOCKET s;
    int family;
    int skip;
    const ior_listener_ops_t *ops;
    void *user;
    LPFN_ACCEPTEX acceptex;
    LPFN_GETACCEPTEXSOCKADDRS getaddrs;
    ior_addr_t addr;
    unsigned refs; /* 1 while open, + posted requests, + callbacks running */
    int closed;
    int starting; /* inside ior_tcp_listen: no callbacks yet */
    int retry_armed;
    ior_timer_id retry_timer;
    ior__iocp_accept_t reqs[IOR__IOCP_ACCEPTS];
};

static void accept_done(ior__iocp_op_t *op, DWORD bytes, DWORD err);

static void listener_unref(ior_listener_t *l)
{
    if (--l->refs == 0)
        ior__free(l);
}

static void retry_fire(ior_loop_t *loop, void *user);

static void schedule_retry(ior_listener_t *l, ior__iocp_accept_t *req)
{
    req->waiting = 1;
    if (l->retry_armed)
        return;
    if (ior_call_later(&l->lp->base, IOR__IOCP_ACCEPT_RETRY_MS, retry_fire, l,
                       &l->retry_timer) == 0)
        l->retry_armed = 1;
    /* Out of memory even for a timer: the next completion retries. */
}

/*
 * The peer gave up on a connection before we took it: Windows reports
 * ERROR_NETNAME_DELETED or WSAECONNRESET; Wine reports WSAENOTCONN
 * (STATUS_INVALID_CONNECTION) for a connection reset while queued. Not
 * the listener's problem: re-post at once, report nothing.
 */
static int is_peer_abort(DWORD err)
{
    return err == 64 /* ERROR_NETNAME_DELETED */ || err == WSAECONNRESET ||
           err == WSAECONNABORTED || err == WSAENOTCONN ||
           err == 1229 /* ERROR_CONNECTION_INVALID */ ||
           err == 1236 /* ERROR_CONNECTION_ABORTED */;
}

/* Tells the user about a non-fatal error; never from ior_tcp_listen. */
static void report(ior_listener_t *l, int err)
{
    if (l->ops->accept_error && !l->starting && !l->closed)
        l->ops->accept_error(l, l->user, err);
}

/* Posts one AcceptEx; on failure the request waits for the retry timer. */
static void post_accept(ior_listener_t *l, ior__iocp_accept_t *req)
{
    DWORD bytes = 0;
    DWORD err = 0;
    BOOL ok;
    int os_err;
    int rc;

    req->waiting = 0;
    rc = ior__iocp_socket(l->lp, l->family, &req->as, &req->as_skip, &os_err);
    if (rc != 0) {
        report(l, rc); /* may close the listener: callers hold a ref */
        if (!l->closed)
            schedule_retry(l, req);
        return;
    }
    memset(&req->op.ov, 0, sizeof(req->op.ov));
    ok = l->acceptex(l->s, req->as, req->addrs, 0, IOR__IOCP_ADDR_SLOT,
                     IOR__IOCP_ADDR_SLOT, &bytes, &req->op.ov);
    if (!ok)
        err = (DWORD)WSAGetLastError();
    req->posted = 1;
    l->refs++;
    ior__iocp_op_started(l->lp, &req->op, ok, bytes, err, l->skip);
}

static void retry_fire(ior_loop_t *loop, void *user)
{
    ior_listener_t *l = (ior_listener_t *)user;
    int i;

    (void)loop;
    l->retry_armed = 0;
    l->refs++; /* a report may close the listener */
    for (i = 0; i < IOR__IOCP_ACCEPTS && !l->closed; i++)
        if (l->reqs[i].waiting && !l->reqs[i].posted)
            post_accept(l, &l->reqs[i]);
    listener_unref(l);
}

/* Hands an accepted socket to the user as a transport. */
static void hand_over(ior_listener_t *l, ior__iocp_accept_t *req)
{
    ior__iocp_sock_t *sk;
    struct sockaddr *local = NULL;
    struct sockaddr *remote = NULL;
    int local_len = 0;
    int remote_len = 0;
    SOCKET as = req->as;
    int rc;

    req->as = INVALID_SOCKET;
    /* Lets getpeername, shutdown and friends work on the new socket. */
    setsockopt(as, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&l->s,
               (int)sizeof(l->s));
    rc = ior__iocp_sock_new(l->lp, as, l->family, req->as_skip, &sk);
    if (rc != 0) {
        closesocket(as);
        report(l, rc);
        return;
    }
    l->getaddrs(req->addrs, 0, IOR__IOCP_ADDR_SLOT, IOR__IOCP_ADDR_SLOT, &local,
                &local_len, &remote, &remote_len);
    if (local)
        ior__iocp_addr_from_sockaddr(local, &sk->host);
    if (remote)
        ior__iocp_addr_from_sockaddr(remote, &sk->peer);
    l->ops->connection_accepted(l, l->user, &sk->base);
    ior__core_transport_begin(&sk->base);
}

static void accept_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_accept_t *req = IOR__CONTAINER(op, ior__iocp_accept_t, op);
    ior_listener_t *l = req->l;

    (void)bytes;
    req->posted = 0;
    if (!l->closed && err == IOR__IOCP_ERR_LOOKUP)
        err = ior__iocp_op_error(l->s, op);
    if (l->closed || err != 0) {
        closesocket(req->as);
        req->as = INVALID_SOCKET;
        if (!l->closed && is_peer_abort(err)) {
            post_accept(l, req);
        } else if (!l->closed) {
            report(l, ior__iocp_error(err));
            if (!l->closed)
                schedule_retry(l, req);
        }
        listener_unref(l);
        return;
    }
    hand_over(l, req); /* may close the listener: our ref keeps l alive */
    if (!l->closed)
        post_accept(l, req);
    listener_unref(l);
}

static void handle_close(ior__handle_t *h)
{
    ior_listener_close(IOR__CONTAINER(h, ior_listener_t, h));
}

/* The listening socket: options, bind, listen, extension functions. */
static int open_socket(ior_listener_t *l, const ior_addr_t *addr,
                       const ior_listen_options_t *opts)
{
    GUID accept_guid = WSAID_ACCEPTEX;
    GUID addrs_guid = WSAID_GETACCEPTEXSOCKADDRS;
    SOCKADDR_STORAGE ss;
    DWORD got = 0;
    BOOL one = TRUE;
    int len;
    int os_err;
    int rc;

    rc = ior__iocp_socket(l->lp, l->family, &l->s, &l->skip, &os_err);
    if (rc != 0)
        return rc;
    /* No other socket may bind this port while we listen on it. */
    setsockopt(l->s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&one,
               (int)sizeof(one));
    if (l->family == AF_INET6) {
        /* Windows defaults to IPv6 only; we default to dual-stack. */
        DWORD v6only = (opts && opts->ipv6_only) ? 1 : 0;
        setsockopt(l->s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&v6only,
                   (int)sizeof(v6only));
    }
    len = ior__iocp_addr_to_sockaddr(addr, &ss);
    if (bind(l->s, (struct sockaddr *)&ss, len) != 0 ||
        listen(l->s, (opts && opts->backlog > 0) ? opts->backlog : 511) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    len = (int)sizeof(ss);
    if (getsockname(l->s, (struct sockaddr *)&ss, &len) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    ior__iocp_addr_from_sockaddr((struct sockaddr *)&ss, &l->addr);
    if (WSAIoctl(l->s, SIO_GET_EXTENSION_FUNCTION_POINTER, &accept_guid,
                 (DWORD)sizeof(accept_guid), (void *)&l->acceptex,
                 (DWORD)sizeof(l->acceptex), &got, NULL, NULL) != 0 ||
        WSAIoctl(l->s, SIO_GET_EXTENSION_FUNCTION_POINTER, &addrs_guid,
                 (DWORD)sizeof(addrs_guid), (void *)&l->getaddrs,
                 (DWORD)sizeof(l->getaddrs), &got, NULL, NULL) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    return 0;
}

int ior_tcp_listen(ior_loop_t *loop, const ior_addr_t *addr,
                   const ior_listen_options_t *opts,
                   const ior_listener_ops_t *ops, void *user,
                   ior_listener_t **out)
{
    ior_listener_t *l;
    int family;
    int rc;
    int i;

    if (!loop || !addr || !ops || !ops->connection_accepted || !out)
        return IOR_EINVAL;
    family = ior__iocp_af(addr);
    if (!family)
        return addr->family == 0 ? IOR_EINVAL : IOR_EAFNOSUPPORT;
    l = (ior_listener_t *)ior__calloc(1, sizeof(*l));
    if (!l)
        return IOR_ENOMEM;
    l->lp = ior__iocp_loop(loop);
    l->family = family;
    l->ops = ops;
    l->user = user;
    l->s = INVALID_SOCKET;
    rc = open_socket(l, addr, opts);
    if (rc != 0) {
        if (l->s != INVALID_SOCKET)
            closesocket(l->s);
        ior__free(l);
        return rc;
    }
    l->refs = 1;
    l->h.close = handle_close;
    ior__core_handle_add(loop, &l->h);
    /* A request that cannot be posted now is retried by the timer. */
    l->starting = 1;
    for (i = 0; i < IOR__IOCP_ACCEPTS; i++) {
        l->reqs[i].l = l;
        l->reqs[i].as = INVALID_SOCKET;
        l->reqs[i].op.done = accept_done;
        post_accept(l, &l->reqs[i]);
    }
    l->starting = 0;
    *out = l;
    return 0;
}

int ior_listener_address(const ior_listener_t *l, ior_addr_t *out)
{
    if (!l || !out)
        return IOR_EINVAL;
    *out = l->addr;
    return 0;
}

/*
 * Cancels the posted AcceptEx requests and closes the socket; the memory
 * goes when the last cancelled request has come back through the port.
 */
void ior_listener_close(ior_listener_t *l)
{
    if (!l || l->closed)
        return;
    l->closed = 1;
    if (l->retry_armed) {
        ior_timer_cancel(&l->lp->base, l->retry_timer);
        l->retry_armed = 0;
    }
    ior__core_handle_remove(&l->lp->base, &l->h);
    CancelIoEx((HANDLE)l->s, NULL);
    closesocket(l->s);
    l->s = INVALID_SOCKET;
    listener_unref(l);
}
