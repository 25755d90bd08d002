/*
 * Counting allocator: each block carries a header holding its size, so the
 * live byte count stays exact across realloc and free.
 */
#include "counting_alloc.h"

#include "ior.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The header keeps the user block aligned for any type. */
typedef union hdr {
    size_t size;
    max_align_t align;
} hdr_t;

static size_t live;
static size_t live_bytes;
static size_t calls;
static size_t failures;
static long fail_countdown = -1;

/* Counts one attempt; returns 1 when this attempt must fail. */
static int should_fail(void)
{
    calls++;
    if (fail_countdown < 0)
        return 0;
    if (fail_countdown-- == 0) {
        failures++;
        return 1;
    }
    return 0;
}

static void *count_malloc(void *ctx, size_t size)
{
    hdr_t *h;
    (void)ctx;
    if (should_fail() || size > (size_t)-1 - sizeof(hdr_t))
        return NULL;
    h = malloc(sizeof(hdr_t) + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    live++;
    live_bytes += size;
    return h + 1;
}

static void count_free(void *ctx, void *ptr)
{
    hdr_t *h;
    (void)ctx;
    if (ptr == NULL)
        return;
    h = (hdr_t *)ptr - 1;
    live--;
    live_bytes -= h->size;
    free(h);
}

static void *count_realloc(void *ctx, void *ptr, size_t size)
{
    hdr_t *h;
    hdr_t *n;
    size_t old;
    if (ptr == NULL)
        return count_malloc(ctx, size);
    if (should_fail() || size > (size_t)-1 - sizeof(hdr_t))
        return NULL; /* like realloc: the old block stays valid */
    h = (hdr_t *)ptr - 1;
    old = h->size;
    n = realloc(h, sizeof(hdr_t) + size);
    if (n == NULL)
        return NULL;
    n->size = size;
    live_bytes = live_bytes - old + size;
    return n + 1;
}

static const ior_allocator_t counting = {
    count_malloc, count_realloc, count_free, NULL
};

void alloc_install(void)
{
    live = 0;
    live_bytes = 0;
    calls = 0;
    failures = 0;
    fail_countdown = -1;
    ior_set_allocator(&counting);
}

void alloc_uninstall(void)
{
    ior_set_allocator(NULL);
}

size_t alloc_live(void) { return live; }
size_t alloc_live_bytes(void) { return live_bytes; }
size_t alloc_calls(void) { return calls; }
size_t alloc_failures(void) { return failures; }

void alloc_fail_after(long n)
{
    fail_countdown = n < 0 ? -1 : n;
}
