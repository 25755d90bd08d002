/*
 * The few things the net suite needs that ior.h does not offer, one tiny
 * file per platform (platform_posix.c, platform_win.c), chosen by CMake,
 * so the test sources themselves carry no #ifdef.
 */
#ifndef IOR_TEST_PLATFORM_H
#define IOR_TEST_PLATFORM_H

#include <stdint.h>

/* Raises the open-descriptor limit as far as allowed; returns the limit
 * now in force (0 when the platform has none worth raising). */
unsigned long nu_platform_raise_fd_limit(void);

typedef struct nu_thread nu_thread_t;
int nu_thread_start(nu_thread_t **out, void (*fn)(void *), void *arg);
void nu_thread_join(nu_thread_t *th);

/*
 * A raw listening socket on 127.0.0.1 that never accepts (ior's own
 * listener always does), for the connect-timeout test. Returns 0 and the
 * port, or -1.
 */
int nu_platform_listen_noaccept(int backlog, uint16_t *port, intptr_t *h);
void nu_platform_close_socket(intptr_t h);

#endif
