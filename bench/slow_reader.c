/*
 * slow_reader: the client of the memory benchmark. It connects, reads at
 * RATE bytes per second (default 1 MiB/s) in 10 ms ticks for SECONDS
 * (default 10), then closes. A server streaming 1 GiB to it must hold the
 * rest back: with a producer it buffers about buffer_size, writing in a loop
 * it buffers everything. bench/run reads the server's VmHWM afterwards.
 *
 *   slow_reader -p PORT [-h HOST] [-r RATE] [-t SECONDS]
 *
 * One JSON line: bytes read, seconds, and the rate achieved.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 10000000L

static double ts_s(const struct timespec *ts)
{
    return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

static int dial(const char *host, const char *port)
{
    struct addrinfo hints, *ai;
    int fd;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* Reads up to budget bytes without blocking; returns what was read, or -1
 * at EOF or error. */
static long read_budget(int fd, char *buf, long budget)
{
    long got = 0;
    while (got < budget) {
        ssize_t n = recv(fd, buf, (size_t)(budget - got), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0)
            return got > 0 ? got : -1;
        got += n;
    }
    return got;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = NULL;
    long rate = 1 << 20, per_tick;
    double seconds = 10;
    unsigned long long total = 0;
    struct timespec start, next, now;
    char *buf;
    int i, fd, eof = 0;
    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-h") == 0)
            host = argv[i + 1];
        else if (strcmp(argv[i], "-p") == 0)
            port = argv[i + 1];
        else if (strcmp(argv[i], "-r") == 0)
            rate = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "-t") == 0)
            seconds = strtod(argv[i + 1], NULL);
        else
            break;
    }
    if (i < argc || port == NULL || rate <= 0) {
        fprintf(stderr, "usage: slow_reader -p PORT [-h HOST] [-r RATE] "
                        "[-t SECONDS]\n");
        return 2;
    }
    per_tick = rate / 100 > 0 ? rate / 100 : 1;
    buf = malloc((size_t)per_tick);
    fd = dial(host, port);
    if (fd < 0 || buf == NULL) {
        printf("{\"bench\":\"slow_reader\",\"error\":\"connect failed\"}\n");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    next = start;
    do {
        long n = read_budget(fd, buf, per_tick);
        if (n < 0) {
            eof = 1;
            break;
        }
        total += (unsigned long long)n;
        next.tv_nsec += TICK_NS;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (ts_s(&now) - ts_s(&start) < seconds);
    clock_gettime(CLOCK_MONOTONIC, &now);
    close(fd);
    printf("{\"bench\":\"slow_reader\",\"bytes\":%llu,\"seconds\":%.3f,"
           "\"bytes_per_s\":%.0f,\"eof\":%s}\n",
           total, ts_s(&now) - ts_s(&start),
           (double)total / (ts_s(&now) - ts_s(&start)), eof ? "true" : "false");
    free(buf);
    return 0;
}
