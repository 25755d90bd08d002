/*
 * The model's actions: each calls one transport function of the core
 * (write, register, lose, ...) and predicts, from DESIGN.md's rules, its
 * return code and its synchronous effects (rule 1's pause inside a write,
 * rule 4's resume or stop inside register); callbacks use the same
 * actions for their random re-entrant behaviour (rule 12).
 */
#include "model.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Actions: each calls the core and predicts its effect                */
/* ------------------------------------------------------------------ */

static void api_push(enum mapi kind, mtrans_t *m)
{
    MCHECK(W.depth < 16, "test bug: API calls nested too deep");
    W.api[W.depth] = kind;
    W.api_m[W.depth] = m;
    W.depth++;
}

static void api_pop(void)
{
    W.depth--;
}

static int write_rc(const mtrans_t *m, size_t len)
{
    if (model_gone(m))
        return IOR_ENOTCONN;
    if (m->write_disconnecting || m->write_disconnected)
        return IOR_ESHUTDOWN;
    if (m->max_buffer != 0 && model_buffered(m) + len > m->max_buffer)
        return IOR_ENOBUFS;
    return 0;
}

static unsigned char *pattern_buf(const mtrans_t *m, size_t len)
{
    unsigned char *b = model_talloc(len ? len : 1);
    size_t i;
    for (i = 0; i < len; i++)
        b[i] = model_wpat(m, m->written + i);
    return b;
}

static int do_write(mtrans_t *m, int how, unsigned char *b, size_t len,
                    mref_t *ref)
{
    ior_buf_t iov[5];
    size_t n = 0, off = 0;
    if (how == 0)
        return ior_transport_write(m->t, b, len);
    if (how == 1)
        return ior_transport_write_ref(m->t, b, len, model_release_cb, ref);
    /* Up to four pieces, some empty (NULL base allowed when empty). */
    while (n < 4 && off < len) {
        size_t piece = n == 3 ? len - off : model_rand((uint32_t)(len - off) + 1);
        iov[n].base = piece == 0 && model_rand(2) ? NULL : b + off;
        iov[n].len = piece;
        off += piece;
        n++;
    }
    if (off < len) {
        iov[n].base = b + off;
        iov[n].len = len - off;
        n++;
    }
    return ior_transport_write_sequence(m->t, iov, n);
}

/* how: 0 write, 1 write_ref, 2 write_sequence (rules 1, 2). */
void mact_write(mtrans_t *m, int how, size_t len)
{
    unsigned char *b;
    mref_t *ref = NULL;
    mprod_t *prod_before;
    unsigned pauses;
    int exp, rc;

    model_sync(m);
    exp = write_rc(m, len);
    b = pattern_buf(m, len);
    if (how == 1) {
        ref = model_talloc(sizeof *ref);
        ref->magic = REF_MAGIC;
        ref->m = m;
        ref->buf = b;
        ref->len = len;
        ref->start = m->written;
    }
    prod_before = m->prod;
    pauses = m->n_pause;
    if (exp == 0 && len > 0) {
        m->written += len;
        if (ref != NULL) {
            ref->next = m->refs;
            m->refs = ref;
            m->refs_out++;
        }
    }
    api_push(MAPI_WRITE, m);
    rc = do_write(m, how, b, len, ref);
    api_pop();
    if (rc == IOR_ENOMEM && exp == 0 && len > 0 && W.oom_hit) {
        /* Out of memory: refused, and nothing of it queued. */
        MCHECK(m->n_pause == pauses, "paused by a failed write");
        m->written -= len;
        if (ref != NULL) {
            m->refs = ref->next;
            m->refs_out--;
        }
        exp = rc;
    }
    MCHECK(rc == exp, "%s(%zu) returned %s, expected %s",
           how == 0 ? "write" : how == 1 ? "write_ref" : "write_sequence",
           len, ior_err_name(rc), exp ? ior_err_name(exp) : "0");
    if (ref == NULL || exp != 0 || len == 0) {
        /* Copied, refused or empty: the caller owns the bytes again. */
        memset(b, 0xDD, len);
        model_tfree(b);
        model_tfree(ref);
    }
    if (exp == 0 && len > 0) {
        MCHECK(m->n_pause - pauses <= 1, "paused more than once");
        if (m->n_pause == pauses)
            MCHECK(!(m->prod != NULL && m->prod == prod_before &&
                     m->prod->streaming && !m->prod_paused &&
                     model_buffered(m) > m->buffer_size),
                   "streaming producer not paused at %llu bytes "
                   "(high-water mark %zu)",
                   (unsigned long long)model_buffered(m), m->buffer_size);
    }
    model_sync(m);
}

