/*
 * The loop's portable half: the run loop itself, timers, the pending list
 * of deferred transport work, call_from_thread, and freeing. A backend
 * supplies only the wait-and-dispatch step (ior__os_loop_poll) and the OS
 * objects behind it.
 */
#include "core.h"

#include <limits.h>

int ior__core_loop_init(ior_loop_t *loop, const char *backend_name,
                        unsigned max_events)
{
    loop->backend_name = backend_name;
    ior__timers_init(&loop->timers);
    loop->pending_head = loop->pending_tail = NULL;
    loop->transports = NULL;
    loop->handles = NULL;
    loop->polls = NULL;
    loop->active = 0;
    loop->max_events = max_events;
    loop->running = 0;
    loop->stop = 0;
    loop->async_head = loop->async_tail = NULL;
    loop->async_stop = 0;
    loop->async_signalled = 0;
    loop->threads = 0;
    loop->now = ior__os_now_ms();
    return 0;
}

/* Completions or ready handles per iteration when the options say 0. */
#define IOR__DEFAULT_MAX_EVENTS 256u

/*
 * Backend selection, the same on every platform: the option, else the
 * IOR_BACKEND environment variable, else the backend's own default; an
 * empty string counts as unset. The backend only says whether it has the
 * name (IOR_ENOTSUP if not: "epoll" on Windows, "iocp" on Linux).
 */
int ior_loop_new(ior_loop_t **out, const ior_loop_options_t *opts)
{
    char env[32];
    const char *name = NULL;
    unsigned max = IOR__DEFAULT_MAX_EVENTS;
    if (out == NULL)
        return IOR_EINVAL;
    *out = NULL;
    if (opts != NULL && opts->backend != NULL && opts->backend[0] != '\0')
        name = opts->backend;
    else if (ior__os_getenv("IOR_BACKEND", env, sizeof(env)) == 0)
        name = env;
    if (opts != NULL && opts->max_events_per_iteration > 0)
        max = opts->max_events_per_iteration;
    return ior__os_loop_create(out, name, max);
}

const char *ior_loop_backend(const ior_loop_t *loop)
{
    return loop != NULL ? loop->backend_name : NULL;
}

uint64_t ior_loop_now(const ior_loop_t *loop)
{
    return loop != NULL ? loop->now : 0;
}

void ior__core_loop_update_time(ior_loop_t *loop)
{
    uint64_t now = ior__os_now_ms();
    if (now > loop->now)
        loop->now = now;
}

int ior__loop_alive(const ior_loop_t *loop)
{
    return loop->active > 0 || loop->timers.count > 0 ||
           loop->pending_head != NULL;
}

int ior__loop_timeout(ior_loop_t *loop)
{
    uint64_t next;
    int has;

    if (loop->stop || loop->pending_head != NULL)
        return 0;
    next = ior__timers_next(&loop->timers, &has);
    if (!has)
        return -1;
    if (next <= loop->now)
        return 0;
    if (next - loop->now > (uint64_t)INT_MAX)
        return INT_MAX;
    return (int)(next - loop->now);
}

/*
 * Runs the timers due now, in (deadline, scheduling) order. Timers
 * scheduled by these callbacks wait for the next pass, even with delay 0,
 * so a timer that re-arms itself cannot starve the loop.
 */
void ior__loop_run_timers(ior_loop_t *loop)
{
    uint64_t limit = loop->timers.next_seq;
    ior_callback_t cb;
    void *user;
    ior_timer_id id;

    while (!loop->stop && ior__timers_pop_due(&loop->timers, loop->now,
                                              limit, &cb, &user, &id)) {
        cb(loop, user);
        ior__timers_fired(&loop->timers, id, loop->now);
    }
}

/*
 * Runs the work deferred so far; work deferred while it runs waits for the
 * next pass (the wait is then zero), so nothing can spin here forever.
 */
