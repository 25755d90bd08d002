/*
 * A counting allocator for the core tests, installed with
 * ior_set_allocator(). It counts live allocations and bytes, so every test
 * can end by checking that nothing leaked, and it can fail one chosen
 * allocation to inject out-of-memory on any path.
 */
#ifndef IOR_TEST_COUNTING_ALLOC_H
#define IOR_TEST_COUNTING_ALLOC_H

#include <stddef.h>

/* Installs the allocator and zeroes every counter. */
void alloc_install(void);
/* Restores the default allocator (malloc). */
void alloc_uninstall(void);

/* Blocks currently allocated through the library, and their bytes. */
size_t alloc_live(void);
size_t alloc_live_bytes(void);
/* Allocation attempts (malloc and realloc calls) since alloc_install(). */
size_t alloc_calls(void);
/* Allocations that were made to fail since alloc_install(). */
size_t alloc_failures(void);

/*
 * Makes the allocation attempt n from now fail once (0: the very next one),
 * then allocations succeed again. A negative n cancels a pending failure.
 */
void alloc_fail_after(long n);

#endif
