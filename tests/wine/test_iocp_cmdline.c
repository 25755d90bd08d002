/*
 * The strings iocp/process_cmdline.c builds for CreateProcessW: arguments
 * quoted by the MSVC rules (checked against hand-written expectations and
 * round-tripped through CommandLineToArgvW, including a seeded random
 * sweep over the characters that matter), the program name's own rules,
 * UTF-8 → UTF-16, and the environment block.
 */
#include "iocp.h"

#include <shellapi.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *quote(const char *arg)
{
    size_t n = ior__iocp_quote_arg(arg, NULL);
    char *s = (char *)malloc(n + 1);

    assert_non_null(s);
    assert_int_equal(ior__iocp_quote_arg(arg, s), n);
    s[n] = '\0';
    return s;
}

static void expect_quote(const char *arg, const char *want)
{
    char *got = quote(arg);

    assert_string_equal(got, want);
    free(got);
}

/* Each argument gets the exact text the MSVC rules call for. */
static void test_quote_arg_follows_msvc_rules(void **state)
{
    (void)state;
    expect_quote("plain", "plain");
    expect_quote("", "\"\"");
    expect_quote("with space", "\"with space\"");
    expect_quote("tab\there", "\"tab\there\"");
    expect_quote("new\nline", "\"new\nline\"");
    /* Backslashes are literal unless a quote follows them. */
    expect_quote("back\\slash", "back\\slash");
    expect_quote("trailing\\", "trailing\\");
    expect_quote("two\\\\", "two\\\\");
    /* A quote: escaped, and the backslashes before it doubled. */
    expect_quote("quote\"inside", "\"quote\\\"inside\"");
    expect_quote("a\\\"b", "\"a\\\\\\\"b\"");
    expect_quote("\\\\\"", "\"\\\\\\\\\\\"\"");
    expect_quote("\"quoted\"", "\"\\\"quoted\\\"\"");
    /* Backslashes before the closing quote are doubled. */
    expect_quote("dir with space\\", "\"dir with space\\\\\"");
    expect_quote("x \\\\", "\"x \\\\\\\\\"");
    /* Shell characters mean nothing here. */
    expect_quote("%PATH%", "%PATH%");
    expect_quote("$HOME*", "$HOME*");
}

/* UTF-8 → wide, for comparisons; freed by the caller with ior__free. */
static wchar_t *wide(const char *s)
{
    wchar_t *w = NULL;

    assert_int_equal(ior__iocp_utf16(s, &w), 0);
    return w;
}

/* Builds the command line for argv, parses it back, compares every arg. */
static void round_trip(const char *const *argv)
{
    char *cmd = NULL;
    wchar_t *wcmd;
    LPWSTR *parsed;
    int argc = 0;
    int n = 0;
    int i;

    while (argv[n])
        n++;
    assert_int_equal(ior__iocp_build_cmdline(argv, &cmd), 0);
    wcmd = wide(cmd);
    parsed = CommandLineToArgvW(wcmd, &argc);
    assert_non_null(parsed);
    if (argc != n)
        fail_msg("command line [%s]: %d args, want %d", cmd, argc, n);
    for (i = 0; i < n; i++) {
        wchar_t *want = wide(argv[i]);
        if (wcscmp(parsed[i], want) != 0)
            fail_msg("command line [%s]: arg %d differs", cmd, i);
        ior__free(want);
    }
    LocalFree(parsed);
    ior__free(wcmd);
    ior__free(cmd);
}

/* The arguments of the net suite's test, and UTF-8, come back exactly. */
static void test_cmdline_round_trips_through_commandlinetoargvw(void **state)
{
    static const char *const argv[] = {"child_helper",
                                       "plain",
                                       "with space",
                                       "",
                                       "quote\"inside",
                                       "back\\slash",
                                       "trailing\\",
                                       "two\\\\",
                                       "\"quoted\"",
                                       "a\\\"b",
                                       "\\\\\"",
                                       "tab\there",
                                       "$HOME",
                                       "%PATH%",
                                       "*",
                                       "  lead and trail  ",
                                       "\\",
                                       "'single'",
                                       "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5",
                                       "x \\\\",
                                       NULL};
    static const char *const prog_space[] = {"C:\\Program Files\\p.exe", "a b",
                                             NULL};
    static const char *const prog_slash[] = {"C:\\dir with space\\", "\"",
                                             NULL};
    (void)state;
    round_trip(argv);
    round_trip(prog_space);
    round_trip(prog_slash);
}

/*
 * A seeded sweep: 3000 argument lists over space, tab, quote, backslash
 * and a letter. No argument can split, merge or inject another.
 */
static void test_cmdline_random_arguments_never_inject(void **state)
{
    static const char alphabet[] = " \t\"\\a";
    char store[6][12];
    const char *argv[8];
    unsigned seed = 12345u;
    int iter;

    (void)state;
    for (iter = 0; iter < 3000; iter++) {
        int nargs = 1 + (int)(seed % 5u);
        int a;
        argv[0] = "prog";
        for (a = 0; a < nargs; a++) {
            int len;
            int k;
            seed = seed * 1103515245u + 12345u;
            len = (int)((seed >> 16) % 11u);
            for (k = 0; k < len; k++) {
                seed = seed * 1103515245u + 12345u;
                store[a][k] = alphabet[(seed >> 16) % 5u];
            }
            store[a][len] = '\0';
            argv[a + 1] = store[a];
        }
        argv[nargs + 1] = NULL;
        round_trip(argv);
    }
}

