/*
 * Local IPC (issue 14, part 1): ior_local_listen and ior_local_connect,
 * over AF_UNIX sockets on POSIX and named pipes on Windows (IOCP, under
 * Wine too). What only one of them has (socket files on POSIX, the first
 * pipe instance rule on Windows) is tested there.
 */
#include "tools_tests.h"
#include "../portable.h"
#include "net_util.h"
#include "platform.h"
#include "stress_platform.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifndef _WIN32
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#define LC_BYTES (1024 * 1024)

typedef struct lc_ctx {
    nu_loop_t nl;
    ior_listener_t *l;
    char path[256];
    nu_conn_t server; /* the one accepted connection */
    nu_conn_t client;
    int accepted;
    int status;
    int calls;
} lc_ctx_t;

/* A fresh local name: a path with nothing there, or a new pipe name. */
static void lc_path(char *buf, size_t len)
{
    assert_int_equal(nu_platform_local_name(buf, len), 0);
}

/* The client's EOF: the echo is queued; close after it drains. */
static void lc_server_eof(nu_conn_t *c)
{
    assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

static void lc_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    lc_ctx_t *x = user;
    (void)l;
    x->accepted++;
    x->server.on_eof = lc_server_eof;
    nu_conn_attach(&x->server, t, NU_ECHO | NU_HALF_CLOSE);
}

static const ior_listener_ops_t lc_ops = {lc_accept, NULL};

static void lc_write_all(nu_conn_t *c)
{
    uint64_t off = 0;
    while (off < LC_BYTES) {
        size_t k = LC_BYTES - off > NU_PATTERN_MAX ? NU_PATTERN_MAX
                                                   : (size_t)(LC_BYTES - off);
        assert_int_equal(ior_transport_write(c->t, nu_pattern(off), k), 0);
        off += k;
    }
    assert_int_equal(ior_transport_lose_write_connection(c->t), 0);
}

static void lc_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    /* Not TCP: no nodelay, no addresses. */
    assert_int_equal(ior_transport_set_nodelay(c->t, 1), IOR_ENOTSUP);
    lc_write_all(c);
}

static void lc_client_lost(nu_conn_t *c)
{
    nu_done(c->loop);
}

/*
 * 1 MiB each way through an echo server, with half-close: the client's
 * lose_write_connection is the server's EOF (a named pipe says it with a
 * zero-byte write), the server's echo and close end the client with
 * everything back, in order. The listener has no address (IOR_ENOTSUP);
 * on POSIX it removes its socket file.
 */
void test_local_echo_with_half_close(void **state)
{
    lc_ctx_t *x;
    ior_addr_t a;
    (void)state;
    x = calloc(1, sizeof(*x));
    assert_non_null(x);
    nu_loop_init(&x->nl);
    lc_path(x->path, sizeof(x->path));
    assert_int_equal(ior_local_listen(x->nl.loop, x->path, &lc_ops, x, &x->l),
                     0);
    assert_int_equal(ior_listener_address(x->l, &a), IOR_ENOTSUP);
    x->client.on_connect = lc_connected;
    x->client.on_lost = lc_client_lost;
    assert_int_equal(nu_local_connect(x->nl.loop, x->path, &x->client,
                                      NU_HALF_CLOSE, NULL),
                     0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->accepted, 1);
    assert_true(x->server.rx == LC_BYTES);
    assert_true(x->client.rx == LC_BYTES);
    assert_true(x->client.rx_hash == nu_pattern_hash(LC_BYTES));
    assert_int_equal(x->client.eof, 1);
    assert_int_equal(x->client.reason, IOR_EDONE);
    ior_listener_close(x->l);
#ifndef _WIN32
    {
        struct stat st;
        assert_int_equal(stat(x->path, &st), -1); /* removed at the close */
    }
#endif
    nu_loop_free(&x->nl);
    free(x);
}

#ifndef _WIN32
/* A socket file bound and left behind, as by a server that died. */
static void lc_stale_socket(const char *path)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    assert_true(strlen(path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path));
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd); /* the file stays, nobody listens */
}
#endif

