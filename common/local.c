/*
 * Local IPC: listen and connect on a name, giving ordinary transports
 * (libuv's uv_pipe_bind/listen/connect). POSIX: AF_UNIX stream sockets at
 * a path; Windows: named pipes, \\.\pipe\NAME. The core checks the calls
 * and shares the listener's accept policy and the connect's timeout and
 * status rules with TCP; the backends map the name and own the OS side.
 */
#include "core.h"

#include <string.h>

int ior_local_listen(ior_loop_t *loop, const char *name,
                     const ior_listener_ops_t *ops, void *user,
                     ior_listener_t **out)
{
    ior_listener_t *l = NULL;
    int r;

    if (loop == NULL || name == NULL || *name == '\0' || ops == NULL ||
        out == NULL || ops->connection_accepted == NULL)
        return IOR_EINVAL;
    r = ior__os_local_listen(loop, name, &l);
    if (r != 0)
        return r;
    l->local = 1;
    return ior__listener_begin(l, loop, ops, user, out);
}

int ior_local_connect(ior_loop_t *loop, const char *name,
                      const ior_connect_options_t *opts, ior_connect_cb cb,
                      void *user)
{
    ior__connect_t *c = NULL;
    int r;

    if (loop == NULL || name == NULL || *name == '\0' || cb == NULL)
        return IOR_EINVAL;
    if (opts != NULL && opts->bind != NULL)
        return IOR_EINVAL; /* a local connection has no address to bind */
    r = ior__os_local_connect(loop, name, &c);
    if (r != 0)
        return r;
    c->local = 1;
    memset(&c->peer, 0, sizeof(c->peer));
    return ior__connect_begin(c, loop, opts, cb, user, NULL);
}
