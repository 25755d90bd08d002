/*
 * TLS as a layer between two transports, for every backend: the user's
 * transport (plaintext, the consumer core's own queue, producers and water
 * marks) stands on a TCP transport (ciphertext) whose protocol and
 * producer this layer is. The engine (tls_engine.h) only turns bytes into
 * bytes; this file keeps the consumer rules across the two:
 *
 *  - Reading: ciphertext from below is fed to the engine, and plaintext is
 *    handed to the core (ior__core_read) only while the user's transport
 *    wants it. A paused user transport pauses the TCP transport's reading,
 *    so a slow reader stops ciphertext at the socket, as TCP would.
 *  - Writing: the core's plaintext queue is drained into the engine, and
 *    the records go to the TCP transport. This layer is the TCP
 *    transport's streaming producer: when its queue passes its high-water
 *    mark the drain stops, the plaintext queue grows, and its own marks
 *    pause the user's producer. Neither queue grows without bound.
 *  - Until the handshake is done nothing the user wrote is encrypted; a
 *    failed handshake closes with nothing of it sent.
 *  - Ends: close_notify before a clean close or half-close; the peer's
 *    close_notify is EOF; TCP's end without it is IOR_ETRUNCATED.
 *
 * Twisted's TLSMemoryBIOProtocol does the same over OpenSSL memory BIOs,
 * with a producer membrane between the two transports; here the user's
 * transport is a full core transport, so the core's rules apply to it
 * unchanged (common/core.h, struct ior__layer).
 *
 * Lifetime: the layer's memory lives until both the core has freed the
 * user's transport (transport_free) and the TCP transport has reported
 * connection_lost. A clean close reports connection_lost(IOR_EDONE) once
 * the TCP transport has handed close_notify and its FIN to the OS
 * (layer_hold), as a TCP transport's IOR_EDONE means its bytes are there.
 */
#include "core.h"
#include "tls_engine.h"

#include <stdio.h>
#include <string.h>

#define TLS_CHUNK (16u * 1024u) /* one record's worth of plaintext */
#define TLS_CBUF (64u * 1024u)  /* several records: one write below each */
#define TLS_HANDSHAKE_MS 30000u
/* How long a closed TLS transport waits for the peer's end (see close). */
#define TLS_LINGER_MS 10000u

typedef struct ior__tls {
    ior_transport_t base; /* first: the user's transport */
    ior_transport_t *inner; /* NULL once its connection_lost ran */
    ior__tlse_t *eng;
    void (*handshake_done)(ior_transport_t *t, void *user,
                           const ior_tls_info_t *info);
    ior_timer_id hs_timer;
    ior_timer_id pump_timer;
    ior_timer_id linger_timer; /* outlives the user's transport */
    unsigned char established;
    unsigned char failed;
    unsigned char peer_closed;  /* close_notify arrived */
    unsigned char notify_sent;
    unsigned char inner_full;   /* the TCP transport paused us */
    unsigned char core_freed;   /* transport_free ran */
    unsigned char in_advance;   /* guards against re-entry */
    unsigned char drain_owed;   /* the core asked to write: a drain is due */
    char why[256];
    char cbuf[TLS_CBUF];
    char pbuf[TLS_CHUNK];
} ior__tls_t;

static ior__tls_t *tls_of(ior_transport_t *t)
{
    return (ior__tls_t *)(void *)t;
}

static void maybe_free(ior__tls_t *s)
{
    if (!s->core_freed || s->inner != NULL)
        return;
    if (s->linger_timer != 0)
        (void)ior_timer_cancel(s->base.loop, s->linger_timer);
    ior__tlse_free(s->eng);
    ior__free(s);
}

static void cancel_timers(ior__tls_t *s)
{
    if (s->hs_timer != 0)
        (void)ior_timer_cancel(s->base.loop, s->hs_timer);
    if (s->pump_timer != 0)
        (void)ior_timer_cancel(s->base.loop, s->pump_timer);
    s->hs_timer = s->pump_timer = 0;
}

