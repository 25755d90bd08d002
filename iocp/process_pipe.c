/*
 * The three pipes of a child process (process.c): per stdio stream a
 * uniquely named pipe, \\.\pipe\ior-<pid>-<counter>-<random>, with one
 * instance, FILE_FLAG_FIRST_PIPE_INSTANCE (nobody can have created the
 * name before us) and PIPE_REJECT_REMOTE_CLIENTS. The parent's end is
 * overlapped and not inheritable, so it joins the completion port as an
 * ordinary pipe transport (pipe.c); the child's end is opened at once with
 * CreateFileW, synchronous (a C runtime expects ordinary handles) and
 * inheritable. Anonymous pipes would not do: they are synchronous, so the
 * parent's ends would need the thread path of pipe_thread.c.
 */
#define _CRT_RAND_S /* rand_s, before stdlib.h */
#include "iocp.h"

#include <stdlib.h>
#include <string.h>

#define IOR__PROC_PIPE_BUF 65536u
#define IOR__PROC_PIPE_TRIES 8

/* Appends v in hex (8 digits) or decimal to name at *n. */
static void put_num(wchar_t *name, size_t *n, unsigned long v, int hex)
{
    wchar_t digits[16];
    int k = 0;
    unsigned base = hex ? 16u : 10u;

    do {
        digits[k++] = L"0123456789abcdef"[v % base];
        v /= base;
    } while (v != 0 || (hex && k < 8));
    while (k > 0)
        name[(*n)++] = digits[--k];
}

/* \\.\pipe\ior-<pid>-<counter>-<random>, into room for 64 units. */
static void pipe_name(wchar_t *name)
{
    static const wchar_t prefix[] = L"\\\\.\\pipe\\ior-";
    static volatile LONG counter;
    unsigned int rnd = 0;
    LARGE_INTEGER qpc;
    size_t n = sizeof(prefix) / sizeof(prefix[0]) - 1;

    /* Not a secret, only unguessable enough that nobody takes it first. */
    if (rand_s(&rnd) != 0) {
        QueryPerformanceCounter(&qpc);
        rnd = (unsigned int)qpc.LowPart;
    }
    memcpy(name, prefix, n * sizeof(wchar_t));
    put_num(name, &n, (unsigned long)GetCurrentProcessId(), 0);
    name[n++] = L'-';
    put_num(name, &n, (unsigned long)InterlockedIncrement(&counter), 0);
    name[n++] = L'-';
    put_num(name, &n, (unsigned long)rnd, 1);
    name[n] = L'\0';
}

/*
 * One pipe for stdio stream `which`: *ours (overlapped, not inheritable)
 * and *child (synchronous, inheritable). A name someone else holds, or a
 * client that beat us to our instance, means another name.
 */
static int make_pipe(int which, HANDLE *ours, HANDLE *child)
{
    SECURITY_ATTRIBUTES sa;
    wchar_t name[80];
    DWORD mode = (which == 0 ? PIPE_ACCESS_OUTBOUND : PIPE_ACCESS_INBOUND) |
                 FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE;
    DWORD access = which == 0 ? GENERIC_READ | FILE_WRITE_ATTRIBUTES
                              : GENERIC_WRITE | FILE_READ_ATTRIBUTES;
    DWORD err = ERROR_ACCESS_DENIED;
    int tries;

    sa.nLength = sizeof(sa);
    sa.lpSecurityDescriptor = NULL;
    sa.bInheritHandle = TRUE;
    for (tries = 0; tries < IOR__PROC_PIPE_TRIES; tries++) {
        HANDLE s;
        HANDLE c;
        pipe_name(name);
        s = CreateNamedPipeW(name, mode,
                             PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                                 PIPE_REJECT_REMOTE_CLIENTS,
                             1, IOR__PROC_PIPE_BUF, IOR__PROC_PIPE_BUF, 0,
                             NULL);
        if (s == INVALID_HANDLE_VALUE) {
            err = GetLastError();
            if (err == ERROR_ACCESS_DENIED || err == ERROR_PIPE_BUSY)
                continue; /* the name is taken */
            return ior__iocp_error(err);
        }
        c = CreateFileW(name, access, 0, &sa, OPEN_EXISTING, 0, NULL);
        if (c != INVALID_HANDLE_VALUE) {
            *ours = s;
            *child = c;
            return 0;
        }
        err = GetLastError();
        CloseHandle(s);
        if (err != ERROR_PIPE_BUSY)
            return ior__iocp_error(err);
    }
    return ior__iocp_error(err);
}

void ior__iocp_close_handles(HANDLE *hs, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (hs[i])
            CloseHandle(hs[i]);
        hs[i] = NULL;
    }
}

int ior__iocp_proc_pipes(HANDLE ours[3], HANDLE child[3])
{
    int i;

    for (i = 0; i < 3; i++) {
        int r = make_pipe(i, &ours[i], &child[i]);
        if (r != 0) {
            ior__iocp_close_handles(ours, i);
            ior__iocp_close_handles(child, i);
            return r;
        }
    }
    return 0;
}
