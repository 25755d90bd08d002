/*
 * TCP sockets: creation (overlapped, not inheritable, on the loop's port,
 * skip-on-success where the provider allows it), the socket kind's close
 * and half-close, and socket options.
 */
#include "iocp.h"

#include <mstcpip.h>
#include <string.h>

/*
 * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is only safe when every provider
 * in the socket's chain hands out real IFS handles; a layered (LSP)
 * provider may complete requests without the port seeing them. Wine's
 * provider is IFS and honours the flag (checked by tests/wine).
 */
int ior__iocp_provider_is_ifs(SOCKET s)
{
    WSAPROTOCOL_INFOW info;
    int len = (int)sizeof(info);

    if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) != 0)
        return 0;
    return (info.dwServiceFlags1 & XP1_IFS_HANDLES) != 0;
}

static int family_index(int family)
{
    return family == AF_INET6 ? 1 : 0;
}

int ior__iocp_socket(ior__iocp_loop_t *lp, int family, SOCKET *out, int *skip,
                     int *os_err)
{
    SOCKET s;
    int idx = family_index(family);
    DWORD err;

    *os_err = 0;
    *skip = 0;
    s = WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                   WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        *os_err = WSAGetLastError();
        return ior__iocp_error((DWORD)*os_err);
    }
    if (!CreateIoCompletionPort((HANDLE)s, lp->port, IOR__IOCP_KEY_IO, 0)) {
        err = GetLastError();
        closesocket(s);
        *os_err = (int)err;
        return ior__iocp_error(err);
    }
    if (lp->skip_ok[idx] < 0)
        lp->skip_ok[idx] = ior__iocp_provider_is_ifs(s);
    if (lp->skip_ok[idx] &&
        SetFileCompletionNotificationModes(
            (HANDLE)s, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                           FILE_SKIP_SET_EVENT_ON_HANDLE))
        *skip = 1;
    *out = s;
    return 0;
}

/* The socket kind (handle.c calls these through the table below). */
static void sock_shutdown(ior__iocp_handle_t *h)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(&h->base);

    if (shutdown(sk->s, SD_SEND) != 0) {
        int err = WSAGetLastError();
        ior__core_error(&h->base, ior__iocp_error((DWORD)err), err);
    }
}

/* FileHandle._closeSocket: an abort resets the connection. */
static void sock_close(ior__iocp_handle_t *h, int abort)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(&h->base);

    if (abort) {
        struct linger lg;
        lg.l_onoff = 1;
        lg.l_linger = 0; /* closesocket sends RST */
        setsockopt(sk->s, SOL_SOCKET, SO_LINGER, (const char *)&lg,
                   (int)sizeof(lg));
    }
    ior__iocp_read_unpin(sk); /* the loop may go before the buffer */
    if (h->reading || h->sending)
        CancelIoEx((HANDLE)sk->s, NULL);
    closesocket(sk->s);
    sk->s = INVALID_SOCKET;
}

static void sock_free(ior__iocp_handle_t *h)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(&h->base);

    ior__free(sk->rbuf);
    ior__free(sk);
}

static DWORD sock_op_error(ior__iocp_handle_t *h, ior__iocp_op_t *op)
{
    return ior__iocp_op_error(ior__iocp_sock(&h->base)->s, op);
}

const ior__iocp_kind_t ior__iocp_kind_socket = {
    "socket",
    ior__iocp_sock_post_read,
    ior__iocp_sock_read_result,
    ior__iocp_sock_read_rest,
    ior__iocp_sock_post_send,
    ior__iocp_sock_send_result,
    ior__iocp_sock_try_write,
    sock_shutdown,
    sock_close,
    sock_free,
    sock_op_error,
};

int ior__iocp_sock_new(ior__iocp_loop_t *lp, SOCKET s, int family, int skip,
                       ior__iocp_sock_t **out)
{
    ior__iocp_sock_t *sk;
    u_long nonblocking = 1;

    sk = (ior__iocp_sock_t *)ior__calloc(1, sizeof(*sk));
    if (!sk)
        return IOR_ENOMEM;
    /*
     * Non-blocking mode only affects the plain recv() that drains the
     * socket after a zero-byte read; overlapped requests ignore it.
     */
    if (ioctlsocket(s, FIONBIO, &nonblocking) != 0) {
        int err = ior__iocp_error((DWORD)WSAGetLastError());
        ior__free(sk);
        return err;
    }
    sk->s = s;
    sk->family = family;
    sk->hd.skip = (unsigned char)skip;
    sk->read_size = IOR__IOCP_READ_MIN;
    sk->zero_next = 1; /* an idle connection starts with a zero-byte read */
    ior__iocp_handle_init(&sk->hd, &ior__iocp_kind_socket, lp);
    *out = sk;
    return 0;
}

int ior__os_tcp_nodelay(ior_transport_t *t, int on)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(t);
    BOOL v = on ? TRUE : FALSE;

    if (setsockopt(sk->s, IPPROTO_TCP, TCP_NODELAY, (const char *)&v,
                   (int)sizeof(v)) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    return 0;
}

int ior__os_tcp_keepalive(ior_transport_t *t, int on, unsigned idle_seconds)
{
    ior__iocp_sock_t *sk = ior__iocp_sock(t);
    BOOL v = on ? TRUE : FALSE;

    if (on && idle_seconds > 0) {
        struct tcp_keepalive ka;
        DWORD got = 0;

        /* The core bounds idle_seconds (32767), so this cannot overflow. */
        ka.onoff = 1;
        ka.keepalivetime = (ULONG)idle_seconds * 1000u;
        ka.keepaliveinterval = 1000u; /* probe every second once idle */
        if (WSAIoctl(sk->s, SIO_KEEPALIVE_VALS, &ka, (DWORD)sizeof(ka), NULL, 0,
                     &got, NULL, NULL) != 0)
            return ior__iocp_error((DWORD)WSAGetLastError());
        return 0;
    }
    if (setsockopt(sk->s, SOL_SOCKET, SO_KEEPALIVE, (const char *)&v,
                   (int)sizeof(v)) != 0)
        return ior__iocp_error((DWORD)WSAGetLastError());
    return 0;
}

size_t ior__iocp_read_buffer_size(const ior_transport_t *t)
{
    const ior__iocp_sock_t *sk = (const ior__iocp_sock_t *)t;
    return sk->rbuf ? sk->rbuf_len : 0;
}

size_t ior__iocp_read_buffer_peak(const ior_transport_t *t)
{
    return ((const ior__iocp_sock_t *)t)->rbuf_peak;
}

int ior__iocp_skip_mode(const ior_transport_t *t)
{
    return ((const ior__iocp_handle_t *)(const void *)t)->skip;
}
