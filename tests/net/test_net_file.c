/*
 * File sending (issue 14, part 3): ior_transport_write_file over real
 * connections of every backend. TCP takes the OS's file send (sendfile on
 * Linux, TransmitFile on IOCP); local IPC takes sendfile over AF_UNIX and
 * the copy path over a Windows named pipe. Each stream is the test
 * pattern from 0 to its end, its pieces alternately from memory and from
 * a file holding the same pattern, so one hash checks order and content.
 */
#include "tools_tests.h"
#include "../portable.h"
#include "net_util.h"
#include "platform.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NF_FILE_LEN (3u * 1024u * 1024u + 4321u)

/* Where the stream switches source: copy, file, ref, file, copy. */
static const uint64_t nf_cut[] = {0, 1000, 1700000, 2000000, 3000000,
                                  3100000};
#define NF_PIECES 5
#define NF_STREAM_LEN 3100000u

/* Writes the pattern [0, NF_FILE_LEN) to a new temporary file. */
static void nf_make_file(char *path, size_t len)
{
    FILE *f;
    uint64_t off = 0;
    assert_int_equal(nu_platform_temp_file(path, len), 0);
    f = test_fopen(path, "wb");
    assert_non_null(f);
    while (off < NF_FILE_LEN) {
        size_t k = NF_FILE_LEN - off > NU_PATTERN_MAX
                       ? NU_PATTERN_MAX
                       : (size_t)(NF_FILE_LEN - off);
        assert_int_equal(fwrite(nu_pattern(off), 1, k, f), k);
        off += k;
    }
    assert_int_equal(fclose(f), 0);
}

/* Empties the file at path (another handle may have it open). */
static void nf_truncate(const char *path)
{
    FILE *f = test_fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
}

typedef struct nf_ctx nf_ctx_t;

/* One release: which region, and what it was called with. */
typedef struct nf_rel {
    nf_ctx_t *x;
    int id;
    int is_file; /* given to write_file: released as (ctx, NULL, 0) */
} nf_rel_t;

struct nf_ctx {
    nu_loop_t nl;
    int local;     /* over ior_local_listen/connect, else TCP */
    int file_kind; /* nu_platform_file_open's kind */
    char path[512];
    intptr_t file;
    nu_server_t srv;  /* TCP */
    ior_listener_t *l; /* local */
    char name[256];
    nu_conn_t server; /* local: the accepted connection */
    nu_conn_t client;
    nu_conn_t *peer; /* the receiving side, once accepted */
    int server_lost;
    nf_rel_t rel[NF_PIECES];
    int order[NF_PIECES];
    int released;
    int bad_release_args;
    /* test_file_truncated: the sender's big write ahead of the file. */
    char *ahead;
    size_t ahead_len;
    int connected;
    /* test_file_pull_producer */
    uint64_t produced;
    int regions;
};

static void nf_release(void *ctx, const void *base, size_t len)
{
    nf_rel_t *r = ctx;
    nf_ctx_t *x = r->x;
    if (r->is_file && (base != NULL || len != 0))
        x->bad_release_args++;
    if (x->released < NF_PIECES)
        x->order[x->released] = r->id;
    x->released++;
}

static void nf_check_done(nf_ctx_t *x)
{
    if (x->client.lost && x->server_lost)
        nu_done(x->nl.loop);
}

static void nf_server_lost(nu_conn_t *c)
{
    nf_ctx_t *x = c->user;
    x->server_lost = 1;
    nf_check_done(x);
}

static void nf_client_lost(nu_conn_t *c)
{
    nf_check_done(c->user);
}

static void nf_tcp_accepted(nu_server_t *s, nu_conn_t *c)
{
    nf_ctx_t *x = s->user;
    c->user = x;
    c->on_lost = nf_server_lost;
    x->peer = c;
    if (x->ahead != NULL && x->connected)
        assert_int_equal(ior_transport_resume_producing(c->t), 0);
}

static void nf_local_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    nf_ctx_t *x = user;
    (void)l;
    x->server.user = x;
    x->server.on_lost = nf_server_lost;
    nu_conn_attach(&x->server, t, x->ahead != NULL ? NU_PAUSED : 0);
    x->peer = &x->server;
    if (x->ahead != NULL && x->connected)
        assert_int_equal(ior_transport_resume_producing(t), 0);
}

