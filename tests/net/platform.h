/*
 * The few things the net suite needs that ior.h does not offer, one tiny
 * file per platform (platform_posix.c, platform_win.c), chosen by CMake,
 * so the test sources themselves carry no #ifdef.
 */
#ifndef IOR_TEST_PLATFORM_H
#define IOR_TEST_PLATFORM_H

#include <stddef.h>
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

/*
 * Pipes and files for test_net_pipe.c, as OS handles for ior_pipe_open.
 * Kinds: POSIX has one of each (pipe2; open). Windows has two of each, so
 * both paths of the backend run: pipe kind 0 is an overlapped named pipe
 * pair (the completion-port path), 1 an anonymous CreatePipe pair (the
 * thread path); file kind 0 is opened with FILE_FLAG_OVERLAPPED, 1
 * without (the thread path).
 */
int nu_platform_pipe_kinds(void);
int nu_platform_file_kinds(void);
const char *nu_platform_pipe_kind_name(int kind);
/* *rd reads what *wr writes. Returns 0, or -1. */
int nu_platform_pipe(int kind, intptr_t *rd, intptr_t *wr);
void nu_platform_close_handle(intptr_t h);
/*
 * A connected stream socket pair as OS handles (POSIX: socketpair;
 * Windows: loopback TCP), for ior_pipe_open over sockets. 0, or -1.
 */
int nu_platform_socketpair(intptr_t *a, intptr_t *b);
/*
 * Raw sockets that ior does not own, for the poll-handle tests (the part
 * of a foreign library). tcp_pair: a connected loopback TCP pair, both
 * non-blocking. send/recv: bytes, 0 for EOF (recv), -1 would block or an
 * error. reset: close with an RST (SO_LINGER 0). connect_start: a
 * non-blocking TCP socket with a connect to 127.0.0.1:port under way.
 * socket_error: SO_ERROR (0, or the OS code). udp_pair: two loopback UDP
 * sockets, each connected to the other, non-blocking. accept: one
 * connection from a listener, or -1.
 */
int nu_platform_tcp_pair(intptr_t *a, intptr_t *b);
int nu_platform_udp_pair(intptr_t *a, intptr_t *b);
long nu_platform_send(intptr_t h, const void *buf, size_t len);
long nu_platform_recv(intptr_t h, void *buf, size_t len);
int nu_platform_shutdown_write(intptr_t h);
void nu_platform_reset(intptr_t h);
int nu_platform_connect_start(uint16_t port, intptr_t *h);
int nu_platform_socket_error(intptr_t h);
int nu_platform_accept(intptr_t l, intptr_t *h);
/*
 * A fresh name for ior_local_listen: POSIX, a temporary path with nothing
 * there; Windows, a pipe name unique to this process and call.
 */
int nu_platform_local_name(char *buf, size_t len);
/* Sets (value non-NULL) or clears an environment variable of this process. */
void nu_platform_setenv(const char *name, const char *value);
/* A new empty temporary file; its path in buf. Returns 0, or -1. */
int nu_platform_temp_file(char *buf, size_t len);
/* Opens path for reading, or for writing (truncated). 0, or -1. */
int nu_platform_file_open(const char *path, int for_write, int kind,
                          intptr_t *h);

/*
 * The OS error a connect refused on loopback reports: ECONNREFUSED on
 * POSIX, WSAECONNREFUSED on Windows (and Wine).
 */
int nu_platform_refused_os_error(void);

#endif
