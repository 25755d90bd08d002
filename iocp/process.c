/*
 * Child processes on the completion port: CreateProcessW with the child's
 * stdin, stdout and stderr on overlapped named pipes whose parent ends are
 * ordinary pipe transports (pipe.c), so a producer can feed stdin and
 * pausing stdout stops reading it until the child blocks on a full pipe.
 * Twisted's iocpreactor polls its child pipes every few milliseconds (its
 * notes list that as TODO); here every byte and the exit arrive as
 * completions.
 *
 * Pipes (process_pipe.c): a uniquely named pipe per stdio stream; our
 * end overlapped and not inheritable, the child's synchronous and
 * inheritable.
 *
 * Inheritance: PROC_THREAD_ATTRIBUTE_HANDLE_LIST names exactly the three
 * child ends, so a child never inherits a handle another thread of ours
 * made inheritable at the same moment. The child's ends are closed in the
 * parent right after CreateProcessW, so the child holds the only copies
 * and its exit is EOF on stdout/stderr.
 *
 * Exit: RegisterWaitForSingleObject on the process handle; the thread
 * pool's callback only posts exit_op to the port, and the loop does the
 * rest (GetExitCodeProcess, UnregisterWaitEx, closing handles). The
 * posted packet counts as outstanding from registration on, so
 * ior_loop_free waits for it when it was already posted.
 *
 * process_ended runs once the exit was seen AND the core has freed all
 * three transports (after their connection_lost); that rule is
 * common/process.c's, for both backends. Mirrors Twisted's
 * maybeCallProcessEnded. A stdio transport the user gave no protocol
 * reads and discards (stdout, stderr) or stays idle (stdin).
 *
 * stdin: a pipe reports its reader gone only to a write, so when the
 * child's exit is seen its stdin transport is closed as lose_connection
 * does: IOR_EDONE when nothing was queued; with bytes queued the write
 * fails (the reader is gone) and it ends with IOR_EPIPE. POSIX differs
 * slightly: it watches the pipe and notices a child that closes its stdin
 * without exiting.
 *
 * Program lookup is CreateProcessW's: with file NULL it searches for
 * argv[0] (the application's directory, the current one, the system
 * directories, then PATH, adding ".exe"); a relative file is taken from
 * the parent's current directory, not from cwd (POSIX: the child's).
 *
 * ior_loop_free with children running: the pipes are closed (the core
 * aborts the transports), the wait is unregistered, the child is neither
 * killed nor waited for, and process_ended is not called (as on POSIX).
 */
#include "iocp.h"

#include <ctype.h>
#include <string.h>

struct ior_process {
    ior__proc_t core; /* first: stdio, exit status, process_ended */
    ior__iocp_loop_t *lp;
    HANDLE h;    /* the process; NULL once its exit was handled */
    HANDLE wait; /* the thread pool's wait; NULL once unregistered */
    ior__iocp_op_t exit_op; /* posted to the port by the wait callback */
    volatile LONG fired;    /* the callback ran (exit_op posted) */
    unsigned char armed;  /* exit_op counted outstanding, done() not run */
    unsigned char closed; /* ior_loop_free closed it; exit_op frees it */
};

static const ior_protocol_ops_t null_proto = {NULL, NULL, NULL, NULL};

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* CreateProcessW's errors (and the pipes'): a program that is not there
 * is IOR_ENOENT, one that cannot be run IOR_EACCES. */
static int spawn_error(DWORD err)
{
    switch (err) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_INVALID_DRIVE:
    case ERROR_DIRECTORY: /* cwd is not a directory */
    case ERROR_BAD_NETPATH:
        return IOR_ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_BAD_EXE_FORMAT:
    case ERROR_EXE_MACHINE_TYPE_MISMATCH:
        return IOR_EACCES;
    default:
        return ior__iocp_error(err);
    }
}

/* ------------------------------------------------------------------ */
/* Lifetime                                                            */
/* ------------------------------------------------------------------ */

/* The core's release hook: the exit was handled, so nothing is left. */
static void process_free(ior__proc_t *core)
{
    ior__core_handle_remove(core->loop, &core->handle);
    ior__free(core);
}