static const ior_listener_ops_t nf_local_ops = {nf_local_accept, NULL};

/* A receiver (flags: NU_PAUSED or 0) and a sender whose on_connect runs. */
static void nf_start(nf_ctx_t *x, unsigned server_flags,
                     void (*on_connect)(nu_conn_t *c))
{
    x->client.user = x;
    x->client.on_connect = on_connect;
    x->client.on_lost = nf_client_lost;
    if (x->local) {
        assert_int_equal(nu_platform_local_name(x->name, sizeof(x->name)),
                         0);
        assert_int_equal(ior_local_listen(x->nl.loop, x->name, &nf_local_ops,
                                          x, &x->l),
                         0);
        assert_int_equal(
            nu_local_connect(x->nl.loop, x->name, &x->client, 0, NULL), 0);
        return;
    }
    x->srv.user = x;
    x->srv.on_accept = nf_tcp_accepted;
    assert_int_equal(
        nu_server_start(&x->srv, x->nl.loop, "127.0.0.1", server_flags, 16),
        0);
    nu_connect(x->nl.loop, &x->srv.addr, &x->client, 0);
}

static void nf_stop(nf_ctx_t *x)
{
    if (x->l != NULL)
        ior_listener_close(x->l);
    if (!x->local) {
        nu_server_close(&x->srv);
        nu_server_free_conns(&x->srv);
    }
    nu_loop_free(&x->nl);
    nu_platform_close_handle(x->file);
    assert_int_equal(remove(x->path), 0);
}

static nf_ctx_t *nf_new(int local, int file_kind)
{
    nf_ctx_t *x = calloc(1, sizeof(*x));
    int i;
    assert_non_null(x);
    x->local = local;
    x->file_kind = file_kind;
    for (i = 0; i < NF_PIECES; i++) {
        x->rel[i].x = x;
        x->rel[i].id = i;
    }
    nf_make_file(x->path, sizeof(x->path));
    assert_int_equal(nu_platform_file_open(x->path, 0, file_kind, &x->file),
                     0);
    nu_loop_init(&x->nl);
    return x;
}

/* Piece i of the stream as copies (0, 4) or borrowed memory (2). */
static void nf_write_memory(nf_ctx_t *x, int i)
{
    uint64_t off = nf_cut[i];
    while (off < nf_cut[i + 1]) {
        size_t k = nf_cut[i + 1] - off > NU_PATTERN_MAX
                       ? NU_PATTERN_MAX
                       : (size_t)(nf_cut[i + 1] - off);
        int last = off + k == nf_cut[i + 1];
        if (i != 2)
            assert_int_equal(
                ior_transport_write(x->client.t, nu_pattern(off), k), 0);
        else
            assert_int_equal(
                ior_transport_write_ref(x->client.t, nu_pattern(off), k,
                                        last ? nf_release : NULL,
                                        last ? &x->rel[i] : NULL),
                0);
        off += k;
    }
}

static void nf_send_stream(nu_conn_t *c)
{
    nf_ctx_t *x = c->user;
    int i;
    assert_int_equal(c->connect_status, 0);
    for (i = 0; i < NF_PIECES; i++) {
        x->rel[i].is_file = i == 1 || i == 3;
        if (x->rel[i].is_file)
            assert_int_equal(
                ior_transport_write_file(c->t, x->file, nf_cut[i],
                                         nf_cut[i + 1] - nf_cut[i],
                                         nf_release, &x->rel[i]),
                0);
        else
            nf_write_memory(x, i);
    }
    /* Counted as bytes: everything not yet sent is in buffered. */
    assert_true(ior_transport_buffered(c->t) <= NF_STREAM_LEN);
    assert_int_equal(ior_transport_lose_connection(c->t), 0);
}

static void nf_stream_case(int local, int kind)
{
    nf_ctx_t *x = nf_new(local, kind);
    nf_start(x, 0, nf_send_stream);
    nu_loop_run(&x->nl);
    assert_int_equal(x->client.reason, IOR_EDONE);
    assert_non_null(x->peer);
    assert_true(x->peer->rx == NF_STREAM_LEN);
    assert_true(x->peer->rx_hash == nu_pattern_hash(NF_STREAM_LEN));
    /* Released once each, in the order written. */
    assert_int_equal(x->released, 3);
    assert_int_equal(x->order[0], 1);
    assert_int_equal(x->order[1], 2);
    assert_int_equal(x->order[2], 3);
    assert_int_equal(x->bad_release_args, 0);
    nf_stop(x);
    free(x);
}

