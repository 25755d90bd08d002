/*
 * Pipes and standard I/O as transports: the checks, the direction and
 * the deferred start once for every backend. The backend only validates
 * and wraps the OS handle (ior__os_pipe_open) and duplicates a standard
 * handle (ior__os_stdio_dup), so closing the transport never frees
 * descriptor 0, 1 or 2 (or the process's standard handle) for reuse.
 */
#include "core.h"

int ior_pipe_open(ior_loop_t *loop, intptr_t os_handle, unsigned dirs,
                  const ior_protocol_ops_t *ops, void *user,
                  ior_transport_t **out)
{
    ior_transport_t *t = NULL;
    int r;
    if (loop == NULL || ops == NULL || out == NULL || dirs == 0 ||
        (dirs & ~(unsigned)(IOR_PIPE_READ | IOR_PIPE_WRITE)) != 0)
        return IOR_EINVAL;
    /* -1 is "no handle" on every OS (INVALID_HANDLE_VALUE on Windows). */
    if (os_handle == -1)
        return IOR_EBADF;
    r = ior__os_pipe_open(loop, os_handle, dirs, &t);
    if (r != 0)
        return r;
    ior__transport_set_direction(t, (dirs & IOR_PIPE_READ) != 0,
                                      (dirs & IOR_PIPE_WRITE) != 0);
    (void)ior_transport_set_protocol(t, ops, user);
    /* Reading starts from the loop, after this returns. */
    ior__transport_defer(t, IOR__PEND_BEGIN);
    *out = t;
    return 0;
}

int ior_stdio_open(ior_loop_t *loop, int which, const ior_protocol_ops_t *ops,
                   void *user, ior_transport_t **out)
{
    intptr_t h;
    int r;
    if (which < 0 || which > 2 || loop == NULL || ops == NULL || out == NULL)
        return IOR_EINVAL;
    r = ior__os_stdio_dup(which, &h);
    if (r != 0)
        return r;
    r = ior_pipe_open(loop, h, which == 0 ? IOR_PIPE_READ : IOR_PIPE_WRITE,
                      ops, user, out);
    if (r != 0)
        ior__os_handle_close(h);
    return r;
}
