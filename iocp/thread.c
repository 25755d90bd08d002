/*
 * Detached helper threads for the core (name lookups). The loop itself
 * never uses threads for I/O: completions arrive on the loop's thread.
 */
#include "iocp.h"

typedef struct thread_start {
    void (*fn)(void *arg);
    void *arg;
} thread_start_t;

static DWORD WINAPI thread_main(LPVOID param)
{
    thread_start_t s = *(thread_start_t *)param;
    ior__free(param);
    s.fn(s.arg);
    return 0;
}

int ior__os_thread_spawn(void (*fn)(void *arg), void *arg)
{
    thread_start_t *s = ior__malloc(sizeof *s);
    HANDLE h;

    if (s == NULL)
        return IOR_ENOMEM;
    s->fn = fn;
    s->arg = arg;
    /* A small stack: the thread only calls getaddrinfo. */
    h = CreateThread(NULL, 256 * 1024, thread_main, s,
                     STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (h == NULL) {
        ior__free(s);
        return IOR_EAGAIN;
    }
    CloseHandle(h);
    return 0;
}
