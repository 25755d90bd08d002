/*
 * Local IPC on POSIX: AF_UNIX stream sockets at a path. The listener and
 * the connect are tcp_listen.c's and tcp_connect.c's; this file makes the
 * address and the listening socket, and decides what may be at the path.
 */
#include "internal_posix.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int ior__posix_unix_sockaddr(const char *path, struct sockaddr_storage *ss,
                             socklen_t *len)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)ss;
    size_t n = strlen(path);
    if (n >= sizeof(sun->sun_path))
        return IOR_EINVAL; /* 107 bytes on Linux */
    memset(ss, 0, sizeof(*ss));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

/*
 * What is at the path already: nothing (0), a socket nobody serves, which
 * is removed (0: a server that died without closing), a live server or
 * any other file (IOR_EADDRINUSE, left alone).
 */
static int clear_stale(const char *path, const struct sockaddr_storage *ss,
                       socklen_t len)
{
    struct stat st;
    int fd, r;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return IOR_EADDRINUSE;
    fd = ior__posix_socket(AF_UNIX, SOCK_STREAM);
    if (fd < 0)
        return ior__posix_error(-fd);
    /* Non-blocking: a live server accepts or its backlog says EAGAIN. */
    r = connect(fd, (const struct sockaddr *)ss, len);
    r = r == 0 ? 0 : errno;
    ior__posix_close_fd(fd);
    if (r != ECONNREFUSED)
        return IOR_EADDRINUSE;
    return unlink(path) == 0 || errno == ENOENT ? 0 : ior__posix_error(errno);
}

int ior__os_local_listen(ior_loop_t *loop, const char *name,
                         ior_listener_t **out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, r;
    (void)loop;
    r = ior__posix_unix_sockaddr(name, &ss, &len);
    if (r == 0)
        r = clear_stale(name, &ss, len);
    if (r != 0)
        return r;
    fd = ior__posix_socket(AF_UNIX, SOCK_STREAM);
    if (fd < 0)
        return ior__posix_error(-fd);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        r = errno == EADDRINUSE ? IOR_EADDRINUSE : ior__posix_error(errno);
        ior__posix_close_fd(fd);
        return r;
    }
    if (listen(fd, IOR__DEFAULT_BACKLOG) != 0) {
        r = ior__posix_error(errno);
        (void)unlink(name);
        ior__posix_close_fd(fd);
        return r;
    }
    r = ior__posix_listener_wrap(fd, name, out);
    if (r != 0) {
        (void)unlink(name);
        ior__posix_close_fd(fd);
    }
    return r;
}
