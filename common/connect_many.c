/*
 * Connecting to several addresses, or to a name, as RFC 8305 "Happy
 * Eyeballs" does: the addresses alternate between the families (IPv6
 * first for a name), one attempt starts at a time, the next one
 * IOR_CONNECT_ATTEMPT_DELAY_MS later or as soon as the running ones have
 * all failed, the first success wins and the others are cancelled. One
 * overall timeout covers the resolution and every attempt; when all fail,
 * the last failure is reported. Built on ior_tcp_connect's requests, so
 * every backend behaves the same (Twisted's HostnameEndpoint; libuv has
 * nothing of the kind).
 */
#include "core.h"

#include <string.h>

typedef struct he he_t;

typedef struct he_attempt {
    he_t *he;
    ior__connect_t *c; /* while its callback has not run */
} he_attempt_t;

struct he {
    ior_loop_t *loop;
    ior_connect_cb cb;
    void *user;
    ior_connect_options_t opts; /* per attempt: bind only */
    ior_addr_t bind;
    ior_addr_t *addrs;
    he_attempt_t *att;
    size_t n;
    size_t next;    /* the next address to try */
    size_t running; /* attempts whose callback has not run */
    ior_timer_id stagger;
    ior_timer_id overall;
    uint64_t timeout_ms;
    int last_status;
    int last_os_error;
    unsigned char resolving;
    unsigned char finished; /* the user's callback has run */
    unsigned char busy;     /* inside finish: do not free */
};

static void he_free(he_t *he)
{
    ior__free(he->addrs);
    ior__free(he->att);
    ior__free(he);
}

static void maybe_free(he_t *he)
{
    if (he->finished && he->running == 0 && !he->busy && !he->resolving)
        he_free(he);
}

static void cancel_timer(he_t *he, ior_timer_id *id)
{
    if (*id != 0)
        (void)ior_timer_cancel(he->loop, *id);
    *id = 0;
}

/* Reports once; cancels the attempts still running first. */
static void finish(he_t *he, ior_transport_t *t, int status, int os_error)
{
    size_t i;

    he->finished = 1;
    he->busy = 1;
    cancel_timer(he, &he->stagger);
    cancel_timer(he, &he->overall);
    for (i = 0; i < he->next; i++)
        if (he->att[i].c != NULL)
            ior__tcp_connect_cancel(he->att[i].c); /* may call back now */
    he->cb(he->loop, he->user, t, status, os_error);
    he->busy = 0;
    maybe_free(he);
}

static void start_next(he_t *he);

static void stagger_fired(ior_loop_t *loop, void *user)
{
    he_t *he = user;
    (void)loop;
    he->stagger = 0;
    start_next(he);
}

static void attempt_done(ior_loop_t *loop, void *user, ior_transport_t *t,
                         int status, int os_error)
{
    he_attempt_t *a = user;
    he_t *he = a->he;
    (void)loop;

    a->c = NULL;
    he->running--;
    if (he->finished) {
        /* A loser that connected anyway: no protocol set, so it closes. */
        maybe_free(he);
        return;
    }
    if (status == 0) {
        finish(he, t, 0, 0);
        return;
    }
    he->last_status = status;
    he->last_os_error = os_error;
    if (status == IOR_ECANCELED) {
        finish(he, NULL, IOR_ECANCELED, 0); /* ior_loop_free */
        return;
    }
    /* A failure starts the next attempt at once, not after the delay. */
    cancel_timer(he, &he->stagger);
    start_next(he);
}

/*
 * Starts the next address that can be started; arms the delay before the
 * one after it. With nothing running and nothing left, the last failure
 * is the answer.
 */
static void start_next(he_t *he)
{
    while (he->next < he->n) {
        size_t i = he->next++;
        int r;

        he->att[i].he = he;
        r = ior__tcp_connect_start(he->loop, &he->addrs[i], &he->opts,
                                   attempt_done, &he->att[i], &he->att[i].c);
        if (r != 0) {
            he->last_status = r;
            he->last_os_error = 0;
            continue;
        }
        he->running++;
        if (he->next < he->n &&
            ior_call_later(he->loop, IOR_CONNECT_ATTEMPT_DELAY_MS,
                           stagger_fired, he, &he->stagger) != 0)
            he->stagger = 0; /* out of memory: the next waits for a failure */
        return;
    }
    if (he->running == 0)
        finish(he, NULL, he->last_status != 0 ? he->last_status : IOR_EIO,
               he->last_os_error);
}

static void overall_fired(ior_loop_t *loop, void *user)
{
    he_t *he = user;
    (void)loop;
    he->overall = 0;
    finish(he, NULL, IOR_ETIMEDOUT, 0);
}

/* The index of the next address of family fam from *pos on, or n. */
static size_t next_of(const ior_addr_t *addrs, size_t n, size_t *pos, int fam)
{
    while (*pos < n && addrs[*pos].family != fam)
        (*pos)++;
    return (*pos)++;
}

/*
 * Copies addrs with the families alternating, starting with `first`
 * (RFC 8305 section 4), each family in its own order; with a bind
 * address, only its family. Returns how many were kept.
 */
