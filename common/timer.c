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

static ior_timer_id handle_of(const ior__timers_t *h, uint32_t slot)
{
    return ((uint64_t)h->slots[slot].gen << 32) | (uint64_t)(slot + 1);
}

/* The slot a live handle names, or -1 for a stale or malformed one. */
static int64_t slot_of(const ior__timers_t *h, ior_timer_id id)
{
    uint32_t slot = (uint32_t)(id & 0xffffffffu);
    uint32_t gen = (uint32_t)(id >> 32);

    if (slot == 0 || slot > h->nslots)
        return -1;
    slot--;
    if (h->slots[slot].gen != gen ||
        h->slots[slot].heap_index == IOR__TIMER_FREE)
        return -1;
    return slot;
}

/* Puts a slot that is out of the heap back in, after every equal deadline. */
static void insert(ior__timers_t *h, uint32_t slot, uint64_t deadline)
{
    h->slots[slot].deadline = deadline;
    h->slots[slot].seq = h->next_seq++;
    h->count++;
    place(h, h->count - 1, slot);
    sift_up(h, h->count - 1);
}

int ior__timers_add(ior__timers_t *h, uint64_t deadline, uint64_t period,
                    ior_callback_t cb, void *user, ior_timer_id *out)
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
    s->period = period;
    s->cb = cb;
    s->user = user;
    insert(h, slot, deadline);
    if (out != NULL)
        *out = handle_of(h, slot);
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

/*
 * A one-shot timer whose callback is running has fired: there is nothing
 * left to cancel. A repeating one still has its next firings to cancel.
 */
int ior__timers_cancel(ior__timers_t *h, ior_timer_id id)
{
    int64_t slot = slot_of(h, id);
    struct ior__timer_slot *s;

    if (slot < 0)
        return IOR_ENOENT;
    s = &h->slots[slot];
    if (s->heap_index == IOR__TIMER_FIRING) {
        if (s->period == 0)
            return IOR_ENOENT;
    } else {
        remove_at(h, s->heap_index);
    }
    free_slot(h, (uint32_t)slot);
    return 0;
}

int ior__timers_restart(ior__timers_t *h, ior_timer_id id, uint64_t deadline)
{
    int64_t slot = slot_of(h, id);

    if (slot < 0)
        return IOR_ENOENT;
    if (h->slots[slot].heap_index != IOR__TIMER_FIRING)
        remove_at(h, h->slots[slot].heap_index);
    insert(h, (uint32_t)slot, deadline);
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
                        ior_callback_t *cb, void **user, ior_timer_id *id)
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
    *id = handle_of(h, slot);
    remove_at(h, 0);
    s->heap_index = IOR__TIMER_FIRING;
    return 1;
}

/*
 * A repeating timer keeps its phase (the next deadline is the last one
 * plus the period) unless the loop fell a whole period behind; then it
 * skips the missed firings rather than running them in a burst, as
 * libuv's repeat does.
 */
void ior__timers_fired(ior__timers_t *h, ior_timer_id id, uint64_t now)
{
    int64_t slot = slot_of(h, id);
    struct ior__timer_slot *s;
    uint64_t next;

    if (slot < 0 || h->slots[slot].heap_index != IOR__TIMER_FIRING)
        return; /* cancelled or restarted by its callback */
    s = &h->slots[slot];
    if (s->period == 0) {
        free_slot(h, (uint32_t)slot);
        return;
    }
    next = s->deadline + s->period;
    if (next < s->deadline)
        next = UINT64_MAX;
    else if (next <= now)
        next = now + s->period < now ? UINT64_MAX : now + s->period;
    insert(h, (uint32_t)slot, next);
}
