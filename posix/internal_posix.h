/*
 * The POSIX backend's one private header: the loop, the I/O watcher every
 * descriptor is registered through, the FileDescriptor transport, and the
 * helpers shared by the files of posix/.
 *
 * Readiness model: both pollers are level-triggered. A watcher asks for
 * IOR__IO_READ and/or IOR__IO_WRITE; asking for nothing removes the
 * descriptor from the poller, because epoll and poll both report
 * ERR/HUP whatever was asked, and a paused transport whose peer reset
 * would otherwise wake the loop forever. Level triggering lets a dispatch
 * stop early (a read budget, a pause, max_events) without losing a
 * notification, which edge triggering would make us track by hand.
 */
#ifndef IOR_INTERNAL_POSIX_H
#define IOR_INTERNAL_POSIX_H

#include "internal.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Chunks gathered into one sendmsg: IOV_MAX, capped like Wine's 1024. */
#if !defined(IOV_MAX)
#define IOR__IOV_MAX 16
#elif IOV_MAX > 1024
#define IOR__IOV_MAX 1024
#else
#define IOR__IOV_MAX IOV_MAX
#endif

#define IOR__IO_READ 0x1u
#define IOR__IO_WRITE 0x2u
/* Only reported, never asked for: error or hang-up. */
#define IOR__IO_ERR 0x4u

struct ior__posix_loop;
struct ior__io;

typedef void (*ior__io_cb)(struct ior__posix_loop *pl, struct ior__io *io,
                           unsigned revents);

/* One descriptor as the poller sees it. */
typedef struct ior__io {
    int fd;
    unsigned events;     /* IOR__IO_* asked of the poller now */
    unsigned registered; /* known to the poller */
    size_t slot;         /* poll.c, epoll.c always-ready list: index */
    unsigned always;     /* epoll.c: not pollable (a regular file) */
    ior__io_cb cb;
} ior__io_t;

/*
 * A readiness poller behind a const ops table (STYLE §8), chosen when the
 * loop is created so epoll and poll ship in one build.
 */
typedef struct ior__poller_ops {
    const char *name;
    int (*init)(struct ior__posix_loop *pl);
    void (*cleanup)(struct ior__posix_loop *pl);
    int (*add)(struct ior__posix_loop *pl, ior__io_t *io, unsigned events);
    int (*modify)(struct ior__posix_loop *pl, ior__io_t *io, unsigned events);
    void (*remove)(struct ior__posix_loop *pl, ior__io_t *io);
    /* Waits up to timeout_ms and dispatches at most max ready watchers. */
    void (*wait)(struct ior__posix_loop *pl, int timeout_ms, unsigned max);
} ior__poller_ops_t;

extern const ior__poller_ops_t ior__poller_epoll;
extern const ior__poller_ops_t ior__poller_poll;

struct ior__fd;
struct ior_process;

/*
 * Memory (a UDP socket, a process) released while a dispatch runs: freed
 * when the dispatch ends, as transports are, so a later event of the same
 * batch never reads freed memory. Embedded in the object it frees.
 */
typedef struct ior__later {
    struct ior__later *next;
    void *mem;
} ior__later_t;

struct ior__posix_loop {
    struct ior_loop base;
    const ior__poller_ops_t *poller;
    void *poller_state;

    /* Wake-up: eventfd on Linux (both ends the same), else a pipe. */
    ior__io_t wake_io;
    int wake_wfd;

    /* SIGINT/SIGTERM self-pipe, when ior_loop_stop_on_interrupt was used. */
    ior__io_t sig_io;

    pthread_mutex_t lock;

    /* The one read buffer every transport reads into (see fd.c). */
    char *rbuf;
    size_t rbuf_size;
    /* Gather arrays for one send (fd.c), off the stack: 32 KiB on LP64. */
    ior_buf_t *send_bufs;
    struct iovec *send_iov;