/* Records the engine has made go to the TCP transport. */
static void flush_cipher(ior__tls_t *s)
{
    size_t k;

    while ((k = ior__tlse_pull(s->eng, s->cbuf, sizeof(s->cbuf))) > 0) {
        if (s->inner == NULL)
            continue; /* nowhere to go: drop */
        if (ior_transport_write(s->inner, s->cbuf, k) != 0)
            continue; /* closing below: what it refuses is moot */
    }
}

/* The user's transport closes with code; the TCP one follows. */
static void fail(ior__tls_t *s, int code)
{
    if (s->failed)
        return;
    s->failed = 1;
    cancel_timers(s);
    flush_cipher(s); /* an alert, if the engine made one */
    if (s->inner != NULL)
        (void)ior_transport_lose_connection(s->inner);
    ior__core_error(&s->base, code, 0);
}

static void fail_engine(ior__tls_t *s)
{
    fail(s, ior__tlse_error(s->eng, s->why, sizeof(s->why)));
}

/*
 * The plaintext queue into the engine while the TCP transport takes more,
 * then the drain (rule 3) once it is empty. Runs inside user calls too:
 * it only moves bytes and defers everything the user would see.
 */
static void flush_plain(ior__tls_t *s)
{
    ior_transport_t *t = &s->base;
    int moved = 0;

    if (!s->established || s->failed || s->inner == NULL)
        return;
    while (!s->inner_full) {
        ior_buf_t bufs[8];
        size_t n = ior__core_send_begin(t, bufs, 8, TLS_CHUNK);
        size_t done = 0;
        size_t i;

        if (n == 0)
            break;
        moved = 1;
        for (i = 0; i < n; i++) {
            if (ior__tlse_write(s->eng, bufs[i].base, bufs[i].len) < 0)
                break;
            done += bufs[i].len;
        }
        ior__core_send_end(t, done);
        flush_cipher(s);
        if (i < n) {
            fail_engine(s);
            return;
        }
    }
    /*
     * Rule 3's drain, once per emptying: after bytes moved, or when the
     * core asked to write (a close waiting for the handshake, say). Not on
     * every call: a pull producer is resumed once per drain.
     */
    if (t->q.bytes == 0 && (moved || s->drain_owed)) {
        s->drain_owed = 0;
        ior__core_defer_drain(t);
    }
}

static void deliver_plain(ior__tls_t *s)
{
    ior_transport_t *t = &s->base;

    while (ior__core_wants_read(t) && !s->peer_closed && !s->failed) {
        long n = ior__tlse_read(s->eng, s->pbuf, sizeof(s->pbuf));

        if (n > 0) {
            ior__core_read(t, s->pbuf, (size_t)n);
            continue;
        }
        if (n == IOR__TLSE_CLOSED) {
            s->peer_closed = 1;
            ior__core_read_eof(t);
        } else if (n == IOR__TLSE_FAILED) {
            fail_engine(s);
        }
        break;
    }
    flush_cipher(s); /* a read may answer (TLS 1.3 key update) */
}

/* Records still arriving after the user's transport closed: read, dropped. */
static void discard_plain(ior__tls_t *s)
{
    long n;

    while ((n = ior__tlse_read(s->eng, s->pbuf, sizeof(s->pbuf))) > 0) {
    }
    /* The peer's close still counts: its FIN is then no truncation. */
    if (n == IOR__TLSE_CLOSED)
        s->peer_closed = 1;
    flush_cipher(s);
}

static void handshake_finished(ior__tls_t *s)
{
    ior_tls_info_t info;

    s->established = 1;
    if (s->hs_timer != 0)
        (void)ior_timer_cancel(s->base.loop, s->hs_timer);
    s->hs_timer = 0;
    if (s->handshake_done != NULL) {
        ior__tlse_info(s->eng, &info);
        s->handshake_done(&s->base, s->base.proto_user, &info);
    }
}

/*
 * Everything the engine can do with what it has: the handshake, then
 * plaintext for the user and records for the peer. From the loop only
 * (ciphertext arrived, the pump timer, the handshake's end).
 */
