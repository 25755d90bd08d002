/*
 * The FileDescriptor: a connected, non-blocking stream socket on the
 * consumer core. Mirrors Twisted's abstract.FileDescriptor doRead/doWrite,
 * minus the buffering and flow control, which live once in common/.
 *
 * Reading: every transport reads into the loop's one buffer (loop.c), so
 * an idle connection holds no read memory; the core copies only what it
 * must hold while the user has paused. A dispatch reads at most
 * IOR__READS_PER_EVENT times before giving other descriptors their turn
 * (level triggering brings it back), and re-checks ior__core_wants_read
 * before each read, so a pause inside data_received takes effect at once.
 *
 * Writing: one gathered sendmsg of up to IOV_MAX queued chunks, without
 * copying. Every send that made progress is followed by
 * ior__core_drained (so a low-water mark resumes a producer before the
 * queue is empty, DESIGN rule 3). When the core asks to write and we are not
 * already waiting for writability, we write at once (the queue was idle, so the
 * socket almost certainly has room) instead of waiting a loop iteration, and
 * leave the consequences to ior__core_defer_drain. Twisted differs: it always
 * waits for the reactor's next doWrite.
 */
#include "internal_posix.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SO_NOSIGPIPE or the ignored SIGPIPE covers it */
#endif

#define IOR__READS_PER_EVENT 4
#define IOR__WRITES_PER_EVENT 4
/* Cap one send; the kernel takes far less than this from a full queue. */
#define IOR__SEND_MAX ((size_t)1 << 30)

static void fd_on_io(ior__posix_loop_t *pl, ior__posix_io_t *io, unsigned rev);

ior__posix_fd_t *ior__posix_fd_alloc(void)
{
    ior__posix_fd_t *f = ior__calloc(1, sizeof(*f));
    if (f != NULL)
        ior__posix_io_init(&f->io, -1, fd_on_io);
    return f;
}

void ior__posix_fd_open(ior__posix_fd_t *f, ior_loop_t *loop, int fd)
{
    ior__posix_io_init(&f->io, fd, fd_on_io);
    f->is_tcp = 1;
    f->is_socket = 1;
    ior__core_transport_init(&f->base, loop);
}

static void fd_update(ior__posix_fd_t *f)
{
    unsigned ev = 0;
    if (f->closed)
        return;
    if (f->want_read && !f->eof)
        ev |= IOR__IO_READ;
    if (f->want_write)
        ev |= IOR__IO_WRITE;
    if (f->watch_hup)
        ev |= IOR__IO_READ; /* a pipe's write end is never readable */
    if (ior__posix_io_set(IOR__PL(f->base.loop), &f->io, ev) != 0) {
        /* Out of memory growing the poll set: fail the transport. */
        f->want_read = 0;
        f->want_write = 0;
        ior__core_error(&f->base, IOR_ENOMEM, ENOMEM);
    }
}

void ior__os_start_reading(ior_transport_t *t)
{
    ior__posix_fd_t *f = (ior__posix_fd_t *)t;
    if (f->closed || f->want_read)
        return;
    f->want_read = 1;
    fd_update(f);
}

void ior__os_stop_reading(ior_transport_t *t)
{
    ior__posix_fd_t *f = (ior__posix_fd_t *)t;
    if (f->closed || !f->want_read)
        return;
    f->want_read = 0;
    fd_update(f);
}

/* One gathered write of bufs[0..n), retried on EINTR; -1 with errno. */
static ssize_t fd_writev(ior__posix_fd_t *f, const ior_buf_t *bufs, size_t n)
{
    struct iovec *iov = IOR__PL(f->base.loop)->send_iov;
    struct msghdr msg;
    size_t i;
    ssize_t w;
    if (n == 1 && f->is_socket) {
        /* The common small answer: send() skips the msghdr copy-in. */
        do {
            w = send(f->io.fd, bufs[0].base, bufs[0].len, MSG_NOSIGNAL);
        } while (w < 0 && errno == EINTR);
        return w;
    }
    for (i = 0; i < n; i++) {
        iov[i].iov_base = (void *)bufs[i].base;
        iov[i].iov_len = bufs[i].len;
    }
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    do {
        w = f->is_socket ? sendmsg(f->io.fd, &msg, MSG_NOSIGNAL)
                         : writev(f->io.fd, iov, (int)n);
    } while (w < 0 && errno == EINTR);
    return w;
}

