/*
 * The consumer core: write buffering and producer/consumer flow control,
 * once for every backend (Twisted keeps it in _ConsumerMixin and
 * abstract.FileDescriptor, and again, drifting, in iocpreactor's
 * FileHandle). The rules are DESIGN.md's, cited by number.
 */
#include "core.h"

#include <string.h>

void ior__core_transport_init(ior_transport_t *t, ior_loop_t *loop)
{
    memset(t, 0, sizeof *t);
    t->loop = loop;
    t->connected = 1;
    t->buffer_size = 65536;
    t->low_water = 0;
    ior__wq_init(&t->q);
    t->next = loop->transports;
    if (loop->transports != NULL)
        loop->transports->prev = t;
    loop->transports = t;
    loop->active++;
}

static int is_gone(const ior_transport_t *t)
{
    return t->disconnected || t->closing;
}

/* Rule 1 refusals; 0 when the write may proceed. */
static int write_refused(const ior_transport_t *t, size_t len)
{
    if (!t->connected || is_gone(t))
        return IOR_ENOTCONN;
    if (t->write_disconnecting || t->write_disconnected)
        return IOR_ESHUTDOWN;
    if (t->max_buffer != 0 &&
        (len > t->max_buffer || t->q.bytes > t->max_buffer - len))
        return IOR_ENOBUFS;
    if (len > (size_t)-1 - t->q.bytes)
        return IOR_ERANGE;
    return 0;
}

/*
 * After bytes were queued: ask the backend to write (when the queue was
 * empty; otherwise it already knows), then pause a streaming producer on
 * the transition over the high-water mark. Twisted differs: it calls
 * pauseProducing again on every write while over the mark.
 */
static void after_queue(ior_transport_t *t, size_t before)
{
    if (before == 0)
        ior__t_start_writing(t);
    if (t->producer != NULL && t->streaming && !t->producer_paused &&
        t->q.bytes > t->buffer_size && !is_gone(t)) {
        t->producer_paused = 1;
        t->producer->pause_producing(t->producer_user);
    }
}

/* write_sequence tries the direct path for up to this many buffers. */
#define IOR__DIRECT_BUFS 16

/*
 * Into an idle transport, bytes go to the OS straight from the caller's
 * buffers (no copy, no loop iteration); only what the OS does not take is
 * queued. The drain is still reported from the loop, as if the bytes had
 * passed through the queue, whether or not a producer is registered yet:
 * a pull producer registered after the write (Twisted's
 * test_resumeProducingAbort) is resumed only by drains (rule 3). Twisted
 * differs: every write waits in its buffer for the reactor's doWrite.
 * Returns how many leading bytes were written.
 */
static size_t write_direct(ior_transport_t *t, const ior_buf_t *bufs,
                           size_t n, size_t total)
{
    size_t k;
    if (t->q.bytes != 0 || t->q.inflight != 0 || t->closing)
        return 0;
    k = ior__t_try_write(t, bufs, n);
    if (k > total)
        k = total; /* a backend bug must not corrupt the count */
    if (k == total)
        ior__core_defer_drain(t);
    return k;
}

/* Drops the first k bytes of bufs[0..n) in place; returns the new n. */
static size_t skip_bytes(ior_buf_t *bufs, size_t n, size_t k)
{
    size_t i = 0;
    while (i < n && k >= bufs[i].len) {
        k -= bufs[i].len;
        i++;
    }
    if (i < n) {
        bufs[i].base = (const char *)bufs[i].base + k;
        bufs[i].len -= k;
    }
    return i;
}

/*
 * The rest of a write could not be queued (out of memory) after its head
 * went out directly: the stream has a hole, so the transport must not go
 * on as if nothing happened. It closes with the error; nothing is lost
 * silently.
 */
static int write_failed_after(ior_transport_t *t, size_t sent, int rc)
{
    if (sent > 0)
        ior__core_error(t, rc, 0);
    return rc;
}

