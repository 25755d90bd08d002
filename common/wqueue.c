/*
 * The write-buffer queue: a list of chunks, each either a copy (data inline,
 * with spare room so small writes coalesce), borrowed caller memory with a
 * release callback, or a region of a file (sent by the OS from the file, or
 * read into a copy chunk piece by piece just before it is sent). Chunks
 * handed to the OS (the send in flight) stay put until the OS gives them
 * back, even when the queue is thrown away.
 */
#include "core.h"

#include <string.h>

/* Small writes share a chunk of this size (header included). */
#define IOR__CHUNK_MIN 4096

void ior__wq_init(ior__wqueue_t *q)
{
    memset(q, 0, sizeof *q);
}

static char *chunk_data(struct ior__chunk *c)
{
    return (char *)(c + 1);
}

static void append_chunk(ior__wqueue_t *q, struct ior__chunk *c)
{
    c->next = NULL;
    if (q->tail != NULL)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
}

static void append_done(ior__wqueue_t *q, struct ior__chunk *c)
{
    c->next = NULL;
    if (q->done_tail != NULL)
        q->done_tail->next = c;
    else
        q->done_head = c;
    q->done_tail = c;
}

size_t ior__bufs_gather(char *dst, size_t cap, const ior_buf_t *bufs, size_t n)
{
    size_t total = 0;
    size_t i;

    for (i = 0; i < n && total < cap; i++) {
        size_t k = bufs[i].len;
        if (k > cap - total)
            k = cap - total;
        if (k > 0)
            memcpy(dst + total, bufs[i].base, k);
        total += k;
    }
    return total;
}

static void copy_bufs(char *dst, const ior_buf_t *bufs, size_t n)
{
    (void)ior__bufs_gather(dst, (size_t)-1, bufs, n);
}

int ior__wq_push_copy(ior__wqueue_t *q, const ior_buf_t *bufs, size_t n,
                      size_t total)
{
    struct ior__chunk *c = q->tail;
    size_t cap;

    /* Appending past the bytes of a chunk in flight does not move them. */
    if (c != NULL && c->cap > 0 && c->cap - c->len >= total) {
        copy_bufs(chunk_data(c) + c->len, bufs, n);
        c->len += total;
        q->bytes += total;
        return 0;
    }
    cap = total;
    if (cap < IOR__CHUNK_MIN - sizeof *c)
        cap = IOR__CHUNK_MIN - sizeof *c;
    if (cap > (size_t)-1 - sizeof *c)
        return IOR_ENOMEM;
    c = ior__malloc(sizeof *c + cap);
    if (c == NULL)
        return IOR_ENOMEM;
    memset(c, 0, sizeof *c);
    c->base = chunk_data(c);
    c->len = total;
    c->cap = cap;
    copy_bufs(chunk_data(c), bufs, n);
    append_chunk(q, c);
    q->bytes += total;
    return 0;
}

int ior__wq_push_ref(ior__wqueue_t *q, const void *data, size_t len,
                     ior_release_cb release, void *ctx)
{
    struct ior__chunk *c = ior__malloc(sizeof *c);
    if (c == NULL)
        return IOR_ENOMEM;
    memset(c, 0, sizeof *c);
    c->base = data;
    c->len = len;
    c->release = release;
    c->ctx = ctx;
    append_chunk(q, c);
    q->bytes += len;
    return 0;
}

/*
 * The chunks are made first and linked only when all exist, so a failed
 * allocation queues nothing and the release is never taken twice.
 */
int ior__wq_push_file(ior__wqueue_t *q, intptr_t file, uint64_t offset,
                      uint64_t length, ior_release_cb release, void *ctx)
{
    struct ior__chunk *first = NULL, *last = NULL, *c;
    uint64_t left = length;

    while (left > 0) {
        size_t len = left > IOR__FILE_CHUNK_MAX ? IOR__FILE_CHUNK_MAX
                                                : (size_t)left;
        c = ior__malloc(sizeof *c);
        if (c == NULL) {
            while (first != NULL) {
                c = first->next;
                ior__free(first);
                first = c;
            }
            return IOR_ENOMEM;
        }
        memset(c, 0, sizeof *c);
        c->len = len;
        c->file = file;
        c->foff = offset + (length - left);
        c->is_file = 1;
        if (last != NULL)
            last->next = c;
        else
            first = c;
        last = c;
        left -= len;
    }
    if (last == NULL)
        return 0;
    last->release = release;
    last->ctx = ctx;
    for (c = first; c != NULL; c = first) {
        first = c->next;
        append_chunk(q, c);
    }
    q->bytes += (size_t)length;
    return 0;
}

struct ior__chunk *ior__wq_head_file(const ior__wqueue_t *q)
{
    struct ior__chunk *c = q->head;
    if (c == NULL || !c->is_file || q->head_off >= c->len)
        return NULL;
    return c;
}

