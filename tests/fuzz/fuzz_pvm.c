/*
 * fuzz_pvm.c - the pickle VM and the tensor-map walker on arbitrary bytes.
 *
 * Property: for any input, pvm_run() (with small limits) never crashes,
 * leaks or hangs, and returns C2S_OK or C2S_ERR_INPUT with a non-empty
 * message; when it returns C2S_OK, the result is non-NULL and the end offset
 * is within the input.  tmap_build() on that result (any graph: cycles,
 * shared sub-graphs, calls of anything) obeys the same rules, and when it
 * succeeds every supported tensor's view lies inside its storage as the
 * pickle declares it (the promise the streaming writer relies on), in each
 * of the three ways of reading quantized tensors (a quantized tensor's
 * per-channel scales and zero points included).
 *
 * The sweep (sweep.h) runs on every input too, and never fails but for
 * memory.  When the VM accepted the pickle, every global the sweep names
 * with certainty (GLOBAL, INST, or STACK_GLOBAL whose operands were the
 * last two pushes) is one the VM named: the sweep reads no global into
 * bytes the VM read as something else.
 */
#include <string.h>

#include "torch/dtype.h"
#include "fuzz.h"
#include "pickle/sweep.h"
#include "torch/tmap.h"

static void check_failure(c2s_status st, const c2s_error *err, const char *what)
{
    FUZZ_CHECK(st == C2S_ERR_INPUT, "%s returned status %d", what, (int)st);
    FUZZ_CHECK(err->msg[0] != '\0', "%s failed with an empty message", what);
}

static void check_view(const tmap *m, const tmap_tensor *t);

/* A quantized tensor's parameters: inline scalars, or per channel two 1-d
 * views of one element per channel (kept aside when dequantized). */
static void check_quant(const tmap *m, const tmap_tensor *t)
{
    if (t->storage == TMAP_NO_STORAGE) {
        FUZZ_CHECK(t->ndim == 0 && t->numel == 1 && t->nbytes == 8, "'%s': bad inline scalar",
                   t->name);
        return;
    }
    if (t->q.scheme != TMAP_Q_PER_CHANNEL || !t->q.dequantize)
        return;
    FUZZ_CHECK(t->q.info < m->nquants, "'%s': quantization parameters out of range", t->name);
    const tmap_quant *q = tmap_quant_of(m, t);
    FUZZ_CHECK(q->axis < t->ndim && (uint64_t)t->shape[q->axis] == q->channels && q->inner > 0,
               "'%s': bad axis", t->name);
    FUZZ_CHECK(t->q.scales < m->nqparams && t->q.zero_points < m->nqparams,
               "'%s': parameters out of range", t->name);
    const tmap_tensor *p[2] = {&m->qparams[t->q.scales], &m->qparams[t->q.zero_points]};
    for (int i = 0; i < 2; i++) {
        FUZZ_CHECK(p[i]->ndim == 1 && (uint64_t)p[i]->shape[0] == q->channels,
                   "'%s': parameter is not one value per channel", t->name);
        check_view(m, p[i]);
    }
}

/* Each supported tensor: consistent sizes, and its view inside its storage. */
static void check_map(const tmap *m)
{
    FUZZ_CHECK(m->ntensors > 0, "tmap_build succeeded with no tensor");
    FUZZ_CHECK(m->root != NULL, "no root");
    for (size_t i = 0; i < m->ntensors; i++) {
        const tmap_tensor *t = &m->tensors[i];
        FUZZ_CHECK(t->name != NULL, "tensor %zu has no name", i);
        if (!t->supported) {
            FUZZ_CHECK(t->why != NULL && t->why[0] != '\0', "'%s' unsupported, no reason", t->name);
            continue;
        }
        FUZZ_CHECK(t->ndim <= TMAP_MAX_NDIM, "'%s': ndim %zu", t->name, t->ndim);
        check_quant(m, t);
        if (t->storage != TMAP_NO_STORAGE)
            check_view(m, t);
    }
}

/* Is (module, name), as the sweep found it, in the VM's globals table? */
static int vm_named(const pvm *vm, const sweep_global *g)
{
    const uint8_t *mod = g->module, *name = g->name;
    size_t mod_len = g->module_len, name_len = g->name_len;
    if (g->proto < 3)
        pvm_map_python2(&mod, &mod_len, &name, &name_len);
    for (size_t i = 0; i < pvm_global_count(vm); i++) {
        const pvm_global *e = pvm_global_at(vm, i);
        if (strlen(e->module) == mod_len && memcmp(e->module, mod, mod_len) == 0 &&
            strlen(e->name) == name_len && memcmp(e->name, name, name_len) == 0)
            return 1;
    }
    return 0;
}

