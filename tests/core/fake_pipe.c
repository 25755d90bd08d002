/* The recording fake pipes, stdio and processes (fake_pipe.h). */
#include "fake_pipe.h"

#include <string.h>

fake_pipe_t fake_pipe;

/* A fake child is never started, so nothing ever releases one. */
static void fake_proc_release(ior__proc_t *p)
{
    (void)p;
}

void fake_pipe_reset(void)
{
    memset(&fake_pipe, 0, sizeof(fake_pipe));
}

int ior__os_pipe_open(ior_loop_t *loop, intptr_t os_handle, unsigned dirs,
                      ior_transport_t **out)
{
    ior_transport_t *t;
    (void)dirs;
    fake_pipe.opens++;
    fake_pipe.last_handle = os_handle;
    if (fake_pipe.make == NULL)
        return IOR_ENOTSUP;
    t = fake_pipe.make(loop);
    if (t == NULL)
        return IOR_ENOMEM;
    *out = t;
    return 0;
}

int ior__os_stdio_dup(int which, intptr_t *out)
{
    fake_pipe.dups++;
    fake_pipe.last_which = which;
    if (fake_pipe.dup_result != 0)
        return fake_pipe.dup_result;
    *out = 100 + which; /* "a duplicate" */
    return 0;
}

void ior__os_handle_close(intptr_t h)
{
    fake_pipe.handle_closes++;
    fake_pipe.last_handle = h;
}

ior__proc_t *ior__os_process_alloc(ior_loop_t *loop,
                                   const ior_process_ops_t *ops, void *user)
{
    ior__proc_t *p;
    fake_pipe.spawns++;
    if (fake_pipe.spawn_result == IOR_ENOMEM)
        return NULL;
    p = ior__calloc(1, sizeof(*p));
    if (p != NULL)
        ior__core_proc_init(p, loop, ops, user, fake_proc_release);
    return p;
}

int ior__os_process_start(ior__proc_t *p, const ior_process_options_t *opts)
{
    (void)p;
    (void)opts;
    return fake_pipe.spawn_result != 0 ? fake_pipe.spawn_result : IOR_ENOTSUP;
}

int ior__os_process_kill(ior__proc_t *p, int signum)
{
    (void)p;
    fake_pipe.kills++;
    fake_pipe.last_signum = signum;
    return fake_pipe.kill_result;
}
