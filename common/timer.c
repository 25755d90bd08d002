/*
 * The timer heap both loops use: a binary min-heap of slot indexes ordered
 * by (deadline, sequence), so timers with equal deadlines fire in the order
 * they were scheduled. Slots are recycled with a generation counter, which
 * makes a handle of a fired or cancelled timer detectably stale (redis ae
 * keeps an unsorted list; libuv embeds the node in the user's handle; we
 * want neither a scan nor a dangling pointer).
 */
#include "core.h"

void ior__timers_init(ior__timers_t *h)
{
    h->slots = NULL;
    h->nslots = 0;
    h->cap = 0;
    h->heap = NULL;
    h->count = 0;
    h->free_head = IOR__TIMER_FREE;
    h->next_seq = 0;
}

void ior__timers_cleanup(ior__timers_t *h)
{
    ior__free(h->slots);
    ior__free(h->heap);
    ior__timers_init(h);
}

static int earlier(const ior__timers_t *h, uint32_t a, uint32_t b)
{
    const struct ior__timer_slot *x = &h->slots[a], *y = &h->slots[b];
    if (x->deadline != y->deadline)
        return x->deadline < y->deadline;
    return x->seq < y->seq;
}

static void place(ior__timers_t *h, uint32_t pos, uint32_t slot)
{
    h->heap[pos] = slot;
    h->slots[slot].heap_index = pos;
}

static void sift_up(ior__timers_t *h, uint32_t pos)
{
    uint32_t slot = h->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!earlier(h, slot, h->heap[parent]))
            break;
        place(h, pos, h->heap[parent]);
        pos = parent;
    }
    place(h, pos, slot);
}

static void sift_down(ior__timers_t *h, uint32_t pos)
{
    uint32_t slot = h->heap[pos];
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && earlier(h, h->heap[child + 1],
                                            h->heap[child]))
            child++;
        if (!earlier(h, h->heap[child], slot))
            break;
        place(h, pos, h->heap[child]);
        pos = child;
    }
    place(h, pos, slot);
}

static int grow(ior__timers_t *h)
{
    uint32_t ncap = h->cap ? h->cap * 2 : 64;
    struct ior__timer_slot *slots;
    uint32_t *heap;

    if (h->cap >= UINT32_MAX / 4)
        return IOR_ENOMEM;
    /* Both arrays grow together; a failure leaves the old ones intact. */
    slots = ior__realloc(h->slots, (size_t)ncap * sizeof *slots);
    if (slots == NULL)
        return IOR_ENOMEM;
    h->slots = slots;
    heap = ior__realloc(h->heap, (size_t)ncap * sizeof *heap);
    if (heap == NULL)
        return IOR_ENOMEM;
    h->heap = heap;
    h->cap = ncap;
    return 0;
}

static void free_slot(ior__timers_t *h, uint32_t slot)
{
    struct ior__timer_slot *s = &h->slots[slot];
    s->heap_index = IOR__TIMER_FREE;
    s->gen++;
    if (s->gen == 0)
        s->gen = 1;
    s->next_free = h->free_head;
    h->free_head = slot;
}

int ior__timers_add(ior__timers_t *h, uint64_t deadline, ior_callback_t cb,
                    void *user, ior_timer_id *out)
{
    uint32_t slot;
    struct ior__timer_slot *s;

    if (h->free_head != IOR__TIMER_FREE) {
        slot = h->free_head;
        h->free_head = h->slots[slot].next_free;
    } else {
        if (h->nslots == h->cap && grow(h) != 0)
            return IOR_ENOMEM;
        slot = h->nslots++;
        h->slots[slot].gen = 1;
    }
    s = &h->slots[slot];
    s->deadline = deadline;
    s->seq = h->next_seq++;
    s->cb = cb;
    s->user = user;
    h->count++;
    place(h, h->count - 1, slot);
    sift_up(h, h->count - 1);
    if (out != NULL)
        *out = ((uint64_t)s->gen << 32) | (uint64_t)(slot + 1);
    return 0;
}

static void remove_at(ior__timers_t *h, uint32_t pos)
{
    uint32_t last = h->heap[--h->count];
    if (pos < h->count) {
        place(h, pos, last);
        sift_down(h, pos);
        sift_up(h, h->slots[last].heap_index);
    }
}

int ior__timers_cancel(ior__timers_t *h, ior_timer_id id)
{
    uint32_t slot = (uint32_t)(id & 0xffffffffu);
    uint32_t gen = (uint32_t)(id >> 32);
    struct ior__timer_slot *s;

    if (slot == 0 || slot > h->nslots)
        return IOR_ENOENT;
    slot--;
    s = &h->slots[slot];
    if (s->gen != gen || s->heap_index == IOR__TIMER_FREE)
        return IOR_ENOENT;
    remove_at(h, s->heap_index);
    free_slot(h, slot);
    return 0;
}

uint64_t ior__timers_next(const ior__timers_t *h, int *has)
{
    if (h->count == 0) {
        *has = 0;
        return 0;
    }
    *has = 1;
    return h->slots[h->heap[0]].deadline;
}

int ior__timers_pop_due(ior__timers_t *h, uint64_t now, uint64_t seq_limit,
                        ior_callback_t *cb, void **user)
{
    uint32_t slot;
    struct ior__timer_slot *s;

    if (h->count == 0)
        return 0;
    slot = h->heap[0];
    s = &h->slots[slot];
    if (s->deadline > now || s->seq >= seq_limit)
        return 0;
    *cb = s->cb;
    *user = s->user;
    remove_at(h, 0);
    free_slot(h, slot);
    return 1;
}
