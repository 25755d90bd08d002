/*
 * The completion-port loop. Mirrors
 * iocpreactor.reactor.IOCPReactor.doIteration: wait on one port, dispatch what
 * arrived. Differences from Twisted: a batch of entries per wait
 * (GetQueuedCompletionStatusEx) with a cap so timers and wake-ups are not
 * starved, the wait is exactly the core's timeout (Twisted wakes at least every
 * 0.1 s, and polls to notice Ctrl-Break), and Ctrl-C posts to the port through
 * ior_loop_stop.
 */
#include "iocp.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Process-wide set-up                                                 */
/* ------------------------------------------------------------------ */

static INIT_ONCE wsa_once = INIT_ONCE_STATIC_INIT;
static int wsa_status;

static BOOL CALLBACK wsa_start(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    WSADATA data;
    (void)once;
    (void)param;
    (void)ctx;
    /* Never paired with WSACleanup: other loops may still be running. */
    wsa_status = WSAStartup(MAKEWORD(2, 2), &data);
    return TRUE;
}

/* QueryPerformanceCounter: GetTickCount64 ticks only every ~15.6 ms. */
static uint64_t qpc_scaled(uint64_t per_second)
{
    static LARGE_INTEGER freq; /* racy first write of the same value: ok */
    LARGE_INTEGER now;
    uint64_t f;
    uint64_t c;

    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    f = (uint64_t)freq.QuadPart;
    c = (uint64_t)now.QuadPart;
    /* Split to avoid overflow of c * per_second (f is at most ~10^10). */
    return (c / f) * per_second + (c % f) * per_second / f;
}

uint64_t ior__os_now_ms(void)
{
    return qpc_scaled(1000u);
}

uint64_t ior__os_hrtime_ns(void)
{
    return qpc_scaled(1000000000u);
}

/*
 * TransmitFile for file regions on server editions only: client editions
 * run at most two TransmitFile calls at once, system-wide, and queue the
 * rest (its documentation), so one slow peer would hold up every other
 * connection's file; there the copy path serves. IOR_IOCP_TRANSMITFILE=1
 * or 0 overrides (the tests run TransmitFile under Wine, a workstation).
 */
static int transmitfile_wanted(void)
{
    char v[4];
    OSVERSIONINFOEXW vi;
    DWORDLONG mask = 0;

    if (GetEnvironmentVariableA("IOR_IOCP_TRANSMITFILE", v, sizeof(v)) == 1)
        return v[0] == '1';
    memset(&vi, 0, sizeof(vi));
    vi.dwOSVersionInfoSize = sizeof(vi);
    vi.wProductType = VER_NT_WORKSTATION;
    VER_SET_CONDITION(mask, VER_PRODUCT_TYPE, VER_EQUAL);
    /* Not a workstation: a server or a domain controller. */
    return !VerifyVersionInfoW(&vi, VER_PRODUCT_TYPE, mask);
}

/* ------------------------------------------------------------------ */
/* Create / destroy                                                    */
/* ------------------------------------------------------------------ */

int ior__os_getenv(const char *name, char *buf, size_t len)
{
    DWORD n = GetEnvironmentVariableA(name, buf, (DWORD)len);
    /* 0: unset or empty; >= len: too long (n is then the size needed). */
    if (n == 0 || n >= len)
        return IOR_ENOENT;
    return 0;
}

