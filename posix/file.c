/*
 * Files given to ior_transport_write_file: the check when the region is
 * queued, and the blocking read of the copy path (ior__core_send_begin),
 * which reads at an offset so the caller's file position never moves.
 */
#include "internal_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int ior__os_file_check(intptr_t file, uint64_t offset, uint64_t length)
{
    struct stat st;
    int fl;
    if (file < 0 || file > INT_MAX || fstat((int)file, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return IOR_EBADF;
    fl = fcntl((int)file, F_GETFL);
    if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY)
        return IOR_EBADF; /* not open for reading */
    if (st.st_size < 0 || offset + length > (uint64_t)st.st_size)
        return IOR_EINVAL;
    return 0;
}

int ior__os_file_read(intptr_t file, uint64_t offset, void *buf, size_t len,
                      size_t *got, int *os_error)
{
    ssize_t r;
    if (len > (size_t)SSIZE_MAX)
        len = (size_t)SSIZE_MAX;
    if ((off_t)offset < 0 || (uint64_t)(off_t)offset != offset) {
        *os_error = EOVERFLOW;
        return IOR_EIO;
    }
    do {
        r = pread((int)file, buf, len, (off_t)offset);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        *os_error = errno;
        return IOR_EIO;
    }
    *got = (size_t)r;
    return 0;
}
