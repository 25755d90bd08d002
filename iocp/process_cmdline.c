/*
 * The strings CreateProcessW takes, built from ior_process_options_t: the
 * command line (quoted so the child's C runtime splits it back into
 * exactly our argv) and the environment block. Pure functions apart from
 * the UTF-8 → UTF-16 conversion, so tests/wine/test_iocp_cmdline.c can
 * check them against CommandLineToArgvW.
 *
 * Windows passes a child one string; the child's runtime (the MS C
 * runtime's parser, or CommandLineToArgvW, which agree on everything we
 * emit) splits it:
 *  - arguments are separated by spaces and tabs outside quotes;
 *  - 2n backslashes before a quote are n backslashes, and the quote
 *    toggles quoting; 2n+1 backslashes before a quote are n backslashes
 *    and a literal quote; backslashes not before a quote are literal;
 *  - the program name (argv[0]) is different: it ends at the next quote if
 *    it starts with one, else at a space or tab, and backslashes are always
 *    literal, so it cannot contain a quote at all.
 * We never emit "" inside quotes, whose meaning differs between runtime
 * versions.
 */
#include "iocp.h"

#include <string.h>

/* Characters that make an argument need quotes. \n and \v are not
 * separators for the C runtime, but quoting them costs nothing and keeps
 * any parser that treats all white space alike from splitting there. */
static int needs_quotes(const char *arg)
{
    return arg[0] == '\0' || strpbrk(arg, " \t\n\v\"") != NULL;
}

static void put(char *out, size_t *n, char c)
{
    if (out)
        out[*n] = c;
    (*n)++;
}

static void put_backslashes(char *out, size_t *n, size_t count)
{
    while (count-- > 0)
        put(out, n, '\\');
}

/*
 * One argument (not argv[0]) quoted by the MSVC rules. Writes into out
 * when it is not NULL (no terminating NUL) and returns the length.
 */
size_t ior__iocp_quote_arg(const char *arg, char *out)
{
    size_t n = 0;
    size_t slashes = 0;
    const char *s;

    if (!needs_quotes(arg)) {
        n = strlen(arg);
        if (out)
            memcpy(out, arg, n);
        return n;
    }
    put(out, &n, '"');
    for (s = arg; *s; s++) {
        if (*s == '\\') {
            slashes++;
            continue;
        }
        if (*s == '"') {
            /* Each backslash doubled, then one more to escape the quote. */
            put_backslashes(out, &n, 2 * slashes + 1);
        } else {
            put_backslashes(out, &n, slashes); /* literal here */
        }
        slashes = 0;
        put(out, &n, *s);
    }
    /* Before the closing quote, backslashes must be doubled. */
    put_backslashes(out, &n, 2 * slashes);
    put(out, &n, '"');
    return n;
}

/*
 * argv[0] by the program-name rules: quoted when empty or containing a
 * space or tab, never escaped. 0 (with *len) or IOR_EINVAL when it holds
 * a quote, which no program name can.
 */
static int quote_program(const char *arg, char *out, size_t *len)
{
    size_t k = strlen(arg);
    int quote = k == 0 || strpbrk(arg, " \t") != NULL;
    size_t n = 0;

    if (strchr(arg, '"') != NULL)
        return IOR_EINVAL;
    if (quote)
        put(out, &n, '"');
    if (out)
        memcpy(out + n, arg, k);
    n += k;
    if (quote)
        put(out, &n, '"');
    *len = n;
    return 0;
}

/*
 * The whole command line, UTF-8 and NUL-terminated, in *out (ior__malloc).
 * Two passes: measure, then write. IOR_EINVAL, IOR_ENOMEM.
 */