static void lc_status(ior_loop_t *loop, void *user, ior_transport_t *t,
                      int status, int os_error)
{
    lc_ctx_t *x = user;
    (void)os_error;
    assert_null(t);
    x->status = status;
    x->calls++;
    nu_done(loop);
}

/*
 * What may be at the name. Windows: nobody listening is IOR_ENOENT, the
 * full pipe name and the bare one are the same, a second server on it is
 * IOR_EADDRINUSE (FILE_FLAG_FIRST_PIPE_INSTANCE; runner only, Wine 8 does
 * not enforce it). POSIX: nothing connects as IOR_ENOENT; a socket file
 * nobody serves connects as IOR_ECONNREFUSED and is replaced by a new
 * listener; a second listener on a live one is IOR_EADDRINUSE; a regular
 * file is IOR_EADDRINUSE and left as it was.
 */
void test_local_paths_stale_live_and_file(void **state)
{
#ifdef _WIN32
    lc_ctx_t *x = calloc(1, sizeof(*x));
    ior_listener_t *second = NULL;
    int r;
    (void)state;
    assert_non_null(x);
    nu_loop_init(&x->nl);
    lc_path(x->path, sizeof(x->path));
    assert_int_equal(
        ior_local_connect(x->nl.loop, x->path, NULL, lc_status, x), 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->status, IOR_ENOENT);
    /* "\\.\pipe\NAME" and NAME are one name. */
    {
        char full[300];
        snprintf(full, sizeof(full), "\\\\.\\pipe\\%s", x->path);
        assert_int_equal(
            ior_local_listen(x->nl.loop, full, &lc_ops, x, &x->l), 0);
    }
    r = ior_local_listen(x->nl.loop, x->path, &lc_ops, x, &second);
    if (sp_is_wine()) {
        /* Wine 8 does not enforce FILE_FLAG_FIRST_PIPE_INSTANCE. */
        print_message("tools: under Wine a second server on the name got "
                      "%s (Windows: IOR_EADDRINUSE; verified on the runner)\n",
                      ior_err_name(r));
        if (r == 0)
            ior_listener_close(second);
    } else {
        assert_int_equal(r, IOR_EADDRINUSE);
    }
    ior_listener_close(x->l);
    assert_int_equal(x->calls, 1);
    nu_loop_free(&x->nl);
    free(x);
#else
    lc_ctx_t *x = calloc(1, sizeof(*x));
    ior_listener_t *second = NULL;
    char file[256];
    FILE *f;
    struct stat st;
    (void)state;
    assert_non_null(x);
    nu_loop_init(&x->nl);
    lc_path(x->path, sizeof(x->path));
    assert_int_equal(
        ior_local_connect(x->nl.loop, x->path, NULL, lc_status, x), 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->status, IOR_ENOENT);
    lc_stale_socket(x->path);
    assert_int_equal(
        ior_local_connect(x->nl.loop, x->path, NULL, lc_status, x), 0);
    nu_loop_run(&x->nl);
    assert_int_equal(x->status, IOR_ECONNREFUSED);
    assert_int_equal(ior_local_listen(x->nl.loop, x->path, &lc_ops, x, &x->l),
                     0);
    assert_int_equal(
        ior_local_listen(x->nl.loop, x->path, &lc_ops, x, &second),
        IOR_EADDRINUSE);
    ior_listener_close(x->l);
    lc_path(file, sizeof(file));
    f = test_fopen(file, "w");
    assert_non_null(f);
    assert_int_equal(fputs("keep me", f) >= 0, 1);
    fclose(f);
    assert_int_equal(ior_local_listen(x->nl.loop, file, &lc_ops, x, &second),
                     IOR_EADDRINUSE);
    assert_int_equal(stat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode) && st.st_size == 7);
    assert_int_equal(remove(file), 0);
    assert_int_equal(x->calls, 2);
    nu_loop_free(&x->nl);
    free(x);
#endif
}

/* NULLs, an empty name, a name longer than AF_UNIX allows, a bind
 * address: IOR_EINVAL, and no callback. */
