/* Windows side of platform.h: no descriptor limit, Win32 threads, Winsock. */
#include "platform.h"

#include <winsock2.h>
#include <windows.h>
#include <process.h>
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
