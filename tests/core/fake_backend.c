/*
 * The recording fake backend. It owns no OS resources: every ior__os_*
 * function records what the core asked and, where the seam demands it,
 * answers the way a real backend would (an empty queue that needs a drain
 * gets ior__core_defer_drain). Everything else — bytes leaving, bytes
 * arriving, loop iterations — happens only when the test says so.
 */
#include "fake_backend.h"
#include "fake_os_stubs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fake_rec_t recs[FAKE_MAX_RECS];
static uint64_t now_ms;
static fake_poll_hook poll_hook;
static void *poll_user;

#define LOG_CAP 65536
static char log_buf[LOG_CAP];
static size_t log_len;
static char only_buf[LOG_CAP];

/* ------------------------------------------------------------------ */
/* Log and records                                                     */
/* ------------------------------------------------------------------ */

void fake_log(const char *event)
{
    size_t n = strlen(event);
    /* A full log is truncated; tests then see a mismatch, never a crash. */
    if (log_len + n + 2 > LOG_CAP)
        return;
    if (log_len > 0)
        log_buf[log_len++] = ' ';
    memcpy(log_buf + log_len, event, n);
    log_len += n;
    log_buf[log_len] = '\0';
}

const char *fake_log_str(void) { return log_buf; }

void fake_log_clear(void)
{
    log_len = 0;
    log_buf[0] = '\0';
}

/* Whether the event's kind (its text before ':') is one of kinds. */
static int kind_listed(const char *ev, size_t evlen, const char *kinds)
{
    size_t klen = 0;
    const char *k = kinds;
    while (klen < evlen && ev[klen] != ':')
        klen++;
    while (*k != '\0') {
        size_t n = strcspn(k, " ");
        if (n == klen && strncmp(k, ev, n) == 0)
            return 1;
        k += n;
        while (*k == ' ')
            k++;
    }
    return 0;
}

