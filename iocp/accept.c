/*
 * TCP listeners. Mirrors iocpreactor.tcp.Port (doAccept/cbAccept).
 * Twisted differs: it keeps one AcceptEx posted at a time, so a burst of
 * connections waits for a loop iteration each; here IOR__IOCP_ACCEPTS are
 * posted ahead and each is re-posted as soon as its connection is handed
 * over. A pending connection that its peer aborted is re-posted at once,
 * silently; a resource error (WSAEMFILE, WSAENOBUFS) goes to the core's
 * accept policy (common/tcp_listen.c): reported, then retried after a
 * short delay through ior__os_listener_resume.
 */
#include "iocp.h"

#include <string.h>

#define IOR__IOCP_ACCEPTS 16
/* AcceptEx wants 16 bytes more than the largest address, per address. */
#define IOR__IOCP_ADDR_SLOT ((DWORD)sizeof(SOCKADDR_STORAGE) + 16)

typedef struct ior__iocp_accept {
    ior__iocp_op_t op;
    struct ior__iocp_listener *l;
    SOCKET as;
    int as_skip;
    int posted;
    int waiting; /* to be re-posted by ior__os_listener_resume */
    char addrs[2 * sizeof(SOCKADDR_STORAGE) + 32];
} ior__iocp_accept_t;

typedef struct ior__iocp_listener {
    struct ior_listener base; /* first: the core's part */
    ior__iocp_loop_t *lp;
    SOCKET s;
    int family;
    int skip;
    LPFN_ACCEPTEX acceptex;
    LPFN_GETACCEPTEXSOCKADDRS getaddrs;
    unsigned refs; /* 1 while open, + posted requests, + callbacks running */
    int closed;    /* ior__os_listener_close ran */
    ior__iocp_accept_t reqs[IOR__IOCP_ACCEPTS];
} ior__iocp_listener_t;

static void accept_done(ior__iocp_op_t *op, DWORD bytes, DWORD err);

