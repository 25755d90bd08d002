/*
 * Files given to ior_transport_write_file: the check when the region is
 * queued, and the blocking read of the copy path (ior__core_send_begin:
 * pipes, TLS). The read names its offset in an OVERLAPPED, so it works on
 * a handle opened for overlapped I/O or not and never moves the file
 * pointer; its event has the low bit set, so a handle the caller
 * associated with a completion port of its own posts nothing there.
 */
#include "iocp.h"

#include <string.h>

static int readable(intptr_t file);

int ior__os_file_check(intptr_t file, uint64_t offset, uint64_t length)
{
    HANDLE h = (HANDLE)file;
    BY_HANDLE_FILE_INFORMATION info;
    LARGE_INTEGER size;

    if (GetFileType(h) != FILE_TYPE_DISK ||
        !GetFileInformationByHandle(h, &info) ||
        (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0 ||
        !GetFileSizeEx(h, &size) || !readable(file))
        return IOR_EBADF;
    if (size.QuadPart < 0 || offset + length > (uint64_t)size.QuadPart)
        return IOR_EINVAL;
    return 0;
}

/*
 * A handle without read access (GENERIC_WRITE only) passes the checks
 * above; a read of no bytes is refused for it, so the error comes now,
 * not as a lost connection when the region's turn comes (POSIX checks
 * O_ACCMODE).
 */
static int readable(intptr_t file)
{
    char none;
    size_t got = 0;
    int os_error = 0;
    return ior__os_file_read(file, 0, &none, 0, &got, &os_error) == 0;
}

int ior__os_file_read(intptr_t file, uint64_t offset, void *buf, size_t len,
                      size_t *got, int *os_error)
{
    HANDLE h = (HANDLE)file;
    OVERLAPPED ov;
    DWORD n = 0, err = 0;
    HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);

    if (ev == NULL) {
        *os_error = (int)GetLastError();
        return IOR_EIO;
    }
    if (len > 0x7FFFFFFFu)
        len = 0x7FFFFFFFu;
    memset(&ov, 0, sizeof(ov));
    ov.Offset = (DWORD)(offset & 0xFFFFFFFFu);
    ov.OffsetHigh = (DWORD)(offset >> 32);
    ov.hEvent = (HANDLE)((ULONG_PTR)ev | 1);
    if (!ReadFile(h, buf, (DWORD)len, &n, &ov)) {
        err = GetLastError();
        if (err == ERROR_IO_PENDING) {
            err = 0;
            if (!GetOverlappedResult(h, &ov, &n, TRUE))
                err = GetLastError();
        }
    }
    CloseHandle(ev);
    if (err == ERROR_HANDLE_EOF) {
        n = 0;
        err = 0;
    }
    if (err != 0) {
        *os_error = (int)err;
        return IOR_EIO;
    }
    *got = n;
    return 0;
}