int ior_transport_write(ior_transport_t *t, const void *data, size_t len)
{
    ior_buf_t b;
    size_t before, k;
    int rc;

    if (t == NULL || (data == NULL && len > 0))
        return IOR_EINVAL;
    if ((rc = write_refused(t, len)) != 0)
        return rc;
    if (len == 0)
        return 0;
    b.base = data;
    b.len = len;
    k = write_direct(t, &b, 1, len);
    if (k == len)
        return 0;
    b.base = (const char *)data + k;
    b.len = len - k;
    before = t->q.bytes;
    if ((rc = ior__wq_push_copy(&t->q, &b, 1, len - k)) != 0)
        return write_failed_after(t, k, rc);
    after_queue(t, before);
    return 0;
}

int ior_transport_write_ref(ior_transport_t *t, const void *data, size_t len,
                            ior_release_cb release, void *ctx)
{
    size_t before;
    int rc;

    if (t == NULL || (data == NULL && len > 0))
        return IOR_EINVAL;
    if ((rc = write_refused(t, len)) != 0)
        return rc;
    if (len == 0)
        return 0; /* nothing queued, so the release is not taken */
    before = t->q.bytes;
    if ((rc = ior__wq_push_ref(&t->q, data, len, release, ctx)) != 0)
        return rc;
    after_queue(t, before);
    return 0;
}

/*
 * Checked as a copying write would be, after the arguments (the file is
 * looked at now, so a wrong handle is an error here, not a lost
 * connection later). Never the direct path: the region goes through the
 * queue, which keeps it in order with everything written around it.
 */
int ior_transport_write_file(ior_transport_t *t, intptr_t os_file,
                             uint64_t offset, uint64_t length,
                             ior_release_cb release, void *ctx)
{
    size_t before;
    int rc;

    if (t == NULL || os_file == -1 || length > UINT64_MAX - offset)
        return IOR_EINVAL;
    if ((rc = ior__os_file_check(os_file, offset, length)) != 0)
        return rc;
    if (length > (uint64_t)(size_t)-1)
        return IOR_ERANGE; /* more than a 32-bit queue can count */
    if ((rc = write_refused(t, (size_t)length)) != 0)
        return rc;
    if (length == 0)
        return 0; /* nothing queued, so the release is not taken */
    before = t->q.bytes;
    rc = ior__wq_push_file(&t->q, os_file, offset, length, release, ctx);
    if (rc != 0)
        return rc;
    after_queue(t, before);
    return 0;
}

int ior_transport_write_sequence(ior_transport_t *t, const ior_buf_t *bufs,
                                 size_t n)
{
    size_t i, total = 0, before;
    int rc;

    if (t == NULL || (bufs == NULL && n > 0))
        return IOR_EINVAL;
    for (i = 0; i < n; i++) {
        if (bufs[i].base == NULL && bufs[i].len > 0)
            return IOR_EINVAL;
        if (bufs[i].len > (size_t)-1 - total)
            return IOR_ERANGE;
        total += bufs[i].len;
    }
    if ((rc = write_refused(t, total)) != 0)
        return rc;
    if (total == 0)
        return 0;
    if (n <= IOR__DIRECT_BUFS) {
        ior_buf_t local[IOR__DIRECT_BUFS] = {{NULL, 0}};
        size_t k, m;
        for (i = 0; i < n; i++)
            local[i] = bufs[i];
        k = write_direct(t, local, n, total);
        if (k == total)
            return 0;
        m = skip_bytes(local, n, k);
        before = t->q.bytes;
        rc = ior__wq_push_copy(&t->q, local + m, n - m, total - k);
        if (rc != 0)
            return write_failed_after(t, k, rc);
        after_queue(t, before);
        return 0;
    }
    before = t->q.bytes;
    if ((rc = ior__wq_push_copy(&t->q, bufs, n, total)) != 0)
        return rc;
    after_queue(t, before);
    return 0;
}