static void advance(ior__tls_t *s)
{
    ior_transport_t *t = &s->base;

    if (s->in_advance || s->core_freed || s->failed || t->disconnected ||
        t->closing)
        return;
    s->in_advance = 1;
    if (!s->established) {
        int r = ior__tlse_step(s->eng);

        flush_cipher(s);
        if (r == IOR__TLSE_FAILED)
            fail_engine(s);
        else if (r == IOR__TLSE_DONE)
            handshake_finished(s);
    }
    if (s->established && !s->failed && !t->disconnected && !t->closing) {
        if (t->disconnecting)
            discard_plain(s);
        else
            deliver_plain(s);
        flush_plain(s);
        /*
         * A user's pause stops ciphertext at the socket. A transport that
         * is closing reads on (and drops what comes): unread bytes at the
         * close would make TCP reset the connection, losing what we sent.
         */
        if (s->inner != NULL && !s->failed) {
            if (t->reading_paused && !t->disconnecting)
                (void)ior_transport_pause_producing(s->inner);
            else
                (void)ior_transport_resume_producing(s->inner);
        }
    }
    s->in_advance = 0;
}

static void pump_cb(ior_loop_t *loop, void *user)
{
    ior__tls_t *s = user;

    (void)loop;
    s->pump_timer = 0;
    advance(s);
}

/* advance() from the loop, soon: for work asked inside a user call. */
static void schedule_pump(ior__tls_t *s)
{
    if (s->pump_timer == 0 && !s->core_freed)
        (void)ior_call_later(s->base.loop, 0, pump_cb, s, &s->pump_timer);
}

static void handshake_timeout(ior_loop_t *loop, void *user)
{
    ior__tls_t *s = user;

    (void)loop;
    s->hs_timer = 0;
    if (s->established)
        return;
    (void)snprintf(s->why, sizeof(s->why), "handshake timed out");
    fail(s, IOR_ETIMEDOUT);
}

/* ------------------------------------------------------------------ */
/* The TCP transport's protocol and producer                           */
/* ------------------------------------------------------------------ */

static void below_data(ior_transport_t *inner, void *user, const void *data,
                       size_t len)
{
    ior__tls_t *s = user;

    (void)inner;
    if (s->failed)
        return;
    if (s->core_freed || s->base.disconnected || s->base.closing) {
        /* Lingering after the close (layer_close): drop what comes. */
        if (ior__tlse_feed(s->eng, data, len) == 0)
            discard_plain(s);
        return;
    }
    if (ior__tlse_feed(s->eng, data, len) != 0) {
        (void)snprintf(s->why, sizeof(s->why), "out of memory");
        fail(s, IOR_ENOMEM);
        return;
    }
    advance(s);
}

/* TCP's FIN: fine after close_notify, a truncation before it. */
static void below_eof(ior_transport_t *inner, void *user)
{
    ior__tls_t *s = user;

    if (s->core_freed || s->base.disconnected || s->base.closing) {
        /* The peer's end, which a lingering close waits for. */
        (void)ior_transport_lose_connection(inner);
        return;
    }
    if (s->failed || s->peer_closed)
        return;
    advance(s); /* what arrived before the FIN comes first */
    if (s->core_freed || s->failed || s->peer_closed)
        return;
    (void)snprintf(s->why, sizeof(s->why), "%s",
                   s->established ? "the peer closed TCP without close_notify"
                                  : "the peer closed during the handshake");
    fail(s, s->established ? IOR_ETRUNCATED : IOR_ETLS);
}

/* The user's transport's close may finish: the bytes are with the OS. */
static void release_hold(ior__tls_t *s)
{
    if (s->core_freed || !s->base.layer_hold)
        return;
    s->base.layer_hold = 0;
    ior__transport_defer(&s->base, IOR__PEND_CLOSE);
}

/* Our half-close below is done: close_notify and FIN went to the OS. */
static void below_write_lost(ior_transport_t *inner, void *user)
{
    (void)inner;
    release_hold(user);
}

static void below_lost(ior_transport_t *inner, void *user, int reason)
{
    ior__tls_t *s = user;

    (void)inner;
    s->inner = NULL;
    release_hold(s);
    if (!s->core_freed) {
        cancel_timers(s);
        if (!s->base.disconnected && !s->base.closing)
            ior__core_error(&s->base,
                            reason == IOR_EDONE ? IOR_ECONNLOST : reason,
                            ior_transport_os_error(inner));
    }
    maybe_free(s);
}

