/*
 * Portable helpers of the stress, fault and bad-input suites: a seeded
 * PRNG (xorshift64*), the count divisor IOR_TEST_SCALE and the seed
 * IOR_TEST_SEED, both read from the environment.
 */
#ifndef IOR_TEST_STRESS_UTIL_H
#define IOR_TEST_STRESS_UTIL_H

#include <stdint.h>

typedef struct sx_rng {
    uint64_t s;
} sx_rng_t;

void sx_seed(sx_rng_t *r, uint64_t seed);
uint64_t sx_next(sx_rng_t *r);
/* Uniform in [0, n) (n > 0). */
uint32_t sx_below(sx_rng_t *r, uint32_t n);

/*
 * IOR_TEST_SEED when set (decimal or 0x hex), else `fallback`: runs are
 * repeatable by default and a failing seed can be replayed.
 */
uint64_t sx_env_seed(uint64_t fallback);

/*
 * n divided by IOR_TEST_SCALE (an integer >= 1; default 1), at least
 * `min`. ci/test sets it for the slow valgrind run.
 */
int sx_scaled(int n, int min);
int sx_scale(void);

#endif