int ior__os_loop_create(ior_loop_t **out, const char *backend,
                        unsigned max_events)
{
    ior__iocp_loop_t *lp;
    int rc;

    if (backend != NULL && strcmp(backend, "iocp") != 0)
        return IOR_ENOTSUP;
    InitOnceExecuteOnce(&wsa_once, wsa_start, NULL, NULL);
    if (wsa_status != 0)
        return ior__iocp_error((DWORD)wsa_status);

    lp = (ior__iocp_loop_t *)ior__calloc(1, sizeof(*lp));
    if (!lp)
        return IOR_ENOMEM;
    rc = ior__core_loop_init(&lp->base, "iocp", max_events);
    if (rc != 0) {
        ior__free(lp);
        return rc;
    }
    lp->entries = (OVERLAPPED_ENTRY *)ior__calloc(lp->base.max_events,
                                                  sizeof(OVERLAPPED_ENTRY));
    lp->drain_buf = (char *)ior__malloc(IOR__IOCP_READ_MAX);
    if (!lp->entries || !lp->drain_buf) {
        rc = IOR_ENOMEM;
        goto fail;
    }
    lp->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (!lp->port) {
        rc = ior__iocp_error(GetLastError());
        goto fail;
    }
    InitializeSRWLock(&lp->lock);
    /*
     * IOR_IOCP_NO_SKIP=1 turns skip-on-success off, so the tests can run
     * the path every request takes on a non-IFS provider (a completion
     * packet even for immediate successes).
     */
    lp->skip_ok[0] = lp->skip_ok[1] =
        GetEnvironmentVariableA("IOR_IOCP_NO_SKIP", NULL, 0) > 0 ? 0 : -1;
    /* IOR_IOCP_NO_DIRECT=1: no direct-write fast path (write.c), so the
     * tests can run every write through an overlapped WSASend. */
    lp->direct_ok =
        GetEnvironmentVariableA("IOR_IOCP_NO_DIRECT", NULL, 0) > 0 ? 0 : 1;
    lp->transmit_ok = transmitfile_wanted();
    lp->read_budget = IOR__IOCP_READ_BUDGET;
    *out = &lp->base;
    return 0;

fail:
    ior__free(lp->entries);
    ior__free(lp->drain_buf);
    ior__timers_cleanup(&lp->base.timers);
    ior__free(lp);
    return rc;
}

/*
 * The loop console events stop (ior_loop_stop_on_interrupt). The handler
 * runs on a thread of its own while ior_loop_free may be freeing that
 * loop: it reads and uses the pointer under the lock held shared; the
 * loop's destroy clears it under the lock held exclusive, so the handler
 * never reaches a freed loop. interrupt_gone is set when that loop is
 * freed: a close event's handler waits for it (see the handler).
 */
static SRWLOCK interrupt_lock = SRWLOCK_INIT;
static ior_loop_t *interrupt_loop;
static HANDLE interrupt_gone;

void ior__os_loop_destroy(ior_loop_t *loop)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(loop);

    AcquireSRWLockExclusive(&interrupt_lock);
    if (interrupt_loop == loop) {
        interrupt_loop = NULL;
        SetEvent(interrupt_gone);
    }
    ReleaseSRWLockExclusive(&interrupt_lock);
    if (lp->afd != NULL)
        CloseHandle(lp->afd);
    CloseHandle(lp->port);
    ior__free(lp->entries);
    ior__free(lp->drain_buf);
    ior__free(lp);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

static void ready_push(ior__iocp_loop_t *lp, ior__iocp_op_t *op, DWORD bytes,
                       DWORD err)
{
    op->ready_bytes = bytes;
    op->ready_err = err;
    op->ready_next = NULL;
    if (lp->ready_tail)
        lp->ready_tail->ready_next = op;
    else
        lp->ready_head = op;
    lp->ready_tail = op;
}

void ior__iocp_op_started(ior__iocp_loop_t *lp, ior__iocp_op_t *op, int ok,
                          DWORD bytes, DWORD err, int skip)
{
    lp->outstanding++;
    if (ok) {
        /*
         * Without skip mode the port still gets a packet for a request
         * that succeeded at once; with it, nothing will come: hand the
         * result to the loop ourselves, exactly once.
         */
        if (skip) {
            lp->inline_successes++;
            ready_push(lp, op, bytes, 0);
        }
    } else if (err != ERROR_IO_PENDING && err != ERROR_MORE_DATA) {
        /*
         * A request that failed at once queues no packet (we never hand
         * Wine more than 1024 WSABUFs, the one case where it does).
         * ERROR_MORE_DATA is not such a failure: a message-mode pipe's
         * message larger than the buffer is a warning status, so the port
         * gets its packet and that packet delivers the bytes; handling it
         * here too would deliver them twice. (Such a pipe is never in
         * skip mode, where Wine queues no packet: iocp/pipe.c.)
         */
        ready_push(lp, op, 0, err);
    }
}

