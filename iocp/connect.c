/*
 * Outgoing TCP connections. Mirrors iocpreactor.tcp.Client (ConnectEx on a
 * socket bound first, as ConnectEx requires, then SO_UPDATE_CONNECT_CONTEXT
 * so shutdown and getpeername work). The core (common/tcp_connect.c) owns
 * the checks, the timeout and the status precedence; a cancel is a
 * CancelIoEx, and the result always comes back through the loop: a
 * ConnectEx that fails at once still goes through the ready list.
 */
#include "iocp.h"

#include <mstcpip.h>
#include <string.h>

typedef struct ior__iocp_connect {
    ior__connect_t base; /* first: the core's part */
    ior__iocp_op_t op;
    ior__iocp_loop_t *lp;
    SOCKET s;
    int family;
    int skip;
    LPFN_CONNECTEX connectex;
} ior__iocp_connect_t;

static void connect_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior__iocp_connect_t *c = IOR__CONTAINER(op, ior__iocp_connect_t, op);
    ior__iocp_sock_t *sk = NULL;
    int status = 0;
    int os_error = 0;

    (void)bytes;
    if (err == IOR__IOCP_ERR_LOOKUP)
        err = ior__iocp_op_error(c->s, op);
    if (err != 0) {
        status = ior__iocp_error(err);
        os_error = (int)err;
    }
    if (status == 0 && c->base.status == 0) {
        setsockopt(c->s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0);
        status = ior__iocp_sock_new(c->lp, c->s, c->family, c->skip, &sk);
    }
    if (sk == NULL) {
        closesocket(c->s);
        ior__core_connect_done(&c->base, NULL, status, os_error);
    } else {
        SOCKADDR_STORAGE ss;
        int len = (int)sizeof(ss);
        ior_addr_t host;

        memset(&host, 0, sizeof(host));
        if (getsockname(c->s, (struct sockaddr *)&ss, &len) == 0)
            ior__iocp_addr_from_sockaddr((struct sockaddr *)&ss, &host);
        ior__core_tcp_addrs(&sk->hd.base, &host, NULL);
        ior__core_connect_done(&c->base, &sk->hd.base, 0, 0);
    }
    ior__free(c);
}

static int connectex_for(ior__iocp_connect_t *c)
{
    GUID guid = WSAID_CONNECTEX;
    int idx = c->family == AF_INET6 ? 1 : 0;
    DWORD got = 0;

    if (!c->lp->connectex[idx] &&
        WSAIoctl(c->s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid,
                 (DWORD)sizeof(guid), (void *)&c->lp->connectex[idx],
                 (DWORD)sizeof(c->lp->connectex[idx]), &got, NULL, NULL) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    c->connectex = c->lp->connectex[idx];
    return 0;
}

/* Creates the socket and binds it (to bind or the wildcard: ConnectEx). */
static int open_socket(ior__iocp_connect_t *c, const ior_addr_t *bind_to)
{
    SOCKADDR_STORAGE ss;
    ior_addr_t any;
    int os_err;
    int len;
    int rc;

    rc = ior__iocp_socket(c->lp, c->family, &c->s, &c->skip, &os_err);
    if (rc != 0)
        return rc;
    memset(&any, 0, sizeof(any));
    any.family = c->family == AF_INET6 ? IOR_AF_INET6 : IOR_AF_INET;
    len = ior__iocp_addr_to_sockaddr(bind_to != NULL ? bind_to : &any, &ss);
    if (bind(c->s, (struct sockaddr *)&ss, len) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    return connectex_for(c);
}

/*
 * A loopback connect to a port nobody listens on: Windows answers the
 * peer's RST by sending the SYN again, twice, so the refusal takes some
 * 2 s (libuv measured it and sets this too). No SYN retransmission for
 * loopback: the refusal comes at once. Best effort: Windows before 10
 * 1703 and Wine lack the ioctl, and connect works without it.
 */
static void refuse_fast_on_loopback(SOCKET s)
{
    TCP_INITIAL_RTO_PARAMETERS p;
    DWORD got = 0;

    p.Rtt = TCP_INITIAL_RTO_UNSPECIFIED_RTT;
    p.MaxSynRetransmissions = TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS;
    (void)WSAIoctl(s, SIO_TCP_INITIAL_RTO, &p, (DWORD)sizeof(p), NULL, 0,
                   &got, NULL, NULL);
}

int ior__os_tcp_connect(ior_loop_t *loop, const ior_addr_t *addr,
                        const ior_addr_t *bind_to, ior__connect_t **out)
{
    ior__iocp_connect_t *c;
    int rc;

    c = (ior__iocp_connect_t *)ior__calloc(1, sizeof(*c));
    if (!c)
        return IOR_ENOMEM;
    c->lp = ior__iocp_loop(loop);
    c->family = ior__iocp_af(addr);
    c->s = INVALID_SOCKET;
    c->op.done = connect_done;
    rc = open_socket(c, bind_to);
    if (rc == 0 && ior__addr_is_loopback(addr))
        refuse_fast_on_loopback(c->s);
    if (rc != 0) {
        if (c->s != INVALID_SOCKET)
            closesocket(c->s);
        ior__free(c);
        return rc;
    }
    *out = &c->base;
    return 0;
}

void ior__os_connect_start(ior__connect_t *base)
{
    ior__iocp_connect_t *c = (ior__iocp_connect_t *)base;
    SOCKADDR_STORAGE ss;
    DWORD err = 0;
    BOOL ok;
    int len;

    if (base->local) {
        ior__iocp_local_connect_start(base);
        return;
    }
    len = ior__iocp_addr_to_sockaddr(&base->peer, &ss);

    ok = c->connectex(c->s, (struct sockaddr *)&ss, len, NULL, 0, NULL,
                      &c->op.ov);
    if (!ok)
        err = (DWORD)WSAGetLastError();
    ior__iocp_op_started(c->lp, &c->op, ok, 0, err, c->skip);
}

void ior__os_connect_discard(ior__connect_t *base)
{
    ior__iocp_connect_t *c = (ior__iocp_connect_t *)base;

    if (base->local) {
        ior__iocp_local_connect_discard(base);
        return;
    }
    closesocket(c->s);
    ior__free(c);
}

/* The completion (cancelled, or finished meanwhile) reports it. */
void ior__os_connect_cancel(ior__connect_t *base)
{
    ior__iocp_connect_t *c = (ior__iocp_connect_t *)base;

    if (base->local) {
        ior__iocp_local_connect_cancel(base);
        return;
    }
    CancelIoEx((HANDLE)c->s, &c->op.ov);
}
