/*
 * The one replaceable allocator behind every allocation of the library, so
 * tests can inject out-of-memory at any allocation and count leaks.
 */
#include "core.h"

#include <stdlib.h>

static void *default_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *default_realloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return realloc(ptr, size);
}

static void default_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static ior_allocator_t current = {default_malloc, default_realloc,
                                  default_free, NULL};

int ior_set_allocator(const ior_allocator_t *allocator)
{
    if (allocator == NULL) {
        current.malloc_fn = default_malloc;
        current.realloc_fn = default_realloc;
        current.free_fn = default_free;
        current.ctx = NULL;
        return 0;
    }
    if (allocator->malloc_fn == NULL || allocator->realloc_fn == NULL ||
        allocator->free_fn == NULL)
        return IOR_EINVAL;
    current = *allocator;
    return 0;
}

void *ior__malloc(size_t size)
{
    /* malloc(0) may return NULL legitimately; never ask for zero bytes. */
    return current.malloc_fn(current.ctx, size ? size : 1);
}

void *ior__calloc(size_t n, size_t size)
{
    unsigned char *p;
    size_t total, i;

    if (size != 0 && n > (size_t)-1 / size)
        return NULL;
    total = n * size;
    p = ior__malloc(total);
    if (p == NULL)
        return NULL;
    for (i = 0; i < total; i++)
        p[i] = 0;
    return p;
}

void *ior__realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return ior__malloc(size);
    return current.realloc_fn(current.ctx, ptr, size ? size : 1);
}

void ior__free(void *ptr)
{
    if (ptr != NULL)
        current.free_fn(current.ctx, ptr);
}