void ior__iocp_op_defer(ior__iocp_loop_t *lp, ior__iocp_op_t *op, DWORD err)
{
    lp->outstanding++;
    ready_push(lp, op, 0, err);
}

DWORD ior__iocp_op_error(SOCKET s, ior__iocp_op_t *op)
{
    DWORD bytes = 0;
    DWORD flags = 0;

    if (s == INVALID_SOCKET)
        return ERROR_OPERATION_ABORTED;
    if (WSAGetOverlappedResult(s, &op->ov, &bytes, FALSE, &flags))
        return 0;
    return (DWORD)WSAGetLastError();
}

/* ------------------------------------------------------------------ */
/* Poll                                                                */
/* ------------------------------------------------------------------ */

static void dispatch_entry(ior__iocp_loop_t *lp, const OVERLAPPED_ENTRY *e)
{
    ior__iocp_op_t *op;
    DWORD err;

    if (e->lpCompletionKey == IOR__IOCP_KEY_WAKE) {
        /* Clear first: a wake-up after this point posts a new packet. */
        InterlockedExchange(&lp->wake_posted, 0);
        ior__core_loop_run_async(&lp->base);
        return;
    }
    if (!e->lpOverlapped)
        return;
    op = IOR__CONTAINER(e->lpOverlapped, ior__iocp_op_t, ov);
    /* Internal holds the NTSTATUS; negative values are failures. */
    err = ((LONG)e->lpOverlapped->Internal < 0) ? IOR__IOCP_ERR_LOOKUP : 0;
    lp->outstanding--;
    op->done(op, e->dwNumberOfBytesTransferred, err);
}

/*
 * Runs up to `budget` requests that completed inline. Only those already
 * listed when it starts: a request re-posted by a done() that completes
 * inline again waits for the next poll, so a busy socket cannot hold the
 * loop.
 */
static unsigned dispatch_ready(ior__iocp_loop_t *lp, unsigned budget)
{
    ior__iocp_op_t *last = lp->ready_tail;
    unsigned n = 0;

    while (n < budget && lp->ready_head) {
        ior__iocp_op_t *op = lp->ready_head;
        int was_last = (op == last);

        lp->ready_head = op->ready_next;
        if (!lp->ready_head)
            lp->ready_tail = NULL;
        lp->outstanding--;
        n++;
        op->done(op, op->ready_bytes, op->ready_err);
        if (was_last)
            break;
    }
    return n;
}

static unsigned dispatch_port(ior__iocp_loop_t *lp, int timeout_ms,
                              unsigned budget)
{
    ULONG got = 0;
    ULONG i;
    DWORD wait = timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms;

    if (budget == 0)
        return 0;
    if (!GetQueuedCompletionStatusEx(lp->port, lp->entries, (ULONG)budget, &got,
                                     wait, FALSE)) {
        ior__core_loop_update_time(&lp->base);
        return 0; /* WAIT_TIMEOUT; nothing was dequeued */
    }
    /* Callbacks see the time after the wait, as in libuv. */
    ior__core_loop_update_time(&lp->base);
    /* Entries beyond the budget stay in the port for the next poll. */
    for (i = 0; i < got; i++)
        dispatch_entry(lp, &lp->entries[i]);
    return (unsigned)got;
}

void ior__os_loop_poll(ior_loop_t *loop, int timeout_ms)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(loop);
    unsigned cap = loop->max_events;
    unsigned n;

    if (lp->ready_head)
        timeout_ms = 0;
    /*
     * Alternate which source goes first, so neither the port nor the
     * ready list can keep the other waiting beyond one iteration.
     */
    lp->poll_turn ^= 1u;
    if (lp->poll_turn) {
        /*
         * The ready list alone when it had work: a port check with a zero
         * wait is a wine-server round trip, and the next turn makes it.
         */
        n = dispatch_ready(lp, cap);
        if (n == 0)
            dispatch_port(lp, timeout_ms, cap);
    } else {
        n = dispatch_port(lp, timeout_ms, cap);
        dispatch_ready(lp, cap - n);
    }
}

size_t ior__os_loop_outstanding(const ior_loop_t *loop)
{
    return ((const ior__iocp_loop_t *)loop)->outstanding;
}

/* ------------------------------------------------------------------ */
/* Wake-up, lock                                                       */
/* ------------------------------------------------------------------ */