void ior__loop_run_pending(ior_loop_t *loop)
{
    ior_transport_t *t = loop->pending_head;

    loop->pending_head = loop->pending_tail = NULL;
    while (t != NULL) {
        ior_transport_t *next = t->pending_next;
        unsigned what = t->pending;
        t->pending_next = NULL;
        t->pending = 0;
        if (what & IOR__PEND_CLOSE) {
            ior__transport_run_close(t);
        } else {
            if (what & IOR__PEND_BEGIN)
                ior__transport_begin(t);
            if (what & IOR__PEND_DELIVER)
                ior__transport_run_deliver(t);
            if (what & IOR__PEND_DRAIN)
                ior__core_drained(t);
        }
        t = next;
    }
}

void ior__loop_ref(ior_loop_t *loop)
{
    loop->active++;
}

void ior__loop_unref(ior_loop_t *loop)
{
    loop->active--;
}

void ior__core_handle_add(ior_loop_t *loop, ior__handle_t *h)
{
    h->prev = NULL;
    h->next = loop->handles;
    if (loop->handles != NULL)
        loop->handles->prev = h;
    loop->handles = h;
    loop->active++;
}

void ior__core_handle_remove(ior_loop_t *loop, ior__handle_t *h)
{
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        loop->handles = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    h->prev = h->next = NULL;
    loop->active--;
}

int ior_loop_run(ior_loop_t *loop)
{
    if (loop == NULL)
        return IOR_EINVAL;
    if (loop->running)
        return IOR_ESTATE;
    loop->running = 1;
    loop->stop = 0;
    for (;;) {
        ior__core_loop_update_time(loop);
        ior__loop_run_timers(loop);
        ior__loop_run_pending(loop);
        if (loop->stop || !ior__loop_alive(loop))
            break;
        ior__os_loop_poll(loop, ior__loop_timeout(loop));
        ior__loop_run_pending(loop);
        if (loop->stop)
            break;
    }
    loop->stop = 0;
    loop->running = 0;
    return 0;
}

void ior_loop_stop(ior_loop_t *loop)
{
    if (loop == NULL)
        return;
    ior__os_loop_lock(loop);
    loop->async_stop = 1;
    ior__os_loop_wakeup(loop);
    ior__os_loop_unlock(loop);
}

/*
 * The loop that interrupts stop: one per process (a signal or console
 * event has one receiver). The same loop again is 0, another one
 * IOR_EBUSY, on every backend; ior_loop_free gives the place up. Called
 * from loop threads, which ior.h asks to do it one at a time.
 */
static ior_loop_t *interrupt_owner;

int ior_loop_stop_on_interrupt(ior_loop_t *loop)
{
    int r;
    if (loop == NULL)
        return IOR_EINVAL;
    if (interrupt_owner == loop)
        return 0;
    if (interrupt_owner != NULL)
        return IOR_EBUSY;
    r = ior__os_stop_on_interrupt(loop);
    if (r == 0)
        interrupt_owner = loop;
    return r;
}

void ior__loop_post(ior_loop_t *loop, struct ior__async *a)
{
    int wake;

    a->next = NULL;
    ior__os_loop_lock(loop);
    if (loop->async_tail != NULL)
        loop->async_tail->next = a;
    else
        loop->async_head = a;
    loop->async_tail = a;
    /* One wake-up covers every call queued before the loop takes them. */
    wake = !loop->async_signalled;
    loop->async_signalled = 1;
    /*
     * Wake inside the lock: once it is released a helper thread must not
     * touch the loop, which its own post may let ior_loop_free destroy.
     */
    if (wake)
        ior__os_loop_wakeup(loop);
    ior__os_loop_unlock(loop);
}

int ior_loop_call_from_thread(ior_loop_t *loop, ior_callback_t cb, void *user)
{
    struct ior__async *a;

    if (loop == NULL || cb == NULL)
        return IOR_EINVAL;
    a = ior__malloc(sizeof *a);
    if (a == NULL)
        return IOR_ENOMEM;
    a->cb = cb;
    a->user = user;
    a->heap = 1;
    ior__loop_post(loop, a);
    return 0;
}

