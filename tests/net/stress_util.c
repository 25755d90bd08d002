/* See stress_util.h. */
#include "stress_util.h"
#include "../portable.h"

#include <stdlib.h>

void sx_seed(sx_rng_t *r, uint64_t seed)
{
    r->s = seed != 0 ? seed : 0x9e3779b97f4a7c15ULL;
}

uint64_t sx_next(sx_rng_t *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

uint32_t sx_below(sx_rng_t *r, uint32_t n)
{
    return (uint32_t)((sx_next(r) >> 32) % n);
}

uint64_t sx_env_seed(uint64_t fallback)
{
    const char *s = test_getenv("IOR_TEST_SEED");
    if (s == NULL || *s == '\0')
        return fallback;
    return (uint64_t)strtoull(s, NULL, 0);
}

int sx_scale(void)
{
    const char *s = test_getenv("IOR_TEST_SCALE");
    long k = s != NULL ? strtol(s, NULL, 10) : 1;
    return k > 1 ? (int)k : 1;
}

int sx_scaled(int n, int min)
{
    int v = n / sx_scale();
    return v < min ? min : v;
}
