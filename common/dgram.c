/*
 * The bounded datagram queue behind ior_udp_send_to on both backends: a
 * send never blocks the loop, so datagrams the OS cannot take at once wait
 * here, and a full queue refuses the whole datagram rather than buffering
 * without limit or cutting it.
 */
#include "core.h"

#include <string.h>

void ior__dq_init(ior__dqueue_t *q, size_t limit)
{
    memset(q, 0, sizeof *q);
    q->limit = limit ? limit : IOR__UDP_DEFAULT_QUEUE;
}

int ior__dq_push(ior__dqueue_t *q, const void *data, size_t len,
                 const ior_addr_t *to)
{
    ior__dgram_t *d;

    if (len > IOR__UDP_MAX_PAYLOAD)
        return IOR_EMSGSIZE;
    if (len > q->limit || q->bytes > q->limit - len)
        return IOR_ENOBUFS;
    d = ior__malloc(sizeof *d + len);
    if (d == NULL)
        return IOR_ENOMEM;
    d->next = NULL;
    if (to != NULL)
        d->to = *to;
    else
        memset(&d->to, 0, sizeof d->to);
    d->len = len;
    if (len > 0)
        memcpy(d + 1, data, len);
    if (q->tail != NULL)
        q->tail->next = d;
    else
        q->head = d;
    q->tail = d;
    q->bytes += len;
    q->count++;
    return 0;
}

ior__dgram_t *ior__dq_peek(const ior__dqueue_t *q)
{
    return q->head;
}

const void *ior__dq_data(const ior__dgram_t *d)
{
    return d + 1;
}

void ior__dq_pop(ior__dqueue_t *q)
{
    ior__dgram_t *d = q->head;
    if (d == NULL)
        return;
    q->head = d->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->bytes -= d->len;
    q->count--;
    ior__free(d);
}

void ior__dq_clear(ior__dqueue_t *q)
{
    while (q->head != NULL)
        ior__dq_pop(q);
}