/*
 * Copies, a file region from an offset, borrowed memory, another region,
 * copies, then lose_connection: the peer gets the stream whole and in
 * order, every release runs once, in write order, as (ctx, NULL, 0). On
 * Windows both file kinds (opened overlapped or not), through TransmitFile
 * (IOR_IOCP_TRANSMITFILE=1) and through the copy path a client edition
 * (Wine too) takes by default; POSIX ignores the variable (sendfile).
 */
void test_file_stream_over_tcp(void **state)
{
    static const char *const transmit[] = {"1", "0"};
    int k, i;
    (void)state;
    for (i = 0; i < 2; i++) {
        nu_platform_setenv("IOR_IOCP_TRANSMITFILE", transmit[i]);
        for (k = 0; k < nu_platform_file_kinds(); k++)
            nf_stream_case(0, k);
    }
    nu_platform_setenv("IOR_IOCP_TRANSMITFILE", NULL);
}

/* The same over local IPC: sendfile to AF_UNIX, the copy path over a
 * named pipe (read 256 KiB at a time, from either file kind). */
void test_file_stream_over_local_ipc(void **state)
{
    int k;
    (void)state;
    for (k = 0; k < nu_platform_file_kinds(); k++)
        nf_stream_case(1, k);
}

/* --- the file shrinks before its turn ------------------------------- */

#define NF_AHEAD (32u * 1024u * 1024u)

static void nf_send_then_truncate(nu_conn_t *c)
{
    nf_ctx_t *x = c->user;
    assert_int_equal(c->connect_status, 0);
    /*
     * More than loopback buffers hold while the peer reads nothing, so
     * the file's turn comes only after the peer resumes, below.
     */
    assert_int_equal(ior_transport_write_ref(c->t, x->ahead, x->ahead_len,
                                             nf_release, &x->rel[0]),
                     0);
    x->rel[1].is_file = 1;
    assert_int_equal(ior_transport_write_file(c->t, x->file, 0, 100000,
                                              nf_release, &x->rel[1]),
                     0);
    nf_truncate(x->path);
    x->connected = 1;
    if (x->peer != NULL)
        assert_int_equal(ior_transport_resume_producing(x->peer->t), 0);
}

/*
 * A region whose file shrank before it was sent: the transport closes
 * with IOR_EIO (sendfile and TransmitFile find the end of the file, the
 * copy path reads nothing), both releases run once, and the peer never
 * sees more than the bytes ahead of the file.
 */
void test_file_truncated_closes_with_eio(void **state)
{
    nf_ctx_t *x;
    (void)state;
    nu_platform_setenv("IOR_IOCP_TRANSMITFILE", "1"); /* TransmitFile's EOF */
    x = nf_new(0, 0);
    nu_platform_setenv("IOR_IOCP_TRANSMITFILE", NULL);
    x->ahead_len = NF_AHEAD;
    x->ahead = calloc(1, NF_AHEAD);
    assert_non_null(x->ahead);
    nf_start(x, NU_PAUSED, nf_send_then_truncate);
    nu_loop_run(&x->nl);
    assert_int_equal(x->client.reason, IOR_EIO);
    assert_int_equal(x->released, 2);
    assert_int_equal(x->order[0], 0);
    assert_int_equal(x->order[1], 1);
    assert_int_equal(x->bad_release_args, 0);
    assert_true(x->peer->rx <= NF_AHEAD);
    nf_stop(x);
    free(x->ahead);
    free(x);
}

/* --- a pull producer of file regions --------------------------------- */

#define NF_REGION (256u * 1024u)

static void nf_pull_resume(void *user)
{
    nf_ctx_t *x = user;
    ior_transport_t *t = x->client.t;
    uint64_t k = NF_FILE_LEN - x->produced;
    if (k > NF_REGION)
        k = NF_REGION;
    assert_int_equal(ior_transport_write_file(t, x->file, x->produced, k,
                                              NULL, NULL),
                     0);
    x->produced += k;
    x->regions++;
    if (x->produced == NF_FILE_LEN) {
        assert_int_equal(ior_transport_unregister_producer(t), 0);
        assert_int_equal(ior_transport_lose_connection(t), 0);
    }
}

