/*
 * Poll handles: readiness of sockets another library owns (ior.h). The
 * core checks the calls, keeps the one-handle-per-socket rule, filters
 * what the backend reports down to what was asked, and counts a started
 * handle as keeping the loop alive; the backend only asks the OS.
 */
#include "core.h"

#define ALL_EVENTS (IOR_POLL_READABLE | IOR_POLL_WRITABLE | IOR_POLL_DISCONNECT)

static void poll_handle_close(ior__handle_t *h)
{
    ior_poll_close((ior_poll_t *)h);
}

static ior_poll_t *find_poll(ior_loop_t *loop, intptr_t sock)
{
    ior_poll_t *p;
    for (p = loop->polls; p != NULL; p = p->next)
        if (p->sock == sock)
            return p;
    return NULL;
}

static void unlink_poll(ior_poll_t *p)
{
    ior_poll_t **pp = &p->loop->polls;
    while (*pp != p)
        pp = &(*pp)->next;
    *pp = p->next;
}

int ior_poll_open(ior_loop_t *loop, intptr_t os_socket, ior_poll_cb_t cb,
                  void *user, ior_poll_t **out)
{
    ior_poll_t *p = NULL;
    int r;

    if (loop == NULL || cb == NULL || out == NULL || os_socket == -1)
        return IOR_EINVAL;
    if (find_poll(loop, os_socket) != NULL)
        return IOR_EBUSY;
    r = ior__os_poll_open(loop, os_socket, &p);
    if (r != 0)
        return r;
    p->loop = loop;
    p->sock = os_socket;
    p->cb = cb;
    p->user = user;
    p->events = 0;
    p->next = loop->polls;
    loop->polls = p;
    p->handle.close = poll_handle_close;
    ior__core_handle_add(loop, &p->handle);
    ior__loop_unref(loop); /* a stopped handle does not keep the loop */
    *out = p;
    return 0;
}

/* Stopping cannot fail: the backend only takes the socket out. */
static void stop_now(ior_poll_t *p)
{
    if (p->events == 0)
        return;
    p->events = 0;
    (void)ior__os_poll_update(p);
    ior__loop_unref(p->loop);
}

int ior_poll_start(ior_poll_t *p, unsigned events)
{
    unsigned old;
    int r;

    if (p == NULL || p->closed || events == 0 || (events & ~ALL_EVENTS) != 0)
        return IOR_EINVAL;
    old = p->events;
    if (old == events)
        return 0;
    p->events = events;
    r = ior__os_poll_update(p);
    if (r != 0) {
        p->events = old;
        return r;
    }
    if (old == 0)
        ior__loop_ref(p->loop); /* a started handle keeps the loop */
    return 0;
}

int ior_poll_stop(ior_poll_t *p)
{
    if (p == NULL || p->closed)
        return IOR_EINVAL;
    stop_now(p);
    return 0;
}

void ior_poll_close(ior_poll_t *p)
{
    if (p == NULL || p->closed)
        return;
    stop_now(p);
    p->closed = 1;
    unlink_poll(p);
    ior__loop_ref(p->loop); /* handle_remove takes the count away */
    ior__core_handle_remove(p->loop, &p->handle);
    ior__os_poll_close(p);
}

void ior__core_poll_ready(ior_poll_t *p, int status, unsigned events)
{
    unsigned asked = p->events;

    if (p->closed || asked == 0)
        return;
    if (status != 0) {
        stop_now(p);
        p->cb(p, p->user, status, 0);
        return;
    }
    if (events & IOR__POLL_ERROR)
        events |= ALL_EVENTS;
    events &= asked;
    if (events != 0)
        p->cb(p, p->user, 0, events);
}