void ior__producer_forget(ior_transport_t *t, const ior_producer_ops_t **ops,
                          void **user)
{
    *ops = t->producer;
    *user = t->producer_user;
    if (t->producer == &ior_transport_producer_ops) {
        ior_transport_t *p = t->producer_user;
        if (p->consumer == t)
            p->consumer = NULL;
    }
    t->producer = NULL;
    t->producer_user = NULL;
    t->producer_paused = 0;
    t->streaming = 0;
}

void ior__producer_gone(ior_transport_t *t)
{
    ior_transport_t *c = t->consumer;
    t->consumer = NULL;
    if (c != NULL && c->producer == &ior_transport_producer_ops &&
        c->producer_user == t)
        (void)ior_transport_unregister_producer(c);
}

/*
 * Rule 4. A transport registered as another's producer (through
 * ior_transport_producer_ops) is linked to it, so that whichever goes
 * first unlinks the other; so it can be the producer of one consumer at
 * a time (a second one gets IOR_EBUSY).
 */
int ior_transport_register_producer(ior_transport_t *t,
                                    const ior_producer_ops_t *ops, void *user,
                                    int streaming)
{
    if (t == NULL || ops == NULL || ops->resume_producing == NULL ||
        ops->stop_producing == NULL ||
        (streaming && ops->pause_producing == NULL) ||
        (ops == &ior_transport_producer_ops && user == NULL))
        return IOR_EINVAL;
    if (t->producer != NULL)
        return IOR_EBUSY;
    if (ops == &ior_transport_producer_ops &&
        ((ior_transport_t *)user)->consumer != NULL)
        return IOR_EBUSY;
    if (is_gone(t) || !t->connected) {
        ops->stop_producing(user);
        return 0;
    }
    if (ops == &ior_transport_producer_ops) {
        ior_transport_t *p = user;
        if (p->disconnected) {
            /* Already lost: it may be freed any moment; nothing to link. */
            return IOR_ENOTCONN;
        }
        p->consumer = t;
    }
    t->producer = ops;
    t->producer_user = user;
    t->streaming = streaming ? 1 : 0;
    t->producer_paused = 0;
    if (!streaming)
        ops->resume_producing(user);
    return 0;
}

/*
 * Rule 5. Twisted differs: it leaves producerPaused set, so the next
 * producer can be resumed without ever having been paused. A pending close
 * or half-close may have been waiting for the producer (rule 3 resumes a
 * pull producer instead of finishing): ask for a drain so it can finish.
 * Twisted only does this for loseConnection, so its half-close can hang.
 */
int ior_transport_unregister_producer(ior_transport_t *t)
{
    const ior_producer_ops_t *ops;
    void *user;

    if (t == NULL)
        return IOR_EINVAL;
    if (t->producer == NULL)
        return IOR_ENOENT;
    ior__producer_forget(t, &ops, &user);
    if (t->connected && !is_gone(t) &&
        (t->disconnecting ||
         (t->write_disconnecting && !t->write_disconnected)))
        ior__t_start_writing(t);
    return 0;
}

/* Rule 6. */
int ior_transport_lose_connection(ior_transport_t *t)
{
    if (t == NULL)
        return IOR_EINVAL;
    if (is_gone(t))
        return IOR_ENOTCONN;
    if (t->disconnecting)
        return 0;
    if (t->write_disconnected) {
        ior__transport_close(t, IOR_EDONE, 0);
        return 0;
    }
    t->disconnecting = 1;
    ior__transport_drop_held(t);
    if (!t->reading_paused)
        ior__t_stop_reading(t);
    ior__t_start_writing(t);
    return 0;
}

/* Rule 7. */
int ior_transport_lose_write_connection(ior_transport_t *t)
{
    if (t == NULL)
        return IOR_EINVAL;
    if (is_gone(t))
        return IOR_ENOTCONN;
    if (t->write_disconnecting || t->write_disconnected || t->disconnecting)
        return 0;
    t->write_disconnecting = 1;
    ior__t_start_writing(t);
    return 0;
}

