/*
 * Message-mode named pipes (issue 12, section 4). A message larger than
 * the read buffer comes in pieces: each read but the last ends with
 * ERROR_MORE_DATA, which means "these bytes, and more of the message
 * follow", not an error and not EOF. Every byte must arrive exactly once
 * and in order, on both pipe paths: an overlapped handle (the port) and a
 * synchronous one (the reader thread). Wine supports message mode, so
 * this runs under Wine and on Windows alike.
 */
#include "wine_util.h"

#include <stdio.h>
#include <string.h>

/* Larger than IOR__IOCP_READ_MAX and smaller than IOR__IOCP_READ_MIN. */
static const DWORD msg_sizes[] = {300000, 1, 40000, 16385, 100, 70000};
#define NMSG (sizeof(msg_sizes) / sizeof(msg_sizes[0]))

static unsigned char msg_byte(uint64_t off)
{
    return (unsigned char)((off * 2654435761u) >> 13);
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

typedef struct msg_reader {
    ior_loop_t *loop;
    uint64_t rx;
    uint64_t hash;
    int eof;
    int lost;
    int reason;
} msg_reader_t;

static void mr_data(ior_transport_t *t, void *user, const void *d, size_t n)
{
    msg_reader_t *r = user;
    (void)t;
    r->hash = fnv(r->hash, d, n);
    r->rx += n;
}

static void mr_eof(ior_transport_t *t, void *user)
{
    msg_reader_t *r = user;
    r->eof++;
    assert_int_equal(ior_transport_lose_connection(t), 0);
}

static void mr_lost(ior_transport_t *t, void *user, int reason)
{
    msg_reader_t *r = user;
    (void)t;
    r->lost++;
    r->reason = reason;
    ior_loop_stop(r->loop);
}

static const ior_protocol_ops_t mr_ops = {mr_data, mr_eof, NULL, mr_lost};

/* The writer: every message whole (blocking writes), then its end closed. */
static DWORD WINAPI writer_main(void *arg)
{
    HANDLE h = (HANDLE)arg;
    static unsigned char buf[300000];
    uint64_t off = 0;
    size_t m;
    for (m = 0; m < NMSG; m++) {
        DWORD i, put = 0;
        for (i = 0; i < msg_sizes[m]; i++)
            buf[i] = msg_byte(off + i);
        if (!WriteFile(h, buf, msg_sizes[m], &put, NULL) ||
            put != msg_sizes[m])
            break;
        off += msg_sizes[m];
    }
    CloseHandle(h);
    return 0;
}

/*
 * A connected message-mode pipe: *rd (the server end) is read through
 * ior, *wr written by the writer thread. Kinds: MP_SYNC inbound and
 * synchronous (the thread path); MP_INBOUND inbound and overlapped (the
 * port path; the handle may not change its read mode, so reads end with
 * ERROR_MORE_DATA); MP_DUPLEX duplex and overlapped (ior switches it to
 * byte read mode, so no read ends so).
 */
enum { MP_SYNC, MP_INBOUND, MP_DUPLEX };

static void message_pipe(int kind, HANDLE *rd, HANDLE *wr)
{
    static LONG counter;
    char name[96];
    OVERLAPPED ov;
    snprintf(name, sizeof(name), "\\\\.\\pipe\\ior-msg-%lu-%ld",
             (unsigned long)GetCurrentProcessId(),
             (long)InterlockedIncrement(&counter));
    *rd = CreateNamedPipeA(name,
                           (kind == MP_DUPLEX ? PIPE_ACCESS_DUPLEX
                                              : PIPE_ACCESS_INBOUND) |
                               (kind == MP_SYNC ? 0 : FILE_FLAG_OVERLAPPED),
                           PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE |
                               PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                           1, 65536, 65536, 0, NULL);
    assert_true(*rd != INVALID_HANDLE_VALUE);
    *wr = CreateFileA(name, GENERIC_WRITE | FILE_READ_ATTRIBUTES, 0, NULL,
                      OPEN_EXISTING, 0, NULL);
    assert_true(*wr != INVALID_HANDLE_VALUE);
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!ConnectNamedPipe(*rd, kind == MP_SYNC ? NULL : &ov) &&
        GetLastError() == ERROR_IO_PENDING)
        WaitForSingleObject(ov.hEvent, INFINITE);
    CloseHandle(ov.hEvent);
}

/* 1 when h reads messages, 0 when bytes. */
static int in_message_mode(HANDLE h)
{
    DWORD state = 0;
    assert_true(
        GetNamedPipeHandleStateW(h, &state, NULL, NULL, NULL, NULL, 0));
    return (state & PIPE_READMODE_MESSAGE) != 0;
}

