/*
 * The model's own fake backend: every ior__os_* function of the seam, for
 * an executable that links the core objects with this file instead of
 * fake_backend.c. It differs from fake_backend.c where the model needs it:
 * no fixed table of transports (a run opens thousands), sends of random
 * shape (max_bufs, max_len), a start_writing that sometimes sends at once
 * as the seam allows, every byte the OS takes checked against the model's
 * pattern as it leaves, and seam violations reported as model failures.
 */
#include "model.h"

#include <stdio.h>
#include <string.h>

static uint64_t fake_clock;

/* ------------------------------------------------------------------ */
/* Loop                                                                */
/* ------------------------------------------------------------------ */

uint64_t ior__os_now_ms(void)
{
    return fake_clock;
}

int ior__os_getenv(const char *name, char *buf, size_t len)
{
    (void)name;
    (void)buf;
    (void)len;
    return IOR_ENOENT;
}

int ior__os_loop_create(ior_loop_t **out, const char *backend,
                        unsigned max_events)
{
    ior_loop_t *loop = ior__calloc(1, sizeof *loop);
    (void)backend;
    if (loop == NULL)
        return IOR_ENOMEM;
    ior__core_loop_init(loop, "model", max_events);
    *out = loop;
    return 0;
}

void ior__os_loop_destroy(ior_loop_t *loop)
{
    ior__free(loop);
}

/*
 * Only ior_loop_free polls here: the sends a close cancelled complete now,
 * some with a few bytes written first, as an IOCP completion may report.
 */
void ior__os_loop_poll(ior_loop_t *loop, int timeout_ms)
{
    mtrans_t *m;
    (void)loop;
    if (timeout_ms > 0)
        fake_clock += (uint64_t)timeout_ms;
    for (m = W.all; m != NULL; m = m->next_all)
        if (m->t != NULL && m->inflight && m->os_closed)
            mfake_send_end(m, model_rand((uint32_t)m->inflight_bytes + 1));
}

size_t ior__os_loop_outstanding(const ior_loop_t *loop)
{
    size_t n = 0;
    mtrans_t *m;
    (void)loop;
    for (m = W.all; m != NULL; m = m->next_all)
        n += m->t != NULL && m->inflight;
    return n;
}

void ior__os_loop_wakeup(ior_loop_t *loop)
{
    (void)loop;
}

void ior__os_loop_lock(ior_loop_t *loop)
{
    (void)loop;
}

void ior__os_loop_unlock(ior_loop_t *loop)
{
    (void)loop;
}

int ior__os_stop_on_interrupt(ior_loop_t *loop)
{
    (void)loop;
    return IOR_ENOTSUP;
}

/* ------------------------------------------------------------------ */
/* Transports                                                          */
/* ------------------------------------------------------------------ */

mtrans_t *mfake_model(const ior_transport_t *t)
{
    return ((const mfake_t *)t)->m;
}

ior_transport_t *mfake_new_transport(mtrans_t *m)
{
    mfake_t *f = ior__calloc(1, sizeof *f);
    MCHECK(f != NULL, "out of memory creating a transport");
    f->m = m;
    ior__core_transport_init(&f->base, W.loop);
    return &f->base;
}

void ior__os_start_reading(ior_transport_t *t)
{
    mtrans_t *m = mfake_model(t);
    MCHECK(!m->os_closed, "seam: start_reading after ior__os_close");
    MCHECK(!m->reading_paused, "start_reading while the transport is paused");
    MCHECK(!m->disconnecting && !m->closing,
           "start_reading on a closing transport");
    MCHECK(!m->read_disconnected, "start_reading after EOF");
    m->reading = 1;
}

void ior__os_stop_reading(ior_transport_t *t)
{
    mfake_model(t)->reading = 0;
}

/*
 * The seam: with an empty queue just defer a drain; otherwise a backend
 * may send at once (then it must defer the drain) or wait for the loop.
 */
void ior__os_start_writing(ior_transport_t *t)
{
    mtrans_t *m = mfake_model(t);
    MCHECK(!m->os_closed, "seam: start_writing after ior__os_close");
    m->writing = 1;
    if (m->inflight)
        return;
    if (t->q.bytes == 0) {
        ior__core_defer_drain(t);
        return;
    }
    if (model_rand(3) == 0) {
        size_t n = mfake_send_begin(m, 1 + model_rand(4),
                                    1 + model_rand(3000));
        if (n > 0) {
            mfake_send_end(m, model_rand(2) ? n : model_rand((uint32_t)n + 1));
            ior__core_defer_drain(t);
        }
    }
}

