/*
 * TCP listeners: the checks, the defaults and the accept policy, once for
 * every backend. The backend owns the socket and the accept requests; the
 * core decides what the user sees:
 *  - a new connection: connection_accepted, then the transport begins
 *    (reading starts, or it is closed if no protocol was set);
 *  - a resource error (IOR_EMFILE, IOR_ENOBUFS, IOR_ENOMEM): accept_error,
 *    and accepting resumes after IOR__ACCEPT_RETRY_MS, so a listener out of
 *    descriptors neither dies nor spins (Twisted logs and comes straight
 *    back). Pending connections their peer aborted are the backend's to
 *    re-arm silently: only it knows which OS codes those are.
 */
#include "core.h"

static void listener_handle_close(ior__handle_t *h)
{
    ior_listener_close((ior_listener_t *)(void *)h);
}

int ior_tcp_listen(ior_loop_t *loop, const ior_addr_t *addr,
                   const ior_listen_options_t *opts,
                   const ior_listener_ops_t *ops, void *user,
                   ior_listener_t **out)
{
    ior_listener_t *l = NULL;
    int backlog = IOR__DEFAULT_BACKLOG;
    int v6only = 0;
    unsigned flags = 0;
    int r;

    if (loop == NULL || addr == NULL || ops == NULL || out == NULL ||
        ops->connection_accepted == NULL)
        return IOR_EINVAL;
    if (!ior__addr_family_ok(addr))
        return IOR_EINVAL;
    if (opts != NULL) {
        if (opts->backlog > 0)
            backlog = opts->backlog;
        v6only = opts->ipv6_only ? 1 : 0;
        flags = opts->flags;
        if ((flags & ~(unsigned)(IOR_LISTEN_QUICK_RESTART |
                               IOR_LISTEN_REUSEPORT)) != 0)
            return IOR_EINVAL;
    }
    r = ior__os_tcp_listen(loop, addr, backlog, v6only, flags, &l);
    if (r != 0)
        return r;
    return ior__listener_begin(l, loop, ops, user, out);
}

int ior__listener_begin(ior_listener_t *l, ior_loop_t *loop,
                        const ior_listener_ops_t *ops, void *user,
                        ior_listener_t **out)
{
    int r;

    l->loop = loop;
    l->ops = ops;
    l->user = user;
    l->retry = 0;
    l->closed = 0;
    l->handle.close = listener_handle_close;
    ior__core_handle_add(loop, &l->handle);
    l->starting = 1;
    r = ior__os_listener_start(l);
    l->starting = 0;
    if (r != 0) {
        l->closed = 1;
        if (l->retry != 0)
            (void)ior_timer_cancel(loop, l->retry);
        ior__core_handle_remove(loop, &l->handle);
        ior__os_listener_close(l);
        return r;
    }
    *out = l;
    return 0;
}

int ior_listener_address(const ior_listener_t *l, ior_addr_t *out)
{
    if (l == NULL || out == NULL)
        return IOR_EINVAL;
    if (l->local)
        return IOR_ENOTSUP; /* a name, not an address */
    *out = l->addr;
    return 0;
}

void ior_listener_close(ior_listener_t *l)
{
    if (l == NULL || l->closed)
        return;
    l->closed = 1;
    if (l->retry != 0)
        (void)ior_timer_cancel(l->loop, l->retry);
    l->retry = 0;
    ior__core_handle_remove(l->loop, &l->handle);
    ior__os_listener_close(l);
}

void ior__core_accepted(ior_listener_t *l, ior_transport_t *t)
{
    l->ops->connection_accepted(l, l->user, t);
    ior__transport_begin(t);
}

static void accept_retry(ior_loop_t *loop, void *user)
{
    ior_listener_t *l = user;
    (void)loop;
    l->retry = 0;
    if (!l->closed)
        ior__os_listener_resume(l);
}

void ior__core_accept_failed(ior_listener_t *l, int err)
{
    if (l->closed)
        return;
    if (l->retry == 0 &&
        ior_call_later(l->loop, IOR__ACCEPT_RETRY_MS, accept_retry, l,
                       &l->retry) != 0)
        l->retry = 0; /* no memory even for a timer: the next event retries */
    if (!l->starting && l->ops->accept_error != NULL)
        l->ops->accept_error(l, l->user, err);
}