/* A program name cannot hold a quote (its rules have no escape). */
static void test_cmdline_program_with_quote_is_einval(void **state)
{
    static const char *const bad[] = {"pro\"g", "x", NULL};
    static const char *const empty[] = {"", "x", NULL};
    char *cmd = (char *)1;

    (void)state;
    assert_int_equal(ior__iocp_build_cmdline(bad, &cmd), IOR_EINVAL);
    assert_null(cmd);
    assert_int_equal(ior__iocp_build_cmdline(empty, &cmd), 0);
    assert_string_equal(cmd, "\"\" x");
    ior__free(cmd);
}

/* The block starts with the caller's entries, in order (the variables
 * Windows needs that they lack follow: test_env_adds_required_vars). */
static void expect_env(const char *const *env, const wchar_t *want,
                       size_t want_units)
{
    wchar_t *block = NULL;

    assert_int_equal(ior__iocp_build_env(env, &block), 0);
    assert_memory_equal(block, want, (want_units - 1) * sizeof(wchar_t));
    ior__free(block);
}

/* The value of NAME in block ("K=V\0...\0\0"), or NULL; counts hits. */
static const wchar_t *block_find(const wchar_t *block, const wchar_t *name,
                                 int *hits)
{
    const wchar_t *found = NULL;
    size_t n = wcslen(name);
    *hits = 0;
    for (; *block; block += wcslen(block) + 1) {
        if (_wcsnicmp(block, name, n) == 0 && block[n] == L'=') {
            (*hits)++;
            found = block + n + 1;
        }
    }
    return found;
}

/*
 * A caller's environment that lacks SYSTEMROOT and the other variables a
 * Windows program needs gets ours (libuv's rule: Winsock fails in a child
 * without SYSTEMROOT); one the caller names, in any case, is not added
 * again and keeps the caller's value.
 */
static void test_env_adds_required_vars(void **state)
{
    static const char *const plain[] = {"A=1", NULL};
    static const char *const own[] = {"SystemRoot=C:\\mine", NULL};
    static const char *const none[] = {NULL};
    wchar_t ours[512];
    wchar_t *block = NULL;
    const wchar_t *v;
    int hits;

    (void)state;
    assert_true(GetEnvironmentVariableW(L"SYSTEMROOT", ours, 512) > 0);
    assert_int_equal(ior__iocp_build_env(plain, &block), 0);
    assert_memory_equal(block, L"A=1", 4 * sizeof(wchar_t));
    v = block_find(block, L"SYSTEMROOT", &hits);
    assert_int_equal(hits, 1);
    assert_non_null(v);
    assert_true(wcscmp(v, ours) == 0);
    ior__free(block);
    assert_int_equal(ior__iocp_build_env(own, &block), 0);
    v = block_find(block, L"SYSTEMROOT", &hits);
    assert_int_equal(hits, 1);
    assert_true(wcscmp(v, L"C:\\mine") == 0);
    ior__free(block);
    /* An empty list: our required variables only. */
    assert_int_equal(ior__iocp_build_env(none, &block), 0);
    v = block_find(block, L"SYSTEMROOT", &hits);
    assert_int_equal(hits, 1);
    ior__free(block);
}

/* "K=V" entries, each NUL-terminated, then one more NUL; invalid ones
 * (no '=', bad UTF-8) are IOR_EINVAL. */
static void test_env_block_layout_and_errors(void **state)
{
    static const char *const two[] = {"A=1", "B=x y", NULL};
    static const char *const none[] = {NULL};
    static const char *const drive[] = {"=C:=C:\\", NULL};
    static const char *const noeq[] = {"NOEQ", NULL};
    static const char *const lead[] = {"=novalue", NULL};
    static const char *const empty[] = {"", NULL};
    static const char *const badutf[] = {"\xff=1", NULL};
    wchar_t *block = NULL;
    wchar_t *w = NULL;

    (void)state;
    expect_env(two, L"A=1\0B=x y\0", 11);
    expect_env(none, L"", 1); /* only the required variables */
    expect_env(drive, L"=C:=C:\\\0", 9);
    assert_int_equal(ior__iocp_build_env(noeq, &block), IOR_EINVAL);
    assert_int_equal(ior__iocp_build_env(lead, &block), IOR_EINVAL);
    assert_int_equal(ior__iocp_build_env(empty, &block), IOR_EINVAL);
    assert_int_equal(ior__iocp_build_env(badutf, &block), IOR_EINVAL);
    assert_null(block);
    assert_int_equal(ior__iocp_utf16("\xc3", &w), IOR_EINVAL);
    assert_null(w);
    assert_int_equal(ior__iocp_utf16("", &w), 0);
    assert_int_equal(w[0], 0);
    ior__free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_arg_follows_msvc_rules),
        cmocka_unit_test(test_cmdline_round_trips_through_commandlinetoargvw),
        cmocka_unit_test(test_cmdline_random_arguments_never_inject),
        cmocka_unit_test(test_cmdline_program_with_quote_is_einval),
        cmocka_unit_test(test_env_block_layout_and_errors),
        cmocka_unit_test(test_env_adds_required_vars),
    };
    return cmocka_run_group_tests_name("iocp_cmdline", tests, NULL, NULL);
}
