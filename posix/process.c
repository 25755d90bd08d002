/*
 * Child processes: posix_spawn with the child's stdin, stdout and stderr
 * on pipes whose parent ends are ordinary pipe transports (pipe.c, fd.c):
 * the same consumer core, so a producer can feed stdin and pausing stdout
 * stops reading it until the child blocks on a full pipe.
 *
 * Spawning: the pipes are made close-on-exec (every ior descriptor is), so
 * the child inherits nothing but the three ends dup2'd onto 0, 1 and 2.
 * Signal dispositions and the mask are reset in the child
 * (POSIX_SPAWN_SETSIGDEF / SETSIGMASK): ior ignores SIGPIPE, and a child
 * must not inherit that. The program is looked up (PATH, execute
 * permission) before spawning, so a missing one is IOR_ENOENT from
 * ior_process_spawn itself even where posix_spawn cannot report the
 * exec failure (vfork-less implementations, valgrind); posix_spawn's own
 * result is checked as well.
 *
 * Exit: a pidfd (Linux >= 5.3) watched by the poller becomes readable when
 * the child exits; elsewhere SIGCHLD through the loop's signal channel
 * (signal.c).
 * Either way waitpid(pid, WNOHANG) reaps that one child; nothing polls.
 * Setting IOR_PROCESS_NO_PIDFD in the environment forces the fallback
 * (the tests run both).
 *
 * process_ended runs once the child is reaped AND its three transports
 * have been freed by the core (after their connection_lost); that rule
 * is common/process.c's, for both backends. Mirrors Twisted's
 * maybeCallProcessEnded. A stdio transport the user gave no protocol
 * reads and discards (stdout, stderr) or stays idle (stdin), so a child
 * never gets SIGPIPE because its output was ignored. The child's stdin is
 * watched for its reader going away (fd.c, watch_hup): a child that exits
 * without reading its input still ends the stdin transport.
 *
 * ior_loop_free with children still running: the pipes are closed (the
 * transports are aborted by the loop), a child that has already exited is
 * reaped, and a running one is left running and is not waited for;
 * process_ended is not called. Killing it would surprise a program that
 * meant to leave a daemon behind; waiting could block forever.
 */
#include "internal_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/syscall.h>
#endif

extern char **environ;

struct ior_process {
    ior__proc_t core; /* first: stdio, exit status, process_ended */
    pid_t pid;
    ior__posix_io_t pid_io; /* the pidfd; fd -1 when SIGCHLD is used */
    struct ior_process *chld_next;
    struct ior_process *chld_prev;
    unsigned char on_chld_list;
    ior__posix_later_t later;
};

static const ior_protocol_ops_t null_proto = {NULL, NULL, NULL, NULL};

/* --- Lifetime ------------------------------------------------------------ */

static void chld_unlink(ior_process_t *p)
{
    ior__posix_loop_t *pl = IOR__PL(p->core.loop);
    if (!p->on_chld_list)
        return;
    if (p->chld_prev != NULL)
        p->chld_prev->chld_next = p->chld_next;
    else
        pl->chld_list = p->chld_next;
    if (p->chld_next != NULL)
        p->chld_next->chld_prev = p->chld_prev;
    p->chld_next = p->chld_prev = NULL;
    p->on_chld_list = 0;
}

/* Stops watching for the exit (pidfd or SIGCHLD list). */
static void unwatch(ior_process_t *p)
{
    if (p->pid_io.fd >= 0) {
        ior__posix_io_stop(IOR__PL(p->core.loop), &p->pid_io);
        ior__posix_close_fd(p->pid_io.fd);
        p->pid_io.fd = -1;
    }
    chld_unlink(p);
}

/* The core's release hook, also ior_loop_free's (handle_close). */
static void process_free(ior__proc_t *core)
{
    ior_process_t *p = (ior_process_t *)core;
    ior__core_proc_detach_stdio(core);
    unwatch(p);
    ior__core_handle_remove(core->loop, &core->handle);
    ior__posix_free_later(IOR__PL(core->loop), &p->later, p);
}