static size_t interleave(he_t *he, const ior_addr_t *addrs, size_t n,
                         int first)
{
    int second = first == IOR_AF_INET6 ? IOR_AF_INET : IOR_AF_INET6;
    int want = he->opts.bind != NULL ? he->bind.family : 0;
    size_t a = 0, b = 0;

    while (he->n < n) {
        size_t x = want == second ? n : next_of(addrs, n, &a, first);
        size_t y = want == first ? n : next_of(addrs, n, &b, second);
        if (x >= n && y >= n)
            break;
        if (x < n)
            he->addrs[he->n++] = addrs[x];
        if (y < n)
            he->addrs[he->n++] = addrs[y];
    }
    return he->n;
}

static he_t *he_new(ior_loop_t *loop, const ior_connect_options_t *opts,
                    ior_connect_cb cb, void *user)
{
    he_t *he = ior__calloc(1, sizeof(*he));

    if (he == NULL)
        return NULL;
    he->loop = loop;
    he->cb = cb;
    he->user = user;
    if (opts != NULL && opts->bind != NULL) {
        he->bind = *opts->bind;
        he->opts.bind = &he->bind;
    }
    he->timeout_ms = opts != NULL ? opts->timeout_ms : 0;
    return he;
}

/* Takes n addresses in; 0, or an error and nothing kept. */
static int he_set_addrs(he_t *he, const ior_addr_t *addrs, size_t n,
                        int first)
{
    he->addrs = ior__calloc(n, sizeof(*he->addrs));
    he->att = ior__calloc(n, sizeof(*he->att));
    if (he->addrs == NULL || he->att == NULL)
        return IOR_ENOMEM;
    if (interleave(he, addrs, n, first) == 0)
        return IOR_EAFNOSUPPORT; /* none of the bind address's family */
    return 0;
}

static int arm_overall(he_t *he)
{
    if (he->timeout_ms == 0)
        return 0;
    return ior_call_later(he->loop, he->timeout_ms, overall_fired, he,
                          &he->overall);
}

int ior_tcp_connect_addrs(ior_loop_t *loop, const ior_addr_t *addrs,
                          size_t n, const ior_connect_options_t *opts,
                          ior_connect_cb cb, void *user)
{
    he_t *he;
    size_t i;
    int r;

    if (loop == NULL || addrs == NULL || n == 0 || cb == NULL)
        return IOR_EINVAL;
    if (n > SIZE_MAX / sizeof(he_attempt_t))
        return IOR_ENOMEM;
    for (i = 0; i < n; i++)
        if (!ior__addr_family_ok(&addrs[i]))
            return IOR_EINVAL;
    he = he_new(loop, opts, cb, user);
    if (he == NULL)
        return IOR_ENOMEM;
    r = he_set_addrs(he, addrs, n, addrs[0].family);
    if (r == 0)
        r = arm_overall(he);
    if (r != 0) {
        he_free(he);
        return r;
    }
    /* The callback never runs inside this call: start the first by hand. */
    while (he->next < he->n && he->running == 0) {
        size_t k = he->next++;
        he->att[k].he = he;
        r = ior__tcp_connect_start(loop, &he->addrs[k], &he->opts,
                                   attempt_done, &he->att[k], &he->att[k].c);
        if (r == 0)
            he->running++;
    }
    if (he->running == 0) {
        cancel_timer(he, &he->overall);
        he_free(he);
        return r; /* no attempt could even start: ior_tcp_connect's code */
    }
    if (he->next < he->n &&
        ior_call_later(loop, IOR_CONNECT_ATTEMPT_DELAY_MS, stagger_fired, he,
                       &he->stagger) != 0)
        he->stagger = 0;
    return 0;
}

static void resolved(ior_loop_t *loop, void *user, int status,
                     const ior_addr_t *addrs, size_t n)
{
    he_t *he = user;
    size_t i;
    int first = IOR_AF_INET;
    int r;
    (void)loop;

    he->resolving = 0;
    if (he->finished) { /* the overall timeout came first */
        maybe_free(he);
        return;
    }
    if (status != 0) {
        finish(he, NULL, status, 0);
        return;
    }
    for (i = 0; i < n; i++)
        if (addrs[i].family == IOR_AF_INET6)
            first = IOR_AF_INET6; /* RFC 8305: IPv6 first */
    r = he_set_addrs(he, addrs, n, first);
    if (r != 0) {
        finish(he, NULL, r, 0);
        return;
    }
    start_next(he);
}

int ior_tcp_connect_name(ior_loop_t *loop, const char *host, uint16_t port,
                         const ior_connect_options_t *opts, ior_connect_cb cb,
                         void *user)
{
    he_t *he;
    int family = 0;
    int r;

    if (loop == NULL || host == NULL || cb == NULL)
        return IOR_EINVAL;
    if (opts != NULL && opts->bind != NULL) {
        if (!ior__addr_family_ok(opts->bind))
            return IOR_EINVAL;
        family = opts->bind->family; /* only addresses it can reach */
    }
    he = he_new(loop, opts, cb, user);
    if (he == NULL)
        return IOR_ENOMEM;
    r = arm_overall(he);
    if (r == 0) {
        he->resolving = 1;
        r = ior_resolve(loop, host, port, family, resolved, he);
    }
    if (r != 0) {
        cancel_timer(he, &he->overall);
        he_free(he);
        return r;
    }
    return 0;
}