/*
 * Unregisters the wait from the loop's thread. INVALID_HANDLE_VALUE
 * blocks until a callback in progress has returned, which is short (it
 * only posts); never called from the callback itself, where it would
 * deadlock.
 */
static void unwait(ior_process_t *p)
{
    if (!p->wait)
        return;
    (void)UnregisterWaitEx(p->wait, INVALID_HANDLE_VALUE);
    p->wait = NULL;
}

/*
 * ior_loop_free: close the pipes' link, forget the wait, leave the child
 * running. If the callback already posted exit_op, p lives until the loop
 * dispatches it (the loop polls until nothing is outstanding).
 */
static void handle_close(ior__handle_t *h)
{
    ior_process_t *p = (ior_process_t *)h;

    ior__core_proc_detach_stdio(&p->core);
    ior__core_handle_remove(&p->lp->base, &p->core.handle);
    unwait(p);
    if (p->h) {
        CloseHandle(p->h);
        p->h = NULL;
    }
    if (p->armed && !InterlockedCompareExchange(&p->fired, 0, 0)) {
        /* Unregistered before it fired: no packet will come. */
        p->armed = 0;
        p->lp->outstanding--;
    }
    if (p->armed) {
        p->closed = 1;
        return;
    }
    ior__free(p);
}

/* ------------------------------------------------------------------ */
/* Exit                                                                */
/* ------------------------------------------------------------------ */

/* Thread pool: the process handle is signalled. Only posts. */
static VOID CALLBACK on_exit_signalled(PVOID ctx, BOOLEAN timed_out)
{
    ior_process_t *p = (ior_process_t *)ctx;
    HANDLE port = p->lp->port;

    (void)timed_out;
    InterlockedExchange(&p->fired, 1);
    /* Internal stays 0: the loop reads it as success. */
    PostQueuedCompletionStatus(port, 0, IOR__IOCP_KEY_IO, &p->exit_op.ov);
}

/* See the header comment on stdin. */
static void end_stdin(ior_process_t *p)
{
    ior_transport_t *t = p->core.stdio[0];

    if (t && t->connected && !t->disconnecting)
        (void)ior_transport_lose_connection(t);
}

static void exit_done(ior__iocp_op_t *op, DWORD bytes, DWORD err)
{
    ior_process_t *p = IOR__CONTAINER(op, ior_process_t, exit_op);
    DWORD code = 0;

    (void)bytes;
    (void)err;
    p->armed = 0;
    if (p->closed) { /* the loop was freed meanwhile */
        ior__free(p);
        return;
    }
    unwait(p);
    if (!GetExitCodeProcess(p->h, &code))
        code = (DWORD)-1;
    CloseHandle(p->h);
    p->h = NULL;
    end_stdin(p);
    ior__core_proc_exited(&p->core, (int)code, 0); /* may free p */
}

static int watch_exit(ior_process_t *p)
{
    p->exit_op.done = exit_done;
    p->armed = 1;
    p->lp->outstanding++;
    if (RegisterWaitForSingleObject(&p->wait, p->h, on_exit_signalled, p,
                                    INFINITE, WT_EXECUTEONLYONCE))
        return 0;
    p->wait = NULL;
    p->armed = 0;
    p->lp->outstanding--;
    return ior__iocp_error(GetLastError());
}