void test_local_bad_input(void **state)
{
    lc_ctx_t *x = calloc(1, sizeof(*x));
    ior_connect_options_t o = {0, NULL};
    ior_addr_t any;
    char longname[300];
    (void)state;
    assert_non_null(x);
    nu_loop_init(&x->nl);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(ior_addr_parse(&any, "127.0.0.1", 0), 0);
    o.bind = &any;
    assert_int_equal(ior_local_listen(NULL, "x", &lc_ops, x, &x->l),
                     IOR_EINVAL);
    assert_int_equal(ior_local_listen(x->nl.loop, "", &lc_ops, x, &x->l),
                     IOR_EINVAL);
    assert_int_equal(ior_local_listen(x->nl.loop, NULL, &lc_ops, x, &x->l),
                     IOR_EINVAL);
    assert_int_equal(ior_local_listen(x->nl.loop, "x", NULL, x, &x->l),
                     IOR_EINVAL);
    assert_int_equal(ior_local_connect(x->nl.loop, "", NULL, lc_status, x),
                     IOR_EINVAL);
    assert_int_equal(ior_local_connect(x->nl.loop, "x", NULL, NULL, x),
                     IOR_EINVAL);
    assert_int_equal(ior_local_connect(x->nl.loop, "x", &o, lc_status, x),
                     IOR_EINVAL);
#ifndef _WIN32
    assert_int_equal(
        ior_local_listen(x->nl.loop, longname, &lc_ops, x, &x->l), IOR_EINVAL);
    assert_int_equal(
        ior_local_connect(x->nl.loop, longname, NULL, lc_status, x),
        IOR_EINVAL);
#endif
    assert_int_equal(x->calls, 0);
    nu_loop_free(&x->nl);
    free(x);
}

#define LC_CLIENTS 16

typedef struct lm_ctx {
    nu_loop_t nl;
    ior_listener_t *l;
    char path[256];
    nu_conn_t server[LC_CLIENTS];
    nu_conn_t client[LC_CLIENTS];
    int accepted;
    int ended;
} lm_ctx_t;

static void lm_server_eof(nu_conn_t *c)
{
    assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

static void lm_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    lm_ctx_t *x = user;
    nu_conn_t *c;
    (void)l;
    assert_true(x->accepted < LC_CLIENTS);
    c = &x->server[x->accepted++];
    c->on_eof = lm_server_eof;
    nu_conn_attach(c, t, NU_ECHO | NU_HALF_CLOSE);
}

static const ior_listener_ops_t lm_ops = {lm_accept, NULL};

static void lm_connected(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_write(c->t, "hello", 5), 0);
    assert_int_equal(ior_transport_lose_write_connection(c->t), 0);
}

static void lm_lost(nu_conn_t *c)
{
    lm_ctx_t *x = c->user;
    if (++x->ended == LC_CLIENTS)
        nu_done(c->loop);
}

/*
 * LC_CLIENTS clients at once, more than a Windows listener keeps pipe
 * instances waiting (4): the ones that find every instance taken retry
 * from the loop, and every client is served and gets its bytes back.
 */
void test_local_many_clients_at_once(void **state)
{
    lm_ctx_t *x = calloc(1, sizeof(*x));
    int i;
    (void)state;
    assert_non_null(x);
    nu_loop_init(&x->nl);
    lc_path(x->path, sizeof(x->path));
    assert_int_equal(ior_local_listen(x->nl.loop, x->path, &lm_ops, x, &x->l),
                     0);
    for (i = 0; i < LC_CLIENTS; i++) {
        x->client[i].on_connect = lm_connected;
        x->client[i].on_lost = lm_lost;
        x->client[i].user = x;
        assert_int_equal(nu_local_connect(x->nl.loop, x->path, &x->client[i],
                                          NU_HALF_CLOSE, NULL),
                         0);
    }
    nu_loop_run(&x->nl);
    assert_int_equal(x->accepted, LC_CLIENTS);
    for (i = 0; i < LC_CLIENTS; i++) {
        assert_true(x->client[i].rx == 5);
        assert_int_equal(x->client[i].reason, IOR_EDONE);
    }
    ior_listener_close(x->l);
    nu_loop_free(&x->nl);
    free(x);
}