void ior__wq_peek_file(ior__wqueue_t *q, ior__file_send_t *fs)
{
    struct ior__chunk *c = q->head;
    fs->file = c->file;
    fs->offset = c->foff + q->head_off;
    fs->len = c->len - q->head_off;
    q->inflight = fs->len;
}

/*
 * The piece goes in front of the file chunk, which shrinks by as much, so
 * the byte count and the order stay as written; the file chunk stays
 * (perhaps empty) until consumed, so its release keeps its place too.
 */
int ior__wq_file_copy(ior__wqueue_t *q, size_t max, int *os_error)
{
    struct ior__chunk *f = q->head, *c;
    uint64_t at = f->foff + q->head_off;
    size_t want = f->len - q->head_off, got = 0;
    int rc;

    if (want > max)
        want = max;
    c = ior__malloc(sizeof *c + want);
    if (c == NULL)
        return IOR_ENOMEM;
    memset(c, 0, sizeof *c);
    *os_error = 0;
    while (got < want) {
        size_t k = 0;
        rc = ior__os_file_read(f->file, at + got, chunk_data(c) + got,
                               want - got, &k, os_error);
        if (rc == 0 && k == 0)
            rc = IOR_EIO; /* the file is shorter than the region now */
        if (rc != 0) {
            ior__free(c);
            return rc;
        }
        got += k;
    }
    c->base = chunk_data(c);
    c->len = want;
    c->cap = want; /* full: nothing coalesces into a piece of a file */
    f->foff = at + want;
    f->len -= q->head_off + want;
    q->head_off = 0;
    c->next = f;
    q->head = c;
    return 0;
}

size_t ior__wq_peek(ior__wqueue_t *q, ior_buf_t *bufs, size_t max_bufs,
                    size_t max_len)
{
    struct ior__chunk *c;
    size_t n = 0, total = 0, off = q->head_off;

    for (c = q->head; c != NULL && n < max_bufs && !c->is_file;
         c = c->next) {
        while (off < c->len && n < max_bufs) {
            size_t len = c->len - off;
            if (len > max_len)
                len = max_len; /* e.g. WSABUF lengths are 32-bit */
            bufs[n].base = c->base + off;
            bufs[n].len = len;
            n++;
            total += len;
            off += len;
        }
        off = 0;
    }
    q->inflight = total;
    return n;
}

/* Removes the head chunk; a borrowed one waits on the done list. */
static void pop_head(ior__wqueue_t *q)
{
    struct ior__chunk *c = q->head;
    q->head = c->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->head_off = 0;
    if (c->cap > 0 || c->release == NULL)
        ior__free(c);
    else
        append_done(q, c);
}

void ior__wq_consume(ior__wqueue_t *q, size_t n)
{
    q->inflight = 0;
    if (n > q->bytes)
        n = q->bytes; /* a backend bug must not corrupt the list */
    q->bytes -= n;
    /* An emptied file chunk (the copy path) goes as soon as it is head. */
    while (q->head != NULL) {
        struct ior__chunk *c = q->head;
        size_t left = c->len - q->head_off;
        if (n < left) {
            q->head_off += n;
            break;
        }
        n -= left;
        pop_head(q);
    }
    if (q->discarded) {
        while (q->head != NULL)
            pop_head(q);
        q->bytes = 0;
        q->discarded = 0;
    }
}

/*
 * Throws the queue away. Borrowed chunks go to the done list in the order
 * written. While a send is in flight its chunks must stay put, so then
 * nothing moves yet: the whole queue is marked discarded and
 * ior__wq_consume releases it, in order, after the in-flight chunks.
 * Releasing the chunks behind the send first would break the write order
 * of the release callbacks (libuv keeps it: test-tcp-write-queue-order).
 */
void ior__wq_discard(ior__wqueue_t *q)
{
    struct ior__chunk *c, *next;

    if (q->inflight > 0) {
        q->bytes = q->inflight;
        q->discarded = 1;
        return;
    }
    c = q->head;
    q->head = q->tail = NULL;
    q->head_off = 0;
    q->bytes = 0;
    for (; c != NULL; c = next) {
        next = c->next;
        if (c->cap > 0 || c->release == NULL)
            ior__free(c);
        else
            append_done(q, c);
    }
}

void ior__wq_release_done(ior__wqueue_t *q)
{
    while (q->done_head != NULL) {
        struct ior__chunk *c = q->done_head;
        q->done_head = c->next;
        if (q->done_head == NULL)
            q->done_tail = NULL;
        /* A file region's release is (ctx, NULL, 0): no memory was lent. */
        c->release(c->ctx, c->base, c->is_file ? 0 : c->len);
        ior__free(c);
    }
}
