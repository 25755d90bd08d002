/*
 * A reference model of the consumer core (DESIGN.md rules 1-12) and the
 * operation executor shared by the randomized driver (model_driver.c) and
 * the libFuzzer target (fuzz_core.c).
 *
 * The model is deliberately simple: per transport it keeps the flags the
 * rules talk about, the byte counts of the write stream (written by the
 * user, accepted by the "OS") and of the read stream (fed by the "OS",
 * delivered to the protocol), and the registered producer. The executor
 * applies one operation to the real core and to the model, and every
 * callback the core makes is checked against the rules before the model
 * adopts it. Synchronous effects of an API call are predicted exactly;
 * work the core defers to the loop is validated when it shows up and
 * required by the time the loop has settled (MOP_SETTLE).
 *
 * Everything is deterministic for a given operation list: each operation
 * carries its own seed for the random behaviour of the callbacks it
 * triggers, so a list with operations removed still replays exactly
 * (shrinking) and a fuzzer's bytes map to one run.
 */
#ifndef IOR_TEST_MODEL_H
#define IOR_TEST_MODEL_H

/* MinGW: C99 printf (%zu, %llu) instead of msvcrt's; include this header
 * first. */
#if defined(__MINGW32__) && !defined(__USE_MINGW_ANSI_STDIO)
#define __USE_MINGW_ANSI_STDIO 1
#endif

#include "core.h"

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

/* Transports alive at the same time, each in a slot. */
#define MODEL_SLOTS 3

enum model_op_kind {
    MOP_OPEN,          /* new transport in an empty slot */
    MOP_WRITE,         /* ior_transport_write */
    MOP_WRITE_REF,     /* ior_transport_write_ref */
    MOP_WRITE_SEQ,     /* ior_transport_write_sequence */
    MOP_REG_PULL,      /* register a pull producer */
    MOP_REG_STREAM,    /* register a streaming producer */
    MOP_UNREG,         /* unregister_producer */
    MOP_PAUSE,         /* the transport's pause_producing */
    MOP_RESUME,        /* the transport's resume_producing */
    MOP_STOP_PROD,     /* the transport's stop_producing */
    MOP_STOP_CONSUMING,
    MOP_LOSE,          /* lose_connection */
    MOP_LOSE_WRITE,    /* lose_write_connection */
    MOP_ABORT,         /* abort_connection */
    MOP_DRAIN,         /* the OS accepts n bytes: send_begin/end, drained */
    MOP_SEND_BEGIN,    /* a send starts and stays in flight */
    MOP_PASS,          /* one loop pass: ior__loop_run_pending */
    MOP_READ,          /* bytes arrive: ior__core_read */
    MOP_EOF,           /* ior__core_read_eof */
    MOP_ERROR,         /* ior__core_error */
    MOP_MARKS,         /* set_buffer_size / low_water / max_buffer */
    MOP_SETTLE,        /* run to quiescence, then check liveness */
    MOP_OOM,           /* a write or read whose allocation fails */
    MOP__COUNT
};

/* One recorded operation. */
typedef struct model_op {
    uint8_t kind; /* enum model_op_kind */
    uint8_t slot; /* which transport (mod MODEL_SLOTS) */
    uint16_t arg; /* sizes, flags: meaning depends on kind */
    uint32_t seed; /* randomness of the callbacks this op triggers */
} model_op_t;

/* The outcome of one executed list. */
typedef struct model_result {
    int failed;
    int line;          /* source line of the failed check (model.c ...) */
    const char *file;
    size_t op_index;   /* the operation during which it failed */
    size_t executed;   /* operations run */
    unsigned long long transports, bytes_sent, bytes_received;
    char msg[512];
} model_result_t;

/* Known core deviations the model can be told to accept (see report). */
#define MODEL_TOL_STALE_STREAMING 0x1 /* STREAMING left set by the close */
#define MODEL_TOL_HALF_CLOSE_UNREG 0x2 /* unregister does not restart a
                                          waiting half-close */
/*
 * What the model accepts unless IOR_MODEL_TOLERATE says otherwise: the
 * deviations found in the core and not fixed yet. Clear a bit when its
 * fix lands, so the model holds the core to the rule again.
 */
#define MODEL_TOL_DEFAULT 0u

/* IOR_MODEL_TOLERATE: "none", or names (stale_streaming,
 * half_close_unregister); unset: MODEL_TOL_DEFAULT. */