/*
 * Reaps p if it has exited: 1 with its exit code and signal (-1 and 0
 * when someone else reaped it and the status is lost), else 0.
 */
static int try_reap(ior_process_t *p, int *code, int *sig)
{
    int st = 0;
    pid_t r;
    do {
        r = waitpid(p->pid, &st, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    *code = -1;
    *sig = 0;
    if (r > 0 && WIFSIGNALED(st))
        *sig = WTERMSIG(st);
    else if (r > 0)
        *code = WEXITSTATUS(st);
    unwatch(p);
    return 1;
}

/* Reaps p if it has exited and tells the core (which may free p). */
static void reap_and_report(ior_process_t *p)
{
    int code, sig;
    if (try_reap(p, &code, &sig))
        ior__core_proc_exited(&p->core, code, sig);
}

static void on_pidfd(ior__posix_loop_t *pl, ior__posix_io_t *io,
                     unsigned revents)
{
    ior_process_t *p = IOR__CONTAINER(io, ior_process_t, pid_io);
    (void)pl;
    (void)revents;
    reap_and_report(p);
}

void ior__posix_process_sigchld(ior__posix_loop_t *pl)
{
    ior_process_t *p = pl->chld_list;
    while (p != NULL) {
        ior_process_t *next = p->chld_next;
        reap_and_report(p); /* may free p, never another child */
        p = next;
    }
}

static void handle_close(ior__handle_t *h)
{
    ior_process_t *p = (ior_process_t *)h;
    int code, sig;
    if (!p->core.exited) /* reap only one already gone: never waits */
        (void)try_reap(p, &code, &sig);
    process_free(&p->core);
}

/* --- Watching for the exit ------------------------------------------------ */

static int open_pidfd(pid_t pid)
{
#if defined(__linux__) && defined(SYS_pidfd_open)
    const char *off = getenv("IOR_PROCESS_NO_PIDFD");
    if (off != NULL && off[0] != '\0')
        return -1;
    return (int)syscall(SYS_pidfd_open, pid, 0); /* close-on-exec */
#else
    (void)pid;
    return -1;
#endif
}

/*
 * Called right after the spawn; the child may have exited already, which
 * both paths notice (a pidfd of a zombie is readable; the poke makes the
 * SIGCHLD path look once).
 */
static int watch(ior_process_t *p)
{
    ior__posix_loop_t *pl = IOR__PL(p->core.loop);
    int fd = open_pidfd(p->pid);
    int r;
    if (fd >= 0) {
        ior__posix_io_init(&p->pid_io, fd, on_pidfd);
        if (ior__posix_io_set(pl, &p->pid_io, IOR__IO_READ) == 0)
            return 0;
        ior__posix_close_fd(fd);
        p->pid_io.fd = -1;
    }
    r = ior__posix_signal_watch(pl, IOR__SIG_CHILD);
    if (r != 0)
        return r;
    p->chld_next = pl->chld_list;
    if (pl->chld_list != NULL)
        pl->chld_list->chld_prev = p;
    pl->chld_list = p;
    p->on_chld_list = 1;
    ior__posix_signal_poke(pl, SIGCHLD);
    return 0;
}

/* --- Finding the program -------------------------------------------------- */

/* 0 if path is an executable regular file, else IOR_ENOENT / IOR_EACCES. */
static int check_exec(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == EACCES ? IOR_EACCES : IOR_ENOENT;
    if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0)
        return IOR_EACCES;
    return 0;
}

/*
 * Searches PATH as execvp does (an empty entry is the current directory);
 * *out is an ior__malloc'd path. A file that exists but cannot be run is
 * remembered: IOR_EACCES if nothing better is found.
 */
static int search_path(const char *file, char **out)
{
    const char *path = getenv("PATH");
    size_t flen = strlen(file);
    int err = IOR_ENOENT;
    if (path == NULL)
        path = "/usr/local/bin:/bin:/usr/bin";
    for (;;) {
        const char *end = strchr(path, ':');
        size_t dlen = end != NULL ? (size_t)(end - path) : strlen(path);
        char *cand = ior__malloc(dlen + flen + 3);
        int r;
        if (cand == NULL)
            return IOR_ENOMEM;
        if (dlen == 0) {
            memcpy(cand, "./", 2);
            dlen = 2;
        } else {
            memcpy(cand, path, dlen);
            cand[dlen++] = '/';
        }
        memcpy(cand + dlen, file, flen + 1);
        r = check_exec(cand);
        if (r == 0) {
            *out = cand;
            return 0;
        }
        ior__free(cand);
        if (r == IOR_EACCES)
            err = IOR_EACCES;
        if (end == NULL)
            break;
        path = end + 1;
    }
    return err;
}

/*
 * The program to run: *resolved is NULL (use file as given) or a path
 * from PATH. A relative path with a cwd is checked by posix_spawn only,
 * since it names a file relative to the child's directory.
 */
static int find_program(const char *file, const char *cwd, char **resolved)
{
    *resolved = NULL;
    if (file[0] == '\0')
        return IOR_ENOENT;
    if (strchr(file, '/') == NULL)
        return search_path(file, resolved);
    if (file[0] == '/' || cwd == NULL)
        return check_exec(file);
    return 0;
}

/* --- Pipes and spawning --------------------------------------------------- */

/* Moves fd to 3 or above, so dup2 onto 0-2 never clobbers another end. */
static int lift_fd(int *fd)
{
    int nfd;
    if (*fd > 2)
        return 0;
    nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (nfd < 0)
        return ior__posix_error(errno);
    ior__posix_close_fd(*fd);
    *fd = nfd;
    return 0;
}

static void close_fds(int *fds, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        ior__posix_close_fd(fds[i]);
        fds[i] = -1;
    }
}