int ior__iocp_build_cmdline(const char *const *argv, char **out)
{
    size_t total = 0;
    size_t n = 0;
    size_t i;
    char *buf;
    int r;

    *out = NULL;
    r = quote_program(argv[0], NULL, &total);
    if (r != 0)
        return r;
    for (i = 1; argv[i]; i++)
        total += 1 + ior__iocp_quote_arg(argv[i], NULL);
    buf = (char *)ior__malloc(total + 1);
    if (!buf)
        return IOR_ENOMEM;
    (void)quote_program(argv[0], buf, &n);
    for (i = 1; argv[i]; i++) {
        buf[n++] = ' ';
        n += ior__iocp_quote_arg(argv[i], buf + n);
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/*
 * UTF-8 (len bytes, NULs allowed) → UTF-16 in dst (NULL: measure only).
 * Returns the number of UTF-16 units, or -1 for invalid UTF-8.
 */
static int utf16_units(const char *s, size_t len, wchar_t *dst, int cap)
{
    int n;

    if (len == 0)
        return 0;
    if (len > 0x7FFFFFFFu)
        return -1;
    n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, (int)len, dst,
                            dst ? cap : 0);
    return n > 0 ? n : -1;
}

/*
 * len bytes of UTF-8 (embedded NULs kept) → a UTF-16 copy with one more
 * NUL after it, in *out (ior__malloc). IOR_EINVAL, IOR_ENOMEM.
 */
static int utf16_copy(const char *s, size_t len, wchar_t **out)
{
    int n = utf16_units(s, len, NULL, 0);
    wchar_t *w;

    *out = NULL;
    if (n < 0)
        return IOR_EINVAL;
    w = (wchar_t *)ior__malloc(((size_t)n + 1) * sizeof(wchar_t));
    if (!w)
        return IOR_ENOMEM;
    if (n > 0 && utf16_units(s, len, w, n) != n) {
        ior__free(w);
        return IOR_EINVAL;
    }
    w[n] = L'\0';
    *out = w;
    return 0;
}

/* A NUL-terminated UTF-16 copy of s (ior__malloc). IOR_EINVAL, IOR_ENOMEM. */
int ior__iocp_utf16(const char *s, wchar_t **out)
{
    return utf16_copy(s, strlen(s), out);
}

/*
 * What a Windows program needs in its environment, added from ours when
 * the caller's list lacks it (libuv's list): without SYSTEMROOT Winsock
 * fails in the child, without TEMP or USERPROFILE much else does.
 */
static const char *const required_vars[] = {
    "HOMEDRIVE", "HOMEPATH", "LOGONSERVER", "PATH",     "SYSTEMDRIVE",
    "SYSTEMROOT", "TEMP",    "USERDOMAIN",  "USERNAME", "USERPROFILE",
    "WINDIR"};
#define NREQUIRED (sizeof(required_vars) / sizeof(required_vars[0]))

/* 1 when entry "K=V" names var (Windows' names ignore ASCII case). */
static int names_var(const char *entry, const char *var)
{
    size_t i;
    for (i = 0; var[i]; i++) {
        char c = entry[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != var[i])
            return 0;
    }
    return entry[i] == '=';
}

/*
 * "NAME=value" of our own variable name in UTF-8 (ior__malloc), or NULL
 * when we have none (or no memory: the child then lacks it, as it would
 * have anyway with the caller's list).
 */
static char *own_var(const char *name)
{
    wchar_t wname[32];
    wchar_t *wval;
    DWORD n;
    int u8;
    size_t k = strlen(name);
    char *s;

    if (MultiByteToWideChar(CP_UTF8, 0, name, -1, wname, 32) == 0)
        return NULL;
    n = GetEnvironmentVariableW(wname, NULL, 0);
    if (n == 0)
        return NULL;
    wval = (wchar_t *)ior__malloc(n * sizeof(wchar_t));
    if (!wval)
        return NULL;
    if (GetEnvironmentVariableW(wname, wval, n) + 1 != n) {
        ior__free(wval); /* changed meanwhile: leave it out */
        return NULL;
    }
    u8 = WideCharToMultiByte(CP_UTF8, 0, wval, -1, NULL, 0, NULL, NULL);
    s = u8 > 0 ? (char *)ior__malloc(k + 1 + (size_t)u8) : NULL;
    if (s) {
        memcpy(s, name, k);
        s[k] = '=';
        WideCharToMultiByte(CP_UTF8, 0, wval, -1, s + k + 1, u8, NULL, NULL);
    }
    ior__free(wval);
    return s;
}

/*
 * The environment block for CREATE_UNICODE_ENVIRONMENT: each "K=V" then a
 * NUL, and one more NUL at the end (two for an empty list, as Windows
 * wants). An entry without '=' after its name cannot be a variable:
 * IOR_EINVAL. (A leading '=' is allowed: cmd.exe's "=C:=C:\dir".) The
 * required variables the list lacks follow the caller's entries.
 */
int ior__iocp_build_env(const char *const *env, wchar_t **out)
{
    char *extra[NREQUIRED];
    size_t bytes = 0;
    size_t i, v;
    char *flat;
    int r;

    *out = NULL;
    for (i = 0; env[i]; i++) {
        if (env[i][0] == '\0' || !strchr(env[i] + 1, '='))
            return IOR_EINVAL;
        bytes += strlen(env[i]) + 1;
    }
    for (v = 0; v < NREQUIRED; v++) {
        extra[v] = NULL;
        for (i = 0; env[i] && !names_var(env[i], required_vars[v]); i++)
            ;
        if (!env[i] && (extra[v] = own_var(required_vars[v])) != NULL)
            bytes += strlen(extra[v]) + 1;
    }
    flat = (char *)ior__malloc(bytes + 1);
    if (!flat) {
        for (v = 0; v < NREQUIRED; v++)
            ior__free(extra[v]);
        return IOR_ENOMEM;
    }
    bytes = 0;
    for (i = 0; env[i]; i++) {
        size_t k = strlen(env[i]) + 1;
        memcpy(flat + bytes, env[i], k);
        bytes += k;
    }
    for (v = 0; v < NREQUIRED; v++) {
        if (extra[v]) {
            size_t k = strlen(extra[v]) + 1;
            memcpy(flat + bytes, extra[v], k);
            bytes += k;
            ior__free(extra[v]);
        }
    }
    if (bytes == 0)
        flat[bytes++] = '\0';
    /* utf16_copy adds the final NUL. */
    r = utf16_copy(flat, bytes, out);
    ior__free(flat);
    return r;
}