static const ior_protocol_ops_t below_ops = {below_data, below_eof,
                                             below_write_lost, below_lost};

static void below_pause(void *user)
{
    ((ior__tls_t *)user)->inner_full = 1;
}

static void below_resume(void *user)
{
    ior__tls_t *s = user;

    s->inner_full = 0;
    if (!s->core_freed)
        flush_plain(s);
}

static void below_stop(void *user)
{
    (void)user; /* the TCP transport is going: below_lost follows */
}

static const ior_producer_ops_t below_producer = {below_pause, below_resume,
                                                  below_stop};

/* ------------------------------------------------------------------ */
/* The layer: where the core calls a backend for the user's transport  */
/* ------------------------------------------------------------------ */

static void layer_start_reading(ior_transport_t *t)
{
    /* Plaintext the engine holds, or the handshake, from the loop. */
    schedule_pump(tls_of(t));
}

static void layer_stop_reading(ior_transport_t *t)
{
    ior__tls_t *s = tls_of(t);

    /* The handshake goes on whatever the user's reading does. */
    if (s->established && s->inner != NULL)
        (void)ior_transport_pause_producing(s->inner);
}

static void layer_start_writing(ior_transport_t *t)
{
    tls_of(t)->drain_owed = 1;
    flush_plain(tls_of(t));
}

static void send_close_notify(ior__tls_t *s)
{
    if (s->notify_sent || !s->established || s->failed)
        return;
    s->notify_sent = 1;
    ior__tlse_close_notify(s->eng);
    flush_cipher(s);
}

static void layer_shutdown_write(ior_transport_t *t)
{
    ior__tls_t *s = tls_of(t);

    send_close_notify(s);
    if (s->inner != NULL)
        (void)ior_transport_lose_write_connection(s->inner);
}

static void linger_over(ior_loop_t *loop, void *user)
{
    ior__tls_t *s = user;

    (void)loop;
    s->linger_timer = 0;
    if (s->inner != NULL)
        (void)ior_transport_abort_connection(s->inner);
}

/*
 * A clean close: close_notify, then TCP's half-close, and the TCP
 * transport reads on until the peer ends too (its close_notify and FIN,
 * dropped) or TLS_LINGER_MS passed. Closing TCP at once would reset the
 * connection whenever a record of the peer's was unread (TLS 1.3 session
 * tickets always are), and a reset throws away what we sent last.
 */
static void layer_close(ior_transport_t *t, int abort)
{
    ior__tls_t *s = tls_of(t);

    cancel_timers(s);
    if (s->inner == NULL)
        return;
    if (abort || s->failed) {
        (void)ior_transport_abort_connection(s->inner);
        return;
    }
    send_close_notify(s);
    (void)ior_transport_resume_producing(s->inner);
    (void)ior_transport_lose_write_connection(s->inner);
    /* connection_lost(IOR_EDONE) once the OS has it all, as for TCP. */
    if (!s->inner->write_disconnected)
        t->layer_hold = 1;
    if (s->linger_timer == 0)
        (void)ior_call_later(t->loop, TLS_LINGER_MS, linger_over, s,
                             &s->linger_timer);
}

static void layer_free(ior_transport_t *t)
{
    ior__tls_t *s = tls_of(t);

    s->core_freed = 1;
    cancel_timers(s);
    maybe_free(s);
}

static ior_transport_t *layer_below(ior_transport_t *t)
{
    return tls_of(t)->inner;
}

static const struct ior__layer tls_layer = {
    layer_start_reading,  layer_stop_reading, layer_start_writing,
    NULL, /* no direct write: every byte goes through the engine */
    layer_shutdown_write, layer_close,        layer_free,
    layer_below,
};

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

static int options_ok(const ior_tls_options_t *o)
{
    int pem = o->cert_file != NULL && o->key_file != NULL;

    /* Exactly one source of the server's certificate. */
    if (o->server)
        return pem + (o->pfx_file != NULL) + (o->store_subject != NULL) == 1;
    return o->insecure || (o->server_name != NULL && o->server_name[0]);
}