void ior__core_loop_run_async(ior_loop_t *loop)
{
    struct ior__async *a;

    ior__os_loop_lock(loop);
    a = loop->async_head;
    loop->async_head = loop->async_tail = NULL;
    loop->async_signalled = 0;
    if (loop->async_stop) {
        loop->async_stop = 0;
        loop->stop = 1;
    }
    ior__os_loop_unlock(loop);
    while (a != NULL) {
        struct ior__async *next = a->next;
        ior_callback_t cb = a->cb;
        void *user = a->user;
        if (a->heap)
            ior__free(a);
        cb(loop, user);
        a = next;
    }
}

static uint64_t deadline_in(const ior_loop_t *loop, uint64_t delay_ms)
{
    uint64_t deadline = loop->now + delay_ms;
    return deadline < loop->now ? UINT64_MAX : deadline; /* "never" */
}

int ior_call_later(ior_loop_t *loop, uint64_t delay_ms, ior_callback_t cb,
                   void *user, ior_timer_id *out)
{
    if (loop == NULL || cb == NULL)
        return IOR_EINVAL;
    return ior__timers_add(&loop->timers, deadline_in(loop, delay_ms), 0, cb,
                           user, out);
}

int ior_call_every(ior_loop_t *loop, uint64_t first_ms, uint64_t period_ms,
                   ior_callback_t cb, void *user, ior_timer_id *out)
{
    if (loop == NULL || cb == NULL || period_ms == 0)
        return IOR_EINVAL;
    return ior__timers_add(&loop->timers, deadline_in(loop, first_ms),
                           period_ms, cb, user, out);
}

int ior_timer_restart(ior_loop_t *loop, ior_timer_id id, uint64_t delay_ms)
{
    if (loop == NULL)
        return IOR_EINVAL;
    return ior__timers_restart(&loop->timers, id, deadline_in(loop, delay_ms));
}

int ior_timer_cancel(ior_loop_t *loop, ior_timer_id id)
{
    if (loop == NULL)
        return IOR_EINVAL;
    return ior__timers_cancel(&loop->timers, id);
}

/*
 * Closes what is open, lets the OS hand back every buffer it holds, then
 * frees. Transports see connection_lost(IOR_EABORTED); handles (listeners,
 * connects) close themselves; timers are dropped without firing.
 */
int ior_loop_free(ior_loop_t *loop)
{
    ior_transport_t *t;
    struct ior__async *a;

    if (loop == NULL)
        return IOR_EINVAL;
    if (loop->running)
        return IOR_ESTATE;
    loop->running = 1;
    for (;;) {
        for (t = loop->transports; t != NULL; t = t->next)
            ior_transport_abort_connection(t);
        while (loop->handles != NULL)
            loop->handles->close(loop->handles);
        ior__timers_cleanup(&loop->timers);
        ior__loop_run_pending(loop);
        if (loop->pending_head == NULL && loop->transports == NULL &&
            loop->handles == NULL && loop->threads == 0 &&
            ior__os_loop_outstanding(loop) == 0)
            break;
        ior__os_loop_poll(loop, loop->pending_head != NULL ? 0 : -1);
    }
    /* Calls queued from other threads that never ran are dropped. */
    ior__os_loop_lock(loop);
    a = loop->async_head;
    loop->async_head = loop->async_tail = NULL;
    ior__os_loop_unlock(loop);
    while (a != NULL) {
        struct ior__async *next = a->next;
        if (a->heap)
            ior__free(a);
        a = next;
    }
    ior__timers_cleanup(&loop->timers);
    if (interrupt_owner == loop)
        interrupt_owner = NULL; /* the backend uninstalls in destroy */
    ior__os_loop_destroy(loop);
    return 0;
}
