/* POSIX side of platform.h: setrlimit, pthreads, BSD sockets, pipes. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, O_CLOEXEC under -std=c11 */

#include "platform.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

unsigned long nu_platform_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? (unsigned long)-1
                                        : (unsigned long)rl.rlim_cur;
}

struct nu_thread {
    pthread_t id;
    void (*fn)(void *);
    void *arg;
};

static void *trampoline(void *p)
{
    nu_thread_t *th = p;
    th->fn(th->arg);
    return NULL;
}

int nu_thread_start(nu_thread_t **out, void (*fn)(void *), void *arg)
{
    nu_thread_t *th = malloc(sizeof(*th));
    if (th == NULL)
        return -1;
    th->fn = fn;
    th->arg = arg;
    if (pthread_create(&th->id, NULL, trampoline, th) != 0) {
        free(th);
        return -1;
    }
    *out = th;
    return 0;
}

void nu_thread_join(nu_thread_t *th)
{
    pthread_join(th->id, NULL);
    free(th);
}

int nu_platform_listen_noaccept(int backlog, uint16_t *port, intptr_t *h)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    *h = fd;
    return 0;
}

void nu_platform_close_socket(intptr_t h)
{
    close((int)h);
}

/* --- Pipes and files ------------------------------------------------------ */

int nu_platform_pipe_kinds(void)
{
    return 1;
}

int nu_platform_file_kinds(void)
{
    return 1;
}

const char *nu_platform_pipe_kind_name(int kind)
{
    (void)kind;
    return "pipe";
}

int nu_platform_pipe(int kind, intptr_t *rd, intptr_t *wr)
{
    int fds[2];
    (void)kind;
    if (pipe(fds) != 0)
        return -1;
    (void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    (void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    *rd = fds[0];
    *wr = fds[1];
    return 0;
}

void nu_platform_close_handle(intptr_t h)
{
    close((int)h);
}

int nu_platform_temp_file(char *buf, size_t len)
{
    const char *dir = getenv("TMPDIR");
    int fd;
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    if ((size_t)snprintf(buf, len, "%s/ior-pipe-XXXXXX", dir) >= len)
        return -1;
    fd = mkstemp(buf);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

int nu_platform_file_open(const char *path, int for_write, int kind,
                          intptr_t *h)
{
    int fd = for_write ? open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
                       : open(path, O_RDONLY | O_CLOEXEC);
    (void)kind;
    if (fd < 0)
        return -1;
    *h = fd;
    return 0;
}

int nu_platform_socketpair(intptr_t *a, intptr_t *b)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    *a = sv[0];
    *b = sv[1];
    return 0;
}

/* --- Raw sockets for the poll-handle tests -------------------------------- */

static int nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 ? 0 : -1;
}

static void loopback(struct sockaddr_in *sin, uint16_t port)
{
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin->sin_port = htons(port);
}

int nu_platform_tcp_pair(intptr_t *a, intptr_t *b)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int c = -1, s = -1;
    if (l < 0)
        return -1;
    loopback(&sin, 0);
    if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        listen(l, 1) == 0 &&
        getsockname(l, (struct sockaddr *)&sin, &len) == 0) {
        c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c >= 0 && connect(c, (struct sockaddr *)&sin, sizeof(sin)) == 0)
            s = accept(l, NULL, NULL);
    }
    close(l);
    if (s < 0 || nonblocking(c) != 0 || nonblocking(s) != 0) {
        if (c >= 0)
            close(c);
        if (s >= 0)
            close(s);
        return -1;
    }
    *a = c;
    *b = s;
    return 0;
}

static int udp_bound(struct sockaddr_in *sin)
{
    socklen_t len = sizeof(*sin);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    loopback(sin, 0);
    if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) != 0 ||
        getsockname(fd, (struct sockaddr *)sin, &len) != 0 ||
        nonblocking(fd) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int nu_platform_udp_pair(intptr_t *a, intptr_t *b)
{
    struct sockaddr_in sa, sb;
    int x = udp_bound(&sa);
    int y = udp_bound(&sb);
    if (x < 0 || y < 0 || connect(x, (struct sockaddr *)&sb, sizeof(sb)) != 0 ||
        connect(y, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (x >= 0)
            close(x);
        if (y >= 0)
            close(y);
        return -1;
    }
    *a = x;
    *b = y;
    return 0;
}

long nu_platform_send(intptr_t h, const void *buf, size_t len)
{
    return (long)send((int)h, buf, len, MSG_NOSIGNAL);
}

long nu_platform_recv(intptr_t h, void *buf, size_t len)
{
    return (long)recv((int)h, buf, len, 0);
}

int nu_platform_shutdown_write(intptr_t h)
{
    return shutdown((int)h, SHUT_WR);
}

void nu_platform_reset(intptr_t h)
{
    struct linger lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    (void)setsockopt((int)h, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close((int)h);
}

int nu_platform_connect_start(uint16_t port, intptr_t *h)
{
    struct sockaddr_in sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (nonblocking(fd) != 0) {
        close(fd);
        return -1;
    }
    loopback(&sin, port);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
        errno != EINPROGRESS && errno != ECONNREFUSED) {
        close(fd);
        return -1;
    }
    *h = fd;
    return 0;
}

int nu_platform_socket_error(intptr_t h)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt((int)h, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return -1;
    return err;
}

int nu_platform_accept(intptr_t l, intptr_t *h)
{
    int fd = accept((int)l, NULL, NULL);
    if (fd < 0)
        return -1;
    *h = fd;
    return 0;
}

void nu_platform_setenv(const char *name, const char *value)
{
    if (value != NULL)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

int nu_platform_local_name(char *buf, size_t len)
{
    if (nu_platform_temp_file(buf, len) != 0)
        return -1;
    return unlink(buf);
}

int nu_platform_refused_os_error(void)
{
    return ECONNREFUSED;
}
