/*
 * The read side of the consumer core: delivering bytes and EOF (DESIGN
 * rule 11) and the transport as a producer (rule 10). Bytes that arrive
 * while the transport is paused (an IOCP read already in flight, say) are
 * held and delivered first, in order, after resume_producing: pausing
 * never cancels a read and never loses data.
 */
#include "core.h"

#include <string.h>

static int is_gone(const ior_transport_t *t)
{
    return t->disconnected || t->closing;
}

void ior__transport_drop_held(ior_transport_t *t)
{
    ior__free(t->held.data);
    memset(&t->held, 0, sizeof t->held);
    t->eof_held = 0;
}

static int hold(ior_transport_t *t, const void *data, size_t len)
{
    ior__rbuf_t *h = &t->held;

    if (h->off > 0 && h->off + h->len + len > h->cap) {
        memmove(h->data, h->data + h->off, h->len);
        h->off = 0;
    }
    if (h->len + len > h->cap) {
        size_t cap = h->cap ? h->cap : 4096;
        char *p;
        while (cap < h->len + len) {
            if (cap > (size_t)-1 / 2)
                return IOR_ENOMEM;
            cap *= 2;
        }
        p = ior__realloc(h->data, cap);
        if (p == NULL)
            return IOR_ENOMEM;
        h->data = p;
        h->cap = cap;
    }
    memcpy(h->data + h->off + h->len, data, len);
    h->len += len;
    return 0;
}

int ior__core_wants_read(const ior_transport_t *t)
{
    return t->began && t->connected && !is_gone(t) && !t->disconnecting &&
           !t->reading_paused && !t->read_disconnected &&
           t->held.len == 0 && !t->eof_held;
}

void ior__transport_set_direction(ior_transport_t *t, int readable,
                                       int writable)
{
    t->read_disconnected = readable ? 0 : 1;
    t->write_disconnected = writable ? 0 : 1;
}

void ior__transport_begin(ior_transport_t *t)
{
    t->began = 1;
    if (is_gone(t))
        return;
    if (t->proto == NULL) {
        ior_transport_abort_connection(t);
        return;
    }
    if (ior__core_wants_read(t))
        ior__t_start_reading(t);
}

void ior__core_read(ior_transport_t *t, const void *data, size_t len)
{
    if (len == 0 || is_gone(t) || t->disconnecting || t->read_disconnected)
        return; /* closing: nobody wants these bytes */
    if (t->reading_paused || t->held.len > 0 || t->eof_held) {
        if (hold(t, data, len) != 0)
            ior__core_error(t, IOR_ENOMEM, 0);
        return;
    }
    if (t->proto != NULL && t->proto->data_received != NULL)
        t->proto->data_received(t, t->proto_user, data, len);
}

/* Rule 11. */
static void deliver_eof(ior_transport_t *t)
{
    t->read_disconnected = 1;
    ior__t_stop_reading(t);
    if (t->proto != NULL && t->proto->read_connection_lost != NULL) {
        t->proto->read_connection_lost(t, t->proto_user);
        if (!is_gone(t) && t->write_disconnected)
            ior__transport_close(t, IOR_EDONE, 0);
        return;
    }
    /*
     * Not half-close aware: finish as lose_connection does, sending what
     * is queued first. Twisted differs: it closes at once and drops the
     * queue, so a peer that half-closes loses the tail of its answer.
     * The producer is told stop_producing and forgotten first: nothing
     * more will be asked of it, and a pull producer would otherwise hold
     * the close open forever (rule 6).
     */
    if (t->producer != NULL) {
        const ior_producer_ops_t *p;
        void *user;
        ior__producer_forget(t, &p, &user);
        p->stop_producing(user);
        if (is_gone(t))
            return;
    }
    (void)ior_transport_lose_connection(t);
}

void ior__core_read_eof(ior_transport_t *t)
{
    if (is_gone(t) || t->disconnecting || t->read_disconnected)
        return;
    if (t->reading_paused || t->held.len > 0) {
        t->eof_held = 1;
        return;
    }
    deliver_eof(t);
}

/* From the pending list after resume_producing: held bytes, then EOF. */
void ior__transport_run_deliver(ior_transport_t *t)
{
    if (is_gone(t) || t->disconnecting || t->reading_paused)
        return;
    if (t->held.len > 0) {
        ior__rbuf_t h = t->held;
        memset(&t->held, 0, sizeof t->held);
        if (t->proto != NULL && t->proto->data_received != NULL)
            t->proto->data_received(t, t->proto_user, h.data + h.off, h.len);
        ior__free(h.data);
        if (is_gone(t) || t->disconnecting || t->reading_paused)
            return;
    }
    if (t->eof_held) {
        t->eof_held = 0;
        deliver_eof(t);
        return;
    }
    if (ior__core_wants_read(t))
        ior__t_start_reading(t);
}

/* Rule 10: the transport as a producer. */
int ior_transport_pause_producing(ior_transport_t *t)
{
    if (t == NULL)
        return IOR_EINVAL;
    if (is_gone(t))
        return IOR_ENOTCONN;
    if (!t->reading_paused) {
        t->reading_paused = 1;
        ior__t_stop_reading(t);
    }
    return 0;
}

int ior_transport_resume_producing(ior_transport_t *t)
{
    if (t == NULL)
        return IOR_EINVAL;
    if (is_gone(t))
        return IOR_ENOTCONN;
    if (!t->reading_paused || !t->connected || t->disconnecting)
        return 0;
    t->reading_paused = 0;
    if (t->held.len > 0 || t->eof_held)
        ior__transport_defer(t, IOR__PEND_DELIVER);
    else if (ior__core_wants_read(t))
        ior__t_start_reading(t);
    return 0;
}

int ior_transport_stop_producing(ior_transport_t *t)
{
    return ior_transport_lose_connection(t);
}

static void tp_pause(void *user)
{
    (void)ior_transport_pause_producing(user);
}

static void tp_resume(void *user)
{
    (void)ior_transport_resume_producing(user);
}

static void tp_stop(void *user)
{
    (void)ior_transport_stop_producing(user);
}

const ior_producer_ops_t ior_transport_producer_ops = {tp_pause, tp_resume,
                                                       tp_stop};
