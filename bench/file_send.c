/*
 * file_send: serving a file, ior_transport_write_file against a copying
 * pull producer (read 256 KiB, ior_transport_write), over loopback TCP and
 * over local IPC (AF_UNIX; a named pipe on Windows), sender and receiver
 * in one loop, the cases interleaved, one JSON line per run:
 *
 *   file_send [-r REPS] [-m MIB_PER_RUN] [-f FILE_MIB] [-o PATH] [-k KIB]
 *
 * The file (FILE_MIB, default 64) is written to PATH (default
 * ior-file-send.bin in the current directory) and removed at the end. A
 * run sends MIB_PER_RUN (default 512) as whole-file regions, or as KIB
 * (default 256) copies read with stdio, and ends at the receiver's EOF.
 * Figures are MiB/s of loop time (ior_loop_now); compare cases of one
 * run only.
 */
#include "ior.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

#define MIB (1024ull * 1024ull)

static size_t copy_chunk = 256 * 1024; /* -k KIB */

static unsigned long long file_len = 64 * MIB;
static unsigned long long run_len = 512 * MIB;
static const char *path = "ior-file-send.bin";

typedef struct run {
    ior_loop_t *loop;
    int zero_copy;
    intptr_t file;  /* for write_file */
    FILE *stdio;    /* for the copying producer */
    char *buf;
    ior_transport_t *sender;
    unsigned long long queued;   /* bytes handed to the sender */
    unsigned long long received; /* bytes the receiver got */
    uint64_t start_ms, end_ms;
    int failed;
} run_t;

static FILE *open_stdio(const char *p, const char *mode)
{
#ifdef _MSC_VER
    FILE *f = NULL;
    return fopen_s(&f, p, mode) == 0 ? f : NULL;
#else
    return fopen(p, mode);
#endif
}

static intptr_t open_os_file(const char *p)
{
#ifdef _WIN32
    HANDLE h = CreateFileA(p, GENERIC_READ, FILE_SHARE_READ, NULL,
                           OPEN_EXISTING, FILE_FLAG_SEQUENTIAL_SCAN, NULL);
    return h == INVALID_HANDLE_VALUE ? -1 : (intptr_t)h;
#else
    return open(p, O_RDONLY);
#endif
}

static void close_os_file(intptr_t f)
{
#ifdef _WIN32
    CloseHandle((HANDLE)f);
#else
    close((int)f);
#endif
}

static void local_name(char *buf, size_t len)
{
#ifdef _WIN32
    snprintf(buf, len, "ior-bench-file-send-%lu",
             (unsigned long)GetCurrentProcessId());
#else
    snprintf(buf, len, "/tmp/ior-bench-file-send-%ld.sock", (long)getpid());
#endif
}

/* --- the receiver: counts, closes at EOF -------------------------------- */

static void rx_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    run_t *r = user;
    (void)t;
    (void)d;
    r->received += n;
}

static void rx_lost(ior_transport_t *t, void *user, int reason)
{
    run_t *r = user;
    (void)t;
    if (reason != IOR_EDONE || r->received != run_len)
        r->failed = 1;
    r->end_ms = ior_loop_now(r->loop);
    ior_loop_stop(r->loop);
}

static const ior_protocol_ops_t rx_ops = {rx_data, NULL, NULL, rx_lost};

static void on_accept(ior_listener_t *l, void *user, ior_transport_t *t)
{
    (void)l;
    ior_transport_set_protocol(t, &rx_ops, user);
}

static const ior_listener_ops_t listener_ops = {on_accept, NULL};

/* --- the sender: a pull producer of regions or of copies ------------------ */

static void tx_lost(ior_transport_t *t, void *user, int reason)
{
    run_t *r = user;
    (void)t;
    if (reason != IOR_EDONE)
        r->failed = 1;
}

static const ior_protocol_ops_t tx_ops = {NULL, NULL, NULL, tx_lost};

static void tx_resume(void *user)
{
    run_t *r = user;
    unsigned long long at = r->queued % file_len;
    unsigned long long k = file_len - at;
    if (k > run_len - r->queued)
        k = run_len - r->queued;
    if (r->zero_copy) {
        if (ior_transport_write_file(r->sender, r->file, at, k, NULL, NULL))
            r->failed = 1;
    } else {
        size_t n;
        if (k > copy_chunk)
            k = copy_chunk;
        if (at == 0)
            rewind(r->stdio);
        n = fread(r->buf, 1, (size_t)k, r->stdio);
        if (n != (size_t)k || ior_transport_write(r->sender, r->buf, n))
            r->failed = 1;
    }
    r->queued += k;
    if (r->queued == run_len || r->failed) {
        ior_transport_unregister_producer(r->sender);
        ior_transport_lose_connection(r->sender);
    }
}

