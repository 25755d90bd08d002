/* The recording fake UDP socket (fake_udp.h). */
#include "fake_udp.h"

#include <string.h>

fake_udp_t fake_udp;

void fake_udp_reset(void)
{
    memset(&fake_udp, 0, sizeof(fake_udp));
}

int ior__os_udp_open(ior_loop_t *loop, const ior_addr_t *addr,
                     const ior_udp_options_t *opts, ior_udp_t **out)
{
    ior_udp_t *u;
    (void)loop;
    (void)addr;
    (void)opts;
    fake_udp.opens++;
    if (fake_udp.open_result != 0)
        return fake_udp.open_result;
    u = ior__calloc(1, sizeof(*u));
    if (u == NULL)
        return IOR_ENOMEM;
    *out = u;
    return 0;
}

int ior__os_udp_start(ior_udp_t *u)
{
    (void)u;
    fake_udp.starts++;
    return fake_udp.start_result;
}

void ior__os_udp_close(ior_udp_t *u)
{
    fake_udp.closes++;
    ior__dq_clear(&u->q);
    ior__free(u);
}

int ior__os_udp_address(const ior_udp_t *u, ior_addr_t *out)
{
    (void)u;
    memset(out, 0, sizeof(*out));
    out->family = IOR_AF_INET;
    return 0;
}

int ior__os_udp_send(ior_udp_t *u, const void *data, size_t len,
                     const ior_addr_t *to)
{
    (void)u;
    (void)data;
    fake_udp.sends++;
    fake_udp.last_len = len;
    fake_udp.last_to_null = to == NULL;
    return 0;
}

int ior__os_udp_connect(ior_udp_t *u, const ior_addr_t *peer)
{
    (void)u;
    (void)peer;
    fake_udp.connects++;
    return 0;
}

size_t ior__os_udp_queued(const ior_udp_t *u)
{
    return u->q.bytes;
}

void ior__os_udp_reading(ior_udp_t *u)
{
    (void)u;
    fake_udp.readings++;
}

int ior__os_udp_membership(ior_udp_t *u, const ior_addr_t *group,
                           const ior_addr_t *iface, int join)
{
    (void)u;
    (void)group;
    (void)iface;
    fake_udp.memberships++;
    fake_udp.last_join = join;
    return 0;
}

int ior__os_udp_multicast_ttl(ior_udp_t *u, int ttl)
{
    (void)u;
    fake_udp.ttls++;
    fake_udp.last_ttl = ttl;
    return 0;
}

int ior__os_udp_multicast_loop(ior_udp_t *u, int on)
{
    (void)u;
    fake_udp.loops++;
    fake_udp.last_on = on;
    return 0;
}

int ior__os_udp_multicast_if(ior_udp_t *u, const ior_addr_t *iface)
{
    (void)u;
    fake_udp.ifs++;
    fake_udp.last_if_null = iface == NULL;
    return 0;
}
