/* POSIX side of stress_platform.h: getrusage, setrlimit, /proc/self/fd. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, dirfd, O_CLOEXEC */
#include "stress_platform.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t sp_cpu_usec(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_utime.tv_sec * 1000000u +
           (uint64_t)ru.ru_utime.tv_usec +
           (uint64_t)ru.ru_stime.tv_sec * 1000000u +
           (uint64_t)ru.ru_stime.tv_usec;
}

uint64_t sp_mono_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#define SP_MAX_HELD 4096
static int held[SP_MAX_HELD];
static int nheld;
static struct rlimit saved;
static int limit_saved;

/* The highest descriptor open now (a limit below it would be ignored). */
static int highest_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int hi = 2;
    if (d == NULL) {
        int fd;
        for (fd = 3; fd < 65536; fd++)
            if (fcntl(fd, F_GETFD) >= 0)
                hi = fd;
        return hi;
    }
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (fd > hi && fd != dirfd(d))
            hi = fd;
    }
    closedir(d);
    return hi;
}

int sp_fd_exhaust(int slack, const char **why)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &saved) != 0) {
        *why = "getrlimit failed";
        return -1;
    }
    limit_saved = 1;
    rl = saved;
    rl.rlim_cur = (rlim_t)(highest_open() + 1 + slack);
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        *why = "setrlimit(RLIMIT_NOFILE) refused to lower the limit "
               "(valgrind, for one, keeps it fixed)";
        return -1;
    }
    nheld = 0;
    while (nheld < SP_MAX_HELD) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        held[nheld++] = fd;
    }
    return nheld;
}

int sp_fd_release_one(void)
{
    if (nheld == 0)
        return -1;
    close(held[--nheld]);
    return 0;
}

void sp_fd_restore(void)
{
    while (sp_fd_release_one() == 0) {
    }
    if (limit_saved)
        (void)setrlimit(RLIMIT_NOFILE, &saved);
    limit_saved = 0;
}

int sp_inheritable(intptr_t *out, int max, int *seen, const char **why)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    int fd;
    *seen = 0;
    if (d == NULL) {
        /* No /proc: probe descriptors one by one. */
        for (fd = 3; fd < 4096; fd++) {
            int fl = fcntl(fd, F_GETFD);
            *seen += fl >= 0;
            if (fl >= 0 && !(fl & FD_CLOEXEC) && n < max)
                out[n++] = fd;
        }
        (void)why;
        return n;
    }
    while ((e = readdir(d)) != NULL) {
        int fl;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        fd = atoi(e->d_name);
        if (fd <= 2 || fd == dirfd(d))
            continue;
        fl = fcntl(fd, F_GETFD);
        *seen += fl >= 0;
        if (fl >= 0 && !(fl & FD_CLOEXEC) && n < max)
            out[n++] = fd;
    }
    closedir(d);
    return n;
}

int sp_bind_reuseaddr(uint16_t port)
{
    struct sockaddr_in sin;
    int one = 1;
    int r;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(port);
    r = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
                listen(fd, 1) == 0
            ? 0
            : 1;
    close(fd);
    return r;
}

int sp_is_wine(void)
{
    return 0;
}