static void run_message_pipe(int kind)
{
    tloop_t tl;
    msg_reader_t r;
    ior_transport_t *t = NULL;
    HANDLE srv, cli, th;
    int messages;
    uint64_t want = 0, want_hash = 0xcbf29ce484222325ULL, off = 0;
    size_t m;
    for (m = 0; m < NMSG; m++) {
        DWORD i;
        for (i = 0; i < msg_sizes[m]; i++) {
            unsigned char b = msg_byte(off + i);
            want_hash = fnv(want_hash, &b, 1);
        }
        off += msg_sizes[m];
        want += msg_sizes[m];
    }
    tloop_init(&tl);
    memset(&r, 0, sizeof(r));
    r.loop = tl.loop;
    r.hash = 0xcbf29ce484222325ULL;
    message_pipe(kind, &srv, &cli);
    assert_int_equal(ior_pipe_open(tl.loop, (intptr_t)srv, IOR_PIPE_READ,
                                   &mr_ops, &r, &t),
                     0);
    messages = in_message_mode(srv);
    /* A duplex end may change its mode: ior reads it as bytes. */
    if (kind == MP_DUPLEX)
        assert_int_equal(messages, 0);
    th = CreateThread(NULL, 0, writer_main, cli, 0, NULL);
    assert_non_null(th);
    tloop_run(&tl);
    WaitForSingleObject(th, INFINITE);
    CloseHandle(th);
    print_message("message pipe (%s, read as %s): %llu of %llu bytes in %u "
                  "messages, eof %d, %s\n",
                  kind == MP_SYNC      ? "synchronous"
                  : kind == MP_INBOUND ? "overlapped inbound"
                                       : "overlapped duplex",
                  messages ? "messages" : "bytes",
                  (unsigned long long)r.rx, (unsigned long long)want,
                  (unsigned)NMSG, r.eof, ior_err_name(r.reason));
    assert_int_equal(r.rx, want);
    assert_true(r.hash == want_hash);
    assert_int_equal(r.eof, 1);
    assert_int_equal(r.lost, 1);
    assert_int_equal(r.reason, IOR_EDONE);
    tloop_free(&tl);
}

/* The port path, on a handle that may keep reading messages (Wine and
 * Windows refuse the mode change without FILE_WRITE_ATTRIBUTES): reads of
 * a large message end with ERROR_MORE_DATA until its last piece. */
static void test_message_pipe_overlapped_every_byte_once(void **state)
{
    (void)state;
    run_message_pipe(MP_INBOUND);
}

/* The port path, on a handle ior switches to byte read mode. */
static void test_message_pipe_duplex_read_as_bytes(void **state)
{
    (void)state;
    run_message_pipe(MP_DUPLEX);
}

/* The thread path: blocking reads on a synchronous message-mode handle. */
static void test_message_pipe_synchronous_every_byte_once(void **state)
{
    (void)state;
    run_message_pipe(MP_SYNC);
}

/* --- a socket as a standard handle ---------------------------------------- */

static void sock_lost(ior_transport_t *t, void *user, int reason)
{
    msg_reader_t *r = user;
    (void)t;
    r->lost++;
    r->reason = reason;
    ior_loop_stop(r->loop);
}

static const ior_protocol_ops_t sock_ops = {NULL, NULL, NULL, sock_lost};

/* A connected loopback pair, blocking calls (the loop is not involved). */
static void socket_pair(SOCKET *a, SOCKET *b)
{
    struct sockaddr_in sa;
    int len = (int)sizeof(sa);
    SOCKET l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    assert_true(l != INVALID_SOCKET);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, (int)sizeof(sa)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    *a = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    assert_true(*a != INVALID_SOCKET);
    assert_int_equal(connect(*a, (struct sockaddr *)&sa, (int)sizeof(sa)), 0);
    *b = accept(l, NULL, NULL);
    assert_true(*b != INVALID_SOCKET);
    closesocket(l);
}

/*
 * A program started with a socket as its stdout (inetd, socat, a service
 * manager): ior_stdio_open(1) takes a Winsock duplicate of it
 * (WSADuplicateSocket, not DuplicateHandle, which Microsoft documents as
 * unsafe for sockets), so the transport writes to the socket and its close
 * ends the connection once the original is closed too.
 */
