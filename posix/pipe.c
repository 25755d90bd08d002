/*
 * Pipes and standard I/O on the FileDescriptor: the same transport as a
 * socket, with read/writev instead of recv/sendmsg when the descriptor is
 * not a socket. The unused direction counts as closed from the start.
 *
 * A regular file cannot be watched by epoll; epoll.c keeps such a
 * descriptor on an always-ready list (poll reports files ready anyway).
 * O_NONBLOCK is set on the open file description, which a shared terminal
 * or pipe also shows to the other processes using it (libuv does the same).
 */
#include "internal_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static int prepare_fd(int fd, int *is_socket)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fstat(fd, &st) != 0)
        return IOR_EBADF;
    if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
        return ior__posix_error(errno);
    *is_socket = S_ISSOCK(st.st_mode) ? 1 : 0;
    return 0;
}

/* The core checked dirs and -1 (common/pipe.c). */
int ior__os_pipe_open(ior_loop_t *loop, intptr_t os_handle, unsigned dirs,
                      ior_transport_t **out)
{
    ior__posix_fd_t *f;
    int is_socket = 0;
    int r;
    (void)dirs;
    if (os_handle < 0 || os_handle > INT_MAX)
        return IOR_EBADF;
    f = ior__posix_fd_alloc();
    if (f == NULL)
        return IOR_ENOMEM;
    r = prepare_fd((int)os_handle, &is_socket);
    if (r != 0) {
        ior__free(f);
        return r;
    }
    ior__posix_fd_open(f, loop, (int)os_handle);
    f->is_tcp = 0;
    f->is_socket = (unsigned char)is_socket;
    *out = &f->base;
    return 0;
}

/* A duplicate above 2, close-on-exec. */
int ior__os_stdio_dup(int which, intptr_t *out)
{
    int fd = fcntl(which, F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        return errno == EBADF ? IOR_EBADF : ior__posix_error(errno);
    *out = fd;
    return 0;
}

void ior__os_handle_close(intptr_t h)
{
    ior__posix_close_fd((int)h);
}
