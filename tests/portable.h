/*
 * The few C runtime calls the suites need that MSVC deprecates (C4996,
 * an error under /W4 /WX): getenv and fopen, through MSVC's own safe
 * forms there and the standard ones elsewhere. ci/portability forbids
 * the deprecated names in everything the Windows jobs compile.
 */
#ifndef IOR_TESTS_PORTABLE_H
#define IOR_TESTS_PORTABLE_H

#include <stdio.h>
#include <stdlib.h>

/*
 * The variable's value or NULL. Under MSVC the value is copied into one
 * of a few rotating buffers (values longer than 1 KiB read as unset).
 */
static inline const char *test_getenv(const char *name)
{
#if defined(_MSC_VER)
    static char bufs[8][1024];
    static unsigned slot;
    char *b = bufs[slot++ % 8u];
    size_t len = 0;

    if (getenv_s(&len, b, sizeof(bufs[0]), name) != 0 || len == 0)
        return NULL;
    return b;
#else
    return getenv(name);
#endif
}

static inline FILE *test_fopen(const char *path, const char *mode)
{
#if defined(_MSC_VER)
    FILE *f = NULL;

    return fopen_s(&f, path, mode) == 0 ? f : NULL;
#else
    return fopen(path, mode);
#endif
}

#endif /* IOR_TESTS_PORTABLE_H */
