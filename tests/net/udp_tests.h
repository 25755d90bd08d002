/*
 * The net_udp executable is two files: test_net_udp.c (echo, a flood,
 * truncation, the send queue, main) and test_net_udp_modes.c (connected
 * UDP, multicast, pausing). What they share is declared here.
 */
#ifndef IOR_UDP_TESTS_H
#define IOR_UDP_TESTS_H

#include "ior.h"

/* An echo peer: every datagram goes back where it came from. */
extern const ior_udp_ops_t udp_echo_ops;
/* ior_udp_listen on ip, port 0; the bound address in *bound if asked. */
int udp_open(ior_loop_t *loop, const char *ip, const ior_udp_options_t *o,
             const ior_udp_ops_t *ops, void *user, ior_udp_t **out,
             ior_addr_t *bound);
/* Same family, port and address bytes. */
int udp_addr_equal(const ior_addr_t *a, const ior_addr_t *b);

/* test_net_udp_modes.c */
void test_udp_connected_refused_then_usable(void **state);
void test_udp_multicast_on_loopback(void **state);
void test_udp_pause_holds_datagrams_until_resume(void **state);
void test_udp_loop_free_closes_open_sockets(void **state);

#endif