/*
 * Three close-on-exec pipes: child[i] is the end the child gets as
 * descriptor i (blocking), ours[i] the parent's end.
 */
static int make_pipes(int child[3], int ours[3])
{
    int i;
    for (i = 0; i < 3; i++) {
        int fds[2];
        int r;
        child[i] = ours[i] = -1;
#ifdef __linux__
        r = pipe2(fds, O_CLOEXEC);
#else
        r = pipe(fds);
        if (r == 0) {
            (void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
            (void)fcntl(fds[1], F_SETFD, FD_CLOEXEC);
        }
#endif
        if (r != 0) {
            r = ior__posix_error(errno);
            close_fds(child, i);
            close_fds(ours, i);
            return r;
        }
        child[i] = i == 0 ? fds[0] : fds[1];
        ours[i] = i == 0 ? fds[1] : fds[0];
        r = lift_fd(&child[i]);
        if (r == 0)
            r = lift_fd(&ours[i]);
        if (r != 0) {
            close_fds(child, i + 1);
            close_fds(ours, i + 1);
            return r;
        }
    }
    return 0;
}

/* The parent ends as pipe transports, owned by p from here on. */
static int open_transports(ior_process_t *p, int ours[3])
{
    int i;
    for (i = 0; i < 3; i++) {
        ior_transport_t *t;
        ior__posix_fd_t *f;
        int r = ior_pipe_open(p->core.loop, ours[i],
                              i == 0 ? IOR_PIPE_WRITE : IOR_PIPE_READ,
                              &null_proto, NULL, &t);
        if (r != 0)
            return r; /* ours[i..2] still belong to the caller */
        ours[i] = -1;
        f = (ior__posix_fd_t *)t;
        ior__core_proc_attach(&p->core, i, t);
        if (i == 0) {
            f->watch_hup = 1;
            if (ior__posix_io_set(IOR__PL(p->core.loop), &f->io,
                                  IOR__IO_READ) != 0)
                f->watch_hup = 0; /* then only a write sees the reader gone */
        }
    }
    return 0;
}

/*
 * The signal mask and dispositions are always reset; a detached child
 * starts a session of its own (setsid), so the terminal's SIGINT and
 * SIGHUP go to our session only. 0 when the system cannot do it.
 */
static short spawn_flags(const ior_process_options_t *o)
{
    int f = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (o->flags & IOR_PROCESS_DETACHED) {
#ifdef POSIX_SPAWN_SETSID
        f |= POSIX_SPAWN_SETSID;
#else
        return 0;
#endif
    }
    return (short)f;
}

static int spawn_child(const ior_process_options_t *o, const char *path,
                       const int child[3], pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    sigset_t all;
    int i;
    int r;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return IOR_ENOMEM;
    if (posix_spawnattr_init(&attr) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return IOR_ENOMEM;
    }
    r = 0;
    for (i = 0; i < 3 && r == 0; i++)
        r = posix_spawn_file_actions_adddup2(&fa, child[i], i);
#ifdef IOR_HAVE_SPAWN_ADDCHDIR
    if (r == 0 && o->cwd != NULL)
        r = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
#else
    if (r == 0 && o->cwd != NULL)
        r = ENOTSUP;
#endif
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    if (r == 0)
        r = posix_spawnattr_setsigmask(&attr, &none);
    if (r == 0)
        r = posix_spawnattr_setsigdefault(&attr, &all);
    if (r == 0 && spawn_flags(o) == 0)
        r = ENOTSUP;
    if (r == 0)
        r = posix_spawnattr_setflags(&attr, spawn_flags(o));
    if (r == 0)
        r = posix_spawn(pid, path, &fa, &attr, (char *const *)o->argv,
                        o->env != NULL ? (char *const *)o->env : environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return r != 0 ? ior__posix_error(r) : 0;
}

/* Undoes a spawn that cannot be completed: nobody else will reap it. */
static void kill_and_reap(pid_t pid)
{
    int st;
    (void)kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

static int spawn_checked(ior_process_t *p, const ior_process_options_t *o)
{
    const char *file = o->file != NULL ? o->file : o->argv[0];
    char *resolved = NULL;
    int child[3];
    int ours[3];
    int r = find_program(file, o->cwd, &resolved);
    if (r != 0)
        return r;
    r = make_pipes(child, ours);
    if (r == 0) {
        r = open_transports(p, ours);
        close_fds(ours, 3); /* those not yet taken by a transport */
    }
    if (r == 0) {
        r = spawn_child(o, resolved != NULL ? resolved : file, child, &p->pid);
        close_fds(child, 3);
    } else {
        close_fds(child, 3);
    }
    ior__free(resolved);
    if (r == 0) {
        r = watch(p);
        if (r != 0)
            kill_and_reap(p->pid);
    }
    return r;
}

ior__proc_t *ior__os_process_alloc(ior_loop_t *loop,
                                   const ior_process_ops_t *ops, void *user)
{
    ior_process_t *p = ior__calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    ior__core_proc_init(&p->core, loop, ops, user, process_free);
    p->pid_io.fd = -1;
    p->core.handle.close = handle_close;
    return &p->core;
}

/* The core checked the arguments (common/process.c). */
int ior__os_process_start(ior__proc_t *core, const ior_process_options_t *opts)
{
    ior_process_t *p = (ior_process_t *)core;
    int r = spawn_checked(p, opts);
    if (r == 0)
        p->core.pid = (long)p->pid;
    return r;
}

/* Checked by the core: signum > 0, the exit not yet reported. */
int ior__os_process_kill(ior__proc_t *core, int signum)
{
    ior_process_t *p = (ior_process_t *)core;
    int sig;
    /* ior.h uses the POSIX numbers; name the common ones natively. */
    switch (signum) {
    case IOR_SIGTERM:
        sig = SIGTERM;
        break;
    case IOR_SIGKILL:
        sig = SIGKILL;
        break;
    case IOR_SIGINT:
        sig = SIGINT;
        break;
    default:
        sig = signum;
        break;
    }
    /* Not reaped yet, so the pid cannot have been reused. */
    if (kill(p->pid, sig) != 0)
        return errno == ESRCH ? IOR_ESTATE : ior__posix_error(errno);
    return 0;
}
