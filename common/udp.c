/*
 * UDP sockets: every public function once, for every backend. The core
 * checks the arguments and the socket's state, applies the option
 * defaults, and only then calls the backend (ior__os_udp_*), which sees
 * valid input only. Mirrors libuv's uv_udp_send, which checks in
 * uv-common.c before the per-OS uv__udp_send.
 *
 * One answer everywhere: an address family that is neither IOR_AF_INET
 * nor IOR_AF_INET6 is IOR_EINVAL; an IPv6 address on an IPv4 socket, or an
 * IPv4 one on an IPv6-only socket, is IOR_EAFNOSUPPORT; a call on a
 * closed socket is IOR_EINVAL.
 */
#include "core.h"

#include <string.h>

static int family_ok(const ior_addr_t *a)
{
    return a->family == IOR_AF_INET || a->family == IOR_AF_INET6;
}

/* 0 when this socket can talk to a (family valid). */
int ior__udp_reaches(const ior_udp_t *u, const ior_addr_t *a)
{
    if (a->family == IOR_AF_INET6 && u->family != IOR_AF_INET6)
        return IOR_EAFNOSUPPORT;
    if (a->family == IOR_AF_INET && u->family == IOR_AF_INET6 && u->v6only)
        return IOR_EAFNOSUPPORT;
    return 0;
}

static void udp_handle_close(ior__handle_t *h)
{
    ior_udp_close((ior_udp_t *)h);
}

int ior_udp_listen(ior_loop_t *loop, const ior_addr_t *addr,
                   const ior_udp_options_t *opts, const ior_udp_ops_t *ops,
                   void *user, ior_udp_t **out)
{
    ior_udp_t *u = NULL;
    int r;
    if (loop == NULL || addr == NULL || ops == NULL || out == NULL)
        return IOR_EINVAL;
    if (!family_ok(addr))
        return IOR_EINVAL;
    r = ior__os_udp_open(loop, addr, opts, &u);
    if (r != 0)
        return r;
    u->loop = loop;
    u->ops = ops;
    u->user = user;
    u->family = addr->family;
    u->v6only = addr->family == IOR_AF_INET6 && opts != NULL &&
                opts->ipv6_only;
    u->max_packet = opts != NULL && opts->max_packet_size > 0
                        ? opts->max_packet_size
                        : IOR__UDP_DEFAULT_PACKET;
    ior__dq_init(&u->q, opts != NULL ? opts->max_send_queue : 0);
    u->handle.close = udp_handle_close;
    ior__core_handle_add(loop, &u->handle);
    r = ior__os_udp_start(u);
    if (r != 0) {
        u->closed = 1;
        ior__core_handle_remove(loop, &u->handle);
        ior__os_udp_close(u);
        return r;
    }
    *out = u;
    return 0;
}

int ior_udp_address(const ior_udp_t *u, ior_addr_t *out)
{
    if (u == NULL || out == NULL || u->closed)
        return IOR_EINVAL;
    return ior__os_udp_address(u, out);
}

/* The size checks of one datagram, the same for send_to and write. */
static int udp_send(ior_udp_t *u, const void *data, size_t len,
                    const ior_addr_t *to)
{
    if (len > IOR__UDP_MAX_PAYLOAD)
        return IOR_EMSGSIZE;
    if (len > u->q.limit)
        return IOR_ENOBUFS; /* could never be queued: refuse it everywhere */
    return ior__os_udp_send(u, data, len, to);
}

int ior_udp_send_to(ior_udp_t *u, const void *data, size_t len,
                    const ior_addr_t *to)
{
    int r;
    if (u == NULL || to == NULL || (data == NULL && len > 0) || u->closed)
        return IOR_EINVAL;
    if (!family_ok(to))
        return IOR_EINVAL;
    if (u->connected)
        return IOR_ESTATE;
    r = ior__udp_reaches(u, to);
    if (r != 0)
        return r;
    return udp_send(u, data, len, to);
}

int ior_udp_write(ior_udp_t *u, const void *data, size_t len)
{
    if (u == NULL || (data == NULL && len > 0) || u->closed)
        return IOR_EINVAL;
    if (!u->connected)
        return IOR_ENOTCONN;
    return udp_send(u, data, len, NULL);
}

int ior_udp_connect(ior_udp_t *u, const ior_addr_t *peer)
{
    int r;
    if (u == NULL || peer == NULL || u->closed)
        return IOR_EINVAL;
    if (!family_ok(peer))
        return IOR_EINVAL;
    r = ior__udp_reaches(u, peer);
    if (r != 0)
        return r;
    r = ior__os_udp_connect(u, peer);
    if (r != 0)
        return r;
    u->peer = *peer;
    u->connected = 1;
    return 0;
}

size_t ior_udp_send_queue_size(const ior_udp_t *u)
{
    if (u == NULL || u->closed)
        return 0;
    return ior__os_udp_queued(u);
}

int ior_udp_pause_reading(ior_udp_t *u)
{
    if (u == NULL || u->closed)
        return IOR_EINVAL;
    if (!u->paused) {
        u->paused = 1;
        ior__os_udp_reading(u);
    }
    return 0;
}

int ior_udp_resume_reading(ior_udp_t *u)
{
    if (u == NULL || u->closed)
        return IOR_EINVAL;
    if (u->paused) {
        u->paused = 0;
        ior__os_udp_reading(u);
    }
    return 0;
}

/* Queued datagrams are dropped; nothing is reported after this. */
void ior_udp_close(ior_udp_t *u)
{
    if (u == NULL || u->closed)
        return;
    u->closed = 1;
    ior__core_handle_remove(u->loop, &u->handle);
    ior__os_udp_close(u);
}
