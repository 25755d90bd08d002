/*
 * A recording fake backend for the consumer-core tests: it implements every
 * ior__os_* function of common/seam.h, records each call the core makes,
 * and lets the test decide when and how many bytes the "OS" accepts — the
 * shape of Twisted's MemoryFile in test_filedescriptor.py.
 *
 * Nothing here runs by itself: the test drives iterations with
 * fake_iterate() (or the core's ior__core_loop_* functions), completes sends
 * with fake_accept(), and reports reads with ior__core_read*().
 */
#ifndef IOR_TEST_FAKE_BACKEND_H
#define IOR_TEST_FAKE_BACKEND_H

#include "core.h"

#include <stddef.h>

#define FAKE_MAX_BUFS 64
#define FAKE_MAX_RECS 64

typedef struct fake_loop {
    struct ior_loop base;
    int polls;            /* ior__os_loop_poll calls */
    int last_timeout;     /* its last timeout_ms */
    int wakeups;          /* ior__os_loop_wakeup calls */
    int wakeup_pending;   /* a wakeup not yet seen by a poll */
    int lock_depth;       /* ior__os_loop_lock minus unlock */
    int interrupts;       /* ior__os_stop_on_interrupt calls */
} fake_loop_t;

typedef struct fake_transport {
    struct ior_transport base;
    int rec; /* index into the side table, which outlives the transport */
} fake_transport_t;

/*
 * What the core did to one transport. Kept in a side table so that it can
 * be read after the transport itself has been freed.
 */
typedef struct fake_rec {
    int used;
    ior_transport_t *t; /* NULL once freed */
    int start_reading;
    int stop_reading;
    int start_writing;
    int shutdown_write;
    int closes;      /* ior__os_close calls */
    int last_abort;  /* abort argument of the last ior__os_close */
    int frees;       /* ior__os_transport_free calls */
    int reading;     /* 1 after start_reading, 0 after stop_reading */
    int deferred_drains; /* drains the fake deferred for an empty queue */
    size_t direct;   /* bytes ior__os_try_write may still take (0: none) */
    int violations;  /* seam contract broken by the core (see .c) */
    /* The send in flight (between fake_send_begin and fake_send_end). */
    int in_flight;
    /*
     * files_native: file regions go out as the OS's file send
     * (ior__core_send_file_begin), else through the core's copy path.
     */
    int files_native;
    int file_in_flight; /* the send in flight is file_send */
    ior__file_send_t file_send;
    int file_sends;
    size_t max_file_send;
    ior_buf_t bufs[FAKE_MAX_BUFS];
    size_t nbufs;
    /* Every byte the "OS" accepted, in order. */
    unsigned char *sent;
    size_t sent_len;
    size_t sent_cap;
} fake_rec_t;

/* Clears every record and the log, and sets the clock to 0. */
void fake_reset(void);
/* Releases the fake's own memory (sent logs). Call at the end of a test. */
void fake_cleanup(void);

/* The controllable clock. */
void fake_set_now(uint64_t ms);
uint64_t fake_now(void);

/*
 * When set, ior__os_loop_poll calls hook(loop, timeout_ms, user) instead of
 * its default (complete cancelled sends, run the async queue after a
 * wakeup, advance the clock by timeout_ms, and stop the loop if it would
 * wait forever, so ior_loop_run stays bounded).
 */
typedef void (*fake_poll_hook)(ior_loop_t *loop, int timeout_ms, void *user);
void fake_set_poll_hook(fake_poll_hook hook, void *user);
/* The default poll behaviour, for hooks that want it too. */
void fake_poll_default(ior_loop_t *loop, int timeout_ms);

/* A new connected transport: ior__core_transport_init only. */
ior_transport_t *fake_transport_new(ior_loop_t *loop);
/* fake_transport_new + ior_transport_set_protocol + ior__transport_begin. */
ior_transport_t *fake_open(ior_loop_t *loop, const ior_protocol_ops_t *ops,
                           void *user);
/* The record of a live transport (valid after it is freed). */
fake_rec_t *fake_rec(const ior_transport_t *t);
fake_rec_t *fake_rec_at(int i);

/*
 * The OS takes up to n bytes: send_begin, copy into the sent log, send_end,
 * then ior__core_drained as a loop completion would. Returns bytes taken.
 */
size_t fake_accept(ior_transport_t *t, size_t n);
/* The two halves of a send, for sends kept in flight. */
size_t fake_send_begin(ior_transport_t *t); /* returns bytes in flight */
void fake_send_end(ior_transport_t *t, size_t n);

/* One loop iteration without polling: update time, timers, pending. */
void fake_iterate(ior_loop_t *loop);

/*
 * The ordered log of events, space separated. The fake writes
 * start_reading, stop_reading, start_writing, shutdown_write, close,
 * close_abort, free; tests add their own with fake_log().
 */
void fake_log(const char *event);
const char *fake_log_str(void);
void fake_log_clear(void);
/*
 * The log restricted to the events named in kinds (space separated; an
 * event "lost:EDONE" matches the kind "lost"). Returns a static buffer.
 */
const char *fake_log_only(const char *kinds);

/* The fake environment's IOR_BACKEND ("" unset), and the max_events the
 * core gave the last ior__os_loop_create. */
extern char fake_env_backend[32];
extern unsigned fake_last_max_events;

/* ior__os_resolve calls (the fake resolves numeric addresses only). */
extern int fake_resolve_calls;

/* Sum of violations over every record. */
int fake_violations(void);

#endif