/* Rule 4. */
void mact_register(mtrans_t *m, int streaming)
{
    mprod_t *p, *save_reg = W.registering;
    int save_resume = W.expect_resume_at_register;
    int save_stop = W.expect_stop_at_register;
    int exp = 0, rc;

    model_sync(m);
    p = model_talloc(sizeof *p);
    p->magic = PROD_MAGIC;
    p->m = m;
    p->streaming = streaming;
    p->busy = 1;
    W.expect_resume_at_register = 0;
    W.expect_stop_at_register = 0;
    if (m->prod != NULL) {
        exp = IOR_EBUSY;
    } else if (model_gone(m)) {
        W.expect_stop_at_register = 1;
    } else {
        m->prod = p;
        m->prod_paused = 0;
        p->registered = 1;
        W.expect_resume_at_register = !streaming;
    }
    W.registering = p;
    api_push(MAPI_REGISTER, m);
    rc = ior_transport_register_producer(m->t, &model_prod_ops, p, streaming);
    api_pop();
    MCHECK(rc == exp, "register_producer returned %s, expected %s",
           ior_err_name(rc), exp ? ior_err_name(exp) : "0");
    MCHECK(!W.expect_resume_at_register, "pull producer not resumed at "
                                         "register");
    MCHECK(!W.expect_stop_at_register, "producer not stopped at register "
                                       "on a closed transport");
    W.registering = save_reg;
    W.expect_resume_at_register = save_resume;
    W.expect_stop_at_register = save_stop;
    p->busy = 0;
    if (exp != 0 || p->doomed)
        model_prod_release(p);
    model_sync(m);
}

/* Rule 5, model side: forget the producer; the user frees it. */
static mprod_t *model_unregister(mtrans_t *m)
{
    mprod_t *p = m->prod;
    if (p != NULL) {
        m->prod = NULL;
        m->prod_paused = 0;
        p->registered = 0;
    }
    return p;
}

void mact_unregister(mtrans_t *m)
{
    mprod_t *p;
    int exp, rc;
    model_sync(m);
    exp = m->prod != NULL ? 0 : IOR_ENOENT;
    p = model_unregister(m);
    api_push(MAPI_OTHER, m);
    rc = ior_transport_unregister_producer(m->t);
    api_pop();
    MCHECK(rc == exp, "unregister_producer returned %s, expected %s",
           ior_err_name(rc), exp ? ior_err_name(exp) : "0");
    if (p != NULL)
        model_prod_release(p);
    model_sync(m);
}

/* PAUSE .. ABORT of enum model_op_kind (rules 6, 7, 8, 10). */
void mact_simple(mtrans_t *m, unsigned kind)
{
    mprod_t *p = NULL;
    uint64_t delivered = m->rx_delivered;
    int exp = 0, rc = 0;

    model_sync(m);
    switch (kind) {
    case MOP_PAUSE:
        exp = model_gone(m) ? IOR_ENOTCONN : 0;
        if (!model_gone(m))
            m->reading_paused = 1;
        break;
    case MOP_RESUME:
        exp = model_gone(m) ? IOR_ENOTCONN : 0;
        if (!model_gone(m) && !m->disconnecting)
            m->reading_paused = 0;
        break;
    case MOP_STOP_CONSUMING:
        /* unregister_producer, then lose_connection */
        p = model_unregister(m);
        exp = model_rule_lose(m);
        break;
    case MOP_STOP_PROD:
    case MOP_LOSE:
        exp = model_rule_lose(m);
        break;
    case MOP_LOSE_WRITE:
        exp = model_gone(m) ? IOR_ENOTCONN : 0;
        if (!model_gone(m) && !m->write_disconnecting && !m->write_disconnected &&
            !m->disconnecting)
            m->write_disconnecting = 1;
        break;
    case MOP_ABORT:
        model_rule_abort(m);
        break;
    default:
        MCHECK(0, "test bug: mact_simple(%u)", kind);
    }
    api_push(MAPI_OTHER, m);
    switch (kind) {
    case MOP_PAUSE: rc = ior_transport_pause_producing(m->t); break;
    case MOP_RESUME: rc = ior_transport_resume_producing(m->t); break;
    case MOP_STOP_PROD: rc = ior_transport_stop_producing(m->t); break;
    case MOP_STOP_CONSUMING: rc = ior_transport_stop_consuming(m->t); break;
    case MOP_LOSE: rc = ior_transport_lose_connection(m->t); break;
    case MOP_LOSE_WRITE: rc = ior_transport_lose_write_connection(m->t); break;
    default: rc = ior_transport_abort_connection(m->t); break;
    }
    api_pop();
    MCHECK(rc == exp, "%s returned %s, expected %s", model_op_name(kind),
           ior_err_name(rc), exp ? ior_err_name(exp) : "0");
    MCHECK(m->rx_delivered == delivered, "data delivered inside %s",
           model_op_name(kind));
    if (p != NULL)
        model_prod_release(p);
    model_sync(m);
}