int ior_tls_start(ior_transport_t *inner, const ior_tls_options_t *opts,
                  const ior_protocol_ops_t *ops, void *user,
                  ior_transport_t **out)
{
    ior__tls_t *s;
    int r;

    if (inner == NULL || opts == NULL || ops == NULL || out == NULL ||
        !options_ok(opts))
        return IOR_EINVAL;
    if (!inner->connected || inner->disconnected || inner->closing ||
        inner->disconnecting || inner->write_disconnecting ||
        inner->write_disconnected || inner->read_disconnected)
        return IOR_ENOTCONN;
    if (inner->producer != NULL)
        return IOR_EBUSY;
    s = (ior__tls_t *)ior__calloc(1, sizeof(*s));
    if (s == NULL)
        return IOR_ENOMEM;
    r = ior__tlse_new(opts, &s->eng, s->why, sizeof(s->why));
    if (r != 0) {
        if (opts->error != NULL && opts->error_len > 0)
            (void)snprintf(opts->error, opts->error_len, "%s", s->why);
        ior__free(s);
        return r;
    }
    ior__core_transport_init(&s->base, inner->loop);
    s->base.layer = &tls_layer;
    s->base.tcp = inner->tcp;
    s->base.host = inner->host;
    s->base.peer = inner->peer;
    s->inner = inner;
    s->handshake_done = opts->handshake_done;
    (void)ior_transport_set_protocol(inner, &below_ops, s);
    (void)ior_transport_register_producer(inner, &below_producer, s, 1);
    (void)ior_transport_set_protocol(&s->base, ops, user);
    (void)ior_call_later(inner->loop,
                         opts->handshake_timeout_ms != 0
                             ? opts->handshake_timeout_ms
                             : TLS_HANDSHAKE_MS,
                         handshake_timeout, s, &s->hs_timer);
    /* Reading (and a server's handshake) starts from the loop. */
    ior__transport_defer(&s->base, IOR__PEND_BEGIN);
    schedule_pump(s); /* a client's hello goes out from the loop */
    *out = &s->base;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Connecting with TLS in one call                                     */
/* ------------------------------------------------------------------ */

typedef struct tls_dial {
    ior_tls_options_t o;
    ior_connect_cb cb;
    void *user;
} tls_dial_t;

/* The protocol until the user's connect callback sets one. */
static const ior_protocol_ops_t unset_ops = {NULL, NULL, NULL, NULL};

static void dial_done(ior_loop_t *loop, void *user, ior_transport_t *t,
                      int status, int os_error)
{
    tls_dial_t *d = user;
    ior_transport_t *tt = NULL;

    if (status == 0) {
        status = ior_tls_start(t, &d->o, &unset_ops, NULL, &tt);
        if (status != 0) {
            (void)ior_transport_abort_connection(t);
            tt = NULL;
        }
    }
    d->cb(loop, d->user, tt, status, status != 0 ? os_error : 0);
    /* As after ior_tcp_connect: no protocol set, no connection. */
    if (tt != NULL && tt->proto == &unset_ops)
        (void)ior_transport_abort_connection(tt);
    ior__free(d);
}

int ior_tls_connect(ior_loop_t *loop, const ior_addr_t *addr,
                    const ior_connect_options_t *copts,
                    const ior_tls_options_t *topts, ior_connect_cb cb,
                    void *user)
{
    tls_dial_t *d;
    int r;

    if (loop == NULL || addr == NULL || topts == NULL || cb == NULL ||
        !options_ok(topts) || topts->server)
        return IOR_EINVAL;
    d = (tls_dial_t *)ior__malloc(sizeof(*d));
    if (d == NULL)
        return IOR_ENOMEM;
    d->o = *topts;
    d->cb = cb;
    d->user = user;
    r = ior_tcp_connect(loop, addr, copts, dial_done, d);
    if (r != 0)
        ior__free(d);
    return r;
}

const char *ior_tls_reason(const ior_transport_t *t, char *buf, size_t len)
{
    if (t == NULL || buf == NULL || len == 0)
        return buf;
    buf[0] = '\0';
    if (t->layer == &tls_layer)
        (void)snprintf(buf, len, "%s", tls_of((ior_transport_t *)t)->why);
    return buf;
}

const char *ior_tls_engine(void)
{
    return ior__tlse_name();
}