/* The parent ends as pipe transports, owned by p from here on. */
static int open_transports(ior_process_t *p, HANDLE ours[3])
{
    int i;

    for (i = 0; i < 3; i++) {
        ior_transport_t *t;
        int r = ior_pipe_open(&p->lp->base, (intptr_t)ours[i],
                              i == 0 ? IOR_PIPE_WRITE : IOR_PIPE_READ,
                              &null_proto, NULL, &t);
        if (r != 0)
            return r; /* ours[i..2] still belong to the caller */
        ours[i] = NULL;
        ior__core_proc_attach(&p->core, i, t);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* CreateProcessW                                                      */
/* ------------------------------------------------------------------ */

/* The UTF-16 strings CreateProcessW takes, freed together. */
typedef struct spawn_strings {
    wchar_t *app; /* NULL: search for argv[0] */
    wchar_t *cmd;
    wchar_t *env; /* NULL: inherit */
    wchar_t *cwd; /* NULL: inherit */
} spawn_strings_t;

static void strings_free(spawn_strings_t *s)
{
    ior__free(s->app);
    ior__free(s->cmd);
    ior__free(s->env);
    ior__free(s->cwd);
}

/*
 * 1 when the program name ends in .bat or .cmd (any case), after the
 * trailing dots and spaces Windows drops from a file name ("x.bat. "
 * still runs x.bat).
 */
static int is_batch(const char *name)
{
    size_t n = strlen(name);
    const char *e;
    while (n > 0 && (name[n - 1] == '.' || name[n - 1] == ' '))
        n--;
    if (n < 4)
        return 0;
    e = name + n - 4;
    return e[0] == '.' &&
           ((tolower((unsigned char)e[1]) == 'b' &&
             tolower((unsigned char)e[2]) == 'a' &&
             tolower((unsigned char)e[3]) == 't') ||
            (tolower((unsigned char)e[1]) == 'c' &&
             tolower((unsigned char)e[2]) == 'm' &&
             tolower((unsigned char)e[3]) == 'd'));
}

static int strings_make(const ior_process_options_t *o, spawn_strings_t *s)
{
    char *cmd = NULL;
    int r;

    memset(s, 0, sizeof(*s));
    /* cmd.exe would re-parse the arguments (ior.h): only if asked. */
    if (is_batch(o->file ? o->file : o->argv[0]) &&
        !(o->flags & IOR_PROCESS_ALLOW_BATCH))
        return IOR_EINVAL;
    r = ior__iocp_build_cmdline(o->argv, &cmd);
    if (r == 0)
        r = ior__iocp_utf16(cmd, &s->cmd);
    ior__free(cmd);
    if (r == 0 && o->file)
        r = o->file[0] ? ior__iocp_utf16(o->file, &s->app) : IOR_ENOENT;
    if (r == 0 && o->env)
        r = ior__iocp_build_env(o->env, &s->env);
    if (r == 0 && o->cwd)
        r = ior__iocp_utf16(o->cwd, &s->cwd);
    if (r != 0)
        strings_free(s);
    return r;
}

/*
 * A named program CreateProcessW refused: Windows says ERROR_ACCESS_DENIED
 * for a directory, Wine 8 ERROR_INVALID_HANDLE; look at the file itself.
 */
static DWORD app_error(const wchar_t *app, DWORD err)
{
    DWORD attrs = GetFileAttributesW(app);

    if (attrs == INVALID_FILE_ATTRIBUTES)
        return err == ERROR_INVALID_HANDLE ? ERROR_FILE_NOT_FOUND : err;
    if (attrs & FILE_ATTRIBUTE_DIRECTORY)
        return ERROR_ACCESS_DENIED;
    return err;
}

/*
 * The console: a child shares ours when we have one, so Ctrl-C and the
 * console's close reach it as they reach us (libuv's default). Without
 * one (a service, a GUI program) it gets a console of its own without a
 * window (CREATE_NO_WINDOW), so it never pops one up and the console
 * programs it starts share that hidden console. A detached child always
 * gets its own hidden console and process group, so neither our Ctrl-C
 * nor the closing of our console window ends it.
 *
 * Wine 8 differs: it serves a new console with a headless conhost.exe
 * per child, and when the child is terminated before it has attached to
 * it (a terminate right after spawn), that conhost stays running forever
 * holding the child's stdio handles, so our pipes never see EOF and
 * process_ended never comes (reproduced without ior: spawn two children
 * with redirected stdio, terminate both at once, about one time in ten).
 * Under Wine a child therefore gets no console at all (DETACHED_PROCESS),
 * which has no helper process to leak (docs/windows.md).
 */
static DWORD console_flags(unsigned flags)
{
    DWORD pid;

    if (ior__iocp_under_wine())
        return DETACHED_PROCESS;
    if (flags & IOR_PROCESS_DETACHED)
        return CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP;
    /* The number of processes on our console: 0 when we have none. */
    if (GetConsoleProcessList(&pid, 1) != 0)
        return 0;
    return CREATE_NO_WINDOW;
}

/*
 * The job every child that is not detached joins (libuv does the same):
 * JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE ends them when the last handle to it
 * closes, and that handle is ours, closed only by the system when this
 * process ends, however it ends. BREAKAWAY_OK lets a child start a
 * detached grandchild of its own (CREATE_BREAKAWAY_FROM_JOB); without
 * SILENT_BREAKAWAY_OK the rest of a child's tree stays in the job and
 * ends with it. Made once per process, on the first spawn.
 */
static INIT_ONCE job_once = INIT_ONCE_STATIC_INIT;
static HANDLE job;
static DWORD job_err;

static BOOL CALLBACK job_make(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION info;

    (void)once;
    (void)param;
    (void)ctx;
    job = CreateJobObjectW(NULL, NULL);
    if (job == NULL) {
        job_err = GetLastError();
        return TRUE;
    }
    memset(&info, 0, sizeof(info));
    info.BasicLimitInformation.LimitFlags =
        JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_BREAKAWAY_OK;
    if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation,
                                 &info, (DWORD)sizeof(info))) {
        job_err = GetLastError();
        CloseHandle(job);
        job = NULL;
    }
    return TRUE;
}

