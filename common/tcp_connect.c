/*
 * Outgoing TCP connections: checks, the wildcard mapping, the timeout and
 * the precedence of the library's own status, once for every backend.
 *
 * The callback runs exactly once, from the loop, never inside
 * ior_tcp_connect. A status the library decided (IOR_ETIMEDOUT from the
 * timeout option, IOR_ECANCELED at ior_loop_free) wins over whatever the
 * OS reports afterwards, and carries os_error 0. On success the callback
 * comes first, then the transport begins (reading starts, or it is
 * closed if the callback set no protocol).
 */
#include "core.h"

#include <string.h>

/*
 * Connecting to 0.0.0.0 or :: means this host, as on Linux; Windows
 * refuses it (WSAEADDRNOTAVAIL), so the core maps it to loopback for
 * every backend.
 */
static void map_wildcard(ior_addr_t *a)
{
    if (!ior__addr_is_wildcard(a))
        return;
    memset(a->bytes, 0, sizeof(a->bytes));
    if (a->family == IOR_AF_INET) {
        a->bytes[0] = 127;
        a->bytes[3] = 1;
    } else {
        a->bytes[15] = 1;
    }
}

static void connect_decide(ior__connect_t *c, int status)
{
    if (c->status != 0)
        return;
    c->status = status;
    ior__os_connect_cancel(c); /* may call ior__core_connect_done now */
}

static void connect_timeout(ior_loop_t *loop, void *user)
{
    ior__connect_t *c = user;
    (void)loop;
    c->timer = 0;
    connect_decide(c, IOR_ETIMEDOUT);
}

static void connect_handle_close(ior__handle_t *h)
{
    ior__connect_t *c = (ior__connect_t *)(void *)h;
    /*
     * ior_loop_free walks its handles until none is left: leave the list
     * now, the callback comes when the backend hands the request back.
     */
    if (c->handle.close != NULL) {
        c->handle.close = NULL;
        ior__core_handle_remove(c->loop, &c->handle);
    }
    connect_decide(c, IOR_ECANCELED);
}

int ior__tcp_connect_start(ior_loop_t *loop, const ior_addr_t *addr,
                           const ior_connect_options_t *opts,
                           ior_connect_cb cb, void *user, ior__connect_t **out)
{
    const ior_addr_t *bind = opts != NULL ? opts->bind : NULL;
    ior__connect_t *c = NULL;
    ior_addr_t peer;
    int r;

    if (loop == NULL || addr == NULL || cb == NULL)
        return IOR_EINVAL;
    if (!ior__addr_family_ok(addr))
        return IOR_EINVAL;
    if (bind != NULL && bind->family != addr->family)
        return IOR_EINVAL;
    peer = *addr;
    map_wildcard(&peer);
    r = ior__os_tcp_connect(loop, &peer, bind, &c);
    if (r != 0)
        return r;
    c->peer = peer;
    return ior__connect_begin(c, loop, opts, cb, user, out);
}

int ior__connect_begin(ior__connect_t *c, ior_loop_t *loop,
                       const ior_connect_options_t *opts, ior_connect_cb cb,
                       void *user, ior__connect_t **out)
{
    int r;

    c->loop = loop;
    c->cb = cb;
    c->user = user;
    c->timer = 0;
    c->status = 0;
    if (opts != NULL && opts->timeout_ms > 0) {
        r = ior_call_later(loop, opts->timeout_ms, connect_timeout, c,
                           &c->timer);
        if (r != 0) {
            ior__os_connect_discard(c);
            return r;
        }
    }
    c->handle.close = connect_handle_close;
    ior__core_handle_add(loop, &c->handle);
    if (out != NULL)
        *out = c;
    ior__os_connect_start(c);
    return 0;
}

int ior_tcp_connect(ior_loop_t *loop, const ior_addr_t *addr,
                    const ior_connect_options_t *opts, ior_connect_cb cb,
                    void *user)
{
    return ior__tcp_connect_start(loop, addr, opts, cb, user, NULL);
}

void ior__tcp_connect_cancel(ior__connect_t *c)
{
    connect_decide(c, IOR_ECANCELED);
}

void ior__core_connect_done(ior__connect_t *c, ior_transport_t *t, int status,
                            int os_error)
{
    ior_loop_t *loop = c->loop;

    if (c->timer != 0)
        (void)ior_timer_cancel(loop, c->timer);
    c->timer = 0;
    if (c->status != 0) {
        status = c->status;
        os_error = 0;
    }
    /* A transport now keeps the loop alive (ior__core_transport_init). */
    if (c->handle.close != NULL) {
        c->handle.close = NULL;
        ior__core_handle_remove(loop, &c->handle);
    }
    if (t == NULL) {
        c->cb(loop, c->user, NULL, status != 0 ? status : IOR_EIO, os_error);
        return;
    }
    if (!c->local) {
        t->tcp = 1;
        t->peer = c->peer;
        ior__addr_unmap(&t->peer);
    }
    c->cb(loop, c->user, t, 0, 0);
    ior__transport_begin(t);
}