#ifdef __linux__
/*
 * A file region at the head of the queue, sent by the kernel from the
 * file (to a socket or a pipe alike). Returns as fd_writev, or -2 when
 * there is none or this descriptor cannot take sendfile (EINVAL, ENOSYS:
 * then never again, and the core's copy path sends it instead).
 */
static ssize_t fd_sendfile(ior__posix_fd_t *f)
{
    ior__file_send_t fs;
    off_t at;
    ssize_t w;

    if (f->no_sendfile || !ior__core_send_file_begin(&f->base, &fs))
        return -2;
    at = (off_t)fs.offset;
    do {
        w = sendfile(f->io.fd, (int)fs.file, &at, fs.len);
    } while (w < 0 && errno == EINTR);
    if (w < 0 && (errno == EINVAL || errno == ENOSYS)) {
        ior__core_send_end(&f->base, 0);
        f->no_sendfile = 1;
        return -2;
    }
    if (w == 0) {
        errno = EIO; /* the file ended before the region did */
        w = -1;
    }
    return w;
}
#else
static ssize_t fd_sendfile(ior__posix_fd_t *f)
{
    (void)f;
    return -2;
}
#endif

/*
 * One send of the queue: a file region from the file, else a gather of
 * what is queued. Returns bytes written (>= 0), or -1 with the IOR_E*
 * code in *err (0 for "would block").
 */
static ssize_t fd_send_once(ior__posix_fd_t *f, int *err, int *os_err)
{
    ior__posix_loop_t *pl = IOR__PL(f->base.loop);
    ior_buf_t *bufs = pl->send_bufs;
    size_t n;
    ssize_t w;

    *err = 0;
    w = fd_sendfile(f);
    if (w == -2) {
        n = ior__core_send_begin(&f->base, bufs, IOR__IOV_MAX,
                                 IOR__SEND_MAX);
        if (n == 0)
            return 0;
        w = fd_writev(f, bufs, n);
    }
    if (w < 0) {
        int e = errno;
        ior__core_send_end(&f->base, 0);
        if (e == EAGAIN || e == EWOULDBLOCK)
            return -1; /* *err 0: wait for writability */
        *err = ior__posix_error(e);
        *os_err = e;
        return -1;
    }
    ior__core_send_end(&f->base, (size_t)w);
    return w;
}

/*
 * Writes until the queue is empty, the socket is full, an error, or the
 * budget runs out. Returns 1 if bytes were written or the queue is empty
 * (the core should look: ior__core_drained), 0 otherwise.
 */
static int fd_flush(ior__posix_fd_t *f, int budget)
{
    int progress = 0;
    int err = 0;
    int os_err = 0;
    while (budget-- > 0 && f->base.q.bytes > 0) {
        ssize_t w = fd_send_once(f, &err, &os_err);
        if (w < 0)
            break;
        if (w > 0)
            progress = 1;
    }
    if (err != 0) {
        f->want_write = 0;
        fd_update(f);
        ior__core_error(&f->base, err, os_err);
        return 0;
    }
    f->want_write = f->base.q.bytes > 0;
    fd_update(f);
    return progress || f->base.q.bytes == 0;
}

void ior__os_start_writing(ior_transport_t *t)
{
    ior__posix_fd_t *f = (ior__posix_fd_t *)t;
    if (f->closed)
        return;
    if (f->want_write)
        return; /* the writability dispatch will take the new bytes */
    if (fd_flush(f, 1))
        ior__core_defer_drain(t);
}

static void fd_on_writable(ior__posix_fd_t *f)
{
    if (fd_flush(f, IOR__WRITES_PER_EVENT) && !f->closed)
        ior__core_drained(&f->base);
}