static int job_get(HANDLE *out)
{
    (void)InitOnceExecuteOnce(&job_once, job_make, NULL, NULL);
    *out = job;
    return job != NULL ? 0 : ior__iocp_error(job_err);
}

/*
 * A detached child leaves a job we are in ourselves when that job lets
 * it (a parent started by another ior program, or by a service manager
 * that allows breakaway); otherwise it stays in that job only.
 */
static DWORD breakaway_flag(void)
{
    JOBOBJECT_BASIC_LIMIT_INFORMATION info;
    BOOL in_job = FALSE;

    if (!IsProcessInJob(GetCurrentProcess(), NULL, &in_job) || !in_job)
        return 0;
    /* NULL: the job this process is in. */
    if (!QueryInformationJobObject(NULL, JobObjectBasicLimitInformation,
                                   &info, (DWORD)sizeof(info), NULL))
        return 0;
    return (info.LimitFlags & JOB_OBJECT_LIMIT_BREAKAWAY_OK)
               ? CREATE_BREAKAWAY_FROM_JOB : 0;
}

/*
 * Puts the suspended child into our job, then lets it run: it cannot
 * start anything before it is in the job. Assigning fails only where a
 * process already in a job may not join another (before Windows 8); the
 * child then runs in that job alone, as under libuv.
 */
static void job_enter_and_resume(HANDLE job_h, const PROCESS_INFORMATION *pi)
{
    if (job_h != NULL)
        (void)AssignProcessToJobObject(job_h, pi->hProcess);
    (void)ResumeThread(pi->hThread);
}

/*
 * Starts the child with exactly child[0..2] inherited. On success
 * *pi holds its handles.
 */