/* Rule 8: the queue is discarded when the deferred close runs. */
int ior_transport_abort_connection(ior_transport_t *t)
{
    if (t == NULL)
        return IOR_EINVAL;
    if (t->disconnected || t->aborting)
        return 0;
    t->aborting = 1;
    if (!t->closing) {
        ior__transport_drop_held(t);
        if (!t->reading_paused && !t->disconnecting)
            ior__t_stop_reading(t);
        ior__transport_close(t, IOR_EABORTED, 0);
    }
    return 0;
}

int ior_transport_stop_consuming(ior_transport_t *t)
{
    if (t == NULL)
        return IOR_EINVAL;
    (void)ior_transport_unregister_producer(t);
    return ior_transport_lose_connection(t);
}

int ior_transport_set_protocol(ior_transport_t *t,
                               const ior_protocol_ops_t *ops, void *user)
{
    if (t == NULL || ops == NULL)
        return IOR_EINVAL;
    if (is_gone(t))
        return IOR_ENOTCONN;
    t->proto = ops;
    t->proto_user = user;
    return 0;
}

void *ior_transport_user(const ior_transport_t *t)
{
    return t != NULL ? t->proto_user : NULL;
}

ior_loop_t *ior_transport_loop(const ior_transport_t *t)
{
    return t != NULL ? t->loop : NULL;
}

int ior_transport_set_buffer_size(ior_transport_t *t, size_t high_water)
{
    if (t == NULL)
        return IOR_EINVAL;
    if (high_water < t->low_water ||
        (t->max_buffer != 0 && high_water > t->max_buffer))
        return IOR_ERANGE;
    t->buffer_size = high_water;
    return 0;
}

int ior_transport_set_low_water(ior_transport_t *t, size_t low_water)
{
    if (t == NULL)
        return IOR_EINVAL;
    if (low_water > t->buffer_size)
        return IOR_ERANGE;
    t->low_water = low_water;
    return 0;
}

int ior_transport_set_max_buffer(ior_transport_t *t, size_t max_buffer)
{
    if (t == NULL)
        return IOR_EINVAL;
    if (max_buffer != 0 && max_buffer < t->buffer_size)
        return IOR_ERANGE;
    t->max_buffer = max_buffer;
    return 0;
}

size_t ior_transport_buffer_size(const ior_transport_t *t)
{
    return t != NULL ? t->buffer_size : 0;
}

size_t ior_transport_low_water(const ior_transport_t *t)
{
    return t != NULL ? t->low_water : 0;
}

size_t ior_transport_buffered(const ior_transport_t *t)
{
    return t != NULL ? t->q.bytes : 0;
}

unsigned ior_transport_state(const ior_transport_t *t)
{
    unsigned s = 0;
    if (t == NULL)
        return 0;
    s |= t->connected ? IOR_TS_CONNECTED : 0;
    s |= t->disconnecting ? IOR_TS_DISCONNECTING : 0;
    s |= t->disconnected ? IOR_TS_DISCONNECTED : 0;
    s |= t->write_disconnecting ? IOR_TS_WRITE_DISCONNECTING : 0;
    s |= t->write_disconnected ? IOR_TS_WRITE_DISCONNECTED : 0;
    s |= t->read_disconnected ? IOR_TS_READ_DISCONNECTED : 0;
    s |= t->producer != NULL ? IOR_TS_PRODUCER : 0;
    s |= t->producer_paused ? IOR_TS_PRODUCER_PAUSED : 0;
    s |= t->streaming ? IOR_TS_STREAMING : 0;
    s |= t->reading_paused ? IOR_TS_READING_PAUSED : 0;
    return s;
}

int ior_transport_os_error(const ior_transport_t *t)
{
    return t != NULL ? t->os_error : 0;
}
