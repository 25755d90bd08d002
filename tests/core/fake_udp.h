/*
 * The UDP OS actions of common/seam.h for the fake backends: a socket
 * that records what the core asked, so the core's checks (common/udp.c,
 * udp_mcast.c) are tested without sockets.
 */
#ifndef IOR_TEST_FAKE_UDP_H
#define IOR_TEST_FAKE_UDP_H

#include "core.h"

typedef struct fake_udp {
    int open_result;  /* what ior__os_udp_open returns (0: a socket) */
    int start_result; /* what ior__os_udp_start returns */
    /* What the core asked. */
    int opens, starts, closes, sends, connects, readings, memberships;
    int ttls, loops, ifs;
    size_t last_len;
    int last_to_null; /* the last send went to the connected peer */
    int last_ttl, last_on, last_join, last_if_null;
} fake_udp_t;

extern fake_udp_t fake_udp;

void fake_udp_reset(void);

#endif
