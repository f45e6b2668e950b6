/*
 * checkpoint.c - opening a checkpoint: the input once, its reader, the
 * verdict, the tensor map.
 *
 * c2s_open() opens the input (one descriptor for the whole run), lets the
 * format's reader judge it (reader.h), refuses an unsafe file, maps the
 * tensors (tmap.c, or the reader's own map when the format has no pickle:
 * rd_ops.map) and then has the reader check every storage the tensors
 * use, so that a missing or short record is reported before any output is
 * created.
 */
#include "engine/checkpoint.h"
#include "engine/names.h"
#include "util/grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif

#include "reader/judge.h"
#include "reader/rd_npy.h"
#include "st/rd_st.h"

/* The reader's judgement of the input opened (s: how the opening went). */
static c2s_status inspect_opened(c2s_checkpoint *ck, c2s_status s, const c2s_open_options *o,
                                 c2s_error *err)
{
    if (s != C2S_OK) {
        ck->report.format = rd_default_format();
        return s;
    }
    return rd_open(&ck->rd, &ck->in, o, &ck->report, &ck->top, err);
}

c2s_status ckpt_inspect(c2s_checkpoint *ck, const char *path, const c2s_open_options *o,
                        c2s_error *err)
{
    return inspect_opened(ck, rd_input_open(&ck->in, path, err), o, err);
}

c2s_status ckpt_inspect_fd(c2s_checkpoint *ck, int fd, const char *name, const c2s_open_options *o,
                           c2s_error *err)
{
    return inspect_opened(ck, rd_input_open_fd(&ck->in, fd, name, err), o, err);
}

/* Append the reader's notes to the map's (a reader that gave tmap a tree of
 * its own making says there what it left out of it). */
static c2s_status add_reader_notes(c2s_checkpoint *ck, c2s_error *err)
{
    size_t n = 0;
    const char *const *notes = rd_notes(&ck->rd, &n);
    if (n == 0)
        return C2S_OK;
    tmap *m = &ck->map;
    char **grown = realloc(m->notes, (m->nnotes + n) * sizeof *grown);
    if (grown == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    m->notes = grown;
    for (size_t i = 0; i < n; i++) {
        if ((m->notes[m->nnotes] = strdup(notes[i])) == NULL)
            return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
        m->nnotes++;
    }
    return C2S_OK;
}

c2s_status ckpt_map(c2s_checkpoint *ck, const c2s_open_options *o, c2s_error *err)
{
    c2s_status s;
    tmap_options to = {0};
    if (o != NULL) {
        to.key = o->key;
        to.max_depth = o->limits.max_depth;
        to.tensor_name = o->tensor_name;
        to.quantized = o->quantized;
    }
    to.legacy_ids = ck->rd.ops->legacy_ids;
    to.faulter = rd_faulter(&ck->rd);
    if (rd_has_map(&ck->rd)) /* a format with no pickle maps its own tensors */
        s = rd_map(&ck->rd, o, &ck->map, err);
    else if (ck->top == NULL && ck->rd.ops == &rd_st_ops)
        return c2s_fail(err, C2S_ERR_INPUT, "already a safetensors file");
    else if (ck->top == NULL && ck->rd.ops == &rd_npy_ops)
        return c2s_fail(err, C2S_ERR_INPUT, "a NumPy array file, not a PyTorch checkpoint");
    else if (ck->top == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "no object to find tensors in");
    else
        s = tmap_build(ck->top, rd_object_count(&ck->rd), &to, &ck->map, err);
    if (s != C2S_OK) {
        tmap_free(&ck->map);
        return s;
    }
    if ((s = add_reader_notes(ck, err)) != C2S_OK)
        return s;
    return rd_check_storages(&ck->rd, &ck->map, err);
}

static c2s_status keep_scalars(c2s_checkpoint *ck, c2s_error *err);

/* Hand the pages the freed graph held back to the system: glibc keeps freed
 * small blocks in its heap, where they would still count in the resident
 * size under the buffers the conversion allocates next. */
static void give_back_memory(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* Open path, or (path NULL) fd named name: judge, then map.  The object
 * graph is then freed (the map copied what it needs), keeping only the
 * scalars ckpt_metadata may want: on a pickle of many small tensors the
 * graph is most of the memory. */
static c2s_status load(c2s_checkpoint *ck, const char *path, int fd, const char *name,
                       const c2s_open_options *o, c2s_error *err)
{
    c2s_status s = path != NULL ? ckpt_inspect(ck, path, o, err)
                                : ckpt_inspect_fd(ck, fd, name, o, err);
    s = judge_verdict(&ck->report, s, err);
    if (s == C2S_OK)
        s = ckpt_map(ck, o, err);
    if (s == C2S_OK && (s = keep_scalars(ck, err)) == C2S_OK && ck->rd.ops->release != NULL) {
        rd_release(&ck->rd);
        ck->top = NULL;
        give_back_memory();
    }
    return s;
}

static c2s_status open_either(const char *path, int fd, const char *name,
                              const c2s_open_options *opts, c2s_checkpoint **out, c2s_error *err)
{
    *out = NULL;
    c2s_checkpoint *ck = calloc(1, sizeof *ck);
    if (ck == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    ck->in.fd = -1;
    c2s_status st = load(ck, path, fd, name, opts, err);
    if (st != C2S_OK) {
        c2s_close(ck);
        return st;
    }
    *out = ck;
    return C2S_OK;
}

c2s_status c2s_open(const char *path, const c2s_open_options *opts, c2s_checkpoint **out,
                    c2s_error *err)
{
    return open_either(path, -1, NULL, opts, out, err);
}

c2s_status c2s_open_fd(int fd, const char *name, const c2s_open_options *opts, c2s_checkpoint **out,
                       c2s_error *err)
{
    return open_either(NULL, fd, name, opts, out, err);
}

/* ---- metadata ----------------------------------------------------------------- */

#define META_DEPTH 3
#define META_MAX 256
#define META_VALUE_MAX 1024

typedef struct meta_list {
    stw_kv *kv;
    size_t n, cap;
} meta_list;

static int meta_has(const meta_list *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->kv[i].key, key) == 0)
            return 1;
    return 0;
}

/* Append copies of key and value; 0 when out of memory. */
static int meta_add(meta_list *l, const char *key, const char *value)
{
    if (!grow_in_place((void **)&l->kv, &l->cap, l->n + 1, sizeof *l->kv))
        return 0;
    char *k = strdup(key), *v = strdup(value);
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return 0;
    }
    l->kv[l->n++] = (stw_kv){k, v};
    return 1;
}

