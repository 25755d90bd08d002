/*
 * The little of the OS that bench/limit needs, for POSIX and for Windows
 * (MinGW, run under Wine): blocking sockets, threads, a monotonic clock, a
 * sleep and an atomic flag. Header-only so limit builds from one command.
 */
#ifndef BENCH_LIMIT_OS_H
#define BENCH_LIMIT_OS_H

/* Strict C11 hides POSIX; ask for it before the first system header. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdatomic.h>
#include <stddef.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
typedef SOCKET sock_t;
#define BAD_SOCK INVALID_SOCKET
#define sock_close closesocket
#define sock_errno() WSAGetLastError()
typedef int sock_len_t;
#else
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
typedef int sock_t;
#define BAD_SOCK (-1)
#define sock_close close
#define sock_errno() errno
typedef socklen_t sock_len_t;
#endif

typedef void (*job_fn)(void *arg);

typedef struct job {
    job_fn fn;
    void *arg;
#ifdef _WIN32
    HANDLE h;
#else
    pthread_t h;
#endif
} job_t;

#ifdef _WIN32
static DWORD WINAPI job_tramp(LPVOID p)
{
    job_t *j = p;
    j->fn(j->arg);
    return 0;
}

/* Starts fn(arg) on a new thread with a small stack (thread per
 * connection must reach 10,000 threads). j must outlive the thread unless
 * detach is set, in which case j is freed by the caller's fn. */
static int job_start(job_t *j, int detach)
{
    j->h = CreateThread(NULL, 128 * 1024, job_tramp, j,
                        STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (j->h == NULL)
        return -1;
    if (detach)
        CloseHandle(j->h);
    return 0;
}

static void job_join(job_t *j)
{
    WaitForSingleObject(j->h, INFINITE);
    CloseHandle(j->h);
}

static double now_s(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart / (double)f.QuadPart;
}

static void sleep_s(double s)
{
    Sleep((DWORD)(s * 1000));
}

static int net_init(void)
{
    WSADATA d;
    return WSAStartup(MAKEWORD(2, 2), &d) == 0 ? 0 : -1;
}

static BOOL WINAPI on_console(DWORD ev)
{
    (void)ev;
    ExitProcess(0);
    return TRUE;
}

static void exit_on_interrupt(void)
{
    SetConsoleCtrlHandler(on_console, TRUE);
}
#else
static void *job_tramp(void *p)
{
    job_t *j = p;
    j->fn(j->arg);
    return NULL;
}

static int job_start(job_t *j, int detach)
{
    pthread_attr_t a;
    int r;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 128 * 1024);
    if (detach)
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    r = pthread_create(&j->h, &a, job_tramp, j);
    pthread_attr_destroy(&a);
    return r == 0 ? 0 : -1;
}

static void job_join(job_t *j)
{
    pthread_join(j->h, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int net_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    _exit(0);
}

static void exit_on_interrupt(void)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
}
#endif

#endif
