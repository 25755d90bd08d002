/*
 * The reference model of DESIGN.md's consumer core, and the callbacks the
 * core makes into it. Each callback first checks that the rules allow it
 * now (who may be called back, from where, in which state), then the
 * model adopts its effect, compares every visible flag and the buffered
 * count with the core, and finally may act at random on its transport, as
 * rule 12 allows any callback to.
 *
 * The model learns of work the core deferred to the loop (a drain that
 * closed the transport, an EOF held while paused) at the next point where
 * it looks (model_sync) and accepts it only if a rule asks for it in that
 * state; MOP_SETTLE then checks that what the rules ask for did happen.
 */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


mworld_t W;

void model_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    model_result_t *r = W.res;
    r->failed = 1;
    r->file = file;
    r->line = line;
    r->op_index = W.op_index;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    longjmp(W.jb, 1);
}

/* splitmix64: small, and every seed gives a good stream. */
uint32_t model_rand(uint32_t bound)
{
    uint64_t z;
    if (bound == 0)
        return 0;
    z = (W.rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (uint32_t)((z >> 32) % bound);
}

/* Bytes that differ with position and transport, so a lost, repeated or
 * reordered byte shows. */
static unsigned char pat(uint32_t salt, uint64_t i)
{
    uint32_t x = (uint32_t)i * 0x9E3779B1u ^ (uint32_t)(i >> 13) * 0x85EBCA6Bu;
    x ^= salt * 0xC2B2AE35u;
    x ^= x >> 15;
    return (unsigned char)(x >> 7);
}

unsigned char model_wpat(const mtrans_t *m, uint64_t i)
{
    return pat(m->serial * 2u, i);
}

unsigned char model_rpat(const mtrans_t *m, uint64_t i)
{
    return pat(m->serial * 2u + 1u, i);
}

uint64_t model_buffered(const mtrans_t *m)
{
    if (m->discarded)
        return m->inflight ? m->inflight_bytes : 0;
    return m->written - m->sent;
}

/* ------------------------------------------------------------------ */
/* The rules                                                           */
/* ------------------------------------------------------------------ */

static int gone(const mtrans_t *m)
{
    return m->closing || m->disconnected;
}

/* Rule 3: a pull producer, or a paused streaming one, wants resuming. */
static int needs_resume(const mtrans_t *m)
{
    return m->prod != NULL && (!m->prod->streaming || m->prod_paused);
}

static void decide_close(mtrans_t *m, int reason, int os_error)
{
    if (gone(m))
        return;
    m->closing = 1;
    m->reason = reason;
    m->os_error = os_error;
}

/* Held read data and a held EOF are dropped by a close (rules 6, 8, 11). */
static void drop_held(mtrans_t *m)
{
    m->rx_fed = m->rx_delivered;
    if (m->eof_fed && !m->read_disconnected)
        m->eof_dropped = 1;
}

/* Rule 6, model side; returns what lose_connection must return. */
static int model_lose(mtrans_t *m)
{
    if (gone(m))
        return IOR_ENOTCONN;
    if (m->disconnecting)
        return 0;
    if (m->write_disconnected) {
        decide_close(m, IOR_EDONE, 0);
        return 0;
    }
    m->disconnecting = 1;
    drop_held(m);
    return 0;
}

/* A close with reason "done" the core may decide on its own (rule 3,
 * or both directions finished). */
static int edone_legal(const mtrans_t *m)
{
    if (m->write_disconnected && m->read_disconnected)
        return 1;
    return m->disconnecting && model_buffered(m) == 0 &&
           m->sent == m->written && !m->inflight && !needs_resume(m);
}

int model_drain_expect(const mtrans_t *m)
{
    if (gone(m) || m->inflight)
        return DRAIN_NONE;
    if (model_buffered(m) <= m->low_water && needs_resume(m))
        return DRAIN_RESUME;
    if (model_buffered(m) != 0)
        return DRAIN_NONE;
    if (m->disconnecting)
        return DRAIN_CLOSE;
    if (m->write_disconnecting && !m->write_disconnected)
        return DRAIN_HALF;
    return DRAIN_NONE;
}

/* EOF may reach the protocol only after every byte before it. */
static void check_eof_deliverable(const mtrans_t *m)
{
    MCHECK(m->eof_fed && !m->eof_dropped, "EOF delivered that never "
                                          "arrived or was dropped");
    MCHECK(!m->reading_paused, "EOF delivered while paused");
    MCHECK(m->rx_delivered == m->rx_fed,
           "EOF delivered before %llu held bytes",
           (unsigned long long)(m->rx_fed - m->rx_delivered));
    MCHECK(!m->disconnecting && !gone(m), "EOF delivered while closing");
}

static unsigned model_state(const mtrans_t *m)
{
    unsigned s = 0;
    s |= !m->disconnected ? IOR_TS_CONNECTED : 0;
    s |= m->disconnecting ? IOR_TS_DISCONNECTING : 0;
    s |= m->disconnected ? IOR_TS_DISCONNECTED : 0;
    s |= m->write_disconnecting ? IOR_TS_WRITE_DISCONNECTING : 0;
    s |= m->write_disconnected ? IOR_TS_WRITE_DISCONNECTED : 0;
    s |= m->read_disconnected ? IOR_TS_READ_DISCONNECTED : 0;
    s |= m->prod != NULL ? IOR_TS_PRODUCER : 0;
    s |= m->prod_paused ? IOR_TS_PRODUCER_PAUSED : 0;
    s |= m->prod != NULL && m->prod->streaming ? IOR_TS_STREAMING : 0;
    s |= m->reading_paused ? IOR_TS_READING_PAUSED : 0;
    return s;
}

/* Deferred transitions the core made since the model last looked. */
static void adopt_hidden(mtrans_t *m)
{
    ior_transport_t *t = m->t;
    if (t == NULL)
        return;
    /* A held EOF delivered from the loop to a protocol without
     * read_connection_lost: it acts as lose_connection (rule 11). An
     * aware protocol's EOF is adopted by read_connection_lost itself (and
     * a missing call shows as a flag mismatch). */
    if (t->read_disconnected && !m->read_disconnected && !m->aware) {
        check_eof_deliverable(m);
        m->read_disconnected = 1;
        (void)model_lose(m);
    }
    if (t->closing && !m->closing) {
        MCHECK(!m->disconnected, "closing after the close");
        MCHECK(edone_legal(m),
               "the core closed on its own, but no rule asks for it "
               "(disconnecting=%d buffered=%llu producer=%s paused=%d "
               "write_disconnected=%d read_disconnected=%d)",
               m->disconnecting, (unsigned long long)model_buffered(m),
               m->prod == NULL ? "none" : m->prod->streaming ? "push" : "pull",
               m->prod_paused, m->write_disconnected, m->read_disconnected);
        m->closing = 1;
        m->reason = IOR_EDONE;
        m->os_error = 0;
        m->n_hidden_close++;
    }
    if (t->disconnected && !m->disconnected) {
        MCHECK(m->closing, "disconnected without a close decided");
        m->disconnected = 1;
    }
}

static const char *flag_names(unsigned s, char *buf, size_t len)
{
    static const char *names[] = {"CONN", "DISCONNECTING", "DISCONNECTED",
                                  "WDISCONNECTING", "WDISCONNECTED",
                                  "RDISCONNECTED", "PRODUCER", "PAUSED",
                                  "STREAMING", "READING_PAUSED"};
    size_t i, off = 0;
    buf[0] = '\0';
    for (i = 0; i < sizeof names / sizeof names[0] && off < len; i++)
        if (s & (1u << i))
            off += (size_t)snprintf(buf + off, len - off, "%s%s",
                                    off ? "|" : "", names[i]);
    return buf;
}

void model_sync(mtrans_t *m)
{
    ior_transport_t *t = m->t;
    unsigned exp, got;
    char a[160], b[160];
    if (t == NULL)
        return;
    adopt_hidden(m);
    exp = model_state(m);
    got = ior_transport_state(t);
    if ((W.tolerate & MODEL_TOL_STALE_STREAMING) &&
        !(got & IOR_TS_PRODUCER))
        got &= ~(unsigned)IOR_TS_STREAMING;
    MCHECK(exp == got, "state flags: core %s, model %s",
           flag_names(got, a, sizeof a), flag_names(exp, b, sizeof b));
    MCHECK(ior_transport_buffered(t) == model_buffered(m),
           "buffered: core %zu, model %llu", ior_transport_buffered(t),
           (unsigned long long)model_buffered(m));
}

void model_sync_all(void)
{
    mtrans_t *m;
    for (m = W.all; m != NULL; m = m->next_all)
        model_sync(m);
}

int model_gone(const mtrans_t *m)
{
    return gone(m);
}

int model_rule_lose(mtrans_t *m)
{
    return model_lose(m);
}

void model_rule_error(mtrans_t *m, int err, int os_error)
{
    if (gone(m))
        return;
    drop_held(m);
    decide_close(m, err, os_error);
}

void model_rule_abort(mtrans_t *m)
{
    if (m->disconnected || m->aborted)
        return;
    m->aborted = 1;
    if (!m->closing) {
        drop_held(m);
        decide_close(m, IOR_EABORTED, 0);
    }
}

/* ------------------------------------------------------------------ */
/* The protocol                                                        */
/* ------------------------------------------------------------------ */

static mtrans_t *token_model(ior_transport_t *t, void *user)
{
    mtoken_t *k = user;
    MCHECK(k != NULL && k->magic == TOKEN_MAGIC,
           "callback with a stale protocol pointer (after connection_lost?)");
    MCHECK(k->m->t == t && !k->m->lost, "callback after connection_lost");
    adopt_hidden(k->m);
    return k->m;
}

static void p_data(ior_transport_t *t, void *user, const void *data,
                   size_t len)
{
    mtrans_t *m = token_model(t, user);
    const unsigned char *p = data;
    size_t i;
    MCHECK(W.depth == 0, "data_received inside an API call");
    MCHECK(len > 0, "data_received with zero bytes");
    MCHECK(!m->reading_paused, "data_received while paused");
    MCHECK(!m->disconnecting && !gone(m), "data_received while closing");
    MCHECK(!m->read_disconnected, "data_received after EOF");
    MCHECK(m->rx_delivered + len <= m->rx_fed,
           "data_received of %zu bytes, only %llu arrived", len,
           (unsigned long long)(m->rx_fed - m->rx_delivered));
    for (i = 0; i < len; i++)
        MCHECK(p[i] == model_rpat(m, m->rx_delivered + i),
               "received byte %llu wrong",
               (unsigned long long)(m->rx_delivered + i));
    m->rx_delivered += len;
    model_sync(m);
    model_random_act(m, 0);
}

static void p_read_lost(ior_transport_t *t, void *user)
{
    mtrans_t *m = token_model(t, user);
    MCHECK(W.depth == 0, "read_connection_lost inside an API call");
    MCHECK(m->aware, "read_connection_lost to a plain protocol");
    check_eof_deliverable(m);
    MCHECK(!m->read_disconnected, "read_connection_lost twice");
    m->read_disconnected = 1;
    m->n_rcl++;
    model_sync(m);
    model_random_act(m, 0);
}

static void p_write_lost(ior_transport_t *t, void *user)
{
    mtrans_t *m = token_model(t, user);
    MCHECK(W.depth == 0, "write_connection_lost inside an API call");
    MCHECK(m->write_disconnecting && !m->write_disconnected,
           "write_connection_lost without lose_write_connection");
    MCHECK(!m->disconnecting && !gone(m),
           "write_connection_lost while closing");
    MCHECK(model_buffered(m) == 0 && m->sent == m->written && !m->inflight,
           "write_connection_lost with bytes unsent");
    MCHECK(!needs_resume(m), "half-close with a producer to resume");
    MCHECK(m->shut, "write_connection_lost before shutdown_write");
    m->write_disconnected = 1;
    m->n_wcl++;
    model_sync(m);
    model_random_act(m, 0);
}

static void p_lost(ior_transport_t *t, void *user, int reason)
{
    mtrans_t *m = token_model(t, user);
    MCHECK(W.depth == 0, "connection_lost inside an API call");
    MCHECK(m->closing && m->disconnected && m->os_closed,
           "connection_lost before the close ran");
    MCHECK(reason == m->reason, "connection_lost(%s), expected %s",
           ior_err_name(reason), ior_err_name(m->reason));
    if (m->os_error != 0)
        MCHECK(ior_transport_os_error(t) == m->os_error,
               "os_error %d, expected %d", ior_transport_os_error(t),
               m->os_error);
    MCHECK(m->refs_out == 0, "connection_lost with %zu write_ref buffers "
                             "not released", m->refs_out);
    MCHECK(!m->inflight, "connection_lost with a send in flight");
    MCHECK(m->prod == NULL, "connection_lost with a producer not stopped");
    model_sync(m);
    m->lost = 1;
    m->token->magic = 0;
    model_tfree(m->token);
    m->token = NULL;
    if (W.slots[m->slot] == m)
        W.slots[m->slot] = NULL;
}

const ior_protocol_ops_t model_proto_aware = {p_data, p_read_lost,
                                              p_write_lost, p_lost};
const ior_protocol_ops_t model_proto_plain = {p_data, NULL, p_write_lost,
                                              p_lost};

/* ------------------------------------------------------------------ */
/* The producer                                                        */
/* ------------------------------------------------------------------ */

static mprod_t *prod_check(void *user, const char *what)
{
    mprod_t *p = user;
    MCHECK(p != NULL && p->magic == PROD_MAGIC,
           "%s to a freed producer", what);
    MCHECK(!p->stopped, "%s after stop_producing", what);
    adopt_hidden(p->m);
    return p;
}

static int top_is(enum mapi kind, const mtrans_t *m)
{
    return W.depth > 0 && W.api[W.depth - 1] == kind &&
           W.api_m[W.depth - 1] == m;
}

static void pr_pause(void *user)
{
    mprod_t *p = prod_check(user, "pause_producing");
    mtrans_t *m = p->m;
    MCHECK(p->registered && m->prod == p,
           "pause_producing to a producer not registered");
    MCHECK(p->streaming, "pause_producing to a pull producer");
    MCHECK(!m->prod_paused, "pause_producing twice");
    MCHECK(top_is(MAPI_WRITE, m), "pause_producing outside a write");
    MCHECK(model_buffered(m) > m->buffer_size,
           "pause_producing at %llu bytes, high-water mark %zu",
           (unsigned long long)model_buffered(m), m->buffer_size);
    m->prod_paused = 1;
    m->n_pause++;
    model_sync(m);
    model_random_act(m, 0);
}

static void pr_resume(void *user)
{
    mprod_t *p = prod_check(user, "resume_producing");
    mtrans_t *m = p->m;
    MCHECK(p->registered && m->prod == p,
           "resume_producing to a producer not registered");
    if (W.depth > 0) {
        MCHECK(top_is(MAPI_REGISTER, m) && W.registering == p &&
                   W.expect_resume_at_register,
               "resume_producing inside an API call");
        W.expect_resume_at_register = 0;
    } else {
        MCHECK(!gone(m), "resume_producing after the close was decided");
        MCHECK(!p->streaming || m->prod_paused,
               "resume_producing to a streaming producer not paused");
        MCHECK(model_buffered(m) <= m->low_water,
               "resume_producing at %llu bytes, low-water mark %zu",
               (unsigned long long)model_buffered(m), m->low_water);
        MCHECK(!m->inflight, "resume_producing with a send in flight");
        m->n_resume++;
    }
    m->prod_paused = 0;
    model_sync(m);
    model_random_act(m, !p->streaming);
}

/* Producers are freed once stopped or unregistered, except while the
 * register call that introduced them is still on the stack. */
void model_prod_release(mprod_t *p)
{
    if (p->busy > 0) {
        p->doomed = 1;
        return;
    }
    p->magic = 0;
    model_tfree(p);
}

static void pr_stop(void *user)
{
    mprod_t *p = prod_check(user, "stop_producing");
    mtrans_t *m = p->m;
    p->stopped = 1;
    if (W.depth == 0 && !m->t->disconnected && m->t->read_disconnected &&
        !m->aware) {
        /* EOF to a protocol without read_connection_lost (rule 11): the
         * producer is stopped and forgotten before the lose_connection,
         * so the core is between the two: nothing to compare yet. */
        MCHECK(p->registered && (m->prod == p || m->prod == NULL),
               "stop_producing at EOF to a producer not registered");
        MCHECK(m->t->producer == NULL,
               "stop_producing at EOF before the producer is forgotten");
        m->prod = NULL;
        m->prod_paused = 0;
        p->registered = 0;
        model_prod_release(p);
        return;
    }
    if (W.depth > 0 && W.registering == p) {
        MCHECK(top_is(MAPI_REGISTER, m) && W.expect_stop_at_register,
               "stop_producing at register of a live transport");
        W.expect_stop_at_register = 0;
    } else {
        MCHECK(W.depth == 0, "stop_producing inside an API call");
        MCHECK(p->registered && m->prod == p,
               "stop_producing to a producer not registered");
        MCHECK(m->t->disconnected && m->closing,
               "stop_producing before the close");
        m->prod = NULL;
        m->prod_paused = 0;
        p->registered = 0;
    }
    model_sync(m);
    model_random_act(m, 0);
    model_prod_release(p);
}

const ior_producer_ops_t model_prod_ops = {pr_pause, pr_resume, pr_stop};

/* ------------------------------------------------------------------ */
/* write_ref buffers                                                   */
/* ------------------------------------------------------------------ */

void model_release_cb(void *ctx, const void *base, size_t len)
{
    mref_t *r = ctx, **pp;
    mtrans_t *m;
    MCHECK(r != NULL && r->magic == REF_MAGIC,
           "release callback twice or with a bad context");
    m = r->m;
    MCHECK(base == r->buf && len == r->len, "release with the wrong buffer");
    MCHECK(W.depth == 0, "release callback inside an API call");
    MCHECK(!m->lost, "release callback after connection_lost");
    MCHECK(m->discarded || r->start + r->len <= m->sent,
           "released before its bytes were sent");
    for (pp = &m->refs; *pp != r; pp = &(*pp)->next)
        MCHECK(*pp != NULL, "release of an unknown buffer");
    *pp = r->next;
    m->refs_out--;
    r->magic = 0;
    memset(r->buf, 0xEE, r->len); /* a late reader sees garbage */
    model_tfree(r->buf);
    model_tfree(r);
    if (m->t == NULL)
        return;
    adopt_hidden(m);
    model_sync(m);
    model_random_act(m, 0);
    if (W.draining == m)
        W.drain_expect = model_drain_expect(m);
}