static void test_stdio_open_on_a_socket(void **state)
{
    static const char msg[] = "over a socket\n";
    tloop_t tl;
    msg_reader_t r;
    ior_transport_t *t = NULL;
    HANDLE saved = GetStdHandle(STD_OUTPUT_HANDLE);
    SOCKET a, b;
    char got[64];
    int n = 0, k;

    (void)state;
    tloop_init(&tl); /* Winsock is started by the first loop */
    memset(&r, 0, sizeof(r));
    r.loop = tl.loop;
    socket_pair(&a, &b);
    assert_true(SetStdHandle(STD_OUTPUT_HANDLE, (HANDLE)a));
    assert_int_equal(ior_stdio_open(tl.loop, 1, &sock_ops, &r, &t), 0);
    assert_true(SetStdHandle(STD_OUTPUT_HANDLE, saved));
    closesocket(a); /* the transport holds its own duplicate */
    assert_int_equal(ior_transport_write(t, msg, sizeof(msg) - 1), 0);
    assert_int_equal(ior_transport_lose_connection(t), 0);
    tloop_run(&tl);
    assert_int_equal(r.lost, 1);
    assert_int_equal(r.reason, IOR_EDONE);
    while ((k = recv(b, got + n, (int)sizeof(got) - n, 0)) > 0)
        n += k;
    assert_int_equal(k, 0); /* EOF: the duplicate was the last handle */
    assert_int_equal(n, (int)sizeof(msg) - 1);
    assert_memory_equal(got, msg, sizeof(msg) - 1);
    closesocket(b);
    tloop_free(&tl);
}

/* --- opening a handle another thread is blocked reading --------------- */

typedef struct rival {
    HANDLE rd;
    HANDLE started;
    char got;
    DWORD n;
} rival_t;

/* Another reader of the same pipe: blocks in ReadFile for one byte. */
static DWORD WINAPI rival_main(void *arg)
{
    rival_t *rv = arg;
    SetEvent(rv->started);
    if (!ReadFile(rv->rd, &rv->got, 1, &rv->n, NULL))
        rv->n = 0;
    return 0;
}

/*
 * ior_pipe_open of a synchronous pipe end that another thread is blocked
 * reading (an inherited stdin its parent reads, libuv #1273). Windows
 * serializes every call on such a handle behind that read, GetFileType
 * and NtQueryInformationFile included, so asking them on the loop thread
 * would hang here until the rival's byte arrives. The open must return,
 * the loop must run, and once the rival has its byte the transport reads
 * the rest. Wine has no such lock: there the test shows only the data
 * path (docs/windows.md: the stall itself is verified on the runner).
 */
static void test_open_while_another_thread_reads(void **state)
{
    tloop_t tl;
    msg_reader_t r;
    ior_transport_t *t = NULL;
    rival_t rv;
    HANDLE wr, ours, th;
    DWORD put = 0;
    (void)state;
    tloop_init(&tl);
    memset(&r, 0, sizeof(r));
    memset(&rv, 0, sizeof(rv));
    r.loop = tl.loop;
    r.hash = 0xcbf29ce484222325ULL;
    assert_true(CreatePipe(&rv.rd, &wr, NULL, 0));
    assert_true(DuplicateHandle(GetCurrentProcess(), rv.rd,
                                GetCurrentProcess(), &ours, 0, FALSE,
                                DUPLICATE_SAME_ACCESS));
    rv.started = CreateEventW(NULL, TRUE, FALSE, NULL);
    assert_non_null(rv.started);
    th = CreateThread(NULL, 0, rival_main, &rv, 0, NULL);
    assert_non_null(th);
    assert_int_equal(WaitForSingleObject(rv.started, INFINITE),
                     WAIT_OBJECT_0);
    assert_int_equal(ior_pipe_open(tl.loop, (intptr_t)ours, IOR_PIPE_READ,
                                   &mr_ops, &r, &t),
                     0);
    /* One byte for the rival, then the rest for the transport: ior posts
     * its first read from the loop, so until tloop_run the rival is the
     * only reader. */
    assert_true(WriteFile(wr, "R", 1, &put, NULL));
    assert_int_equal(WaitForSingleObject(th, INFINITE), WAIT_OBJECT_0);
    assert_int_equal(rv.n, 1);
    assert_int_equal(rv.got, 'R');
    assert_true(WriteFile(wr, "ior", 3, &put, NULL));
    CloseHandle(wr);
    tloop_run(&tl);
    assert_int_equal(r.rx, 3);
    assert_true(r.hash == fnv(0xcbf29ce484222325ULL,
                              (const unsigned char *)"ior", 3));
    assert_int_equal(r.eof, 1);
    assert_int_equal(r.reason, IOR_EDONE);
    CloseHandle(th);
    CloseHandle(rv.started);
    CloseHandle(rv.rd);
    tloop_free(&tl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_pipe_overlapped_every_byte_once),
        cmocka_unit_test(test_message_pipe_synchronous_every_byte_once),
        cmocka_unit_test(test_message_pipe_duplex_read_as_bytes),
        cmocka_unit_test(test_stdio_open_on_a_socket),
        cmocka_unit_test(test_open_while_another_thread_reads),
    };
    ior_set_allocator(&counting);
    return cmocka_run_group_tests_name("iocp_pipe", tests, NULL, NULL);
}
