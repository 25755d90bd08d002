/* Windows side of platform.h: no descriptor limit, Win32 threads, Winsock. */
#include "platform.h"

#include <winsock2.h>
#include <windows.h>
#include <process.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned long nu_platform_raise_fd_limit(void)
{
    return 0; /* sockets are handles; no per-process limit to raise */
}

struct nu_thread {
    HANDLE h;
    void (*fn)(void *);
    void *arg;
};

static unsigned __stdcall trampoline(void *p)
{
    nu_thread_t *th = p;
    th->fn(th->arg);
    return 0;
}

int nu_thread_start(nu_thread_t **out, void (*fn)(void *), void *arg)
{
    nu_thread_t *th = malloc(sizeof(*th));
    uintptr_t h;
    if (th == NULL)
        return -1;
    th->fn = fn;
    th->arg = arg;
    h = _beginthreadex(NULL, 0, trampoline, th, 0, NULL);
    if (h == 0) {
        free(th);
        return -1;
    }
    th->h = (HANDLE)h;
    *out = th;
    return 0;
}

void nu_thread_join(nu_thread_t *th)
{
    WaitForSingleObject(th->h, INFINITE);
    CloseHandle(th->h);
    free(th);
}

int nu_platform_listen_noaccept(int backlog, uint16_t *port, intptr_t *h)
{
    WSADATA wsa;
    struct sockaddr_in sin;
    int len = sizeof(sin);
    SOCKET s;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return -1;
    s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET)
        return -1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(s, backlog) != 0 ||
        getsockname(s, (struct sockaddr *)&sin, &len) != 0) {
        closesocket(s);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    *h = (intptr_t)s;
    return 0;
}

void nu_platform_close_socket(intptr_t h)
{
    closesocket((SOCKET)h);
    WSACleanup();
}

/* --- Pipes and files ------------------------------------------------------ */

int nu_platform_pipe_kinds(void)
{
    return 2;
}

int nu_platform_file_kinds(void)
{
    return 2;
}

const char *nu_platform_pipe_kind_name(int kind)
{
    return kind == 0 ? "overlapped named pipe" : "anonymous pipe";
}

/* A unique name per call: the process id and a counter. */
static int named_pipe(intptr_t *rd, intptr_t *wr)
{
    static volatile LONG counter;
    char name[96];
    HANDLE srv;
    HANDLE cli;
    OVERLAPPED ov;
    snprintf(name, sizeof(name), "\\\\.\\pipe\\ior-net-pipe-%lu-%ld",
             (unsigned long)GetCurrentProcessId(),
             (long)InterlockedIncrement(&counter));
    srv = CreateNamedPipeA(name,
                           PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED |
                               FILE_FLAG_FIRST_PIPE_INSTANCE,
                           PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                               PIPE_REJECT_REMOTE_CLIENTS,
                           1, 65536, 65536, 0, NULL);
    if (srv == INVALID_HANDLE_VALUE)
        return -1;
    cli = CreateFileA(name, GENERIC_WRITE | FILE_READ_ATTRIBUTES, 0, NULL,
                      OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
    if (cli == INVALID_HANDLE_VALUE) {
        CloseHandle(srv);
        return -1;
    }
    /* The client is connected already: this returns ERROR_PIPE_CONNECTED. */
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!ConnectNamedPipe(srv, &ov) && GetLastError() == ERROR_IO_PENDING)
        WaitForSingleObject(ov.hEvent, INFINITE);
    CloseHandle(ov.hEvent);
    *rd = (intptr_t)srv;
    *wr = (intptr_t)cli;
    return 0;
}

int nu_platform_pipe(int kind, intptr_t *rd, intptr_t *wr)
{
    HANDLE r;
    HANDLE w;
    if (kind == 0)
        return named_pipe(rd, wr);
    if (!CreatePipe(&r, &w, NULL, 0))
        return -1;
    *rd = (intptr_t)r;
    *wr = (intptr_t)w;
    return 0;
}

void nu_platform_close_handle(intptr_t h)
{
    CloseHandle((HANDLE)h);
}

int nu_platform_temp_file(char *buf, size_t len)
{
    char dir[MAX_PATH];
    DWORD n = GetTempPathA(sizeof(dir), dir);
    if (n == 0 || n >= sizeof(dir) || len < MAX_PATH)
        return -1;
    return GetTempFileNameA(dir, "ior", 0, buf) != 0 ? 0 : -1;
}

int nu_platform_file_open(const char *path, int for_write, int kind,
                          intptr_t *h)
{
    DWORD flags = kind == 0 ? FILE_FLAG_OVERLAPPED : FILE_ATTRIBUTE_NORMAL;
    HANDLE f =
        CreateFileA(path, for_write ? GENERIC_WRITE : GENERIC_READ,
                    FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                    for_write ? CREATE_ALWAYS : OPEN_EXISTING, flags, NULL);
    if (f == INVALID_HANDLE_VALUE)
        return -1;
    *h = (intptr_t)f;
    return 0;
}

