/*
 * What kind of handle ior_pipe_open was given: its file type, whether it
 * was opened for overlapped I/O, whether it is a socket or a console.
 *
 * Every one of those queries can block. A handle opened for synchronous
 * I/O serializes all calls on its file object, so while another thread
 * (or another process sharing the object: an inherited stdin) is blocked
 * in ReadFile on it, GetFileType, NtQueryInformationFile, GetConsoleMode
 * and Winsock's lookup (an ioctl) all wait for that read to end (libuv
 * #1273: a child that opens an inherited stdin its parent reads hangs).
 *
 * So the queries run on a short-lived thread, over a duplicate of the
 * handle, and the loop waits for them at most IOR__FACTS_WAIT_MS. No
 * answer in that time means exactly that case: a synchronous handle with
 * a call in progress. It then takes the thread path as a stream (which
 * suits any synchronous handle: its threads may block, the loop does
 * not), and the query thread finishes on its own when the other call
 * ends, touching only its own memory (from the process heap, so a late
 * finish is no leak of the loop's allocator) and its own duplicate.
 * An overlapped handle never blocks these queries.
 */
#include "iocp.h"

#include <string.h>

/*
 * How long opening waits for the queries (only a stall reaches it). An
 * unanswered handle is taken for a synchronous stream; an overlapped
 * handle or a file whose queries merely took this long (a machine under
 * extreme load) would be misread, so the bound is far above any normal
 * answer (microseconds on Windows, a few wine server round trips under
 * Wine).
 */
#ifndef IOR__FACTS_WAIT_MS
#define IOR__FACTS_WAIT_MS 2000u
#endif

/* NtQueryInformationFile(FileModeInformation), looked up at run time. */
typedef LONG(NTAPI *ior__nt_qif_fn)(HANDLE, ior__iosb_t *, PVOID, ULONG, ULONG);
#define IOR__FILE_MODE_INFORMATION 16
#define IOR__FILE_SYNCHRONOUS_IO_ALERT 0x10u
#define IOR__FILE_SYNCHRONOUS_IO_NONALERT 0x20u

/* GetFileType says "pipe" for sockets too; only Winsock knows. */
static int is_socket(HANDLE h, DWORD type)
{
    int so_type = 0;
    int len = (int)sizeof(so_type);

    return type == FILE_TYPE_PIPE && getsockopt((SOCKET)h, SOL_SOCKET, SO_TYPE,
                                                (char *)&so_type, &len) == 0;
}

/*
 * 1 if h was opened for overlapped I/O; 0 if synchronous or unknown.
 * FILE_SYNCHRONOUS_IO_(NON)ALERT means synchronous, as libuv reads it;
 * GetFileType tells pipes from files from devices, not the mode.
 */
static int is_overlapped(HANDLE h)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    ior__nt_qif_fn qif;
    ior__iosb_t io;
    ULONG mode = 0;

    if (!ntdll)
        return 0;
    /* Through void (*)(void): a plain cast trips -Wcast-function-type. */
    qif = (ior__nt_qif_fn)(void (*)(void))GetProcAddress(
        ntdll, "NtQueryInformationFile");
    if (!qif ||
        qif(h, &io, &mode, (ULONG)sizeof(mode), IOR__FILE_MODE_INFORMATION) < 0)
        return 0;
    return (mode & (IOR__FILE_SYNCHRONOUS_IO_ALERT |
                    IOR__FILE_SYNCHRONOUS_IO_NONALERT)) == 0;
}

/* All the queries, on whichever thread may block. */
static void query(HANDLE h, ior__iocp_facts_t *f)
{
    DWORD mode;

    SetLastError(0);
    f->type = GetFileType(h);
    f->type_error = f->type == FILE_TYPE_UNKNOWN ? GetLastError() : 0;
    f->overlapped = is_overlapped(h);
    f->is_console = f->type == FILE_TYPE_CHAR && GetConsoleMode(h, &mode);
    f->answered = 1;
}

typedef struct facts_job {
    volatile LONG refs; /* the opener's and the thread's */
    HANDLE h;           /* the thread's own duplicate */
    ior__iocp_facts_t f;
} facts_job_t;

static void job_unref(facts_job_t *j)
{
    if (InterlockedDecrement(&j->refs) != 0)
        return;
    CloseHandle(j->h);
    HeapFree(GetProcessHeap(), 0, j);
}

static DWORD WINAPI job_main(LPVOID arg)
{
    facts_job_t *j = (facts_job_t *)arg;

    query(j->h, &j->f);
    job_unref(j);
    return 0;
}

int ior__iocp_handle_facts(HANDLE h, ior__iocp_facts_t *out)
{
    facts_job_t *j;
    HANDLE thread;
    DWORD flags;

    memset(out, 0, sizeof(*out));
    /* The handle table only: never blocks, and tells a bad handle. */
    if (!GetHandleInformation(h, &flags))
        return IOR_EBADF;
    j = (facts_job_t *)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY,
                                 sizeof(*j));
    if (!j)
        return IOR_ENOMEM;
    if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &j->h,
                         0, FALSE, DUPLICATE_SAME_ACCESS)) {
        /* Cannot duplicate (a pseudo-handle, say): ask on this thread. */
        HeapFree(GetProcessHeap(), 0, j);
        query(h, out);
        out->is_socket = out->overlapped && is_socket(h, out->type);
        return 0;
    }
    j->refs = 2;
    thread = CreateThread(NULL, 64 * 1024, job_main, j,
                          STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (!thread) {
        j->refs = 1;
        job_unref(j);
        query(h, out);
        out->is_socket = out->overlapped && is_socket(h, out->type);
        return 0;
    }
    if (WaitForSingleObject(thread, IOR__FACTS_WAIT_MS) == WAIT_OBJECT_0)
        *out = j->f;
    else
        out->type = FILE_TYPE_PIPE; /* unanswered: a blocked sync stream */
    CloseHandle(thread);
    job_unref(j);
    /*
     * Winsock is asked here, about h itself (Wine knows no duplicate made
     * by DuplicateHandle as a socket), and only for an overlapped handle,
     * which no other call can hold up. A socket made without overlapped
     * I/O (rare: socket() makes overlapped ones) counts as a pipe.
     */
    if (out->overlapped)
        out->is_socket = is_socket(h, out->type);
    return 0;
}