const char *fake_log_only(const char *kinds)
{
    const char *p = log_buf;
    size_t out = 0;
    only_buf[0] = '\0';
    while (*p != '\0') {
        size_t n = strcspn(p, " ");
        if (kind_listed(p, n, kinds)) {
            if (out > 0)
                only_buf[out++] = ' ';
            memcpy(only_buf + out, p, n);
            out += n;
            only_buf[out] = '\0';
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    return only_buf;
}

void fake_reset(void)
{
    fake_cleanup();
    memset(recs, 0, sizeof(recs));
    now_ms = 0;
    fake_env_backend[0] = '\0';
    poll_hook = NULL;
    poll_user = NULL;
    fake_files_reset();
    fake_log_clear();
}

void fake_cleanup(void)
{
    int i;
    for (i = 0; i < FAKE_MAX_RECS; i++) {
        free(recs[i].sent);
        recs[i].sent = NULL;
        recs[i].sent_len = recs[i].sent_cap = 0;
    }
}

fake_rec_t *fake_rec(const ior_transport_t *t)
{
    return &recs[((const fake_transport_t *)t)->rec];
}

fake_rec_t *fake_rec_at(int i) { return &recs[i]; }

int fake_violations(void)
{
    int i, v = 0;
    for (i = 0; i < FAKE_MAX_RECS; i++)
        v += recs[i].violations;
    return v;
}

static void violation(fake_rec_t *r, const char *what)
{
    r->violations++;
    fprintf(stderr, "fake backend: seam violation: %s\n", what);
    fake_log("VIOLATION");
}

/* ------------------------------------------------------------------ */
/* Clock and loop                                                      */
/* ------------------------------------------------------------------ */

void fake_set_now(uint64_t ms) { now_ms = ms; }
uint64_t fake_now(void) { return now_ms; }
uint64_t ior__os_now_ms(void) { return now_ms; }

char fake_env_backend[32]; /* "IOR_BACKEND" as the fake environment has it */

int ior__os_getenv(const char *name, char *buf, size_t len)
{
    size_t n = strlen(fake_env_backend);
    if (strcmp(name, "IOR_BACKEND") != 0 || n == 0 || n >= len)
        return IOR_ENOENT;
    memcpy(buf, fake_env_backend, n + 1);
    return 0;
}

unsigned fake_last_max_events;

int ior__os_loop_create(ior_loop_t **out, const char *backend,
                        unsigned max_events)
{
    fake_loop_t *fl;
    int rc;
    fake_last_max_events = max_events;
    if (backend != NULL && strcmp(backend, "fake") != 0)
        return IOR_ENOTSUP;
    fl = ior__calloc(1, sizeof(*fl));
    if (fl == NULL)
        return IOR_ENOMEM;
    rc = ior__core_loop_init(&fl->base, "fake", max_events);
    if (rc != 0) {
        ior__free(fl);
        return rc;
    }
    *out = &fl->base;
    return 0;
}

void ior__os_loop_destroy(ior_loop_t *loop)
{
    ior__free(loop);
}

void fake_set_poll_hook(fake_poll_hook hook, void *user)
{
    poll_hook = hook;
    poll_user = user;
}

void fake_poll_default(ior_loop_t *loop, int timeout_ms)
{
    fake_loop_t *fl = (fake_loop_t *)loop;
    int i, did = 0;
    /* A closed handle's send completes as cancelled, as IOCP reports it. */
    for (i = 0; i < FAKE_MAX_RECS; i++) {
        fake_rec_t *r = &recs[i];
        if (r->used && r->t != NULL && r->t->loop == loop && r->in_flight &&
            r->closes > 0) {
            fake_send_end(r->t, 0);
            did = 1;
        }
    }
    if (fl->wakeup_pending) {
        fl->wakeup_pending = 0;
        ior__core_loop_run_async(loop);
        did = 1;
    }
    if (timeout_ms > 0)
        now_ms += (uint64_t)timeout_ms;
    else if (timeout_ms < 0 && !did) {
        /* Nothing could ever wake a fake loop: stop rather than hang. */
        fake_log("poll_forever");
        ior_loop_stop(loop);
    }
}

void ior__os_loop_poll(ior_loop_t *loop, int timeout_ms)
{
    fake_loop_t *fl = (fake_loop_t *)loop;
    fl->polls++;
    fl->last_timeout = timeout_ms;
    if (poll_hook != NULL)
        poll_hook(loop, timeout_ms, poll_user);
    else
        fake_poll_default(loop, timeout_ms);
}

size_t ior__os_loop_outstanding(const ior_loop_t *loop)
{
    size_t n = 0;
    int i;
    for (i = 0; i < FAKE_MAX_RECS; i++)
        if (recs[i].used && recs[i].in_flight && recs[i].t != NULL &&
            recs[i].t->loop == loop)
            n++;
    return n;
}

void ior__os_loop_wakeup(ior_loop_t *loop)
{
    fake_loop_t *fl = (fake_loop_t *)loop;
    fl->wakeups++;
    fl->wakeup_pending = 1;
}

/* One thread only in these tests: the lock just checks its balance. */
void ior__os_loop_lock(ior_loop_t *loop)
{
    ((fake_loop_t *)loop)->lock_depth++;
}

void ior__os_loop_unlock(ior_loop_t *loop)
{
    ((fake_loop_t *)loop)->lock_depth--;
}

int ior__os_stop_on_interrupt(ior_loop_t *loop)
{
    ((fake_loop_t *)loop)->interrupts++;
    return 0;
}

/*
 * No threads in the fake: the "helper thread" runs at once, and its post
 * reaches the loop on the next ior__core_loop_run_async, as a real one
 * would.
 */
int ior__os_thread_spawn(void (*fn)(void *arg), void *arg)
{
    fn(arg);
    return 0;
}

/* Numeric addresses only: enough to test the core's plumbing. */
int fake_resolve_calls;

int ior__os_resolve(const char *host, uint16_t port, int family,
                    ior_addr_t **addrs, size_t *n)
{
    ior_addr_t a;
    fake_resolve_calls++;
    *addrs = NULL;
    *n = 0;
    if (ior_addr_parse(&a, host, port) != 0 ||
        (family != 0 && a.family != family))
        return IOR_ENAME;
    *addrs = ior__malloc(sizeof a);
    if (*addrs == NULL)
        return IOR_ENOMEM;
    **addrs = a;
    *n = 1;
    return 0;
}

void fake_iterate(ior_loop_t *loop)
{
    ior__core_loop_update_time(loop);
    ior__loop_run_timers(loop);
    ior__loop_run_pending(loop);
}

/* ------------------------------------------------------------------ */
/* Transports                                                          */
/* ------------------------------------------------------------------ */

ior_transport_t *fake_transport_new(ior_loop_t *loop)
{
    fake_transport_t *ft;
    int i;
    for (i = 0; i < FAKE_MAX_RECS && recs[i].used; i++)
        ;
    if (i == FAKE_MAX_RECS)
        return NULL;
    ft = ior__calloc(1, sizeof(*ft));
    if (ft == NULL)
        return NULL;
    memset(&recs[i], 0, sizeof(recs[i]));
    recs[i].used = 1;
    recs[i].t = &ft->base;
    ft->rec = i;
    ior__core_transport_init(&ft->base, loop);
    return &ft->base;
}

ior_transport_t *fake_open(ior_loop_t *loop, const ior_protocol_ops_t *ops,
                           void *user)
{
    ior_transport_t *t = fake_transport_new(loop);
    if (t == NULL)
        return NULL;
    if (ops != NULL)
        ior_transport_set_protocol(t, ops, user);
    ior__transport_begin(t);
    return t;
}

void ior__os_start_reading(ior_transport_t *t)
{
    fake_rec_t *r = fake_rec(t);
    r->start_reading++;
    r->reading = 1;
    fake_log("start_reading");
    if (r->closes > 0)
        violation(r, "start_reading after ior__os_close");
}

void ior__os_stop_reading(ior_transport_t *t)
{
    fake_rec_t *r = fake_rec(t);
    r->stop_reading++;
    r->reading = 0;
    fake_log("stop_reading");
}

void ior__os_start_writing(ior_transport_t *t)
{
    fake_rec_t *r = fake_rec(t);
    r->start_writing++;
    fake_log("start_writing");
    if (r->closes > 0)
        violation(r, "start_writing after ior__os_close");
    /* The seam: nothing to send, but a close or half-close may wait. */
    if (t->q.bytes == 0 && t->q.inflight == 0 && !r->in_flight) {
        r->deferred_drains++;
        ior__core_defer_drain(t);
    }
}

void ior__os_shutdown_write(ior_transport_t *t)
{
    fake_rec_t *r = fake_rec(t);
    r->shutdown_write++;
    fake_log("shutdown_write");
    if (r->closes > 0)
        violation(r, "shutdown_write after ior__os_close");
    if (t->q.bytes != 0 || r->in_flight)
        violation(r, "shutdown_write with bytes still queued");
}

void ior__os_close(ior_transport_t *t, int abort)
{
    fake_rec_t *r = fake_rec(t);
    if (r->closes > 0)
        violation(r, "ior__os_close called twice");
    r->closes++;
    r->last_abort = abort;
    r->reading = 0;
    fake_log(abort ? "close_abort" : "close");
}

void ior__os_transport_free(ior_transport_t *t)
{
    fake_rec_t *r = fake_rec(t);
    r->frees++;
    fake_log("free");
    if (r->in_flight)
        violation(r, "transport freed with a send in flight");
    if (r->closes == 0)
        violation(r, "transport freed without ior__os_close");
    r->t = NULL;
    /* Freed at once, so ASan and valgrind see any later use. */
    ior__free(t);
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

static void sent_append(fake_rec_t *r, const void *p, size_t n)
{
    if (r->sent_len + n > r->sent_cap) {
        size_t cap = r->sent_cap ? r->sent_cap : 256;
        unsigned char *s;
        while (cap < r->sent_len + n)
            cap *= 2;
        s = realloc(r->sent, cap);
        if (s == NULL)
            abort(); /* the test harness itself is out of memory */
        r->sent = s;
        r->sent_cap = cap;
    }
    memcpy(r->sent + r->sent_len, p, n);
    r->sent_len += n;
}

size_t fake_send_begin(ior_transport_t *t)
{
    fake_rec_t *r = fake_rec(t);
    size_t i, total = 0;
    if (r->in_flight) {
        violation(r, "test bug: fake_send_begin with a send in flight");
        return 0;
    }
    if (r->files_native && ior__core_send_file_begin(t, &r->file_send)) {
        r->in_flight = 1;
        r->file_in_flight = 1;
        r->file_sends++;
        if (r->file_send.len > r->max_file_send)
            r->max_file_send = r->file_send.len;
        return r->file_send.len;
    }
    r->nbufs = ior__core_send_begin(t, r->bufs, FAKE_MAX_BUFS, (size_t)-1);
    if (r->nbufs == 0)
        return 0;
    r->in_flight = 1;
    for (i = 0; i < r->nbufs; i++)
        total += r->bufs[i].len;
    return total;
}

void fake_send_end(ior_transport_t *t, size_t n)
{
    fake_rec_t *r = fake_rec(t);
    size_t i, left = n, done = 0;
    if (r->file_in_flight) {
        int f = (int)(r->file_send.file - FAKE_FILE(0));
        unsigned char b;
        if (n > r->file_send.len)
            n = r->file_send.len;
        for (i = 0; i < n; i++) {
            b = fake_file_byte(f, r->file_send.offset + i);
            sent_append(r, &b, 1);
        }
        r->file_in_flight = 0;
        r->in_flight = 0;
        ior__core_send_end(t, n);
        return;
    }
    for (i = 0; i < r->nbufs && left > 0; i++) {
        size_t take = r->bufs[i].len < left ? r->bufs[i].len : left;
        sent_append(r, r->bufs[i].base, take);
        left -= take;
        done += take;
    }
    r->in_flight = 0;
    r->nbufs = 0;
    ior__core_send_end(t, done);
}

size_t fake_accept(ior_transport_t *t, size_t n)
{
    size_t offered = fake_send_begin(t);
    size_t k = offered < n ? offered : n;
    if (offered > 0)
        fake_send_end(t, k);
    ior__core_drained(t);
    return k;
}

/* No direct-write fast path unless a test sets rec->direct: every byte
 * goes through the queue, so the tests see the core's own bookkeeping.
 * With direct > 0 the "OS" takes up to that many bytes at once (and that
 * budget is used up), as an idle socket with room does. */
size_t ior__os_try_write(ior_transport_t *t, const ior_buf_t *bufs, size_t n)
{
    fake_rec_t *r = fake_rec(t);
    size_t i, took = 0;
    if (r->in_flight)
        violation(r, "try_write with a send in flight");
    for (i = 0; i < n && r->direct > 0; i++) {
        size_t k = bufs[i].len < r->direct ? bufs[i].len : r->direct;
        sent_append(r, bufs[i].base, k);
        r->direct -= k;
        took += k;
        if (k < bufs[i].len)
            break;
    }
    return took;
}