static void listener_unref(ior__iocp_listener_t *l)
{
    if (--l->refs == 0)
        ior__free(l);
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

/*
 * A resource error: req waits for the core's retry, which reports it
 * (the callback may close the listener: callers hold a reference).
 */
static void accept_failed(ior__iocp_listener_t *l, ior__iocp_accept_t *req,
                          int err)
{
    if (req != NULL)
        req->waiting = 1;
    if (!l->closed)
        ior__core_accept_failed(&l->base, err);
}

/* Posts one AcceptEx; on failure the request waits for the retry. */
static void post_accept(ior__iocp_listener_t *l, ior__iocp_accept_t *req)
{
    DWORD bytes = 0;
    DWORD err = 0;
    BOOL ok;
    int os_err;
    int rc;

    req->waiting = 0;
    rc = ior__iocp_socket(l->lp, l->family, &req->as, &req->as_skip, &os_err);
    if (rc != 0) {
        accept_failed(l, req, rc);
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

void ior__os_listener_resume(ior_listener_t *base)
{
    ior__iocp_listener_t *l = (ior__iocp_listener_t *)base;
    int i;

    if (base->local) {
        ior__iocp_local_listener_resume(base);
        return;
    }
    l->refs++; /* a report may close the listener */
    for (i = 0; i < IOR__IOCP_ACCEPTS && !l->closed; i++)
        if (l->reqs[i].waiting && !l->reqs[i].posted)
            post_accept(l, &l->reqs[i]);
    listener_unref(l);
}

/* Hands an accepted socket to the core, with both addresses. */
static void hand_over(ior__iocp_listener_t *l, ior__iocp_accept_t *req)
{
    ior__iocp_sock_t *sk;
    struct sockaddr *local = NULL;
    struct sockaddr *remote = NULL;
    int local_len = 0;
    int remote_len = 0;
    SOCKET as = req->as;
    ior_addr_t host;
    ior_addr_t peer;
    int rc;

    req->as = INVALID_SOCKET;
    /* Lets getpeername, shutdown and friends work on the new socket. */
    setsockopt(as, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&l->s,
               (int)sizeof(l->s));
    rc = ior__iocp_sock_new(l->lp, as, l->family, req->as_skip, &sk);
    if (rc != 0) {
        closesocket(as);
        accept_failed(l, NULL, rc);
        return;
    }
    l->getaddrs(req->addrs, 0, IOR__IOCP_ADDR_SLOT, IOR__IOCP_ADDR_SLOT, &local,
                &local_len, &remote, &remote_len);
    memset(&host, 0, sizeof(host));
    memset(&peer, 0, sizeof(peer));
    if (local)
        ior__iocp_addr_from_sockaddr(local, &host);
    if (remote)
        ior__iocp_addr_from_sockaddr(remote, &peer);
    ior__core_tcp_addrs(&sk->hd.base, &host, &peer);
    ior__core_accepted(&l->base, &sk->hd.base);
}

static void accept_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_accept_t *req = IOR__CONTAINER(op, ior__iocp_accept_t, op);
    ior__iocp_listener_t *l = req->l;

    (void)bytes;
    req->posted = 0;
    if (!l->closed && err == IOR__IOCP_ERR_LOOKUP)
        err = ior__iocp_op_error(l->s, op);
    if (l->closed || err != 0) {
        closesocket(req->as);
        req->as = INVALID_SOCKET;
        if (!l->closed && is_peer_abort(err))
            post_accept(l, req);
        else if (!l->closed)
            accept_failed(l, req, ior__iocp_error(err));
        listener_unref(l);
        return;
    }
    hand_over(l, req); /* may close the listener: our ref keeps l alive */
    if (!l->closed)
        post_accept(l, req);
    listener_unref(l);
}

/* The listening socket: options, bind, listen, extension functions. */
static int open_socket(ior__iocp_listener_t *l, const ior_addr_t *addr,
                       int backlog, int ipv6_only, unsigned flags)
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
    /*
     * No other socket may bind this port while we listen on it, unless
     * the user chose a quick restart over that (ior.h): without
     * SO_EXCLUSIVEADDRUSE a port whose old accepted connections are still
     * open can be bound, and so could a socket with SO_REUSEADDR.
     */
    if (!(flags & IOR_LISTEN_QUICK_RESTART))
        setsockopt(l->s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE,
                   (const char *)&one, (int)sizeof(one));
    if (l->family == AF_INET6) {
        /* Windows defaults to IPv6 only; we default to dual-stack. */
        DWORD v6only = ipv6_only ? 1 : 0;
        setsockopt(l->s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&v6only,
                   (int)sizeof(v6only));
    }
    len = ior__iocp_addr_to_sockaddr(addr, &ss);
    if (bind(l->s, (struct sockaddr *)&ss, len) != 0) {
        DWORD err = (DWORD)WSAGetLastError();
        /*
         * Another socket holds the port exclusively (SO_EXCLUSIVEADDRUSE,
         * as ours do): Windows says WSAEACCES where POSIX says EADDRINUSE.
         * The port is in use either way: one answer (DESIGN decisions).
         */
        return err == WSAEACCES ? IOR_EADDRINUSE : ior__iocp_error(err);
    }
    if (listen(l->s, backlog) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    len = (int)sizeof(ss);
    if (getsockname(l->s, (struct sockaddr *)&ss, &len) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    ior__iocp_addr_from_sockaddr((struct sockaddr *)&ss, &l->base.addr);
    if (WSAIoctl(l->s, SIO_GET_EXTENSION_FUNCTION_POINTER, &accept_guid,
                 (DWORD)sizeof(accept_guid), (void *)&l->acceptex,
                 (DWORD)sizeof(l->acceptex), &got, NULL, NULL) != 0 ||
        WSAIoctl(l->s, SIO_GET_EXTENSION_FUNCTION_POINTER, &addrs_guid,
                 (DWORD)sizeof(addrs_guid), (void *)&l->getaddrs,
                 (DWORD)sizeof(l->getaddrs), &got, NULL, NULL) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    return 0;
}

int ior__os_tcp_listen(ior_loop_t *loop, const ior_addr_t *addr, int backlog,
                       int ipv6_only, unsigned flags, ior_listener_t **out)
{
    ior__iocp_listener_t *l;
    int rc;
    int i;

    if (flags & IOR_LISTEN_REUSEPORT)
        return IOR_ENOTSUP; /* Windows has no SO_REUSEPORT (ior.h) */
    l = (ior__iocp_listener_t *)ior__calloc(1, sizeof(*l));
    if (!l)
        return IOR_ENOMEM;
    l->lp = ior__iocp_loop(loop);
    l->family = ior__iocp_af(addr);
    l->s = INVALID_SOCKET;
    rc = open_socket(l, addr, backlog, ipv6_only, flags);
    if (rc != 0) {
        if (l->s != INVALID_SOCKET)
            closesocket(l->s);
        ior__free(l);
        return rc;
    }
    l->refs = 1;
    for (i = 0; i < IOR__IOCP_ACCEPTS; i++) {
        l->reqs[i].l = l;
        l->reqs[i].as = INVALID_SOCKET;
        l->reqs[i].op.done = accept_done;
    }
    *out = &l->base;
    return 0;
}

/* A request that cannot be posted now waits for the core's retry. */
int ior__os_listener_start(ior_listener_t *base)
{
    ior__iocp_listener_t *l = (ior__iocp_listener_t *)base;
    int i;

    if (base->local)
        return ior__iocp_local_listener_start(base);
    for (i = 0; i < IOR__IOCP_ACCEPTS; i++)
        post_accept(l, &l->reqs[i]);
    return 0;
}

/*
 * Cancels the posted AcceptEx requests and closes the socket; the memory
 * goes when the last cancelled request has come back through the port.
 */
void ior__os_listener_close(ior_listener_t *base)
{
    ior__iocp_listener_t *l = (ior__iocp_listener_t *)base;

    if (base->local) {
        ior__iocp_local_listener_close(base);
        return;
    }
    if (l->closed)
        return;
    l->closed = 1;
    CancelIoEx((HANDLE)l->s, NULL);
    closesocket(l->s);
    l->s = INVALID_SOCKET;
    listener_unref(l);
}
