/*
 * The executor: applies one model operation to the core and the model
 * (model.c), plays the backend's part (bytes leaving and arriving, loop
 * passes), and at the end of a run frees the loop and checks that every
 * transport ended cleanly and that the library leaked nothing.
 */
#include "model.h"
#include "../portable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

static const char *const op_names[MOP__COUNT] = {
    "OPEN", "WRITE", "WRITE_REF", "WRITE_SEQ", "REG_PULL", "REG_STREAM",
    "UNREG", "PAUSE", "RESUME", "STOP_PROD", "STOP_CONSUMING", "LOSE",
    "LOSE_WRITE", "ABORT", "DRAIN", "SEND_BEGIN", "PASS", "READ", "EOF",
    "ERROR", "MARKS", "SETTLE", "OOM"};

const char *model_op_name(unsigned kind)
{
    return kind < MOP__COUNT ? op_names[kind] : "?";
}

void model_op_format(const model_op_t *op, char *buf, size_t len)
{
    snprintf(buf, len, "%-14s slot=%u arg=%-5u seed=%lu",
             model_op_name(op->kind), op->slot % MODEL_SLOTS, op->arg,
             (unsigned long)op->seed);
}

unsigned model_tolerate_from_env(void)
{
    const char *v = test_getenv("IOR_MODEL_TOLERATE");
    unsigned t = 0;
    if (v == NULL)
        return MODEL_TOL_DEFAULT;
    if (strstr(v, "stale_streaming") != NULL)
        t |= MODEL_TOL_STALE_STREAMING;
    if (strstr(v, "half_close_unregister") != NULL)
        t |= MODEL_TOL_HALF_CLOSE_UNREG;
    return t;
}

/* Buffer sizes and marks of a new transport, from its arg bits. */
static void open_marks(mtrans_t *m, unsigned arg)
{
    static const size_t bs_v[] = {65536, 0, 1, 16, 100, 1000, 4096, 20000};
    size_t bs = bs_v[(arg >> 1) & 7], lw, mx;
    unsigned lc = (arg >> 4) & 3, mc = (arg >> 6) & 3;
    lw = lc == 0 ? 0 : lc == 1 ? bs / 4 : lc == 2 ? bs / 2 : bs;
    mx = mc < 2 ? 0 : mc == 2 ? bs * 2 + 7 : bs * 8 + 100;
    MCHECK(ior_transport_set_buffer_size(m->t, bs) == 0, "set_buffer_size");
    MCHECK(ior_transport_set_low_water(m->t, lw) == 0, "set_low_water");
    MCHECK(ior_transport_set_max_buffer(m->t, mx) == 0, "set_max_buffer");
    m->buffer_size = bs;
    m->low_water = lw;
    m->max_buffer = mx;
}

/*
 * A new connected transport, begun as accept/connect would begin it.
 * arg bit 0: half-close aware protocol; bits 1-7: marks; bits 8-9 == 2:
 * read-only, == 3: write-only (pipes: the other direction starts closed).
 */
static void op_open(unsigned slot, unsigned arg)
{
    mtrans_t *m = model_talloc(sizeof *m);
    unsigned dirs = (arg >> 8) & 3;
    m->serial = ++W.next_serial;
    m->slot = (int)slot;
    m->aware = arg & 1;
    m->next_all = W.all;
    W.all = m;
    W.slots[slot] = m;
    m->token = model_talloc(sizeof *m->token);
    m->token->magic = TOKEN_MAGIC;
    m->token->m = m;
    m->t = mfake_new_transport(m);
    if (dirs >= 2) {
        ior__transport_set_direction(m->t, dirs == 2, dirs == 3);
        m->write_disconnected = dirs == 2;
        m->read_disconnected = dirs == 3;
        m->shut = dirs == 2;
    }
    open_marks(m, arg);
    MCHECK(ior_transport_set_protocol(m->t, m->aware ? &model_proto_aware
                                                     : &model_proto_plain,
                                      m->token) == 0,
           "set_protocol");
    ior__transport_begin(m->t);
    MCHECK(m->reading == !m->read_disconnected,
           "reading %s after begin", m->reading ? "started" : "not started");
    model_sync(m);
}

/*
 * ior__core_drained as a loop completion calls it, with rule 3's outcome
 * predicted from the state after the release callbacks ran.
 */
