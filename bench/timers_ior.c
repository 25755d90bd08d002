/*
 * timers_ior: the ior half of the timers benchmark, the same steps as
 * timers_uv.c through ior_call_later / ior_timer_cancel / ior_loop_run.
 * Only ior.h and the C library (C11 timespec_get, which MinGW lacks).
 *
 *   timers_ior [-n N]     (default 1000000)
 */
#include "ior.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long fired;

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t delay_of(size_t i)
{
    return (uint64_t)((i * 7919u) % 16u);
}

static void on_timer(ior_loop_t *loop, void *user)
{
    (void)loop;
    (void)user;
    fired++;
}

static int schedule_all(ior_loop_t *loop, ior_timer_id *ids, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        int r = ior_call_later(loop, delay_of(i), on_timer, NULL, &ids[i]);
        if (r != 0) {
            printf("{\"bench\":\"timers\",\"impl\":\"ior\",\"error\":\"%s\"}\n",
                   ior_strerror(r));
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 1000000, i, cancelled = 0;
    ior_timer_id *ids;
    ior_loop_t *loop;
    double t0, t1, t2, t3, t4;
    if (argc == 3 && strcmp(argv[1], "-n") == 0)
        n = strtoul(argv[2], NULL, 10);
    ids = calloc(n, sizeof(*ids));
    if (ids == NULL || n == 0 || ior_loop_new(&loop, NULL) != 0)
        return 1;
    t0 = now_s();
    if (schedule_all(loop, ids, n) != 0)
        return 1;
    t1 = now_s();
    ior_loop_run(loop);
    t2 = now_s();
    if (schedule_all(loop, ids, n) != 0)
        return 1;
    t3 = now_s();
    for (i = 0; i < n; i++)
        cancelled += ior_timer_cancel(loop, ids[i]) == 0;
    t4 = now_s();
    ior_loop_free(loop);
    if (fired != n || cancelled != n) {
        printf("{\"bench\":\"timers\",\"impl\":\"ior\",\"error\":"
               "\"fired %lu, cancelled %zu of %zu\"}\n", fired, cancelled, n);
        return 1;
    }
    printf("{\"bench\":\"timers\",\"impl\":\"ior\",\"n\":%zu,"
           "\"schedule_ns\":%.1f,\"fire_ns\":%.1f,\"schedule_fire_ns\":%.1f,"
           "\"cancel_ns\":%.1f,\"schedule_cancel_ns\":%.1f}\n",
           n, (t1 - t0) * 1e9 / n, (t2 - t1) * 1e9 / n, (t2 - t0) * 1e9 / n,
           (t4 - t3) * 1e9 / n, (t4 - t2) * 1e9 / n);
    free(ids);
    return 0;
}