static void fd_on_readable(ior__posix_loop_t *pl, ior__posix_fd_t *f)
{
    int i;
    for (i = 0; i < IOR__READS_PER_EVENT; i++) {
        ssize_t n;
        if (f->closed || f->eof || !ior__core_wants_read(&f->base))
            return;
        do {
            n = f->is_socket ? recv(f->io.fd, pl->rbuf, pl->rbuf_size, 0)
                             : read(f->io.fd, pl->rbuf, pl->rbuf_size);
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            ior__core_read(&f->base, pl->rbuf, (size_t)n);
            if ((size_t)n < pl->rbuf_size)
                return; /* drained for now */
        } else if (n == 0) {
            f->eof = 1;
            fd_update(f);
            ior__core_read_eof(&f->base);
            return;
        } else {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return;
            f->want_read = 0;
            fd_update(f);
            ior__core_error(&f->base, ior__posix_error(e), e);
            return;
        }
    }
}

/*
 * ERR/HUP run whichever side is wanted: the read or the send then fails
 * (or reads EOF) with the real error, which is what the user should see.
 */
static void fd_on_io(ior__posix_loop_t *pl, ior__posix_io_t *io, unsigned rev)
{
    ior__posix_fd_t *f = IOR__CONTAINER(io, ior__posix_fd_t, io);
    if ((rev & IOR__IO_ERR) && f->watch_hup && !f->want_write) {
        /*
         * The reader (a child) closed its end while we had nothing to
         * send: finish as lose_connection does (IOR_EDONE), since nothing
         * was lost. With bytes queued the send reports IOR_EPIPE instead.
         */
        f->watch_hup = 0;
        fd_update(f);
        (void)ior_transport_lose_connection(&f->base);
        return;
    }
    if ((rev & (IOR__IO_READ | IOR__IO_ERR)) && f->want_read)
        fd_on_readable(pl, f);
    if ((rev & (IOR__IO_WRITE | IOR__IO_ERR)) && f->want_write && !f->closed)
        fd_on_writable(f);
}

/*
 * The core's fast path for a write into an idle transport: one gathered
 * send straight from the caller's buffers, so an echo or a request/response
 * costs no copy and no extra loop pass. Would-block is "nothing taken".
 */
size_t ior__os_try_write(ior_transport_t *t, const ior_buf_t *bufs, size_t n)
{
    ior__posix_fd_t *f = (ior__posix_fd_t *)t;
    ssize_t w;

    if (f->closed || f->want_write || n == 0 || n > IOR__IOV_MAX)
        return 0;
    w = fd_writev(f, bufs, n);
    /* Would-block or an error: nothing taken. The queued path meets the
     * error again and reports it from the loop, as without this path. */
    return w >= 0 ? (size_t)w : 0;
}

void ior__os_shutdown_write(ior_transport_t *t)
{
    ior__posix_fd_t *f = (ior__posix_fd_t *)t;
    if (f->closed)
        return;
    /*
     * ENOTCONN: the peer already reset; the read side will report it. A
     * pipe has no half-close: its reader sees EOF when the transport
     * closes (a write-only pipe closes as soon as lose_connection drains).
     */
    if (f->is_socket)
        (void)shutdown(f->io.fd, SHUT_WR);
}

void ior__os_close(ior_transport_t *t, int abort)
{
    ior__posix_fd_t *f = (ior__posix_fd_t *)t;
    if (f->closed)
        return;
    if (abort && f->is_socket) {
        /* Linger {1, 0}: close sends RST and drops unsent data. */
        struct linger lg;
        lg.l_onoff = 1;
        lg.l_linger = 0;
        (void)setsockopt(f->io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    ior__posix_io_stop(IOR__PL(t->loop), &f->io);
    ior__posix_close_fd(f->io.fd);
    f->io.fd = -1;
    f->closed = 1;
    f->want_read = 0;
    f->want_write = 0;
}

void ior__os_transport_free(ior_transport_t *t)
{
    ior__posix_fd_t *f = (ior__posix_fd_t *)t;
    ior__posix_loop_t *pl = IOR__PL(t->loop);
    if (!f->closed)
        ior__os_close(t, 1);
    if (pl->dispatching) {
        f->zombie_next = pl->zombies;
        pl->zombies = f;
        pl->nzombies++;
        return;
    }
    ior__free(f);
}
