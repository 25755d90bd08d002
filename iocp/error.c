/*
 * Winsock and Win32 error codes → IOR_E*. One function, called on the line
 * after the failing call; the raw code is kept by the caller (t->os_error).
 *
 * Completions report Win32 codes (ERROR_NETNAME_DELETED, ...) where a
 * direct call reports Winsock ones (WSAECONNRESET, ...); both map here.
 */
#include "iocp.h"

#include <stdio.h>
#include <string.h>

/* Not in every SDK's headers under these names. */
#define IOR__ERROR_NETNAME_DELETED 64
#define IOR__ERROR_SEM_TIMEOUT 121
#define IOR__ERROR_BROKEN_PIPE 109
#define IOR__ERROR_GRACEFUL_DISCONNECT 1226
#define IOR__ERROR_CONNECTION_REFUSED 1225
#define IOR__ERROR_NETWORK_UNREACHABLE 1231
#define IOR__ERROR_HOST_UNREACHABLE 1232
#define IOR__ERROR_PORT_UNREACHABLE 1234
#define IOR__ERROR_CONNECTION_ABORTED 1236
#define IOR__ERROR_DEVICE_NOT_CONNECTED 1167
#define IOR__ERROR_676 676

int ior__iocp_error(DWORD err)
{
    switch (err) {
    case 0:
        return 0;
    /*
     * The connection was closed on our side: the request was cancelled
     * (CancelIoEx, closesocket) or the local stack dropped it. When the
     * core closed the socket itself it ignores these anyway.
     */
    case ERROR_OPERATION_ABORTED: /* 995 == WSA_OPERATION_ABORTED */
    case IOR__ERROR_CONNECTION_ABORTED:
    case IOR__ERROR_676:
    case IOR__ERROR_DEVICE_NOT_CONNECTED:
        return IOR_ECONNLOST;
    /*
     * ERROR_NETNAME_DELETED is what an overlapped socket request reports
     * when the peer reset the connection (WSAGetOverlappedResult turns it
     * into WSAECONNRESET), so it is a reset, not a local close.
     */
    case IOR__ERROR_NETNAME_DELETED:
    case WSAECONNRESET:
    case WSAENETRESET:
        return IOR_ECONNRESET;
    case WSAECONNABORTED:
        return IOR_ECONNABORTED;
    case WSAECONNREFUSED:
    case IOR__ERROR_CONNECTION_REFUSED:
    case IOR__ERROR_PORT_UNREACHABLE:
        return IOR_ECONNREFUSED;
    case WSAETIMEDOUT:
    case IOR__ERROR_SEM_TIMEOUT:
        return IOR_ETIMEDOUT;
    case WSAENETUNREACH:
    case WSAENETDOWN:
    case IOR__ERROR_NETWORK_UNREACHABLE:
        return IOR_ENETUNREACH;
    case WSAEHOSTUNREACH:
    case WSAEHOSTDOWN:
    case IOR__ERROR_HOST_UNREACHABLE:
        return IOR_EHOSTUNREACH;
    case WSAEADDRINUSE:
        return IOR_EADDRINUSE;
    case WSAEADDRNOTAVAIL:
        return IOR_EADDRNOTAVAIL;
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT:
    case WSAEPROTONOSUPPORT:
    case WSAESOCKTNOSUPPORT:
        return IOR_EAFNOSUPPORT;
    case WSAEMFILE:
    case ERROR_TOO_MANY_OPEN_FILES:
        return IOR_EMFILE;
    case WSAENOBUFS:
    case ERROR_NO_SYSTEM_RESOURCES:
        return IOR_ENOBUFS;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return IOR_ENOMEM;
    case WSAEACCES:
    case ERROR_ACCESS_DENIED:
        return IOR_EACCES;
    case WSAEINVAL:
    case WSAEFAULT:
    case ERROR_INVALID_PARAMETER:
        return IOR_EINVAL;
    case WSAEMSGSIZE:
        return IOR_EMSGSIZE;
    case WSAENOTCONN:
        return IOR_ENOTCONN;
    case WSAESHUTDOWN:
    case IOR__ERROR_BROKEN_PIPE:
    case IOR__ERROR_GRACEFUL_DISCONNECT:
    case ERROR_NO_DATA: /* a pipe whose reader closed (pipe.c) */
    case ERROR_PIPE_NOT_CONNECTED: /* ... or a named pipe's client left */
        return IOR_EPIPE;
    case WSAEWOULDBLOCK:
    case WSAEINPROGRESS:
        return IOR_EAGAIN;
    case WSAENOTSOCK:
    case WSAEBADF:
    case ERROR_INVALID_HANDLE:
        return IOR_EBADF;
    case WSAEOPNOTSUPP:
    case ERROR_NOT_SUPPORTED:
        return IOR_ENOTSUP;
    case ERROR_FILE_NOT_FOUND: /* no named pipe of that name */
    case ERROR_PATH_NOT_FOUND:
        return IOR_ENOENT;
    case WSAECANCELLED:
    case WSA_E_CANCELLED:
        return IOR_ECANCELED;
    case WSAHOST_NOT_FOUND:
    case WSATRY_AGAIN:
    case WSANO_DATA:
        return IOR_ENAME;
    default:
        return IOR_EIO;
    }
}

void ior__os_strerror(int os_error, char *buf, size_t len)
{
    DWORD n;
    char tmp[512];

    n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM |
                           FORMAT_MESSAGE_IGNORE_INSERTS |
                           FORMAT_MESSAGE_MAX_WIDTH_MASK,
                       NULL, (DWORD)os_error, 0, tmp, (DWORD)sizeof(tmp), NULL);
    /* Drop the trailing space, dot or line break Windows appends. */
    while (n > 0 && (tmp[n - 1] == ' ' || tmp[n - 1] == '\r' ||
                     tmp[n - 1] == '\n' || tmp[n - 1] == '.'))
        n--;
    if (n == 0)
        n = (DWORD)snprintf(tmp, sizeof(tmp), "error %d", os_error);
    if (n >= sizeof(tmp))
        n = (DWORD)sizeof(tmp) - 1;
    tmp[n] = '\0';
    if ((size_t)n >= len)
        n = (DWORD)(len - 1);
    memcpy(buf, tmp, n);
    buf[n] = '\0';
}

int ior__iocp_under_wine(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");

    return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}