void ior__os_loop_wakeup(ior_loop_t *loop)
{
    ior__iocp_loop_t *lp = ior__iocp_loop(loop);

    /* One packet in the port at a time, however many threads call. */
    if (InterlockedExchange(&lp->wake_posted, 1) == 0)
        PostQueuedCompletionStatus(lp->port, 0, IOR__IOCP_KEY_WAKE, NULL);
}

void ior__os_loop_lock(ior_loop_t *loop)
{
    AcquireSRWLockExclusive(&ior__iocp_loop(loop)->lock);
}

void ior__os_loop_unlock(ior_loop_t *loop)
{
    ReleaseSRWLockExclusive(&ior__iocp_loop(loop)->lock);
}

/* ------------------------------------------------------------------ */
/* Console control                                                     */
/* ------------------------------------------------------------------ */

/*
 * Runs on a thread the system creates for the event. ior_loop_stop is safe
 * from any thread: it posts to the port, so the loop stops at once, even
 * in an infinite wait (Twisted polls every 0.1 s to notice).
 *
 * A console window being closed ends the process as soon as a handler
 * returns (or after the system's grace period, some 5 s): returning at
 * once would give the program no chance to clean up. So for
 * CTRL_CLOSE_EVENT the handler waits until the loop has been freed (the
 * program's ior_loop_run returned and it tidied up), as libuv blocks its
 * handler. Logoff and shutdown events reach services only; they are left
 * to the default handling, as in libuv.
 */
BOOL WINAPI ior__iocp_console_handler(DWORD ctrl_type)
{
    ior_loop_t *loop;
    HANDLE gone;

    if (ctrl_type != CTRL_C_EVENT && ctrl_type != CTRL_BREAK_EVENT &&
        ctrl_type != CTRL_CLOSE_EVENT)
        return FALSE;
    AcquireSRWLockShared(&interrupt_lock);
    loop = interrupt_loop;
    gone = interrupt_gone;
    if (loop)
        ior_loop_stop(loop);
    ReleaseSRWLockShared(&interrupt_lock);
    if (!loop)
        return FALSE;
    if (ctrl_type == CTRL_CLOSE_EVENT)
        WaitForSingleObject(gone, INFINITE);
    return TRUE;
}

/* The core lets one loop at a time hold this (common/loop.c). */
int ior__os_stop_on_interrupt(ior_loop_t *loop)
{
    static volatile LONG installed;
    HANDLE ev;

    AcquireSRWLockExclusive(&interrupt_lock);
    if (!interrupt_gone) {
        /* Manual reset, made once: it outlives every loop. */
        ev = CreateEventW(NULL, TRUE, FALSE, NULL);
        if (!ev) {
            DWORD err = GetLastError();
            ReleaseSRWLockExclusive(&interrupt_lock);
            return ior__iocp_error(err);
        }
        interrupt_gone = ev;
    }
    ResetEvent(interrupt_gone);
    interrupt_loop = loop;
    ReleaseSRWLockExclusive(&interrupt_lock);
    if (InterlockedExchange(&installed, 1) == 0 &&
        !SetConsoleCtrlHandler(ior__iocp_console_handler, TRUE)) {
        DWORD err = GetLastError();
        InterlockedExchange(&installed, 0);
        AcquireSRWLockExclusive(&interrupt_lock);
        interrupt_loop = NULL; /* the core records no owner either */
        ReleaseSRWLockExclusive(&interrupt_lock);
        return ior__iocp_error(err);
    }
    return 0;
}

unsigned long ior__iocp_inline_successes(const ior_loop_t *loop)
{
    return ((const ior__iocp_loop_t *)loop)->inline_successes;
}

void ior__iocp_set_read_budget(ior_loop_t *loop, size_t bytes)
{
    ior__iocp_loop(loop)->read_budget = bytes;
}

size_t ior__iocp_pinned(const ior_loop_t *loop)
{
    return ((const ior__iocp_loop_t *)loop)->pinned;
}

unsigned long ior__iocp_budget_zero_reads(const ior_loop_t *loop)
{
    return ((const ior__iocp_loop_t *)loop)->budget_zero_reads;
}