static void nf_pull_stop(void *user)
{
    (void)user;
}

static const ior_producer_ops_t nf_pull_ops = {NULL, nf_pull_resume,
                                               nf_pull_stop};

static void nf_start_producer(nu_conn_t *c)
{
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(
        ior_transport_register_producer(c->t, &nf_pull_ops, c->user, 0), 0);
}

/*
 * Twisted's FileSender shape with no copy: a pull producer writes one
 * 256 KiB region per resume (each drain asks for the next) and the peer
 * gets the whole file in order.
 */
void test_file_pull_producer(void **state)
{
    nf_ctx_t *x = nf_new(0, 0);
    (void)state;
    nf_start(x, 0, nf_start_producer);
    nu_loop_run(&x->nl);
    assert_int_equal(x->client.reason, IOR_EDONE);
    assert_int_equal(x->regions, (NF_FILE_LEN + NF_REGION - 1) / NF_REGION);
    assert_true(x->peer->rx == NF_FILE_LEN);
    assert_true(x->peer->rx_hash == nu_pattern_hash(NF_FILE_LEN));
    nf_stop(x);
    free(x);
}

/* --- bad input --------------------------------------------------------- */

static void nf_bad_input(nu_conn_t *c)
{
    nf_ctx_t *x = c->user;
    intptr_t sa, sb;
    ior_transport_t *t = c->t;
    assert_int_equal(c->connect_status, 0);
    assert_int_equal(ior_transport_write_file(NULL, x->file, 0, 1, NULL,
                                              NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_write_file(t, -1, 0, 1, NULL, NULL),
                     IOR_EINVAL);
    assert_int_equal(ior_transport_write_file(t, x->file, 1, UINT64_MAX,
                                              NULL, NULL),
                     IOR_EINVAL);
    /* Past the end of the file. */
    assert_int_equal(ior_transport_write_file(t, x->file, NF_FILE_LEN - 10,
                                              11, nf_release, &x->rel[0]),
                     IOR_EINVAL);
    /* A socket is not a regular file. */
    assert_int_equal(nu_platform_tcp_pair(&sa, &sb), 0);
    assert_int_equal(ior_transport_write_file(t, sa, 0, 1, nf_release,
                                              &x->rel[0]),
                     IOR_EBADF);
    nu_platform_close_socket(sa);
    nu_platform_close_socket(sb);
    /* A file open for writing only: refused now, not when its turn comes. */
    {
        char wpath[512];
        intptr_t w;
        assert_int_equal(nu_platform_temp_file(wpath, sizeof(wpath)), 0);
        assert_int_equal(nu_platform_file_open(wpath, 1, 1, &w), 0);
        assert_int_equal(ior_transport_write_file(t, w, 0, 0, nf_release,
                                                  &x->rel[0]),
                         IOR_EBADF);
        nu_platform_close_handle(w);
        assert_int_equal(remove(wpath), 0);
    }
    /* length 0: nothing queued, no release taken. */
    assert_int_equal(ior_transport_write_file(t, x->file, NF_FILE_LEN, 0,
                                              nf_release, &x->rel[0]),
                     0);
    assert_int_equal(ior_transport_buffered(t), 0);
    assert_int_equal(ior_transport_lose_write_connection(t), 0);
    assert_int_equal(ior_transport_write_file(t, x->file, 0, 1, nf_release,
                                              &x->rel[0]),
                     IOR_ESHUTDOWN);
    assert_int_equal(ior_transport_lose_connection(t), 0);
}

/* One code each (a write-only file is IOR_EBADF too), nothing sent, no
 * release taken on any refusal. */
void test_file_bad_input(void **state)
{
    nf_ctx_t *x = nf_new(0, 0);
    (void)state;
    nf_start(x, 0, nf_bad_input);
    nu_loop_run(&x->nl);
    assert_int_equal(x->client.reason, IOR_EDONE);
    assert_true(x->peer->rx == 0);
    assert_int_equal(x->released, 0);
    nf_stop(x);
    free(x);
}