void ior__os_shutdown_write(ior_transport_t *t)
{
    mtrans_t *m = mfake_model(t);
    MCHECK(!m->os_closed, "seam: shutdown_write after ior__os_close");
    MCHECK(!m->shut, "seam: shutdown_write twice");
    MCHECK(t->q.bytes == 0 && !m->inflight,
           "seam: shutdown_write with bytes still queued");
    MCHECK(m->sent == m->written,
           "half-close before every written byte was sent "
           "(sent %llu of %llu)",
           (unsigned long long)m->sent, (unsigned long long)m->written);
    m->shut = 1;
}

/*
 * The close ran (rule 9): the model's transport is disconnected from here
 * and its queue is thrown away. A graceful close must have sent
 * everything first.
 */
void ior__os_close(ior_transport_t *t, int abort)
{
    mtrans_t *m = mfake_model(t);
    MCHECK(!m->os_closed, "seam: ior__os_close twice");
    MCHECK(t->disconnected, "ior__os_close before the transport is "
                            "marked disconnected");
    model_sync(m);
    MCHECK(m->closing, "transport closed without a reason to close");
    MCHECK(abort == m->aborted, "ior__os_close(abort=%d) but abort %s called",
           abort, m->aborted ? "was" : "was not");
    if (m->reason == IOR_EDONE) {
        MCHECK(m->sent == m->written,
               "graceful close lost bytes: sent %llu of %llu",
               (unsigned long long)m->sent, (unsigned long long)m->written);
    }
    m->os_closed = 1;
    m->os_abort = abort;
    m->reading = 0;
    m->disconnected = 1;
    m->discarded = 1;
}

void ior__os_transport_free(ior_transport_t *t)
{
    mtrans_t *m = mfake_model(t);
    MCHECK(m->os_closed, "seam: transport freed without ior__os_close");
    MCHECK(!m->inflight, "seam: transport freed with a send in flight");
    MCHECK(m->lost, "transport freed without connection_lost");
    m->t = NULL;
    ior__free(t);
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

size_t mfake_send_begin(mtrans_t *m, size_t max_bufs, size_t max_len)
{
    size_t i, total = 0, n;
    if (m->inflight)
        return 0;
    if (max_bufs > 16)
        max_bufs = 16;
    n = ior__core_send_begin(m->t, m->bufs, max_bufs, max_len);
    MCHECK(n <= max_bufs, "send_begin filled %zu of %zu buffers", n,
           max_bufs);
    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        MCHECK(m->bufs[i].len > 0 && m->bufs[i].len <= max_len,
               "send_begin buffer %zu has %zu bytes (max %zu)", i,
               m->bufs[i].len, max_len);
        total += m->bufs[i].len;
    }
    MCHECK(total <= model_buffered(m), "send_begin offers %zu bytes, only "
           "%llu queued", total, (unsigned long long)model_buffered(m));
    m->nbufs = n;
    m->inflight = 1;
    m->inflight_bytes = total;
    return total;
}

/* The bytes the OS took must be the next ones of the write stream. */
void mfake_send_end(mtrans_t *m, size_t n)
{
    size_t i, j, left = n;
    MCHECK(m->inflight, "test bug: send_end without a send");
    MCHECK(n <= m->inflight_bytes, "test bug: send_end beyond the send");
    for (i = 0; i < m->nbufs && left > 0; i++) {
        const unsigned char *p = m->bufs[i].base;
        size_t take = m->bufs[i].len < left ? m->bufs[i].len : left;
        for (j = 0; j < take; j++) {
            MCHECK(p[j] == model_wpat(m, m->sent),
                   "byte %llu sent is 0x%02x, written 0x%02x",
                   (unsigned long long)m->sent, p[j],
                   model_wpat(m, m->sent));
            m->sent++;
        }
        left -= take;
    }
    m->inflight = 0;
    m->nbufs = 0;
    m->inflight_bytes = 0;
    ior__core_send_end(m->t, n);
}

/* ------------------------------------------------------------------ */
/* The rest of the seam: not exercised by the model                    */
/* ------------------------------------------------------------------ */

int ior__os_thread_spawn(void (*fn)(void *arg), void *arg)
{
    (void)fn;
    (void)arg;
    return IOR_ENOTSUP;
}

int ior__os_resolve(const char *host, uint16_t port, int family,
                    ior_addr_t **addrs, size_t *n)
{
    (void)host;
    (void)port;
    (void)family;
    *addrs = NULL;
    *n = 0;
    return IOR_ENOTSUP;
}

/* No direct-write fast path here: every byte goes through the queue, so
 * the tests see the core's own bookkeeping. */
size_t ior__os_try_write(ior_transport_t *t, const ior_buf_t *bufs, size_t n)
{
    (void)t;
    (void)bufs;
    (void)n;
    return 0;
}