static int create_process(const spawn_strings_t *s, unsigned opt_flags,
                          HANDLE child[3], PROCESS_INFORMATION *pi)
{
    STARTUPINFOEXW si;
    SIZE_T size = 0;
    LPPROC_THREAD_ATTRIBUTE_LIST attrs;
    HANDLE job_h = NULL;
    DWORD flags = EXTENDED_STARTUPINFO_PRESENT | CREATE_UNICODE_ENVIRONMENT |
                  CREATE_SUSPENDED | console_flags(opt_flags);
    BOOL ok;
    DWORD err;
    int r;

    if (opt_flags & IOR_PROCESS_DETACHED)
        flags |= breakaway_flag();
    else if ((r = job_get(&job_h)) != 0)
        return r;
    (void)InitializeProcThreadAttributeList(NULL, 1, 0, &size);
    attrs = (LPPROC_THREAD_ATTRIBUTE_LIST)ior__malloc(size);
    if (!attrs)
        return IOR_ENOMEM;
    if (!InitializeProcThreadAttributeList(attrs, 1, 0, &size)) {
        err = GetLastError();
        ior__free(attrs);
        return ior__iocp_error(err);
    }
    if (!UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                   child, 3 * sizeof(HANDLE), NULL, NULL)) {
        err = GetLastError();
        DeleteProcThreadAttributeList(attrs);
        ior__free(attrs);
        return ior__iocp_error(err);
    }
    memset(&si, 0, sizeof(si));
    si.StartupInfo.cb = sizeof(si);
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = child[0];
    si.StartupInfo.hStdOutput = child[1];
    si.StartupInfo.hStdError = child[2];
    si.lpAttributeList = attrs;
    ok = CreateProcessW(s->app, s->cmd, NULL, NULL, TRUE, flags, s->env, s->cwd,
                        &si.StartupInfo, pi);
    err = ok ? 0 : GetLastError();
    DeleteProcThreadAttributeList(attrs);
    ior__free(attrs);
    if (ok) {
        job_enter_and_resume(job_h, pi);
        return 0;
    }
    return spawn_error(s->app ? app_error(s->app, err) : err);
}

/* Undoes a spawn that cannot be completed. */
static void kill_child(ior_process_t *p)
{
    TerminateProcess(p->h, 1);
    CloseHandle(p->h);
    p->h = NULL;
}

static int spawn_checked(ior_process_t *p, const ior_process_options_t *o)
{
    spawn_strings_t s;
    PROCESS_INFORMATION pi;
    HANDLE ours[3] = {NULL, NULL, NULL};
    HANDLE child[3] = {NULL, NULL, NULL};
    int r = strings_make(o, &s);

    if (r != 0)
        return r;
    r = ior__iocp_proc_pipes(ours, child);
    if (r == 0) {
        r = create_process(&s, o->flags, child, &pi);
        /* The child holds the only copies of its ends from here on. */
        ior__iocp_close_handles(child, 3);
    }
    strings_free(&s);
    if (r != 0) {
        ior__iocp_close_handles(ours, 3);
        return r;
    }
    CloseHandle(pi.hThread);
    p->h = pi.hProcess;
    p->core.pid = (long)pi.dwProcessId;
    r = open_transports(p, ours);
    ior__iocp_close_handles(ours, 3); /* those not yet taken by a transport */
    if (r == 0)
        r = watch_exit(p);
    if (r != 0)
        kill_child(p);
    return r;
}

/* ------------------------------------------------------------------ */
/* Entry points (checked by common/process.c)                          */
/* ------------------------------------------------------------------ */

ior__proc_t *ior__os_process_alloc(ior_loop_t *loop,
                                   const ior_process_ops_t *ops, void *user)
{
    ior_process_t *p = (ior_process_t *)ior__calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->lp = ior__iocp_loop(loop);
    ior__core_proc_init(&p->core, loop, ops, user, process_free);
    p->core.handle.close = handle_close;
    return &p->core;
}

/* The core checked the arguments (common/process.c). */
int ior__os_process_start(ior__proc_t *core, const ior_process_options_t *opts)
{
    return spawn_checked((ior_process_t *)core, opts);
}

/* Checked by the core: signum > 0, the exit not yet reported. */
int ior__os_process_kill(ior__proc_t *core, int signum)
{
    ior_process_t *p = (ior_process_t *)core;
    DWORD code = 0;
    DWORD err;

    if (!p->h)
        return IOR_ESTATE;
    if (signum != IOR_SIGTERM && signum != IOR_SIGKILL)
        return IOR_ENOTSUP;
    /* Until the loop has handled the exit, p->h is open: no pid reuse. */
    if (TerminateProcess(p->h, 1))
        return 0;
    err = GetLastError();
    /* Windows refuses to terminate a process that has already exited. */
    if (GetExitCodeProcess(p->h, &code) && code != STILL_ACTIVE)
        return IOR_ESTATE;
    return ior__iocp_error(err);
}
