/*
 * The engine of a build without TLS (no OpenSSL found on POSIX): every
 * start is IOR_ENOTSUP, and ior_tls_engine() says "none".
 */
#include "tls_engine.h"

#include <stdio.h>

const char *ior__tlse_name(void)
{
    return "none";
}

int ior__tlse_new(const ior_tls_options_t *o, ior__tlse_t **out, char *why,
                  size_t why_len)
{
    (void)o;
    *out = NULL;
    (void)snprintf(why, why_len, "this build of ior has no TLS engine");
    return IOR_ENOTSUP;
}

/* Never reached: no engine is ever made. */
void ior__tlse_free(ior__tlse_t *e)
{
    (void)e;
}

int ior__tlse_feed(ior__tlse_t *e, const void *data, size_t len)
{
    (void)e;
    (void)data;
    (void)len;
    return IOR_ENOTSUP;
}

int ior__tlse_step(ior__tlse_t *e)
{
    (void)e;
    return IOR__TLSE_FAILED;
}

long ior__tlse_read(ior__tlse_t *e, void *buf, size_t cap)
{
    (void)e;
    (void)buf;
    (void)cap;
    return IOR__TLSE_FAILED;
}

long ior__tlse_write(ior__tlse_t *e, const void *data, size_t len)
{
    (void)e;
    (void)data;
    (void)len;
    return IOR__TLSE_FAILED;
}

void ior__tlse_close_notify(ior__tlse_t *e)
{
    (void)e;
}

size_t ior__tlse_pull(ior__tlse_t *e, void *buf, size_t cap)
{
    (void)e;
    (void)buf;
    (void)cap;
    return 0;
}

void ior__tlse_info(ior__tlse_t *e, ior_tls_info_t *info)
{
    (void)e;
    info->version = info->cipher = info->alpn = NULL;
}

int ior__tlse_error(ior__tlse_t *e, char *why, size_t why_len)
{
    (void)e;
    (void)snprintf(why, why_len, "this build of ior has no TLS engine");
    return IOR_ENOTSUP;
}
