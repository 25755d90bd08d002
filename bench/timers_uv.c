/*
 * timers_uv: the libuv half of the timers benchmark (timers_ior.c is the
 * same on ior). One JSON line:
 *   fire:   N timers scheduled (uv_timer_start), then all fired (uv_run);
 *   cancel: N timers scheduled, then all cancelled (uv_timer_stop).
 * Delays are spread over 0..15 ms in a scrambled order so the heap does real
 * work; scheduling takes longer than 15 ms, so no run waits on the clock.
 *
 *   timers_uv [-n N]      (default 1000000)
 */
#include <uv.h>

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

static void on_timer(uv_timer_t *t)
{
    (void)t;
    fired++;
}

int main(int argc, char **argv)
{
    size_t n = 1000000, i;
    uv_timer_t *t;
    uv_loop_t *loop = uv_default_loop();
    double t0, t1, t2, t3, t4;
    if (argc == 3 && strcmp(argv[1], "-n") == 0)
        n = strtoul(argv[2], NULL, 10);
    t = calloc(n, sizeof(*t));
    if (t == NULL || n == 0)
        return 1;
    for (i = 0; i < n; i++)
        uv_timer_init(loop, &t[i]);
    t0 = now_s();
    for (i = 0; i < n; i++)
        uv_timer_start(&t[i], on_timer, delay_of(i), 0);
    t1 = now_s();
    uv_run(loop, UV_RUN_DEFAULT);
    t2 = now_s();
    for (i = 0; i < n; i++)
        uv_timer_start(&t[i], on_timer, delay_of(i), 0);
    t3 = now_s();
    for (i = 0; i < n; i++)
        uv_timer_stop(&t[i]);
    t4 = now_s();
    if (fired != n) {
        printf("{\"bench\":\"timers\",\"impl\":\"libuv\",\"error\":"
               "\"fired %lu of %zu\"}\n", fired, n);
        return 1;
    }
    printf("{\"bench\":\"timers\",\"impl\":\"libuv\",\"n\":%zu,"
           "\"schedule_ns\":%.1f,\"fire_ns\":%.1f,\"schedule_fire_ns\":%.1f,"
           "\"cancel_ns\":%.1f,\"schedule_cancel_ns\":%.1f}\n",
           n, (t1 - t0) * 1e9 / n, (t2 - t1) * 1e9 / n, (t2 - t0) * 1e9 / n,
           (t4 - t3) * 1e9 / n, (t4 - t2) * 1e9 / n);
    /* The handles are not closed: the process ends here. */
    return 0;
}