unsigned model_tolerate_from_env(void);

/*
 * Where the operations come from: returns 1 and fills *op, or 0 when the
 * run is over. The generator may look at W (which slots are alive).
 */
typedef int (*model_next_fn)(void *ctx, model_op_t *op);

/*
 * Runs operations on a fresh loop until next() says stop, then frees the
 * loop and checks that every transport ended cleanly and nothing leaked.
 * Returns 0, or 1 with r describing the first failed check (everything the
 * failed run allocated is freed). Installs its own counting allocator.
 */
int model_run(model_next_fn next, void *ctx, unsigned tolerate,
              model_result_t *r);

/* model_run over a fixed list. */
int model_exec(const model_op_t *ops, size_t n, unsigned tolerate,
               model_result_t *r);

/* The name of an operation kind, for printing. */
const char *model_op_name(unsigned kind);

/* Prints op as one line ("WRITE slot=1 arg=300 seed=7"). */
void model_op_format(const model_op_t *op, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Internals shared by model.c, model_exec.c and model_fake.c          */
/* ------------------------------------------------------------------ */

struct mtrans;

/* Marks of live test objects; cleared when freed, so a late call shows. */
#define TOKEN_MAGIC 0x70726f74u
#define PROD_MAGIC 0x70726f64u
#define REF_MAGIC 0x72656621u

/* A producer object; the user frees it once stopped or unregistered. */
typedef struct mprod {
    uint32_t magic;
    struct mtrans *m;
    int streaming;
    int stopped;
    int registered; /* currently the transport's producer */
    int busy;       /* its register call is still on the stack */
    int doomed;     /* free it when that call returns */
} mprod_t;

/* A write_ref buffer, alive until its release callback. */
typedef struct mref {
    uint32_t magic;
    struct mtrans *m;
    unsigned char *buf;
    size_t len;
    uint64_t start; /* offset of its first byte in the write stream */
    struct mref *next;
} mref_t;

/* The protocol's user pointer; freed in connection_lost. */
typedef struct mtoken {
    uint32_t magic;
    struct mtrans *m;
} mtoken_t;

/* One transport: the real one, the model of it and the fake OS side. */
typedef struct mtrans {
    ior_transport_t *t; /* NULL once connection_lost returned */
    struct mtrans *next_all;
    unsigned serial;
    int slot;
    int aware; /* protocol has read_connection_lost */
    mtoken_t *token;

    /* --- the model: DESIGN.md state --- */
    int disconnecting, write_disconnecting, write_disconnected;
    int read_disconnected, reading_paused;
    int closing;      /* connection_lost decided */
    int disconnected; /* the close ran (ior__os_close seen) */
    int aborted;
    int lost;         /* connection_lost delivered */
    int reason;       /* the reason connection_lost must carry */
    int os_error;     /* with it, for an error close */
    mprod_t *prod;
    int prod_paused;
    size_t buffer_size, low_water, max_buffer;
    /* Write stream: bytes the user queued and the OS accepted. */
    uint64_t written, sent;
    int discarded; /* queue thrown away by the close */
    mref_t *refs;  /* outstanding write_ref buffers */
    size_t refs_out;
    /* Read stream: bytes the core accepted (delivered or held) and
     * delivered; EOF fed, and dropped by a close. */
    uint64_t rx_fed, rx_delivered;
    int eof_fed, eof_dropped;

    /* --- counters the checks compare around a call --- */
    unsigned n_pause, n_resume, n_wcl, n_rcl, n_hidden_close;

    /* --- the fake OS side --- */
    int os_closed, os_abort, reading, shut;
    int writing; /* asked to write (start_writing) and not yet empty */
    int inflight;
    ior_buf_t bufs[16];
    size_t nbufs, inflight_bytes;
} mtrans_t;

/* The fake backend's transport: the core's struct first. */
typedef struct mfake {
    struct ior_transport base;
    mtrans_t *m;
} mfake_t;

/* What the executor is inside of, for "who may call back now" checks. */
enum mapi {
    MAPI_NONE,
    MAPI_WRITE,
    MAPI_REGISTER,
    MAPI_OTHER
};

typedef struct mworld {
    ior_loop_t *loop;
    mtrans_t *slots[MODEL_SLOTS];
    mtrans_t *all; /* every transport of this run, for the final checks */
    unsigned next_serial;
    uint64_t rng; /* reseeded from each op's seed */
    int quiet;    /* settle: callbacks do not act */
    unsigned tolerate;
    /* API call stack of the executor (callbacks nest). */
    int depth;
    enum mapi api[16];
    mtrans_t *api_m[16];
    mprod_t *registering; /* the producer of the innermost register */
    int expect_resume_at_register;
    int expect_stop_at_register;
    /* A direct drain in progress (to recompute its expectation). */
    mtrans_t *draining;
    int drain_expect;
    int act_depth; /* nested random actions */
    int oom_arm;   /* the next library allocation fails */
    int oom_hit;   /* ... and it did */
    jmp_buf jb;
    model_result_t *res;
    size_t op_index;
} mworld_t;

extern mworld_t W;

/* Failure: records the message and longjmps out of the run. */
void model_fail(const char *file, int line, const char *fmt, ...)
#if defined(__MINGW32__)
    __attribute__((format(gnu_printf, 3, 4)))
#elif defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
#define MCHECK(cond, ...)                                                  \
    do {                                                                   \
        if (!(cond))                                                       \
            model_fail(__FILE__, __LINE__, __VA_ARGS__);                   \
    } while (0)

/*
 * The test's own objects (tokens, producers, write_ref buffers) come from
 * a tracked heap, so a failed run can free everything it left behind.
 */
void *model_talloc(size_t size); /* zeroed; fails the run on NULL */
void model_tfree(void *p);

/* A heap whose live blocks are listed (model_heap.c). */
typedef struct hblk {
    struct hblk *prev, *next;
    size_t size;
    size_t pad; /* keeps the user block 16-byte aligned on 64-bit */
} hblk_t;

typedef struct heap {
    hblk_t *head;
    size_t live;
} heap_t;

extern heap_t model_lib_heap, model_test_heap;
extern const ior_allocator_t model_lib_allocator;
/* Frees every block of h (after a failed run). */
void model_heap_drop_all(heap_t *h);

uint32_t model_rand(uint32_t bound); /* 0..bound-1 from W.rng; 0 if 0 */

/* Byte i of a transport's write / read stream. */
unsigned char model_wpat(const mtrans_t *m, uint64_t i);
unsigned char model_rpat(const mtrans_t *m, uint64_t i);

/* Bytes the model says are queued. */
uint64_t model_buffered(const mtrans_t *m);
/* Compare the core with the model, adopting legal deferred transitions. */
void model_sync(mtrans_t *m);
void model_sync_all(void);
/* Rule 3's outcome of a drain in the current state. */
enum { DRAIN_NONE, DRAIN_RESUME, DRAIN_CLOSE, DRAIN_HALF };
int model_drain_expect(const mtrans_t *m);
/* Model-side rules the executor applies for backend events. */
int model_gone(const mtrans_t *m); /* close decided or done */
int model_rule_lose(mtrans_t *m);  /* rule 6; returns the expected rc */
void model_rule_error(mtrans_t *m, int err, int os_error); /* rule 11 */
void model_rule_abort(mtrans_t *m);                       /* rule 8 */

/* Protocol and producer ops used by the executor. */
extern const ior_protocol_ops_t model_proto_aware;
extern const ior_protocol_ops_t model_proto_plain;
extern const ior_producer_ops_t model_prod_ops;
void model_release_cb(void *ctx, const void *base, size_t len);

/* Frees a producer, or marks it to be freed once its register returns. */
void model_prod_release(mprod_t *p);

/* Actions (model + core together, model_act.c), used by ops and by
 * callbacks. */
void mact_write(mtrans_t *m, int how, size_t len);
void mact_register(mtrans_t *m, int streaming);
void mact_unregister(mtrans_t *m);
void mact_simple(mtrans_t *m, unsigned kind); /* PAUSE..ABORT, MARKS */
void mact_marks(mtrans_t *m, unsigned arg);
/* A callback's random behaviour on its own transport. */
void model_random_act(mtrans_t *m, int pull_resume);
size_t model_len_from_arg(unsigned arg);

/* Fake backend helpers (model_fake.c). */
mtrans_t *mfake_model(const ior_transport_t *t);
ior_transport_t *mfake_new_transport(mtrans_t *m);
/* Starts a send of at most max_bufs buffers of at most max_len bytes. */
size_t mfake_send_begin(mtrans_t *m, size_t max_bufs, size_t max_len);
/* Ends the send in flight: the OS took n bytes (checked, logged). */
void mfake_send_end(mtrans_t *m, size_t n);

#endif