static void tx_stop(void *user)
{
    (void)user;
}

static const ior_producer_ops_t tx_producer = {NULL, tx_resume, tx_stop};

static void on_connect(ior_loop_t *loop, void *user, ior_transport_t *t,
                       int status, int os_error)
{
    run_t *r = user;
    (void)os_error;
    if (status != 0) {
        r->failed = 1;
        ior_loop_stop(loop);
        return;
    }
    r->sender = t;
    r->start_ms = ior_loop_now(loop);
    ior_transport_set_protocol(t, &tx_ops, r);
    ior_transport_register_producer(t, &tx_producer, r, 0);
}

/* One run; returns MiB/s, or -1. */
static double run_case(int local, int zero_copy)
{
    run_t r;
    ior_listener_t *l = NULL;
    char name[128];
    ior_addr_t a;
    int rc;

    memset(&r, 0, sizeof(r));
    r.zero_copy = zero_copy;
    if (ior_loop_new(&r.loop, NULL) != 0)
        return -1;
    r.file = open_os_file(path);
    r.stdio = open_stdio(path, "rb");
    r.buf = malloc(copy_chunk);
    if (r.file == -1 || r.stdio == NULL || r.buf == NULL)
        return -1;
    if (local) {
        local_name(name, sizeof(name));
        rc = ior_local_listen(r.loop, name, &listener_ops, &r, &l);
        if (rc == 0)
            rc = ior_local_connect(r.loop, name, NULL, on_connect, &r);
    } else {
        ior_addr_parse(&a, "127.0.0.1", 0);
        rc = ior_tcp_listen(r.loop, &a, NULL, &listener_ops, &r, &l);
        if (rc == 0)
            rc = ior_listener_address(l, &a);
        if (rc == 0)
            rc = ior_tcp_connect(r.loop, &a, NULL, on_connect, &r);
    }
    if (rc == 0)
        rc = ior_loop_run(r.loop);
    if (l != NULL)
        ior_listener_close(l);
    ior_loop_free(r.loop);
    close_os_file(r.file);
    fclose(r.stdio);
    free(r.buf);
    if (rc != 0 || r.failed || r.end_ms <= r.start_ms)
        return -1;
    return (double)run_len / (double)MIB /
           ((double)(r.end_ms - r.start_ms) / 1000.0);
}

static int make_file(void)
{
    FILE *f = open_stdio(path, "wb");
    static unsigned char block[64 * 1024];
    unsigned long long off = 0;
    size_t i;
    if (f == NULL)
        return -1;
    for (i = 0; i < sizeof(block); i++)
        block[i] = (unsigned char)(i * 131u + 7u);
    for (; off < file_len; off += sizeof(block))
        if (fwrite(block, 1, sizeof(block), f) != sizeof(block))
            return -1;
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const char *const names[4] = {"tcp_copy", "tcp_file",
                                          "local_copy", "local_file"};
    int reps = 3, i, rep, bad = 0;

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-r") == 0)
            reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-m") == 0)
            run_len = strtoull(argv[i + 1], NULL, 10) * MIB;
        else if (strcmp(argv[i], "-f") == 0)
            file_len = strtoull(argv[i + 1], NULL, 10) * MIB;
        else if (strcmp(argv[i], "-o") == 0)
            path = argv[i + 1];
        else if (strcmp(argv[i], "-k") == 0)
            copy_chunk = (size_t)strtoul(argv[i + 1], NULL, 10) * 1024;
        else
            break;
    }
    if (i < argc || reps < 1 || run_len == 0 || file_len == 0 ||
        copy_chunk == 0 || file_len % copy_chunk != 0) {
        fprintf(stderr, "usage: file_send [-r REPS] [-m MIB_PER_RUN] "
                        "[-f FILE_MIB] [-o PATH] [-k KIB]\n");
        return 2;
    }
    if (make_file() != 0) {
        fprintf(stderr, "file_send: cannot write %s\n", path);
        return 1;
    }
    for (rep = 0; rep < reps; rep++) {
        for (i = 0; i < 4; i++) {
            double mib_s = run_case(i >= 2, i % 2);
            if (mib_s < 0)
                bad = 1;
            printf("{\"bench\": \"file_send\", \"case\": \"%s\", "
                   "\"rep\": %d, \"mib\": %llu, \"mib_s\": %.1f}\n",
                   names[i], rep, run_len / MIB, mib_s);
            fflush(stdout);
        }
    }
    remove(path);
    return bad;
}