/* Winsock stays started: ior's loop starts it too, and never cleans up. */
int nu_platform_socketpair(intptr_t *a, intptr_t *b)
{
    WSADATA wsa;
    struct sockaddr_in sin;
    int len = sizeof(sin);
    SOCKET l;
    SOCKET c = INVALID_SOCKET;
    SOCKET s = INVALID_SOCKET;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return -1;
    l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (l == INVALID_SOCKET)
        return -1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        listen(l, 1) == 0 &&
        getsockname(l, (struct sockaddr *)&sin, &len) == 0) {
        c = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        if (c != INVALID_SOCKET &&
            connect(c, (struct sockaddr *)&sin, sizeof(sin)) == 0)
            s = accept(l, NULL, NULL);
    }
    closesocket(l);
    if (s == INVALID_SOCKET) {
        if (c != INVALID_SOCKET)
            closesocket(c);
        return -1;
    }
    *a = (intptr_t)c;
    *b = (intptr_t)s;
    return 0;
}

/* --- Raw sockets for the poll-handle tests -------------------------------- */

static int nonblocking(SOCKET s)
{
    u_long on = 1;
    return ioctlsocket(s, FIONBIO, &on) == 0 ? 0 : -1;
}

int nu_platform_tcp_pair(intptr_t *a, intptr_t *b)
{
    WSADATA wsa;
    if (nu_platform_socketpair(a, b) != 0)
        return -1;
    WSAStartup(MAKEWORD(2, 2), &wsa); /* one WSACleanup per socket closed */
    if (nonblocking((SOCKET)*a) != 0 || nonblocking((SOCKET)*b) != 0) {
        nu_platform_close_socket(*a);
        nu_platform_close_socket(*b);
        return -1;
    }
    return 0;
}

static SOCKET udp_bound(struct sockaddr_in *sin)
{
    int len = sizeof(*sin);
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (s == INVALID_SOCKET)
        return s;
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)sin, sizeof(*sin)) != 0 ||
        getsockname(s, (struct sockaddr *)sin, &len) != 0 ||
        nonblocking(s) != 0) {
        closesocket(s);
        return INVALID_SOCKET;
    }
    return s;
}

int nu_platform_udp_pair(intptr_t *a, intptr_t *b)
{
    WSADATA wsa;
    struct sockaddr_in sa, sb;
    SOCKET x, y;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return -1;
    x = udp_bound(&sa);
    y = udp_bound(&sb);
    if (x == INVALID_SOCKET || y == INVALID_SOCKET ||
        connect(x, (struct sockaddr *)&sb, sizeof(sb)) != 0 ||
        connect(y, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (x != INVALID_SOCKET)
            closesocket(x);
        if (y != INVALID_SOCKET)
            closesocket(y);
        return -1;
    }
    WSAStartup(MAKEWORD(2, 2), &wsa); /* one WSACleanup per socket closed */
    *a = (intptr_t)x;
    *b = (intptr_t)y;
    return 0;
}

long nu_platform_send(intptr_t h, const void *buf, size_t len)
{
    int n = send((SOCKET)h, (const char *)buf, (int)len, 0);
    return n == SOCKET_ERROR ? -1 : (long)n;
}

long nu_platform_recv(intptr_t h, void *buf, size_t len)
{
    int n = recv((SOCKET)h, (char *)buf, (int)len, 0);
    return n == SOCKET_ERROR ? -1 : (long)n;
}

int nu_platform_shutdown_write(intptr_t h)
{
    return shutdown((SOCKET)h, SD_SEND) == 0 ? 0 : -1;
}

void nu_platform_reset(intptr_t h)
{
    struct linger lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    setsockopt((SOCKET)h, SOL_SOCKET, SO_LINGER, (const char *)&lg,
               (int)sizeof(lg));
    nu_platform_close_socket(h);
}

int nu_platform_connect_start(uint16_t port, intptr_t *h)
{
    WSADATA wsa;
    struct sockaddr_in sin;
    SOCKET s;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return -1;
    s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET || nonblocking(s) != 0)
        return -1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(port);
    if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
        WSAGetLastError() != WSAEWOULDBLOCK) {
        closesocket(s);
        return -1;
    }
    *h = (intptr_t)s;
    return 0;
}

int nu_platform_socket_error(intptr_t h)
{
    int err = 0;
    int len = (int)sizeof(err);
    if (getsockopt((SOCKET)h, SOL_SOCKET, SO_ERROR, (char *)&err, &len) != 0)
        return -1;
    return err;
}

int nu_platform_accept(intptr_t l, intptr_t *h)
{
    WSADATA wsa;
    SOCKET s = accept((SOCKET)l, NULL, NULL);
    if (s == INVALID_SOCKET)
        return -1;
    WSAStartup(MAKEWORD(2, 2), &wsa); /* one WSACleanup per socket closed */
    *h = (intptr_t)s;
    return 0;
}

void nu_platform_setenv(const char *name, const char *value)
{
    SetEnvironmentVariableA(name, value);
}

int nu_platform_local_name(char *buf, size_t len)
{
    static volatile LONG counter;
    int n = snprintf(buf, len, "ior-test-%lu-%ld",
                     (unsigned long)GetCurrentProcessId(),
                     (long)InterlockedIncrement(&counter));
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int nu_platform_refused_os_error(void)
{
    return WSAECONNREFUSED;
}
