/*
 * Tracked heaps for the model: the library's allocator (counted, and able
 * to fail one allocation on demand for MOP_OOM) and the test's own
 * objects, both freeable in one go when a failed run is abandoned.
 */
#include "model.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Tracked heaps: the library's (counted) and the test's own           */
/* ------------------------------------------------------------------ */

heap_t model_lib_heap, model_test_heap;

static void *heap_alloc(heap_t *h, size_t size)
{
    hblk_t *b;
    if (size > (size_t)-1 - sizeof *b)
        return NULL;
    b = malloc(sizeof *b + size);
    if (b == NULL)
        return NULL;
    b->size = size;
    b->prev = NULL;
    b->next = h->head;
    if (h->head != NULL)
        h->head->prev = b;
    h->head = b;
    h->live++;
    return b + 1;
}

static void heap_unlink(heap_t *h, hblk_t *b)
{
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        h->head = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    h->live--;
}

static void heap_free(heap_t *h, void *p)
{
    if (p == NULL)
        return;
    heap_unlink(h, (hblk_t *)p - 1);
    free((hblk_t *)p - 1);
}

static void *heap_realloc(heap_t *h, void *p, size_t size)
{
    hblk_t *b, *nb;
    if (p == NULL)
        return heap_alloc(h, size);
    if (size > (size_t)-1 - sizeof *b)
        return NULL;
    b = (hblk_t *)p - 1;
    heap_unlink(h, b);
    nb = realloc(b, sizeof *b + size);
    if (nb != NULL)
        nb->size = size;
    else
        nb = b; /* failed: the old block stays valid, as realloc promises */
    nb->prev = NULL;
    nb->next = h->head;
    if (h->head != NULL)
        h->head->prev = nb;
    h->head = nb;
    h->live++;
    return nb->size == size ? nb + 1 : NULL;
}

/* Frees everything a failed run left (its objects may be inconsistent,
 * but nothing will look at them again). */
void model_heap_drop_all(heap_t *h)
{
    while (h->head != NULL) {
        hblk_t *b = h->head;
        h->head = b->next;
        free(b);
    }
    h->live = 0;
}

/* MOP_OOM arms one failure of the library's next allocation. */
static int oom_now(void)
{
    if (!W.oom_arm)
        return 0;
    W.oom_arm = 0;
    W.oom_hit = 1;
    return 1;
}

static void *lib_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return oom_now() ? NULL : heap_alloc(&model_lib_heap, size);
}

static void *lib_realloc(void *ctx, void *p, size_t size)
{
    (void)ctx;
    return oom_now() ? NULL : heap_realloc(&model_lib_heap, p, size);
}

static void lib_free(void *ctx, void *p)
{
    (void)ctx;
    heap_free(&model_lib_heap, p);
}

const ior_allocator_t model_lib_allocator = {lib_malloc, lib_realloc,
                                              lib_free, NULL};

void *model_talloc(size_t size)
{
    void *p = heap_alloc(&model_test_heap, size);
    MCHECK(p != NULL, "test out of memory");
    memset(p, 0, size);
    return p;
}

void model_tfree(void *p)
{
    heap_free(&model_test_heap, p);
}