static void check_sweep(const pvm *vm, const uint8_t *data, size_t size, int accepted)
{
    sweep_report rep;
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = sweep_pickle(data, size, 0, NULL, &rep, &err);
    FUZZ_CHECK(st == C2S_OK, "sweep_pickle failed: %s", err.msg);
    FUZZ_CHECK(rep.end <= size, "sweep end %zu past %zu", rep.end, size);
    for (size_t i = 0; i < rep.count; i++) {
        const sweep_global *g = &rep.globals[i];
        FUZZ_CHECK(g->offset < size, "sweep global at %zu", g->offset);
        int certain = g->module && g->name && (g->op != SWEEP_STACK_GLOBAL || g->adjacent);
        if (accepted && certain && !g->after_resync)
            FUZZ_CHECK(vm_named(vm, g), "sweep names %.*s.%.*s at %zu, the VM did not",
                       (int)g->module_len, (const char *)g->module, (int)g->name_len,
                       (const char *)g->name, g->offset);
    }
    sweep_report_free(&rep);
}

/* t's sizes agree, and its view lies inside its storage. */
static void check_view(const tmap *m, const tmap_tensor *t)
{
    FUZZ_CHECK(t->storage < m->nstorages, "'%s': storage index %zu", t->name, t->storage);
    unsigned __int128 numel = 1, last = t->offset;
    for (size_t d = 0; d < t->ndim; d++) {
        FUZZ_CHECK(t->shape[d] >= 0 && t->stride[d] >= 0, "'%s': negative size or stride", t->name);
        numel *= (uint64_t)t->shape[d];
        if (t->shape[d] > 0)
            last += (unsigned __int128)(uint64_t)(t->shape[d] - 1) * (uint64_t)t->stride[d];
    }
    FUZZ_CHECK(numel == t->numel, "'%s': numel %llu", t->name, (unsigned long long)t->numel);
    size_t es = c2s_dtype_size(t->dtype);
    FUZZ_CHECK(numel * es == t->nbytes, "'%s': nbytes %llu", t->name,
               (unsigned long long)t->nbytes);
    if (numel > 0)
        FUZZ_CHECK((last + 1) * es <= m->storages[t->storage].nbytes,
                   "'%s': view ends past its storage (%llu bytes)", t->name,
                   (unsigned long long)m->storages[t->storage].nbytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pvm_limits limits = fuzz_pvm_limits();
    pvm *vm = pvm_new(&limits);
    FUZZ_CHECK(vm != NULL, "pvm_new failed");

    c2s_error err;
    c2s_error_clear(&err);
    pvm_value *top = NULL;
    size_t end = SIZE_MAX;
    c2s_status st = pvm_run(vm, data, size, &top, &end, &err);
    check_sweep(vm, data, size, st == C2S_OK);
    if (st != C2S_OK) {
        check_failure(st, &err, "pvm_run");
        pvm_free(vm);
        return 0;
    }
    FUZZ_CHECK(top != NULL, "pvm_run succeeded without a result");
    FUZZ_CHECK(end <= size, "end offset %zu past the input (%zu bytes)", end, size);
    FUZZ_CHECK(end > 0 && data[end - 1] == '.', "end offset %zu is not just past a STOP", end);

    /* once per way of reading quantized tensors: each maps them differently */
    static const c2s_quantized MODES[] = {C2S_QUANTIZED_REFUSE, C2S_QUANTIZED_DEQUANTIZE,
                                          C2S_QUANTIZED_RAW};
    for (size_t k = 0; k < sizeof MODES / sizeof MODES[0]; k++) {
        tmap map;
        memset(&map, 0, sizeof map);
        tmap_options to = {.max_depth = FUZZ_MAX_DEPTH, .quantized = MODES[k]};
        c2s_error_clear(&err);
        st = tmap_build(top, pvm_value_count(vm), &to, &map, &err);
        if (st == C2S_OK)
            check_map(&map);
        else
            check_failure(st, &err, "tmap_build");
        tmap_free(&map);
    }
    pvm_free(vm);
    return 0;
}
