/*
 * errno → IOR_E*, in one function, and the OS's own message.
 *
 * This file wants the XSI strerror_r (it returns an int and fills our
 * buffer), so it drops the _GNU_SOURCE the target sets before any header.
 */
#undef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L

#include "internal_posix.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int ior__posix_error(int err)
{
    switch (err) {
    case 0:
        return 0;
    case EINVAL:
        return IOR_EINVAL;
    case ENOMEM:
        return IOR_ENOMEM;
    case ENOTCONN:
        return IOR_ENOTCONN;
    case ESHUTDOWN:
        return IOR_ESHUTDOWN;
    case ECONNRESET:
        return IOR_ECONNRESET;
    case ECONNREFUSED:
        return IOR_ECONNREFUSED;
    case ETIMEDOUT:
        return IOR_ETIMEDOUT;
    case ENETUNREACH:
    case ENETDOWN:
        return IOR_ENETUNREACH;
    case EHOSTUNREACH:
    case EHOSTDOWN:
        return IOR_EHOSTUNREACH;
    case EADDRINUSE:
        return IOR_EADDRINUSE;
    case EADDRNOTAVAIL:
        return IOR_EADDRNOTAVAIL;
    case EAFNOSUPPORT:
    case EPFNOSUPPORT:
    case EPROTONOSUPPORT:
        return IOR_EAFNOSUPPORT;
    case EMFILE:
    case ENFILE:
        return IOR_EMFILE;
    case ENOBUFS:
        return IOR_ENOBUFS;
    case ECANCELED:
        return IOR_ECANCELED;
    case EPIPE:
        return IOR_EPIPE;
    case EIO:
        return IOR_EIO;
    case EOPNOTSUPP:
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
#endif
        return IOR_ENOTSUP;
    case ERANGE:
        return IOR_ERANGE;
    case ENOENT:
        return IOR_ENOENT;
    case EACCES:
    case EPERM:
        return IOR_EACCES;
    case EMSGSIZE:
        return IOR_EMSGSIZE;
    case ECONNABORTED:
        return IOR_ECONNABORTED;
    case EBADF:
    case ENOTSOCK:
        return IOR_EBADF;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return IOR_EAGAIN;
    default:
        return IOR_EIO;
    }
}

void ior__os_strerror(int os_error, char *buf, size_t len)
{
    if (strerror_r(os_error, buf, len) != 0)
        snprintf(buf, len, "OS error %d", os_error);
}