static size_t mark_value(unsigned cls, size_t bs)
{
    static const size_t v[] = {0, 1, 16, 100, 4096, 65536, 3, 200000};
    if (cls < 8)
        return v[cls];
    return cls == 8 ? bs : cls == 9 ? bs / 2 : bs * 4 + 1;
}

/* set_buffer_size / set_low_water / set_max_buffer and their ERANGE. */
void mact_marks(mtrans_t *m, unsigned arg)
{
    size_t v = mark_value((arg >> 2) % 11, m->buffer_size);
    int exp = 0, rc;
    model_sync(m);
    switch (arg % 3) {
    case 0:
        if (v < m->low_water || (m->max_buffer != 0 && v > m->max_buffer))
            exp = IOR_ERANGE;
        rc = ior_transport_set_buffer_size(m->t, v);
        if (exp == 0)
            m->buffer_size = v;
        break;
    case 1:
        if (v > m->buffer_size)
            exp = IOR_ERANGE;
        rc = ior_transport_set_low_water(m->t, v);
        if (exp == 0)
            m->low_water = v;
        break;
    default:
        if (v != 0 && v < m->buffer_size)
            exp = IOR_ERANGE;
        rc = ior_transport_set_max_buffer(m->t, v);
        if (exp == 0)
            m->max_buffer = v;
        break;
    }
    MCHECK(rc == exp, "set mark %u to %zu returned %s, expected %s", arg % 3,
           v, ior_err_name(rc), exp ? ior_err_name(exp) : "0");
    model_sync(m);
}

size_t model_len_from_arg(unsigned arg)
{
    switch (arg >> 14) {
    case 0: return arg & 63;
    case 1: return arg & 1023;
    case 2: return arg & 8191;
    default: return (size_t)(arg & 0x3fff) * 8;
    }
}

/*
 * Rule 12: a callback may call anything on its transport. A pull
 * producer's resume mostly writes (that is its job); other callbacks act
 * now and then. Nesting is capped so a run stays bounded.
 */
void model_random_act(mtrans_t *m, int pull_resume)
{
    unsigned k, n, i;
    if (W.quiet || m->t == NULL || m->lost || W.act_depth >= 3)
        return;
    if (pull_resume && model_rand(2) == 0) {
        W.act_depth++;
        mact_write(m, (int)model_rand(3), 1 + model_rand(300));
        W.act_depth--;
    }
    if (model_rand(4) != 0)
        return;
    W.act_depth++;
    n = 1 + model_rand(2);
    for (i = 0; i < n && m->t != NULL; i++) {
        k = model_rand(20);
        if (k < 6)
            mact_write(m, (int)(k % 3), model_rand(8) ? model_rand(200)
                                                      : model_rand(70000));
        else if (k < 8)
            mact_register(m, k == 7);
        else if (k < 10)
            mact_unregister(m);
        else if (k == 10)
            mact_simple(m, MOP_PAUSE);
        else if (k == 11)
            mact_simple(m, MOP_RESUME);
        else if (k == 12)
            mact_simple(m, MOP_LOSE);
        else if (k == 13)
            mact_simple(m, MOP_LOSE_WRITE);
        else if (k == 14)
            mact_simple(m, MOP_ABORT);
        else if (k == 15)
            mact_simple(m, MOP_STOP_CONSUMING);
        else if (k == 16)
            mact_marks(m, model_rand(64));
        /* else: nothing */
    }
    W.act_depth--;
}