static void drain_checked(mtrans_t *m)
{
    unsigned r0 = m->n_resume, w0 = m->n_wcl, h0 = m->n_hidden_close;
    int streaming = m->prod != NULL && m->prod->streaming;
    int exp;
    model_sync(m);
    W.draining = m;
    W.drain_expect = model_drain_expect(m);
    ior__core_drained(m->t);
    W.draining = NULL;
    exp = W.drain_expect;
    model_sync(m);
    switch (exp) {
    case DRAIN_RESUME:
        MCHECK(m->n_resume == r0 + 1, "drained: producer not resumed (rule 3)");
        /* A streaming producer that wrote nothing when resumed (or a pull
         * producer that unregistered itself) lets a pending close or
         * half-close finish in the same drain. Whether that was legal is
         * checked where it shows (adopt_hidden, p_write_lost: no producer
         * may still need resuming, rule 6). */
        (void)streaming;
        break;
    case DRAIN_CLOSE:
        MCHECK(m->n_hidden_close == h0 + 1 && m->n_resume == r0,
               "drained: empty queue and disconnecting, but no close "
               "(rule 3)");
        break;
    case DRAIN_HALF:
        MCHECK(m->n_wcl == w0 + 1 && m->n_resume == r0,
               "drained: half-close not finished (rule 3)");
        break;
    default:
        MCHECK(m->n_resume == r0 && m->n_wcl == w0 &&
                   m->n_hidden_close == h0,
               "drained did what rule 3 does not ask for "
               "(resumes %u, half-closes %u, closes %u)",
               m->n_resume - r0, m->n_wcl - w0, m->n_hidden_close - h0);
    }
}

static size_t pick_max_len(void)
{
    static const size_t v[] = {1, 7, 100, 4096, (size_t)-1, (size_t)-1};
    return v[model_rand(6)];
}

/* The OS takes up to n bytes (a new send, or the one in flight). */
static void op_drain(mtrans_t *m, unsigned arg)
{
    size_t want = model_len_from_arg(arg), k;
    if (m->os_closed) {
        /* The cancelled send's completion, perhaps with bytes written. */
        if (m->inflight) {
            mfake_send_end(m, model_rand((uint32_t)m->inflight_bytes + 1));
            if (model_rand(2))
                ior__core_drained(m->t); /* harmless after the close */
            model_sync(m);
        }
        return;
    }
    /* A backend writes only once asked to (start_writing). */
    if (!m->inflight &&
        (!m->writing ||
         mfake_send_begin(m, 1 + model_rand(8), pick_max_len()) == 0))
        return;
    k = want < m->inflight_bytes ? want : m->inflight_bytes;
    mfake_send_end(m, k);
    /* Queue empty: the backend stops writing until asked again. */
    if (model_buffered(m) == 0)
        m->writing = 0;
    drain_checked(m);
}

/* Bytes arrive (rule 11); delivered now, held while paused, or dropped
 * once the transport is closing. */
static void op_read(mtrans_t *m, unsigned arg)
{
    size_t len = 1 + model_len_from_arg(arg) % 6000, i;
    unsigned char *b;
    int deliver = 0;
    if (m->os_closed || m->eof_fed || (m->read_disconnected && !m->eof_fed))
        return; /* the backend reads nothing more */
    b = model_talloc(len);
    for (i = 0; i < len; i++)
        b[i] = model_rpat(m, m->rx_fed + i);
    if (model_gone(m) || m->disconnecting) {
        /* dropped: nobody wants these bytes */
    } else if (m->reading_paused || m->rx_fed > m->rx_delivered) {
        m->rx_fed += len;
    } else {
        m->rx_fed += len;
        deliver = 1;
    }
    ior__core_read(m->t, b, len);
    memset(b, 0xCC, len); /* the core must have copied what it held */
    model_tfree(b);
    if (m->t == NULL)
        return;
    if (W.oom_hit) {
        /* Holding the bytes failed: a read error, out of memory. */
        MCHECK(!deliver, "allocation while delivering at once");
        model_rule_error(m, IOR_ENOMEM, 0);
    }
    if (deliver)
        MCHECK(m->rx_delivered == m->rx_fed, "bytes not delivered at once");
    model_sync(m);
}

static void op_eof(mtrans_t *m)
{
    int now = 0;
    if (m->os_closed || m->eof_fed || m->read_disconnected)
        return;
    m->eof_fed = 1;
    if (model_gone(m) || m->disconnecting) {
        m->eof_dropped = 1;
    } else if (!m->reading_paused && m->rx_fed == m->rx_delivered) {
        now = 1;
        if (!m->aware) {
            /* Rule 11: the producer is stopped and forgotten, then the
             * transport loses the connection (pr_stop checks the call). */
            m->read_disconnected = 1;
            m->prod = NULL;
            m->prod_paused = 0;
            (void)model_rule_lose(m);
        }
    }
    {
        unsigned r0 = m->n_rcl;
        ior__core_read_eof(m->t);
        if (now && m->aware)
            MCHECK(m->n_rcl == r0 + 1, "EOF not delivered at once");
        else
            MCHECK(m->n_rcl == r0, "EOF delivered while it must be held");
    }
    model_sync(m);
}

