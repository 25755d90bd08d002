/*
 * The OS actions that neither fake backend (fake_backend.c for the core
 * tests, model_fake.c for the model) models as transports. Linked into
 * both, so every ior__os_* of common/seam.h has exactly one
 * definition and no public ior_* function needs a stub. With
 * fake_tcp.enabled the TCP actions record what the core asked and hand
 * back plain objects the test completes itself.
 */
#include "fake_os_stubs.h"

#include <stdio.h>
#include <string.h>

fake_tcp_t fake_tcp;
fake_files_t fake_files;

void fake_tcp_reset(void)
{
    memset(&fake_tcp, 0, sizeof(fake_tcp));
}

int ior__os_tcp_listen(ior_loop_t *loop, const ior_addr_t *addr, int backlog,
                       int ipv6_only, unsigned flags, ior_listener_t **out)
{
    ior_listener_t *l;
    (void)loop;
    fake_tcp.listen_flags = flags;
    fake_tcp.listens++;
    fake_tcp.last_backlog = backlog;
    fake_tcp.last_v6only = ipv6_only;
    fake_tcp.last_addr = *addr;
    if (!fake_tcp.enabled)
        return IOR_ENOTSUP;
    l = ior__calloc(1, sizeof(*l));
    if (l == NULL)
        return IOR_ENOMEM;
    l->addr = *addr;
    if (l->addr.port == 0)
        l->addr.port = 4242; /* "the real port" */
    *out = l;
    return 0;
}

int ior__os_listener_start(ior_listener_t *l)
{
    (void)l;
    fake_tcp.starts++;
    return fake_tcp.start_result;
}

void ior__os_listener_resume(ior_listener_t *l)
{
    (void)l;
    fake_tcp.resumes++;
}

void ior__os_listener_close(ior_listener_t *l)
{
    fake_tcp.listener_closes++;
    ior__free(l);
}

int ior__os_tcp_connect(ior_loop_t *loop, const ior_addr_t *addr,
                        const ior_addr_t *bind, ior__connect_t **out)
{
    ior__connect_t *c;
    (void)loop;
    fake_tcp.connects++;
    fake_tcp.last_addr = *addr;
    fake_tcp.had_bind = bind != NULL;
    if (bind != NULL)
        fake_tcp.last_bind = *bind;
    if (!fake_tcp.enabled)
        return IOR_ENOTSUP;
    c = ior__calloc(1, sizeof(*c));
    if (c == NULL)
        return IOR_ENOMEM;
    fake_tcp.connect = c;
    *out = c;
    return 0;
}

void ior__os_connect_start(ior__connect_t *c)
{
    (void)c;
    fake_tcp.connect_starts++;
}

void ior__os_connect_discard(ior__connect_t *c)
{
    fake_tcp.discards++;
    fake_tcp.connect = NULL;
    ior__free(c);
}

void ior__os_connect_cancel(ior__connect_t *c)
{
    (void)c;
    fake_tcp.cancels++;
    if (!fake_tcp.cancel_defers)
        fake_connect_finish(NULL, IOR_ECANCELED, 995);
}

void fake_connect_finish(ior_transport_t *t, int status, int os_error)
{
    ior__connect_t *c = fake_tcp.connect;
    fake_tcp.connect = NULL;
    ior__core_connect_done(c, t, status, os_error);
    ior__free(c);
}

int ior__os_tcp_nodelay(ior_transport_t *t, int on)
{
    (void)t;
    fake_tcp.nodelays++;
    fake_tcp.last_on = on;
    return 0;
}

int ior__os_tcp_keepalive(ior_transport_t *t, int on, unsigned idle_seconds)
{
    (void)t;
    fake_tcp.keepalives++;
    fake_tcp.last_on = on;
    fake_tcp.last_idle = idle_seconds;
    return 0;
}

void ior__os_strerror(int os_error, char *buf, size_t len)
{
    snprintf(buf, len, "fake os error %d", os_error);
}

/* Local IPC: the fake backends have none (common/local.c's checks run). */
int ior__os_local_listen(ior_loop_t *loop, const char *name,
                         ior_listener_t **out)
{
    (void)loop;
    (void)name;
    (void)out;
    return IOR_ENOTSUP;
}

int ior__os_local_connect(ior_loop_t *loop, const char *name,
                          ior__connect_t **out)
{
    (void)loop;
    (void)name;
    (void)out;
    return IOR_ENOTSUP;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

/* Nothing in the core reads it; a strictly increasing clock for a caller. */
uint64_t ior__os_hrtime_ns(void)
{
    static uint64_t t;
    return t += 1000u;
}

void fake_files_reset(void)
{
    memset(&fake_files, 0, sizeof(fake_files));
}

unsigned char fake_file_byte(int i, uint64_t at)
{
    return (unsigned char)((at * 131u + (uint64_t)i * 7u) ^ (at >> 9));
}

static int file_index(intptr_t file)
{
    intptr_t i = file - FAKE_FILE(0);
    if (i < 0 || i >= FAKE_NFILES || fake_files.size[i] == 0)
        return -1;
    return (int)i;
}

int ior__os_file_check(intptr_t file, uint64_t offset, uint64_t length)
{
    int i = file_index(file);
    if (i < 0)
        return IOR_EBADF;
    if (offset + length > fake_files.size[i])
        return IOR_EINVAL;
    return 0;
}

int ior__os_file_read(intptr_t file, uint64_t offset, void *buf, size_t len,
                      size_t *got, int *os_error)
{
    int i = file_index(file);
    uint64_t end;
    size_t k;
    fake_files.reads++;
    if (len > fake_files.max_read)
        fake_files.max_read = len;
    if (i < 0 || fake_files.read_error != 0) {
        *os_error = i < 0 ? 9 : fake_files.read_error;
        return IOR_EIO;
    }
    end = fake_files.shrunk_to[i] != 0 ? fake_files.shrunk_to[i]
                                        : fake_files.size[i];
    for (k = 0; k < len && offset + k < end; k++)
        ((unsigned char *)buf)[k] = fake_file_byte(i, offset + k);
    *got = k;
    return 0;
}
