/* Shared between the modes of bench/client (client.c, client_multi.c). */
#ifndef BENCH_CLIENT_H
#define BENCH_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CLIENT_MAX_MSG 4096

typedef struct client_opts {
    const char *mode;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    double seconds;   /* duration of timed modes; idle: how long to hold */
    double timeout;   /* give up (error line) after this many seconds */
    uint64_t count;   /* pingpong: round trips instead of seconds, if > 0 */
    unsigned conns;   /* fanin, connrate (concurrency), idle */
    uint64_t bytes;   /* pump: total bytes echoed */
    uint64_t window;  /* pump: most bytes in flight */
    size_t size;      /* message size */
} client_opts_t;

double now_s(void);
const unsigned char *client_pattern(size_t offset);
int client_stopped(void);
_Noreturn void fail(const client_opts_t *o, const char *what, int err);
int client_socket(const client_opts_t *o, int nonblock);
int client_connect(const client_opts_t *o);
void send_all(const client_opts_t *o, int fd, const void *buf, size_t len);
void recv_check(const client_opts_t *o, int fd, unsigned char *buf,
                size_t len, const void *expect);

void run_fanin(const client_opts_t *o);
void run_connrate(const client_opts_t *o);
void run_idle(const client_opts_t *o);

#endif