static void op_error(mtrans_t *m, unsigned arg)
{
    static const int errs[] = {IOR_ECONNRESET, IOR_ECONNLOST, IOR_EPIPE};
    int err = errs[arg % 3], os = 100 + (int)(arg % 50);
    if (m->os_closed)
        return;
    model_rule_error(m, err, os);
    ior__core_error(m->t, err, os);
    model_sync(m);
}

static void op_send_begin(mtrans_t *m)
{
    if (!m->os_closed && !m->inflight && m->writing)
        (void)mfake_send_begin(m, 1 + model_rand(16), pick_max_len());
}

static void op_pass(void)
{
    ior__loop_run_pending(W.loop);
    model_sync_all();
}

/* What the rules require once nothing is queued, in flight or pending. */
static void check_settled(mtrans_t *m)
{
    if (m->t == NULL)
        return;
    MCHECK(!m->closing, "connection_lost(%s) decided but never delivered",
           ior_err_name(m->reason));
    MCHECK(model_buffered(m) == 0 && m->sent == m->written,
           "bytes stuck in the queue: sent %llu of %llu",
           (unsigned long long)m->sent, (unsigned long long)m->written);
    MCHECK(m->refs_out == 0, "%zu write_ref buffers sent but not released",
           m->refs_out);
    MCHECK(!(m->disconnecting && m->prod == NULL),
           "lose_connection never completed (queue empty, no producer)");
    MCHECK(!(m->write_disconnecting && !m->write_disconnected &&
             !m->disconnecting && m->prod == NULL &&
             !(W.tolerate & MODEL_TOL_HALF_CLOSE_UNREG)),
           "lose_write_connection never completed");
    MCHECK(!(m->prod != NULL && m->prod->streaming && m->prod_paused),
           "streaming producer left paused with an empty queue");
    if (!m->reading_paused && !m->disconnecting) {
        MCHECK(m->rx_delivered == m->rx_fed,
               "%llu bytes held and never delivered after resume",
               (unsigned long long)(m->rx_fed - m->rx_delivered));
        MCHECK(!(m->eof_fed && !m->eof_dropped && !m->read_disconnected),
               "EOF held and never delivered after resume");
    }
    MCHECK(!(m->read_disconnected && m->write_disconnected),
           "both directions closed but the transport stays open");
}

/*
 * Runs the "OS" and the loop until nothing moves: every send completes in
 * full, the loop passes until nothing is pending. Callbacks stay quiet so
 * this ends; then the liveness half of the rules is checked.
 */
static void op_settle(void)
{
    mtrans_t *m;
    int iter, busy = 1;
    W.quiet = 1;
    for (iter = 0; iter < 200 && busy; iter++) {
        busy = 0;
        for (m = W.all; m != NULL; m = m->next_all) {
            if (m->t == NULL)
                continue;
            if (!m->inflight && !m->os_closed && model_buffered(m) > 0) {
                MCHECK(m->writing, "%llu bytes queued but the backend was "
                       "never asked to write",
                       (unsigned long long)model_buffered(m));
                (void)mfake_send_begin(m, 16, (size_t)-1);
            }
            if (m->inflight) {
                mfake_send_end(m, m->inflight_bytes);
                if (!m->os_closed) {
                    if (model_buffered(m) == 0)
                        m->writing = 0;
                    drain_checked(m);
                }
                busy = 1;
            }
        }
        if (W.loop->pending_head != NULL) {
            op_pass();
            busy = 1;
        }
    }
    W.quiet = 0;
    MCHECK(!busy, "the loop does not settle");
    for (m = W.all; m != NULL; m = m->next_all)
        check_settled(m);
}

