/*
 * The portable half of child processes: which stdio transports are still
 * alive, and the rule for process_ended, which both backends share. A
 * backend starts the child, watches for its exit, and reports it with
 * ior__core_proc_exited; the core reports each stdio transport it frees
 * (ior__proc_stdio_gone). process_ended runs once both have happened
 * for all three, as Twisted's maybeCallProcessEnded, and then the backend
 * releases the process (its release hook).
 */
#include "core.h"

void ior__core_proc_init(ior__proc_t *p, ior_loop_t *loop,
                         const ior_process_ops_t *ops, void *user,
                         void (*release)(ior__proc_t *p))
{
    p->loop = loop;
    p->ops = ops;
    p->user = user;
    p->release = release;
    p->pid = -1;
}

void ior__core_proc_attach(ior__proc_t *p, int which, ior_transport_t *t)
{
    p->stdio[which] = t;
    p->open_stdio++;
    t->proc = p;
    t->proc_index = (unsigned char)which;
}

/* The transports stop telling p about their end. */
void ior__core_proc_detach_stdio(ior__proc_t *p)
{
    int i;
    for (i = 0; i < 3; i++) {
        if (p->stdio[i] != NULL)
            p->stdio[i]->proc = NULL;
        p->stdio[i] = NULL;
    }
}

void ior__core_proc_abort_stdio(ior__proc_t *p)
{
    int i;
    for (i = 0; i < 3; i++) {
        ior_transport_t *t = p->stdio[i];
        if (t != NULL) {
            t->proc = NULL;
            p->stdio[i] = NULL;
            (void)ior_transport_abort_connection(t);
        }
    }
    p->open_stdio = 0;
}

static void maybe_end(ior__proc_t *p)
{
    if (!p->exited || p->open_stdio > 0 || p->ended)
        return;
    p->ended = 1;
    if (p->ops->process_ended != NULL)
        p->ops->process_ended((ior_process_t *)p, p->user, p->exit_code,
                              p->term_signal);
    ior__core_proc_detach_stdio(p);
    p->release(p);
}

void ior__proc_stdio_gone(ior_transport_t *t)
{
    ior__proc_t *p = t->proc;
    t->proc = NULL;
    p->stdio[t->proc_index] = NULL;
    p->open_stdio--;
    maybe_end(p);
}

void ior__core_proc_exited(ior__proc_t *p, int exit_code, int term_signal)
{
    p->exited = 1;
    p->exit_code = exit_code;
    p->term_signal = term_signal;
    maybe_end(p);
}

ior_transport_t *ior_process_stdio(ior_process_t *proc, int which)
{
    ior__proc_t *p = (ior__proc_t *)proc;
    if (p == NULL || which < 0 || which > 2)
        return NULL;
    return p->stdio[which];
}

long ior_process_pid(const ior_process_t *proc)
{
    const ior__proc_t *p = (const ior__proc_t *)proc;
    return p != NULL ? p->pid : -1;
}

/*
 * The public entry points: checked here, for every backend, then handed
 * to the backend (ior__os_process_alloc, _start, _kill).
 */
int ior_process_spawn(ior_loop_t *loop, const ior_process_options_t *opts,
                      const ior_process_ops_t *ops, void *user,
                      ior_process_t **out)
{
    ior__proc_t *p;
    int r;
    if (loop == NULL || opts == NULL || ops == NULL || out == NULL ||
        opts->argv == NULL || opts->argv[0] == NULL ||
        (opts->flags & ~(unsigned)(IOR_PROCESS_ALLOW_BATCH |
                                   IOR_PROCESS_DETACHED)) != 0)
        return IOR_EINVAL;
    p = ior__os_process_alloc(loop, ops, user);
    if (p == NULL)
        return IOR_ENOMEM;
    r = ior__os_process_start(p, opts);
    if (r != 0) {
        /* The transports made so far go quietly (no protocol callbacks). */
        ior__core_proc_abort_stdio(p);
        ior__free(p);
        return r;
    }
    ior__core_handle_add(loop, &p->handle);
    *out = (ior_process_t *)p;
    return 0;
}

int ior_process_signal(ior_process_t *proc, int signum)
{
    ior__proc_t *p = (ior__proc_t *)proc;
    if (p == NULL || signum <= 0)
        return IOR_EINVAL;
    if (p->exited)
        return IOR_ESTATE;
    return ior__os_process_kill(p, signum);
}

int ior_process_terminate(ior_process_t *p)
{
    return ior_process_signal(p, IOR_SIGTERM);
}
