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

#include "seam.h"

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
/*
 * Asked for and reported: the peer closed its side (EPOLLRDHUP, poll's
 * POLLRDHUP where it exists). Only poll handles ask for it.
 */
#define IOR__IO_RDHUP 0x8u

struct ior__posix_loop;
struct ior__posix_io;

typedef void (*ior__posix_io_cb)(struct ior__posix_loop *pl,
                                 struct ior__posix_io *io, unsigned revents);

/* One descriptor as the poller sees it. */
typedef struct ior__posix_io {
    int fd;
    unsigned events;     /* IOR__IO_* asked of the poller now */
    unsigned registered; /* known to the poller */
    size_t slot;         /* poll.c, epoll.c always-ready list: index */
    unsigned always;     /* epoll.c: not pollable (a regular file) */
    ior__posix_io_cb cb;
} ior__posix_io_t;

/*
 * A readiness poller behind a const ops table (STYLE §8), chosen when the
 * loop is created so epoll and poll ship in one build.
 */
typedef struct ior__posix_poller_ops {
    const char *name;
    int (*init)(struct ior__posix_loop *pl);
    void (*cleanup)(struct ior__posix_loop *pl);
    int (*add)(struct ior__posix_loop *pl, ior__posix_io_t *io,
               unsigned events);
    int (*modify)(struct ior__posix_loop *pl, ior__posix_io_t *io,
                  unsigned events);
    void (*remove)(struct ior__posix_loop *pl, ior__posix_io_t *io);
    /* Waits up to timeout_ms and dispatches at most max ready watchers. */
    void (*wait)(struct ior__posix_loop *pl, int timeout_ms, unsigned max);
} ior__posix_poller_ops_t;

extern const ior__posix_poller_ops_t ior__posix_poller_epoll;
extern const ior__posix_poller_ops_t ior__posix_poller_poll;

struct ior__posix_fd;
struct ior_process;

/*
 * Memory (a UDP socket, a process) released while a dispatch runs: freed
 * when the dispatch ends, as transports are, so a later event of the same
 * batch never reads freed memory. Embedded in the object it frees.
 */
typedef struct ior__posix_later {
    struct ior__posix_later *next;
    void *mem;
} ior__posix_later_t;

struct ior__posix_loop {
    struct ior_loop base;
    const ior__posix_poller_ops_t *poller;
    void *poller_state;

    /* Wake-up: eventfd on Linux (both ends the same), else a pipe. */
    ior__posix_io_t wake_io;
    int wake_wfd;

    /*
     * This loop's signal channel (signal.c): fd -1 until it watches a
     * signal (stop_on_interrupt, or a child without a pidfd).
     */
    ior__posix_io_t sig_io;
    int sig_slot;

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
    struct ior__posix_fd *zombies;
    ior__posix_later_t
        *later;      /* other objects, same rule (ior__posix_free_later) */
    size_t nzombies; /* both lists */

    /* Child processes watched through SIGCHLD, not a pidfd (process.c). */
    struct ior_process *chld_list;
};

typedef struct ior__posix_loop ior__posix_loop_t;

#define IOR__PL(loop) ((ior__posix_loop_t *)(loop))

/* The FileDescriptor: one connected stream socket. */
struct ior__posix_fd {
    struct ior_transport base;
    ior__posix_io_t io;
    unsigned char want_read;  /* the core wants bytes */
    unsigned char want_write; /* waiting for writability */
    unsigned char eof;        /* read returned 0: never read again */
    unsigned char closed;     /* ior__os_close done, fd is gone */
    unsigned char is_tcp;
    unsigned char is_socket; /* recv/sendmsg; else read/writev (pipes) */
    unsigned char no_sendfile; /* sendfile refused it: the copy path */
    /*
     * A child's stdin (write end of a pipe): stay in the poller so the
     * child closing its end (POLLERR) ends the transport even when we are
     * not writing, as Twisted's ProcessWriter does.
     */
    unsigned char watch_hup;
    struct ior__posix_fd *zombie_next;
};

typedef struct ior__posix_fd ior__posix_fd_t;

/* loop.c */
/* Asks the poller for exactly `events` on io (0 removes it). */
int ior__posix_io_set(ior__posix_loop_t *pl, ior__posix_io_t *io,
                      unsigned events);
/* Removes io from the poller if it is there; io->events becomes 0. */
void ior__posix_io_stop(ior__posix_loop_t *pl, ior__posix_io_t *io);
void ior__posix_io_init(ior__posix_io_t *io, int fd, ior__posix_io_cb cb);
/* close() that keeps errno and retries nothing (EINTR still closed). */
void ior__posix_close_fd(int fd);
/* A non-blocking, close-on-exec pipe; 0 or -errno. */
int ior__posix_pipe(int fds[2]);

/*
 * A listener for the listening AF_UNIX socket fd bound at path (copied;
 * unlinked when the listener closes). On error the caller closes fd.
 */
int ior__posix_listener_wrap(int fd, const char *path, ior_listener_t **out);
/* The AF_UNIX address of path: IOR_EINVAL when it does not fit. */
int ior__posix_unix_sockaddr(const char *path, struct sockaddr_storage *ss,
                             socklen_t *len);

/* Frees mem now, or when the running dispatch ends. */
void ior__posix_free_later(ior__posix_loop_t *pl, ior__posix_later_t *z,
                           void *mem);

/* signal.c: one channel per loop for every signal it watches. */
#define IOR__SIG_INTERRUPT 0x1u /* SIGINT, SIGTERM: stop the loop */
#define IOR__SIG_CHILD 0x2u     /* SIGCHLD: look at pl->chld_list */
/* Installs the handlers and watches what (IOR__SIG_*); 0 or IOR_E*. */
int ior__posix_signal_watch(ior__posix_loop_t *pl, unsigned what);
/* Acts as if signo had arrived, on the next dispatch (watched only). */
void ior__posix_signal_poke(ior__posix_loop_t *pl, int signo);
/* Gives the channel back and undoes the interrupts (loop destroy). */
void ior__posix_signal_close(ior__posix_loop_t *pl);

/* fd.c */
/* A transport for a connected socket; not yet initialised by the core. */
ior__posix_fd_t *ior__posix_fd_alloc(void);
/* Binds the socket to f and makes it a live core transport. */
void ior__posix_fd_open(ior__posix_fd_t *f, ior_loop_t *loop, int fd);

/* process.c: SIGCHLD arrived; look at every child on pl->chld_list. */
void ior__posix_process_sigchld(ior__posix_loop_t *pl);

/* error.c: errno → IOR_E*, the one translation function. */
int ior__posix_error(int err);

/* addr.c */
int ior__posix_addr_to_sockaddr(const ior_addr_t *a,
                                struct sockaddr_storage *ss, socklen_t *len);
int ior__posix_addr_from_sockaddr(ior_addr_t *a, const struct sockaddr *sa);
/* A non-blocking, close-on-exec socket, or -errno. */
int ior__posix_socket(int family, int type);

#endif /* IOR_INTERNAL_POSIX_H */