/* A scalar as Python's str() would print it; 0 for anything else. */
static int scalar_text(const pvm_value *v, char *buf, size_t cap)
{
    switch (v->kind) {
    case PVM_BOOL:
        snprintf(buf, cap, "%s", v->u.b ? "True" : "False");
        return 1;
    case PVM_INT:
        snprintf(buf, cap, "%lld", (long long)v->u.i);
        return 1;
    case PVM_FLOAT:
        snprintf(buf, cap, "%.15g", v->u.f);
        if (strtod(buf, NULL) != v->u.f) /* shortest text that reads back exactly */
            snprintf(buf, cap, "%.17g", v->u.f);
        return 1;
    case PVM_STR:
        if (v->u.str.len >= META_VALUE_MAX)
            return 0;
        snprintf(buf, cap, "%s", v->u.str.data);
        return 1;
    default:
        return 0;
    }
}

/* The dict behind v: a dict, or the items of a dict subclass. */
static const pvm_value *as_dict(const pvm_value *v)
{
    if (v->kind == PVM_DICT)
        return v;
    if (v->kind == PVM_CALL && pvm_call_dictitems(v) != NULL)
        return pvm_call_dictitems(v);
    return NULL;
}

/* Depth is bounded by META_DEPTH, so plain recursion is safe here. */
static int collect_scalars(const pvm_value *v, char *path, size_t len, int depth, meta_list *l)
{
    const pvm_value *d = as_dict(v);
    for (size_t i = 0; d != NULL && i < d->u.dict.len && l->n < META_MAX; i++) {
        const pvm_value *k = d->u.dict.pairs[i].key, *val = d->u.dict.pairs[i].val;
        char ktext[128], vtext[META_VALUE_MAX];
        if (k->kind != PVM_STR || k->u.str.len >= sizeof ktext ||
            len + 1 + k->u.str.len >= META_VALUE_MAX)
            continue;
        snprintf(path + len, META_VALUE_MAX - len, "%s%s", len ? "." : "", k->u.str.data);
        size_t plen = strlen(path);
        if (scalar_text(val, vtext, sizeof vtext)) {
            if (strcmp(path, "format") != 0 && !meta_has(l, path) && !meta_add(l, path, vtext))
                return 0;
        } else if (depth + 1 < META_DEPTH && !collect_scalars(val, path, plen, depth + 1, l)) {
            return 0;
        }
        path[len] = '\0';
    }
    return 1;
}