    /* Reserve descriptor for the EMFILE trick (tcp_listen.c); -1 if none. */
    int reserve_fd;

    /*
     * Transports the core released while a dispatch was running: freed
     * when the dispatch ends, so a stale event later in the same batch
     * never touches freed memory.
     */
    int dispatching;
    struct ior__fd *zombies;
    ior__later_t *later; /* other objects, same rule (ior__posix_free_later) */
    size_t nzombies;     /* both lists */

    /* Child processes (process.c, child_signal.c). */
    struct ior_process *chld_list; /* watched through SIGCHLD, not a pidfd */
    ior__io_t chld_io; /* this loop's SIGCHLD channel, fd -1 if none */
};

typedef struct ior__posix_loop ior__posix_loop_t;

#define IOR__PL(loop) ((ior__posix_loop_t *)(loop))

/* The FileDescriptor: one connected stream socket. */
struct ior__fd {
    struct ior_transport base;
    ior__io_t io;
    unsigned char want_read;  /* the core wants bytes */
    unsigned char want_write; /* waiting for writability */
    unsigned char eof;        /* read returned 0: never read again */
    unsigned char closed;     /* ior__os_close done, fd is gone */
    unsigned char is_tcp;
    unsigned char is_socket; /* recv/sendmsg; else read/writev (pipes) */
    /*
     * A child's stdin (write end of a pipe): stay in the poller so the
     * child closing its end (POLLERR) ends the transport even when we are
     * not writing, as Twisted's ProcessWriter does.
     */
    unsigned char watch_hup;
    struct ior__fd *zombie_next;
};

typedef struct ior__fd ior__fd_t;

/* loop.c */
/* Asks the poller for exactly `events` on io (0 removes it). */
int ior__io_set(ior__posix_loop_t *pl, ior__io_t *io, unsigned events);
/* Removes io from the poller if it is there; io->events becomes 0. */
void ior__io_stop(ior__posix_loop_t *pl, ior__io_t *io);
void ior__io_init(ior__io_t *io, int fd, ior__io_cb cb);
/* close() that keeps errno and retries nothing (EINTR still closed). */
void ior__close_fd(int fd);
/* A non-blocking, close-on-exec pipe; 0 or -errno. */
int ior__posix_pipe(int fds[2]);

/* Frees mem now, or when the running dispatch ends. */
void ior__posix_free_later(ior__posix_loop_t *pl, ior__later_t *z, void *mem);

/* signal.c: undoes ior__os_stop_on_interrupt for this loop, if it was set. */
void ior__posix_signal_close(ior__posix_loop_t *pl);

/* fd.c */
/* A transport for a connected socket; not yet initialised by the core. */
ior__fd_t *ior__fd_alloc(void);
/* Binds the socket to f and makes it a live core transport. */
void ior__fd_open(ior__fd_t *f, ior_loop_t *loop, int fd);

/* process.c: SIGCHLD arrived; look at every child on pl->chld_list. */
void ior__process_sigchld(ior__posix_loop_t *pl);

/* child_signal.c: the SIGCHLD fallback when pidfds are unavailable. */
/* Installs the handler and gives the loop its channel; 0 or IOR_E*. */
int ior__chld_open(ior__posix_loop_t *pl);
/* Makes the loop look at its children on the next dispatch. */
void ior__chld_poke(ior__posix_loop_t *pl);
/* Gives the channel back (loop destroy). */
void ior__chld_close(ior__posix_loop_t *pl);

/* error.c: errno → IOR_E*, the one translation function. */
int ior__posix_error(int err);

/* addr.c */
int ior__addr_to_sockaddr(const ior_addr_t *a, struct sockaddr_storage *ss,
                          socklen_t *len);
int ior__addr_from_sockaddr(ior_addr_t *a, const struct sockaddr *sa);
/* A non-blocking, close-on-exec socket, or -errno. */
int ior__socket(int family, int type);

#endif /* IOR_INTERNAL_POSIX_H */
