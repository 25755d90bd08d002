/*
 * Name resolution without blocking the loop: the lookup (getaddrinfo and
 * friends, behind ior__os_resolve) runs on a helper thread that posts the
 * result back to the loop. A lookup still running when the loop is freed is
 * reported as IOR_ECANCELED at once; ior_loop_free then waits for the
 * thread to post before the loop's memory goes.
 */
#include "core.h"

#include <string.h>

typedef struct resolve_req {
    ior__handle_t handle; /* first: the loop closes it when freed */
    struct ior__async done;
    ior_loop_t *loop;
    char *host;
    uint16_t port;
    int family;
    ior_resolve_cb cb;
    void *user;
    int status;
    ior_addr_t *addrs;
    size_t n;
    int canceled;
} resolve_req_t;

static void resolve_free(resolve_req_t *r)
{
    ior__free(r->addrs);
    ior__free(r->host);
    ior__free(r);
}

/* Helper thread: touches only r until the post hands r to the loop. */
static void resolve_thread(void *arg)
{
    resolve_req_t *r = arg;
    /*
     * "" names no host: IOR_ENAME on every backend, decided here (glibc
     * refuses it, Wine's getaddrinfo answers 127.0.0.1).
     */
    if (r->host[0] == '\0')
        r->status = IOR_ENAME;
    else
        r->status = ior__os_resolve(r->host, r->port, r->family, &r->addrs,
                                    &r->n);
    if (r->status != 0) {
        ior__free(r->addrs);
        r->addrs = NULL;
        r->n = 0;
    }
    ior__loop_post(r->loop, &r->done);
}

/* On the loop: the thread has finished. */
static void resolve_done(ior_loop_t *loop, void *user)
{
    resolve_req_t *r = user;
    loop->threads--;
    if (!r->canceled) {
        ior__core_handle_remove(loop, &r->handle);
        r->cb(loop, r->user, r->status, r->addrs, r->n);
    }
    resolve_free(r);
}

static void resolve_close(ior__handle_t *h)
{
    resolve_req_t *r = (resolve_req_t *)h;
    r->canceled = 1;
    ior__core_handle_remove(r->loop, h);
    r->cb(r->loop, r->user, IOR_ECANCELED, NULL, 0);
}

int ior_resolve(ior_loop_t *loop, const char *host, uint16_t port,
                int family, ior_resolve_cb cb, void *user)
{
    resolve_req_t *r;
    size_t len;
    int rc;

    if (loop == NULL || host == NULL || cb == NULL ||
        (family != 0 && family != IOR_AF_INET && family != IOR_AF_INET6))
        return IOR_EINVAL;
    r = ior__calloc(1, sizeof *r);
    if (r == NULL)
        return IOR_ENOMEM;
    len = strlen(host);
    r->host = ior__malloc(len + 1);
    if (r->host == NULL) {
        ior__free(r);
        return IOR_ENOMEM;
    }
    memcpy(r->host, host, len + 1);
    r->loop = loop;
    r->port = port;
    r->family = family;
    r->cb = cb;
    r->user = user;
    r->done.cb = resolve_done;
    r->done.user = r;
    r->done.heap = 0;
    r->handle.close = resolve_close;
    rc = ior__os_thread_spawn(resolve_thread, r);
    if (rc != 0) {
        resolve_free(r);
        return rc;
    }
    loop->threads++;
    ior__core_handle_add(loop, &r->handle);
    return 0;
}
