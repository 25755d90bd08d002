/*
 * The child program of test_net_process.c: C library only (plus
 * child_platform.h), the same on every OS. Modes, from argv[1]:
 *
 *   echo          stdin to stdout until EOF, each read written at once
 *   stderr TEXT   TEXT to stderr, then exit 0
 *   exit N        exit with status N at once (stdin never read)
 *   args A...     each argument as "<length>:<bytes>\n" on stdout, so
 *                 spaces, quotes, backslashes and empty strings show
 *   env NAME...   "NAME=value\n" or "NAME unset\n" for each
 *   exists PATH   "yes\n" if PATH (relative to the cwd) opens, else "no\n"
 *   noread        "ready\n" on stdout, then never reads stdin: sleeps
 *                 until killed, at most SELF_TIMEOUT_MS, then exits 0
 *   sleep         the same without the "ready" line
 *   hang          the same, but exits HANG_TIMEOUT_EXIT at the timeout,
 *                 so a test can tell a kill from the timeout
 *   console PID   "shared\n" when process PID is on this process's
 *                 console, "own\n" when it has a console PID is not on,
 *                 "none\n" without a console (POSIX: always "none")
 *
 * Exit 2 on bad usage. The self-timeout bounds a test that forgets to
 * kill a child (its watchdog fires well before).
 */
#include "child_platform.h"
#include "../portable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELF_TIMEOUT_MS 30000
#define SLICE_MS 50
#define HANG_TIMEOUT_EXIT 7

static char buf[64 * 1024];

static int do_echo(void)
{
    for (;;) {
        long n = cp_read(0, buf, sizeof(buf));
        if (n == 0)
            return 0;
        if (n < 0)
            return 4;
        if (cp_write_all(1, buf, (size_t)n) != 0)
            return 5;
    }
}

static int put(int fd, const char *s)
{
    return cp_write_all(fd, s, strlen(s)) == 0 ? 0 : 5;
}

static int do_args(int argc, char **argv)
{
    int i;
    for (i = 2; i < argc; i++) {
        char head[32];
        size_t len = strlen(argv[i]);
        snprintf(head, sizeof(head), "%lu:", (unsigned long)len);
        if (put(1, head) != 0 || cp_write_all(1, argv[i], len) != 0 ||
            put(1, "\n") != 0)
            return 5;
    }
    return 0;
}

static int do_env(int argc, char **argv)
{
    int i;
    for (i = 2; i < argc; i++) {
        const char *v = test_getenv(argv[i]);
        int r = put(1, argv[i]);
        if (r == 0)
            r = put(1, v != NULL ? "=" : " unset\n");
        if (r == 0 && v != NULL)
            r = put(1, v);
        if (r == 0 && v != NULL)
            r = put(1, "\n");
        if (r != 0)
            return r;
    }
    return 0;
}

static int do_exists(const char *path)
{
    FILE *f = test_fopen(path, "rb");
    if (f != NULL)
        fclose(f);
    return put(1, f != NULL ? "yes\n" : "no\n");
}

static int do_sleep(int ready, int timeout_exit)
{
    unsigned waited = 0;
    if (ready && put(1, "ready\n") != 0)
        return 5;
    while (waited < SELF_TIMEOUT_MS) {
        cp_sleep_ms(SLICE_MS);
        waited += SLICE_MS;
    }
    return timeout_exit;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    cp_init();
    if (strcmp(mode, "echo") == 0)
        return do_echo();
    if (strcmp(mode, "stderr") == 0 && argc > 2)
        return put(2, argv[2]);
    if (strcmp(mode, "exit") == 0 && argc > 2)
        return atoi(argv[2]);
    if (strcmp(mode, "args") == 0)
        return do_args(argc, argv);
    if (strcmp(mode, "env") == 0)
        return do_env(argc, argv);
    if (strcmp(mode, "exists") == 0 && argc > 2)
        return do_exists(argv[2]);
    if (strcmp(mode, "noread") == 0)
        return do_sleep(1, 0);
    if (strcmp(mode, "sleep") == 0)
        return do_sleep(0, 0);
    if (strcmp(mode, "hang") == 0)
        return do_sleep(0, HANG_TIMEOUT_EXIT);
    if (strcmp(mode, "console") == 0 && argc > 2)
        return put(1, cp_console_with(atol(argv[2])));
    fprintf(stderr, "usage: child_helper echo|stderr T|exit N|args ...|"
                    "env N...|exists P|noread|sleep|hang|console PID\n");
    return 2;
}
