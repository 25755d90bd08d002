/*
 * Local IPC on Windows would be named pipes (\\.\pipe\NAME): not built
 * yet. Until it is, both calls say so with IOR_ENOTSUP, and the tests
 * that need it are skipped on Windows with that reason (issue 14).
 */
#include "iocp.h"

int ior__os_local_listen(ior_loop_t *loop, const char *name,
                         ior_listener_t **out)
{
    (void)loop;
    (void)name;
    (void)out;
    return IOR_ENOTSUP;
}

int ior__os_local_connect(ior_loop_t *loop, const char *name,
                          ior__connect_t **out)
{
    (void)loop;
    (void)name;
    (void)out;
    return IOR_ENOTSUP;
}