/* Add key (NAME + suffix) = value unless the user gave that key. */
static int meta_add_quant(meta_list *l, const char *name, const char *suffix, const char *value)
{
    size_t a = strlen(name), b = strlen(suffix);
    char *key = malloc(a + b + 1);
    if (key == NULL)
        return 0;
    memcpy(key, name, a);
    memcpy(key + a, suffix, b + 1);
    int ok = meta_has(l, key) || meta_add(l, key, value);
    free(key);
    return ok;
}

/* For each quantized tensor written raw: NAME.qscheme, NAME.qdtype and, per
 * channel, NAME.axis (the scale and zero point are tensors of their own). */
static int quant_metadata(const tmap *m, const c2s_write_options *sel, meta_list *l)
{
    int ok = 1;
    for (size_t i = 0; i < m->ntensors && ok; i++) {
        const tmap_tensor *t = &m->tensors[i];
        if (!t->supported || t->q.scheme == TMAP_Q_NONE || t->q.dequantize)
            continue;
        char *name = names_output(sel, t->name); /* as written: renamed */
        if (name == NULL)
            return 0;
        int pc = t->q.scheme == TMAP_Q_PER_CHANNEL;
        char axis[32];
        snprintf(axis, sizeof axis, "%zu", tmap_quant_of(m, t)->axis);
        ok = !c2s_selected(sel, name) ||
             (meta_add_quant(l, name, ".qscheme",
                             pc ? "per_channel_affine" : "per_tensor_affine") &&
              meta_add_quant(l, name, ".qdtype", tmap_quant_of(m, t)->qdtype) &&
              (!pc || meta_add_quant(l, name, ".axis", axis)));
        free(name);
    }
    return ok;
}

/* Collect the scalar leaves of ck->top into ck->scalars: the first
 * META_MAX distinct paths in walk order, enough for ckpt_metadata whatever
 * keys precede them there. */
static c2s_status keep_scalars(c2s_checkpoint *ck, c2s_error *err)
{
    meta_list l = {0};
    char path[META_VALUE_MAX] = "";
    if (ck->top != NULL && !collect_scalars(ck->top, path, 0, 0, &l)) {
        ckpt_metadata_free(l.kv, l.n);
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    }
    ck->scalars = l.kv;
    ck->nscalars = l.n;
    return C2S_OK;
}

/* Append the kept scalars to l as collect_scalars would have: those whose
 * key l lacks, in order, while l holds fewer than META_MAX. */
static int add_scalars(const c2s_checkpoint *ck, meta_list *l)
{
    for (size_t i = 0; i < ck->nscalars && l->n < META_MAX; i++)
        if (!meta_has(l, ck->scalars[i].key) &&
            !meta_add(l, ck->scalars[i].key, ck->scalars[i].value))
            return 0;
    return 1;
}

c2s_status ckpt_metadata(c2s_checkpoint *ck, const c2s_kv *user, size_t nuser, int training,
                         const c2s_write_options *sel, stw_kv **out, size_t *n, c2s_error *err)
{
    meta_list l = {0};
    int ok = 1;
    for (size_t i = 0; i < nuser && ok; i++)
        ok = meta_add(&l, user[i].key, user[i].value);
    if (ok)
        ok = quant_metadata(&ck->map, sel, &l);
    if (ok && training)
        ok = add_scalars(ck, &l);
    if (!ok) {
        ckpt_metadata_free(l.kv, l.n);
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    }
    *out = l.kv;
    *n = l.n;
    return C2S_OK;
}

void ckpt_metadata_free(stw_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)kv[i].key);
        free((char *)kv[i].value);
    }
    free(kv);
}

int c2s_big_endian(const c2s_checkpoint *ck)
{
    return rd_big_endian(&ck->rd);
}

void c2s_close(c2s_checkpoint *ck)
{
    if (ck == NULL)
        return;
    c2s_report_free(&ck->report);
    tmap_free(&ck->map);
    ckpt_metadata_free(ck->scalars, ck->nscalars);
    rd_close(&ck->rd);
    rd_input_close(&ck->in);
    free(ck);
}
