/* POSIX side of child_platform.h. */
#define _POSIX_C_SOURCE 200809L
#include "child_platform.h"

#include <errno.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void cp_init(void)
{
}

long cp_read(int fd, void *buf, size_t n)
{
    ssize_t r;
    do {
        r = read(fd, buf, n);
    } while (r < 0 && errno == EINTR);
    return (long)r;
}

int cp_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void cp_sleep_ms(unsigned ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int cp_wait_exit(long pid)
{
    int st = 0;
    pid_t r;
    do {
        r = waitpid((pid_t)pid, &st, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        return -2;
    if (WIFSIGNALED(st))
        return -1000 - WTERMSIG(st);
    return WEXITSTATUS(st);
}

const char *cp_console_with(long pid)
{
    (void)pid;
    return "none\n";
}

void cp_die(int code)
{
    _exit(code);
}
