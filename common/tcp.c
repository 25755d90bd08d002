/*
 * The per-transport TCP calls: addresses and socket options. Checked here
 * once (libuv's uv-common.c shape); the backend only does the setsockopt.
 * Both addresses are kept by the core from the moment the transport is
 * made, so a query needs no OS call and answers the same after
 * connection_lost or an abort.
 */
#include "core.h"

#include <string.h>

void ior__core_tcp_addrs(ior_transport_t *t, const ior_addr_t *host,
                         const ior_addr_t *peer)
{
    t->tcp = 1;
    if (host != NULL) {
        t->host = *host;
        ior__addr_unmap(&t->host);
    }
    if (peer != NULL) {
        t->peer = *peer;
        ior__addr_unmap(&t->peer);
    }
}

static int tcp_address(const ior_transport_t *t, ior_addr_t *out, int peer)
{
    if (t == NULL || out == NULL)
        return IOR_EINVAL;
    if (!t->tcp)
        return IOR_ENOTSUP;
    *out = peer ? t->peer : t->host;
    return 0;
}

int ior_transport_host_address(const ior_transport_t *t, ior_addr_t *out)
{
    return tcp_address(t, out, 0);
}

int ior_transport_peer_address(const ior_transport_t *t, ior_addr_t *out)
{
    return tcp_address(t, out, 1);
}

/* NULL, then not TCP, then closed: the order every option call checks. */
static int tcp_option_check(const ior_transport_t *t)
{
    if (t == NULL)
        return IOR_EINVAL;
    if (!t->tcp)
        return IOR_ENOTSUP;
    if (t->disconnected || t->closing || t->os_closed)
        return IOR_ENOTCONN;
    return 0;
}

/* A layered transport (TLS) sets its options on the TCP one below. */
static ior_transport_t *os_transport(ior_transport_t *t)
{
    while (t != NULL && t->layer != NULL)
        t = t->layer->below(t);
    return t;
}

int ior_transport_set_nodelay(ior_transport_t *t, int on)
{
    int r = tcp_option_check(t);
    if (r != 0)
        return r;
    t = os_transport(t);
    if (t == NULL || tcp_option_check(t) != 0)
        return IOR_ENOTCONN;
    return ior__os_tcp_nodelay(t, on ? 1 : 0);
}

/*
 * idle_seconds is bounded by Linux's TCP_KEEPIDLE limit on every backend,
 * so a value that works on one works on all; it is ignored when off.
 */
int ior_transport_set_keepalive(ior_transport_t *t, int on,
                                unsigned idle_seconds)
{
    int r;
    if (t == NULL)
        return IOR_EINVAL;
    if (on && idle_seconds > IOR__KEEPALIVE_MAX_IDLE)
        return IOR_ERANGE;
    r = tcp_option_check(t);
    if (r != 0)
        return r;
    t = os_transport(t);
    if (t == NULL || tcp_option_check(t) != 0)
        return IOR_ENOTCONN;
    return ior__os_tcp_keepalive(t, on ? 1 : 0, on ? idle_seconds : 0);
}

const char *ior_os_strerror(int os_error, char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return buf;
    buf[0] = '\0';
    ior__os_strerror(os_error, buf, len);
    buf[len - 1] = '\0';
    return buf;
}
