/*
 * libFuzzer target for the consumer core: the fuzzer's bytes are read as
 * the same operation stream the randomized driver generates (model.h),
 * five bytes an operation (kind, slot, arg low, arg high, callback seed),
 * and every step is checked against the model. A failed check prints the
 * operations and aborts, so libFuzzer keeps the input as a crash.
 *
 * Build: -DIOR_BUILD_FUZZ=ON with clang (tests/core/model.cmake), run:
 *   fuzz_core -max_total_time=60 tests/core/corpus
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_MAX_OPS 4096

typedef struct fuzz_ctx {
    const uint8_t *data;
    size_t size, pos;
} fuzz_ctx_t;

static int fuzz_next(void *ctx, model_op_t *op)
{
    fuzz_ctx_t *c = ctx;
    const uint8_t *p;
    if (c->size - c->pos < 5 || c->pos / 5 >= FUZZ_MAX_OPS)
        return 0;
    p = c->data + c->pos;
    c->pos += 5;
    op->kind = (uint8_t)(p[0] % MOP__COUNT);
    op->slot = (uint8_t)(p[1] % MODEL_SLOTS);
    op->arg = (uint16_t)(p[2] | p[3] << 8);
    op->seed = p[4];
    /* Lengths past 8 KiB (class 3) cost the most: keep 1 in 8 of them,
     * enough to cross the default high-water mark now and then. */
    if (op->arg >> 14 == 3 && (p[4] & 7) != 0)
        op->arg = (uint16_t)(op->arg & 0xbfff);
    /* As the driver does: an empty slot gets a transport first. */
    if (W.slots[op->slot] == NULL && op->kind != MOP_PASS &&
        op->kind != MOP_SETTLE)
        op->kind = MOP_OPEN;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned tolerate;
    static int init;
    model_result_t r;
    fuzz_ctx_t c;

    if (!init) {
        tolerate = model_tolerate_from_env();
        init = 1;
    }
    c.data = data;
    c.size = size;
    c.pos = 0;
    if (model_run(fuzz_next, &c, tolerate, &r) != 0) {
        fprintf(stderr, "fuzz_core: model check failed at op %zu: %s (%s:%d)\n",
                r.op_index, r.msg, r.file, r.line);
        abort();
    }
    return 0;
}