static void exec_op(const model_op_t *op)
{
    unsigned slot = op->slot % MODEL_SLOTS, kind = op->kind % MOP__COUNT;
    mtrans_t *m = W.slots[slot];

    W.rng = 0x5DEECE66Dull ^ ((uint64_t)op->seed << 17) ^ op->seed;
    if (kind == MOP_OPEN) {
        if (m == NULL)
            op_open(slot, op->arg);
        return;
    }
    if (kind == MOP_PASS) {
        op_pass();
        return;
    }
    if (kind == MOP_SETTLE) {
        op_settle();
        return;
    }
    if (m == NULL || m->t == NULL)
        return;
    switch (kind) {
    case MOP_WRITE:
    case MOP_WRITE_REF:
    case MOP_WRITE_SEQ:
        mact_write(m, (int)(kind - MOP_WRITE), model_len_from_arg(op->arg));
        break;
    case MOP_REG_PULL:
    case MOP_REG_STREAM:
        mact_register(m, kind == MOP_REG_STREAM);
        break;
    case MOP_UNREG:
        mact_unregister(m);
        break;
    case MOP_DRAIN:
        op_drain(m, op->arg);
        break;
    case MOP_SEND_BEGIN:
        op_send_begin(m);
        break;
    case MOP_READ:
        op_read(m, op->arg);
        break;
    case MOP_EOF:
        op_eof(m);
        break;
    case MOP_ERROR:
        op_error(m, op->arg);
        break;
    case MOP_MARKS:
        mact_marks(m, op->arg);
        break;
    case MOP_OOM:
        /* Quiet, so the failure hits the operation itself. */
        W.quiet = 1;
        W.oom_arm = 1;
        W.oom_hit = 0;
        if (op->arg % 4 < 3)
            mact_write(m, (int)(op->arg % 4), model_len_from_arg(op->arg));
        else
            op_read(m, op->arg);
        W.oom_arm = 0;
        W.oom_hit = 0;
        W.quiet = 0;
        break;
    default:
        mact_simple(m, kind);
        break;
    }
}

/* ior_loop_free aborts what is open (rule 8) and waits for the OS. */
static void finish(void)
{
    mtrans_t *m;
    W.rng = 0x2545F4914F6CDD1Dull;
    for (m = W.all; m != NULL; m = m->next_all)
        if (m->t != NULL)
            model_rule_abort(m);
    MCHECK(ior_loop_free(W.loop) == 0, "ior_loop_free failed");
    W.loop = NULL;
    for (m = W.all; m != NULL; m = m->next_all) {
        MCHECK(m->lost && m->t == NULL,
               "transport %u not lost after ior_loop_free", m->serial);
        MCHECK(m->refs_out == 0, "write_ref buffers never released");
    }
    MCHECK(model_lib_heap.live == 0, "the library leaked %zu blocks",
           model_lib_heap.live);
    for (m = W.all; m != NULL; m = m->next_all) {
        W.res->transports++;
        W.res->bytes_sent += m->sent;
        W.res->bytes_received += m->rx_delivered;
    }
}

static void free_models(void)
{
    while (W.all != NULL) {
        mtrans_t *m = W.all;
        W.all = m->next_all;
        model_tfree(m);
    }
}

int model_run(model_next_fn next, void *ctx, unsigned tolerate,
              model_result_t *r)
{
    model_op_t op;

    memset(r, 0, sizeof *r);
    memset(&W, 0, sizeof W);
    W.res = r;
    W.tolerate = tolerate;
    model_heap_drop_all(&model_lib_heap);
    model_heap_drop_all(&model_test_heap);
    ior_set_allocator(&model_lib_allocator);
    if (setjmp(W.jb) != 0) {
        /* A failed check: the run's objects are abandoned and freed. */
        memset(&W, 0, sizeof W);
        model_heap_drop_all(&model_lib_heap);
        model_heap_drop_all(&model_test_heap);
        ior_set_allocator(NULL);
        return 1;
    }
    MCHECK(ior_loop_new(&W.loop, NULL) == 0, "ior_loop_new failed");
    while (next(ctx, &op)) {
        exec_op(&op);
        W.op_index++;
        r->executed++;
    }
    finish();
    free_models();
    MCHECK(model_test_heap.live == 0, "test objects leaked: %zu",
           model_test_heap.live);
    ior_set_allocator(NULL);
    return 0;
}

typedef struct list_ctx {
    const model_op_t *ops;
    size_t n, i;
} list_ctx_t;

static int list_next(void *ctx, model_op_t *op)
{
    list_ctx_t *c = ctx;
    if (c->i >= c->n)
        return 0;
    *op = c->ops[c->i++];
    return 1;
}

int model_exec(const model_op_t *ops, size_t n, unsigned tolerate,
               model_result_t *r)
{
    list_ctx_t c;
    c.ops = ops;
    c.n = n;
    c.i = 0;
    return model_run(list_next, &c, tolerate, r);
}
