/*
 * Helper threads for the core (name lookups, common/resolve.c): detached
 * pthreads that post their result back to the loop.
 */
#include "internal_posix.h"

#include <errno.h>
#include <pthread.h>

typedef struct spawn_arg {
    void (*fn)(void *arg);
    void *arg;
} spawn_arg_t;

static void *trampoline(void *p)
{
    spawn_arg_t a = *(spawn_arg_t *)p;
    ior__free(p);
    a.fn(a.arg);
    return NULL;
}

int ior__os_thread_spawn(void (*fn)(void *arg), void *arg)
{
    pthread_attr_t attr;
    pthread_t id;
    spawn_arg_t *a = ior__malloc(sizeof(*a));
    int r;
    if (a == NULL)
        return IOR_ENOMEM;
    a->fn = fn;
    a->arg = arg;
    if (pthread_attr_init(&attr) != 0) {
        ior__free(a);
        return IOR_ENOMEM;
    }
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    r = pthread_create(&id, &attr, trampoline, a);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        ior__free(a);
        return r == EAGAIN ? IOR_EAGAIN : ior__posix_error(r);
    }
    return 0;
}
