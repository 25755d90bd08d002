/*
 * Windows side of stress_platform.h: GetProcessTimes, a scan of socket
 * handles with GetHandleInformation, and a raw SO_REUSEADDR bind. There is
 * no per-process socket limit to lower, so descriptor exhaustion reports
 * why it cannot run.
 */
#include "stress_platform.h"

#include <winsock2.h>
#include <windows.h>
#include <string.h>

uint64_t sp_cpu_usec(void)
{
    FILETIME c, e, k, u;
    ULARGE_INTEGER kk, uu;
    if (!GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u))
        return 0;
    kk.LowPart = k.dwLowDateTime;
    kk.HighPart = k.dwHighDateTime;
    uu.LowPart = u.dwLowDateTime;
    uu.HighPart = u.dwHighDateTime;
    return (kk.QuadPart + uu.QuadPart) / 10u; /* 100 ns units */
}

uint64_t sp_mono_usec(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (uint64_t)(c.QuadPart / f.QuadPart) * 1000000u +
           (uint64_t)(c.QuadPart % f.QuadPart) * 1000000u /
               (uint64_t)f.QuadPart;
}

int sp_fd_exhaust(int slack, const char **why)
{
    (void)slack;
    *why = "Windows has no per-process socket limit to lower, and filling "
           "the system's socket space (WSAENOBUFS) is neither bounded nor "
           "reachable under Wine, whose sockets are host descriptors of "
           "wineserver";
    return -1;
}

int sp_fd_release_one(void)
{
    return -1;
}

void sp_fd_restore(void)
{
}

/*
 * Socket handles are small multiples of 4; a socket is whatever answers
 * getsockopt(SO_TYPE). 1 << 16 values cover what a test process opens.
 */
int sp_inheritable(intptr_t *out, int max, int *seen, const char **why)
{
    WSADATA wsa;
    uintptr_t h;
    int n = 0;
    *seen = 0;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
        *why = "WSAStartup failed";
        return -1;
    }
    for (h = 4; h < (1u << 16); h += 4) {
        int type = 0;
        int len = (int)sizeof(type);
        DWORD flags = 0;
        if (getsockopt((SOCKET)h, SOL_SOCKET, SO_TYPE, (char *)&type, &len) !=
            0)
            continue;
        (*seen)++;
        if (GetHandleInformation((HANDLE)h, &flags) &&
            (flags & HANDLE_FLAG_INHERIT) && n < max)
            out[n++] = (intptr_t)h;
    }
    WSACleanup();
    return n;
}

int sp_bind_reuseaddr(uint16_t port)
{
    WSADATA wsa;
    struct sockaddr_in sin;
    BOOL one = TRUE;
    int r;
    SOCKET s;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return -1;
    s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) {
        WSACleanup();
        return -1;
    }
    (void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (const char *)&one,
                     (int)sizeof(one));
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(port);
    r = bind(s, (struct sockaddr *)&sin, (int)sizeof(sin)) == 0 &&
                listen(s, 1) == 0
            ? 0
            : 1;
    closesocket(s);
    WSACleanup();
    return r;
}

int sp_is_wine(void)
{
    HMODULE nt = GetModuleHandleA("ntdll.dll");
    return nt != NULL && GetProcAddress(nt, "wine_get_version") != NULL;
}
