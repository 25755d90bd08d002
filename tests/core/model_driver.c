/*
 * core_model: the randomized driver of the consumer-core model (model.h).
 *
 * Runs episodes (a fresh loop, up to three transports at a time, each
 * opened in an empty slot and living a random number of operations) until
 * IOR_MODEL_STEPS operations (default 1,000,000) have run. Prints
 * "seed: N" first; IOR_MODEL_SEED replays a run. On a failed check it
 * shrinks the failing episode (removing operations while the same check
 * still fails) and prints the shortest sequence it found, which
 * IOR_MODEL_REPLAY=<file> runs again on its own.
 *
 * Other variables: IOR_MODEL_TRACE=1 prints each operation as it runs;
 * IOR_MODEL_TOLERATE=none holds the core to every rule, including the
 * deviations model.h's MODEL_TOL_DEFAULT still accepts.
 */
#include "model.h"
#include "../portable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EPISODE_MAX 3000

typedef struct gen {
    uint64_t rng;
    size_t left;
    int life[MODEL_SLOTS];
    int trace;
    model_op_t *rec;
    size_t nrec;
} gen_t;

static uint32_t grand(gen_t *g, uint32_t bound)
{
    uint64_t z = (g->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return bound ? (uint32_t)((z >> 32) % bound) : (uint32_t)(z >> 32);
}

/* A length: mostly small, sometimes past the default high-water mark. */
static uint16_t len_arg(gen_t *g)
{
    uint32_t r = grand(g, 100), cls;
    cls = r < 55 ? 0 : r < 85 ? 1 : r < 97 ? 2 : 3;
    return (uint16_t)(cls << 14 | grand(g, 1u << 14));
}

/* Weighted choice of the next operation on a live transport. */
static const struct {
    uint8_t kind;
    uint8_t weight;
} weights[] = {
    {MOP_WRITE, 14},     {MOP_WRITE_REF, 6},   {MOP_WRITE_SEQ, 4},
    {MOP_REG_PULL, 2},   {MOP_REG_STREAM, 4},  {MOP_UNREG, 3},
    {MOP_PAUSE, 3},      {MOP_RESUME, 4},      {MOP_STOP_PROD, 1},
    {MOP_STOP_CONSUMING, 1}, {MOP_LOSE, 2},    {MOP_LOSE_WRITE, 2},
    {MOP_ABORT, 1},      {MOP_DRAIN, 18},      {MOP_SEND_BEGIN, 4},
    {MOP_PASS, 10},      {MOP_READ, 8},        {MOP_EOF, 1},
    {MOP_ERROR, 1},      {MOP_MARKS, 1},       {MOP_SETTLE, 2},
    {MOP_OOM, 1},
};

static unsigned pick_kind(gen_t *g)
{
    unsigned total = 0, i, r;
    for (i = 0; i < sizeof weights / sizeof weights[0]; i++)
        total += weights[i].weight;
    r = grand(g, total);
    for (i = 0; r >= weights[i].weight; i++)
        r -= weights[i].weight;
    return weights[i].kind;
}

/* A transport past its lifetime is ended: closed one way or another,
 * then settled, until connection_lost frees its slot. */
static unsigned finish_kind(gen_t *g)
{
    static const uint8_t k[] = {MOP_SETTLE, MOP_SETTLE, MOP_ABORT, MOP_LOSE,
                                MOP_STOP_CONSUMING, MOP_ERROR, MOP_EOF,
                                MOP_UNREG, MOP_DRAIN, MOP_PASS};
    return k[grand(g, sizeof k)];
}

static int gen_next(void *ctx, model_op_t *op)
{
    gen_t *g = ctx;
    unsigned slot;
    char line[128];

    if (g->left == 0)
        return 0;
    g->left--;
    slot = grand(g, MODEL_SLOTS);
    op->slot = (uint8_t)slot;
    op->seed = grand(g, 0);
    op->arg = len_arg(g);
    if (W.slots[slot] == NULL) {
        uint32_t d = grand(g, 16);
        op->kind = MOP_OPEN;
        op->arg = (uint16_t)(grand(g, 256) | (d == 0 ? 2u : d == 1 ? 3u : 0u)
                                                  << 8);
        g->life[slot] = 1 + (int)grand(g, grand(g, 2) ? 40 : 900);
    } else if (--g->life[slot] < 0) {
        op->kind = (uint8_t)finish_kind(g);
    } else {
        op->kind = (uint8_t)pick_kind(g);
        if (op->kind == MOP_MARKS || op->kind == MOP_ERROR)
            op->arg = (uint16_t)grand(g, 1u << 16);
        if (op->kind == MOP_OOM) /* low 2 bits: which call */
            op->arg = (uint16_t)((op->arg & ~3u) | grand(g, 4));
    }
    if (g->rec != NULL)
        g->rec[g->nrec++] = *op;
    if (g->trace) {
        model_op_format(op, line, sizeof line);
        printf("  op %zu: %s\n", g->nrec, line);
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* Shrinking                                                           */
/* ------------------------------------------------------------------ */

static int same_failure(const model_result_t *a, const model_result_t *b)
{
    return a->failed && b->failed && a->line == b->line &&
           strcmp(a->file, b->file) == 0;
}

/*
 * Delta debugging, simplified: try removing chunks of operations, halving
 * the chunk size whenever no chunk can go, keeping any removal after
 * which the same check still fails. Bounded by a replay budget.
 */
static size_t shrink(model_op_t *ops, size_t n, unsigned tol,
                     const model_result_t *orig, model_result_t *last)
{
    model_op_t *tmp = malloc(n * sizeof *tmp);
    size_t chunk = n / 2, i, budget = 20000;
    model_result_t r;

    if (tmp == NULL)
        return n;
    /* Nothing after the failing operation matters. */
    if (orig->op_index + 1 < n)
        n = orig->op_index + 1;
    if (chunk == 0)
        chunk = 1;
    while (budget > 0) {
        int removed = 0;
        for (i = 0; i < n && budget > 0;) {
            size_t len = chunk < n - i ? chunk : n - i, m = n - len;
            memcpy(tmp, ops, i * sizeof *ops);
            memcpy(tmp + i, ops + i + len, (n - i - len) * sizeof *ops);
            budget--;
            if (m > 0 && model_exec(tmp, m, tol, &r) && same_failure(&r, orig)) {
                memcpy(ops, tmp, m * sizeof *ops);
                n = m;
                *last = r;
                removed = 1;
            } else {
                i += len;
            }
        }
        if (!removed) {
            if (chunk == 1)
                break;
            chunk /= 2;
        }
    }
    free(tmp);
    return n;
}

static void print_failure(const model_result_t *r)
{
    if (r->op_index == r->executed)
        printf("FAILED in the final ior_loop_free: %s\n  (check at %s:%d)\n",
               r->msg, r->file, r->line);
    else
        printf("FAILED at op %zu: %s\n  (check at %s:%d)\n", r->op_index,
               r->msg, r->file, r->line);
}

/* ------------------------------------------------------------------ */
/* Replay of a printed sequence                                        */
/* ------------------------------------------------------------------ */

/* One "<name> slot=<u> arg=<u> seed=<lu>" line (no sscanf: MSVC C4996). */
static int parse_field(const char **p, const char *key, unsigned long *out)
{
    size_t k = strlen(key);
    char *end;

    while (**p == ' ')
        (*p)++;
    if (strncmp(*p, key, k) != 0)
        return -1;
    *out = strtoul(*p + k, &end, 10);
    if (end == *p + k)
        return -1;
    *p = end;
    return 0;
}

static int parse_op_line(const char *p, char *name, size_t cap,
                         unsigned *slot, unsigned *arg, unsigned long *seed)
{
    unsigned long s, a;
    size_t n = 0;

    while (p[n] != '\0' && p[n] != ' ' && p[n] != '\n')
        n++;
    if (n == 0 || n >= cap)
        return -1;
    memcpy(name, p, n);
    name[n] = '\0';
    p += n;
    if (parse_field(&p, "slot=", &s) != 0 || parse_field(&p, "arg=", &a) != 0 ||
        parse_field(&p, "seed=", seed) != 0)
        return -1;
    *slot = (unsigned)s;
    *arg = (unsigned)a;
    return 0;
}

static int replay_file(const char *path, unsigned tol)
{
    FILE *f = test_fopen(path, "r");
    model_op_t *ops;
    size_t n = 0, cap = 1024;
    char line[256], name[32];
    unsigned slot, arg;
    unsigned long seed;
    model_result_t r;
    unsigned k;

    if (f == NULL) {
        perror(path);
        return 2;
    }
    ops = malloc(cap * sizeof *ops);
    while (ops != NULL && fgets(line, sizeof line, f) != NULL) {
        char *p = strstr(line, ": ");
        p = p != NULL ? p + 2 : line;
        if (parse_op_line(p, name, sizeof name, &slot, &arg, &seed) != 0)
            continue;
        for (k = 0; k < MOP__COUNT && strcmp(model_op_name(k), name); k++)
            ;
        if (k == MOP__COUNT)
            continue;
        if (n == cap) {
            model_op_t *o = realloc(ops, (cap *= 2) * sizeof *ops);
            if (o == NULL)
                break;
            ops = o;
        }
        ops[n].kind = (uint8_t)k;
        ops[n].slot = (uint8_t)slot;
        ops[n].arg = (uint16_t)arg;
        ops[n].seed = (uint32_t)seed;
        n++;
    }
    fclose(f);
    printf("replaying %zu operations from %s\n", n, path);
    if (ops == NULL || model_exec(ops, n, tol, &r) == 0) {
        printf("replay passed\n");
        free(ops);
        return 0;
    }
    print_failure(&r);
    free(ops);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Seed corpus for fuzz_core                                           */
/* ------------------------------------------------------------------ */

/*
 * IOR_MODEL_WRITE_CORPUS=<dir>: writes short generated episodes in
 * fuzz_core's encoding (5 bytes an operation), the committed seed corpus.
 */
static int write_corpus(const char *dir, unsigned long long seed,
                        unsigned tol)
{
    model_op_t rec[400];
    unsigned i;
    size_t j;
    for (i = 0; i < 40; i++) {
        gen_t g;
        model_result_t r;
        char path[512];
        FILE *f;
        memset(&g, 0, sizeof g);
        g.rng = seed ^ (i + 1) * 0xD1B54A32D192ED03ull;
        g.left = 20 + grand(&g, i < 20 ? 100 : 380);
        g.rec = rec;
        if (model_run(gen_next, &g, tol, &r) != 0) {
            print_failure(&r);
            return 1;
        }
        snprintf(path, sizeof path, "%s/seed-%02u.bin", dir, i);
        f = test_fopen(path, "wb");
        if (f == NULL) {
            perror(path);
            return 2;
        }
        for (j = 0; j < g.nrec; j++) {
            unsigned char b[5];
            b[0] = rec[j].kind;
            b[1] = rec[j].slot;
            b[2] = (unsigned char)(rec[j].arg & 0xff);
            b[3] = (unsigned char)(rec[j].arg >> 8);
            b[4] = (unsigned char)rec[j].seed;
            fwrite(b, 1, 5, f);
        }
        fclose(f);
    }
    printf("wrote 40 corpus files to %s\n", dir);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Main                                                                */
/* ------------------------------------------------------------------ */

static unsigned long long env_ull(const char *name, unsigned long long def)
{
    const char *v = test_getenv(name);
    return v != NULL && *v != '\0' ? strtoull(v, NULL, 0) : def;
}

int main(void)
{
    unsigned long long seed, steps, done = 0, episodes = 0;
    unsigned long long transports = 0, sent = 0, received = 0;
    unsigned tol = model_tolerate_from_env();
    model_op_t *rec = malloc(EPISODE_MAX * sizeof *rec);
    clock_t t0 = clock();
    double secs;
    gen_t g;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (test_getenv("IOR_MODEL_REPLAY") != NULL) {
        free(rec);
        return replay_file(test_getenv("IOR_MODEL_REPLAY"), tol);
    }
    if (test_getenv("IOR_MODEL_WRITE_CORPUS") != NULL) {
        free(rec);
        return write_corpus(test_getenv("IOR_MODEL_WRITE_CORPUS"), 7, tol);
    }
    seed = env_ull("IOR_MODEL_SEED",
                   (unsigned long long)time(NULL) * 2654435761ull ^
                       (unsigned long long)clock());
    steps = env_ull("IOR_MODEL_STEPS", 1000000);
    printf("seed: %llu\n", seed);
    printf("steps: %llu\n", steps);
    if (tol != 0)
        printf("tolerating known core deviations:%s%s "
               "(IOR_MODEL_TOLERATE=none to check them)\n",
               tol & MODEL_TOL_STALE_STREAMING ? " stale_streaming" : "",
               tol & MODEL_TOL_HALF_CLOSE_UNREG ? " half_close_unregister"
                                                : "");
    if (rec == NULL)
        return 2;
    while (done < steps) {
        model_result_t r;
        memset(&g, 0, sizeof g);
        g.rng = seed ^ (episodes + 1) * 0xD1B54A32D192ED03ull;
        g.left = 1 + grand(&g, EPISODE_MAX);
        if (g.left > steps - done)
            g.left = (size_t)(steps - done);
        g.rec = rec;
        g.trace = test_getenv("IOR_MODEL_TRACE") != NULL;
        if (model_run(gen_next, &g, tol, &r) != 0) {
            model_result_t last = r;
            size_t n, i;
            char line[128];
            printf("episode %llu (after %llu steps) ", episodes, done);
            print_failure(&r);
            n = shrink(rec, g.nrec, tol, &r, &last);
            printf("shortest failing sequence (%zu of %zu operations; "
                   "IOR_MODEL_REPLAY=<file> replays these lines):\n",
                   n, g.nrec);
            for (i = 0; i < n; i++) {
                model_op_format(&rec[i], line, sizeof line);
                printf("  %zu: %s\n", i, line);
            }
            print_failure(&last);
            printf("seed: %llu\n", seed);
            free(rec);
            return 1;
        }
        done += r.executed;
        episodes++;
        transports += r.transports;
        sent += r.bytes_sent;
        received += r.bytes_received;
    }
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("model: %llu steps in %llu episodes, %llu transports, %llu bytes "
           "sent, %llu received: all agree with the model\n",
           done, episodes, transports, sent, received);
    printf("time: %.2f s CPU, %.0f steps/s\n", secs,
           secs > 0 ? (double)done / secs : 0.0);
    free(rec);
    return 0;
}
