/*
 * tmap.c - from the pickle's object graph to the list of tensors (tmap.h).
 *
 * How it works: find the root (default or --key path), then walk the graph
 * depth-first with an explicit stack of frames.  Each frame is a container
 * being enumerated and remembers the length of the dotted name that leads
 * to it.  A frame is either NAMED (tensors found under it are collected) or
 * COUNTED (tensors under it are only counted, for a "left out" note).  A
 * tensor is a PVM_CALL of a rebuild function (a TORCH_REBUILD row of
 * torchtab.h); parse_tensor() checks its storage id, dtype, shape, strides
 * and offset with overflow-checked arithmetic and bounds-checks the view
 * against the storage's size.  A torch.Size(seq) call is read as the tuple
 * seq (size_items()), as torch.load would build it.
 */
#include "torch/tmap.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torch/torchtab.h"
#include "util/grow.h"
#include "util/huge.h"
#include "util/limits.h"
#include "util/strhash.h"
#include "util/utf8.h"

#define DEFAULT_MAX_DEPTH 1000
#define VISITS_BASE 100000ull /* default visit budget: base + 4 per object */
#define VISITS_PER_OBJECT 4ull
#define PATH_SHOWN 60
#define MAX_WRAPPERS 8
#define BIG_GRAPH ((size_t)1 << 20) /* nodes from which the map is a big one (walk_ctx.big) */

enum walk_mode { NAMED, COUNTED };

typedef struct frame {
    const pvm_value *v;
    size_t name_len; /* length of ctx->path for this node */
    size_t next;     /* next child to visit */
    enum walk_mode mode;
    size_t counter; /* COUNTED: index into ctx->counts */
} frame;

typedef struct tensor_counter {
    char *what;      /* the path the note is about */
    const char *why; /* text after the count: "", ", inside a ..." */
    char *why_buf;   /* owned storage for why, or NULL */
    uint64_t n;
} tensor_counter;

/* torchtab's answers for the globals a walk meets, by node (see
 * global_row). */
#define ROW_CACHE 64
typedef struct row_memo {
    const pvm_value *global; /* NULL: empty */
    const torch_global *row; /* torchtab_find's answer (may be NULL) */
} row_memo;

typedef struct walk_ctx {
    const tmap_options *opts;
    row_memo rows[ROW_CACHE];
    size_t max_depth;
    uint64_t max_visits, visits;
    tmap *map;
    unsigned char *onpath; /* a bit by node id: on the walk's current path */
    size_t nobjects;
    int big; /* a graph of BIG_GRAPH nodes or more: the map's memory made for it */
    char *path;
    size_t path_len, path_cap; /* path_len: strlen(path), kept by path_set and step */
    frame *stack;
    size_t depth, stack_cap;
    tensor_counter *counts;
    size_t ncounts, counts_cap;
    size_t tensors_cap, storages_cap, notes_cap, qparams_cap, quants_cap;
    size_t tensors_ahead;    /* bytes of the tensors array asked to be faulted in */
    size_t storages_ahead;   /* and of the storages array */
    int keys_in_order;       /* every storage key so far is its index in decimal */
    uint32_t *storage_slots; /* open-addressing hash of storage keys: indexes, or EMPTY */
    size_t nslots;
    /* A root chosen by name prefix (flat dotted keys): only the entries of
     * prefix_dict whose label begins with prefix + "." are named, without
     * that part; NULL: every child of the root is. */
    const pvm_value *prefix_dict;
    const char *prefix;
    size_t prefix_len;
    /* where in path the first label holding a NUL byte starts (path, a C
     * string, would cut it there), SIZE_MAX when none is on the path */
    size_t nul_at;
    c2s_error *err;
} walk_ctx;

#define EMPTY UINT32_MAX /* an empty slot of the storage and name hashes */

/* Whether v is on the walk's current path (an edge back to it is a cycle). */
static int on_path(const walk_ctx *c, const pvm_value *v)
{
    return (c->onpath[v->id / 8] >> (v->id % 8)) & 1;
}

static void set_on_path(walk_ctx *c, const pvm_value *v, int on)
{
    unsigned char bit = (unsigned char)(1u << (v->id % 8));
    if (on)
        c->onpath[v->id / 8] |= bit;
    else
        c->onpath[v->id / 8] &= (unsigned char)~bit;
}

/* ---- small helpers -------------------------------------------------------- */

static c2s_status oom(walk_ctx *c)
{
    return c2s_fail(c->err, C2S_ERR_INPUT, "out of memory while mapping tensors");
}

static int mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static int add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static const char *display_path(const char *p)
{
    return *p ? p : "(top level)";
}

/* The text a dict key contributes to a name, or 0 when it has none. */
static int key_label(const pvm_value *k, char *buf, size_t cap, const char **out)
{
    switch (k->kind) {
    case PVM_STR:
        *out = k->u.str.data;
        return 1;
    case PVM_INT:
        snprintf(buf, cap, "%lld", (long long)k->u.i);
        *out = buf;
        return 1;
    case PVM_BOOL:
        *out = k->u.b ? "True" : "False";
        return 1;
    case PVM_NONE:
        *out = "None";
        return 1;
    default:
        return 0;
    }
}

/* torch.Size(seq), which the pickle VM leaves a call: seq (a tuple or list)
 * when v is exactly such a call (one sequence argument, no keywords, nothing
 * set on the object afterwards), else NULL.  The map reads a torch.Size as
 * the tuple it is, wherever it appears: a tensor's size, a container, a key. */
static const pvm_value *size_items(const pvm_value *v)
{
    if (v->kind != PVM_CALL || v->u.call.callable == NULL ||
        v->u.call.callable->kind != PVM_GLOBAL || pvm_call_state(v) != NULL ||
        pvm_call_listitems(v) != NULL || pvm_call_dictitems(v) != NULL)
        return NULL;
    const pvm_value *fn = v->u.call.callable, *args = v->u.call.args, *kw = pvm_call_kwargs(v);
    const torch_global *g = torchtab_find(fn->u.global.module, fn->u.global.name);
    if (g == NULL || g->role != TORCH_SIZE || (kw != NULL && kw->u.dict.len != 0) || args == NULL ||
        args->kind != PVM_TUPLE || args->u.seq.len != 1)
        return NULL;
    const pvm_value *seq = args->u.seq.items[0];
    return seq->kind == PVM_TUPLE || seq->kind == PVM_LIST ? seq : NULL;
}

static const pvm_value *module_state(const pvm_value *v);
static c2s_status check_module(walk_ctx *c, const pvm_value *state);

/* The kind name of v as the map sees it: a torch.Size is a tuple, a
 * torch.nn.Module a module. */
static const char *kind_name(const pvm_value *v)
{
    if (module_state(v) != NULL)
        return "module";
    return pvm_kind_name(size_items(v) != NULL ? PVM_TUPLE : v->kind);
}

/* ---- recognising tensors --------------------------------------------------- */

/* torchtab_find() for a PVM_GLOBAL node, remembered by node in a small
 * direct-mapped cache: a pickle names its rebuild function and storage
 * classes once and then reuses the node (memo GET), so the 200,000 tensors
 * of a big state dict cost a handful of table searches instead of a
 * million.  A node's module and name never change, so the answer is
 * exact; a pickle that repeats GLOBAL instead only misses the cache. */
static const torch_global *global_row(walk_ctx *c, const pvm_value *g)
{
    row_memo *m = &c->rows[((uintptr_t)g / sizeof *g) % ROW_CACHE];
    if (m->global != g) {
        m->global = g;
        m->row = torchtab_find(g->u.global.module, g->u.global.name);
    }
    return m->row;
}

/* The rebuild function a call's callable names (TORCH_RB_NONE: not one). */
static torch_rebuild rebuild_of(walk_ctx *c, const pvm_value *callable, const char **why)
{
    if (callable == NULL || callable->kind != PVM_GLOBAL)
        return TORCH_RB_NONE;
    const torch_global *g = global_row(c, callable);
    if (g == NULL || g->role != TORCH_REBUILD)
        return TORCH_RB_NONE;
    *why = g->why;
    return g->rebuild;
}

static int is_tensor_call(walk_ctx *c, const pvm_value *v)
{
    const char *why;
    return v->kind == PVM_CALL && rebuild_of(c, v->u.call.callable, &why) != TORCH_RB_NONE;
}

/* torch.Tensor(values): torch.load builds a tensor from Python values.
 * The map does not rebuild it, and must not leave it out silently. */
static int is_python_built_tensor(const pvm_value *v)
{
    const pvm_value *f = v->kind == PVM_CALL ? v->u.call.callable : NULL;
    return f != NULL && f->kind == PVM_GLOBAL && strcmp(f->u.global.module, "torch") == 0 &&
           strcmp(f->u.global.name, "Tensor") == 0;
}

static const pvm_value *item(const pvm_value *tuple, size_t i)
{
    return i < tuple->u.seq.len ? tuple->u.seq.items[i] : NULL;
}

static c2s_status bad_tensor(walk_ctx *c, const char *fmt, const char *detail)
{
    return c2s_fail(c->err, C2S_ERR_INPUT, "tensor '%s': %s%s", c->path, fmt, detail ? detail : "");
}

/* Room in *array (n items of size bytes in use, *cap allocated) for one
 * more: a big table doubling (util/huge.h: past HUGE_MIN a mapping of its
 * own, moved by mremap), its size in *bytes for tmap_free.  The first
 * allocation holds 8 items, or for a big map (walk_ctx.big) HUGE_MIN
 * bytes at once: a mapping faulted in as it fills, not an array grown
 * through malloc's heap a 4 KiB page fault at a time. */
static int room_for(void **array, size_t n, size_t *cap, size_t *bytes, size_t size, int big)
{
    if (n < *cap)
        return 1;
    size_t grown = *cap ? 2 * *cap : big ? (HUGE_MIN + size - 1) / size : 8;
    if (grown > SIZE_MAX / 2 / size)
        return 0;
    void *a = big_realloc(*array, *cap * size, grown * size);
    if (a == NULL)
        return 0;
    *array = a;
    *cap = grown;
    *bytes = grown * size;
    return 1;
}

static int room_for_tensor(walk_ctx *c)
{
    tmap *m = c->map;
    return room_for((void **)&m->tensors, m->ntensors, &c->tensors_cap, &m->tensors_bytes,
                    sizeof *m->tensors, c->big);
}

/* The tensors and storages arrays are filled in order, and past HUGE_MIN
 * their page faults were the largest left on this thread for a checkpoint
 * of 200,000 tensors: the faulter is asked for each one's next huge page
 * (util/slabs.h). */
static slab_supply *faulter(const walk_ctx *c)
{
    return c->opts != NULL ? c->opts->faulter : NULL;
}

/* a + b (n bytes of a, then the string b) as a piece of the map's text. */
static char *map_strdup(walk_ctx *c, const char *a, size_t n, const char *b)
{
    size_t nb = strlen(b);
    char *s = arena_alloc_bytes(&c->map->text, n + nb + 1);
    if (s != NULL) {
        memcpy(s, a, n);
        memcpy(s + n, b, nb + 1);
    }
    return s;
}

/* The storage index (storage_slots) rebuilt for m's storages at most half
 * full: a key is placed by 32 bits of its strhash, which its storage keeps. */
static c2s_status index_storages(walk_ctx *c)
{
    tmap *m = c->map;
    if (m->nstorages >= EMPTY)
        return oom(c); /* never: each storage is a node, and node ids are 32 bits */
    size_t nslots = c->nslots ? c->nslots : 64;
    while (m->nstorages * 2 >= nslots)
        nslots *= 2;
    uint32_t *slots = malloc(nslots * sizeof *slots);
    if (slots == NULL)
        return oom(c);
    memset(slots, 0xff, nslots * sizeof *slots); /* EMPTY */
    for (size_t s = 0; s < m->nstorages; s++) {
        size_t i = (size_t)m->storages[s].key_hash & (nslots - 1);
        while (slots[i] != EMPTY)
            i = (i + 1) & (nslots - 1);
        slots[i] = (uint32_t)s;
    }
    free(c->storage_slots);
    c->storage_slots = slots;
    c->nslots = nslots;
    return C2S_OK;
}

/* 1 and *n when key is a number in decimal as Python's str() writes it (no
 * sign, no leading zero but in "0" itself), below 10^18. */
static int decimal_key(const char *key, uint64_t *n)
{
    uint64_t v = 0;
    size_t len = 0;
    for (; key[len] >= '0' && key[len] <= '9'; len++) {
        if (len == 18)
            return 0;
        v = v * 10 + (uint64_t)(key[len] - '0');
    }
    if (len == 0 || key[len] != '\0' || (key[0] == '0' && len > 1))
        return 0;
    *n = v;
    return 1;
}

/* The storage *out found for key: it must agree with this use. */
static c2s_status same_storage(walk_ctx *c, size_t at, const char *key, c2s_dtype dt,
                               uint64_t nbytes, size_t *out)
{
    const tmap_storage *s = &c->map->storages[at];
    if (s->nbytes != nbytes || s->dtype != dt)
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "storage '%s' is declared twice with different types or sizes", key);
    *out = at;
    return C2S_OK;
}

/* Find or add the storage for key; checks that every use agrees.
 *
 * torch.save names the storages "0", "1", "2", ... in the order it meets
 * them: while every key so far is its storage's index in decimal
 * (keys_in_order), key n is storage n, or the next one when n is their
 * count, with no lookup at all.  The first other key builds the index of
 * all of them (index_storages), which then serves every lookup: a probe
 * compares the 32 bits of strhash the storages keep before the keys, so
 * that it reads another key only when the hashes agree. */
static c2s_status storage_index(walk_ctx *c, const char *key, size_t klen, c2s_dtype dt,
                                uint64_t nbytes, size_t *out)
{
    tmap *m = c->map;
    uint32_t h = (uint32_t)hash_bytes(key, klen, 0); /* strhash(key): klen is its strlen */
    size_t i = 0;
    uint64_t n;
    if (c->keys_in_order && decimal_key(key, &n) && n <= m->nstorages) {
        if (n < m->nstorages)
            return same_storage(c, (size_t)n, key, dt, nbytes, out);
    } else {
        c2s_status st = C2S_OK;
        if (c->keys_in_order || m->nstorages * 2 >= c->nslots)
            st = index_storages(c);
        c->keys_in_order = 0;
        if (st != C2S_OK)
            return st;
        for (i = (size_t)h & (c->nslots - 1); c->storage_slots[i] != EMPTY;
             i = (i + 1) & (c->nslots - 1)) {
            const tmap_storage *s = &m->storages[c->storage_slots[i]];
            if (s->key_hash == h && strcmp(s->key, key) == 0)
                return same_storage(c, c->storage_slots[i], key, dt, nbytes, out);
        }
    }
    if (!room_for((void **)&m->storages, m->nstorages, &c->storages_cap, &m->storages_bytes,
                  sizeof *m->storages, c->big))
        return oom(c);
    slab_supply_fill_ahead(faulter(c), m->storages, m->nstorages * sizeof *m->storages,
                           m->storages_bytes, &c->storages_ahead);
    char *k = map_strdup(c, key, klen, "");
    if (k == NULL)
        return oom(c);
    m->storages[m->nstorages] =
        (tmap_storage){.key = k, .dtype = dt, .key_hash = h, .nbytes = nbytes};
    if (!c->keys_in_order)
        c->storage_slots[i] = (uint32_t)m->nstorages;
    *out = m->nstorages++;
    return C2S_OK;
}

/* A legacy storage view: elements [off, off + len) of the storage. */
typedef struct storage_view {
    int on;
    uint64_t off, len;
} storage_view;

/* The sixth item of a legacy id: None, or (view_key, offset, numel). */
static c2s_status parse_view(walk_ctx *c, const pvm_value *v, storage_view *view)
{
    if (v->kind == PVM_NONE)
        return C2S_OK;
    if (v->kind != PVM_TUPLE || v->u.seq.len != 3 || item(v, 0)->kind != PVM_STR ||
        item(v, 1)->kind != PVM_INT || item(v, 2)->kind != PVM_INT || item(v, 1)->u.i < 0 ||
        item(v, 2)->u.i < 0)
        return bad_tensor(c, "bad storage view in persistent id (expected (key, offset, numel))",
                          NULL);
    *view = (storage_view){1, (uint64_t)item(v, 1)->u.i, (uint64_t)item(v, 2)->u.i};
    return C2S_OK;
}

/* ('storage', torch.XStorage, key, location, numel), and in the legacy
 * format a sixth item, the view (parse_view). */
/* The element type of a storage class (a PVM_GLOBAL): torch.<Name>Storage
 * or torch.cuda.<Name>Storage as torch.<Name>Storage is, the quantized
 * ones (QInt8Storage, ...) only when quantized.  A torch.X row comes from
 * the walk's cache (global_row). */
static c2s_dtype_lookup storage_class(walk_ctx *c, const pvm_value *cls, int quantized,
                                      c2s_dtype *dt, const char **why)
{
    const char *module = cls->u.global.module, *name = cls->u.global.name;
    int torch = strcmp(module, "torch") == 0;
    if (!torch && strcmp(module, "torch.cuda") != 0)
        return C2S_DTYPE_UNKNOWN;
    if (quantized && c2s_dtype_from_quantized_storage(name, dt))
        return C2S_DTYPE_FOUND;
    if (!torch) /* torch.cuda.X: read as torch.X */
        return c2s_dtype_from_storage_class(name, dt, why);
    return c2s_dtype_from_row(global_row(c, cls), TORCH_STORAGE, dt, why);
}

static c2s_status parse_storage(walk_ctx *c, const pvm_value *persid, tmap_tensor *t, int quantized,
                                c2s_dtype *storage_dt, storage_view *view)
{
    if (persid == NULL || persid->kind != PVM_PERSID)
        return bad_tensor(c, "its storage is not a persistent id", NULL);
    const pvm_value *pid = persid->u.persid.pid;
    size_t want = c->opts && c->opts->legacy_ids ? 6 : 5;
    if (pid->kind != PVM_TUPLE || pid->u.seq.len != want || item(pid, 0)->kind != PVM_STR ||
        !pvm_str_is(item(pid, 0), "storage", 7) || item(pid, 1)->kind != PVM_GLOBAL ||
        item(pid, 2)->kind != PVM_STR || item(pid, 4)->kind != PVM_INT)
        return bad_tensor(c,
                          want == 6 ? "bad persistent id (expected ('storage', class, key, "
                                      "location, numel, view))"
                                    : "bad persistent id (expected ('storage', class, key, "
                                      "location, numel))",
                          NULL);
    if (want == 6) {
        c2s_status st = parse_view(c, item(pid, 5), view);
        if (st != C2S_OK)
            return st;
    }
    const pvm_value *cls = item(pid, 1);
    const char *why = NULL;
    c2s_dtype_lookup found = storage_class(c, cls, quantized, storage_dt, &why);
    switch (found) {
    case C2S_DTYPE_FOUND:
        break;
    case C2S_DTYPE_UNSUPPORTED:
        t->supported = 0;
        t->why = why;
        return C2S_OK;
    case C2S_DTYPE_UNKNOWN:
        return c2s_fail(c->err, C2S_ERR_INPUT, "tensor '%s': unknown storage class %s.%s", c->path,
                        cls->u.global.module, cls->u.global.name);
    }
    const char *key = item(pid, 2)->u.str.data;
    size_t klen = item(pid, 2)->u.str.len;
    /* keys 'a\0x' and 'a\0y' are two storages to torch.load, 'a' to C */
    if (pvm_str_has_nul(item(pid, 2)))
        return bad_tensor(c, "storage key in persistent id holds a NUL byte", NULL);
    if (klen == 0 || klen > C2S_STORAGE_KEY_MAX || memchr(key, '/', klen) != NULL ||
        (key[0] == '.' && (klen == 1 || (klen == 2 && key[1] == '.'))))
        return bad_tensor(c, "invalid storage key in persistent id", NULL);
    int64_t numel = item(pid, 4)->u.i;
    uint64_t nbytes;
    if (numel < 0 || !mul_u64((uint64_t)numel, c2s_dtype_size(*storage_dt), &nbytes))
        return bad_tensor(c, "invalid storage size in persistent id", NULL);
    return storage_index(c, key, klen, *storage_dt, nbytes, &t->storage);
}

static c2s_status parse_int_tuple(walk_ctx *c, const pvm_value *v, const char *what, int64_t *out,
                                  size_t *n)
{
    if (v != NULL && size_items(v) != NULL)
        v = size_items(v);
    if (v == NULL || (v->kind != PVM_TUPLE && v->kind != PVM_LIST))
        return c2s_fail(c->err, C2S_ERR_INPUT, "tensor '%s': %s is not a tuple", c->path, what);
    if (v->how & PVM_CHANGED_AFTER_TAKEN) /* torch copied the list when it was called */
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "tensor '%s': its %s list was changed (APPEND or SETITEM) after the call "
                        "that took it, which torch does not see",
                        c->path, what);
    if (v->u.seq.len > TMAP_MAX_NDIM)
        return c2s_fail(c->err, C2S_ERR_INPUT, "tensor '%s': more than %d dimensions", c->path,
                        TMAP_MAX_NDIM);
    for (size_t i = 0; i < v->u.seq.len; i++) {
        const pvm_value *x = v->u.seq.items[i];
        if (x->kind != PVM_INT)
            return c2s_fail(c->err, C2S_ERR_INPUT, "tensor '%s': %s holds a non-integer", c->path,
                            what);
        if (x->u.i < 0)
            return c2s_fail(c->err, C2S_ERR_INPUT, "tensor '%s': negative %s %lld", c->path,
                            strcmp(what, "size") == 0 ? "size" : "stride", (long long)x->u.i);
        out[i] = x->u.i;
    }
    *n = v->u.seq.len;
    return C2S_OK;
}

/* Element count and extent of the view; checks it lies inside its storage
 * (or, limit not UINT64_MAX, inside its first limit bytes). */
static c2s_status check_view(walk_ctx *c, tmap_tensor *t, uint64_t limit)
{
    uint64_t numel = 1, last = t->offset, expect = 1;
    int contiguous = 1;
    for (size_t i = t->ndim; i-- > 0;) {
        uint64_t n = (uint64_t)t->shape[i], step;
        if (!mul_u64(numel, n, &numel))
            return bad_tensor(c, "element count overflows", NULL);
        if (n > 1 && (uint64_t)t->stride[i] != expect)
            contiguous = 0;
        if (!mul_u64(expect, n, &expect))
            expect = UINT64_MAX;
        if (n > 0 &&
            (!mul_u64(n - 1, (uint64_t)t->stride[i], &step) || !add_u64(last, step, &last)))
            return bad_tensor(c, "view extent overflows", NULL);
    }
    size_t es = c2s_dtype_size(t->dtype);
    if (!mul_u64(numel, es, &t->nbytes) || t->nbytes > (UINT64_MAX >> 2))
        return bad_tensor(c, "byte size overflows", NULL);
    t->numel = numel;
    t->contiguous = contiguous;
    if (numel == 0)
        return C2S_OK;
    uint64_t end_bytes;
    const tmap_storage *s = &c->map->storages[t->storage];
    if (!add_u64(last, 1, &end_bytes) || !mul_u64(end_bytes, es, &end_bytes) ||
        end_bytes > s->nbytes || end_bytes > limit)
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "tensor '%s': view (offset %llu, shape and strides) reaches past the "
                        "end of storage '%s' (%llu bytes)",
                        c->path, (unsigned long long)t->offset, s->key,
                        (unsigned long long)s->nbytes);
    return C2S_OK;
}

/* A tensor on a legacy storage view: inside the view, which is inside the
 * storage; its offset becomes one into the storage. */
static c2s_status view_in_storage(walk_ctx *c, tmap_tensor *t, const storage_view *view)
{
    size_t es = c2s_dtype_size(t->dtype);
    uint64_t limit, view_end, off;
    const tmap_storage *s = &c->map->storages[t->storage];
    if (!mul_u64(view->len, es, &limit) || !add_u64(view->off, view->len, &view_end) ||
        !mul_u64(view_end, es, &view_end) || view_end > s->nbytes)
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "tensor '%s': storage view (offset %llu, %llu elements) reaches past "
                        "the end of storage '%s' (%llu bytes)",
                        c->path, (unsigned long long)view->off, (unsigned long long)view->len,
                        s->key, (unsigned long long)s->nbytes);
    c2s_status st = check_view(c, t, limit);
    if (st != C2S_OK)
        return st;
    if (!add_u64(t->offset, view->off, &off))
        return bad_tensor(c, "view extent overflows", NULL);
    t->offset = off;
    return C2S_OK;
}

/* None, or a dict with nothing in it (nor items SETITEM gave it). */
static int empty_metadata(const pvm_value *v)
{
    if (v->kind == PVM_NONE)
        return 1;
    return v->kind == PVM_DICT && v->u.dict.len == 0;
}

/* _rebuild_tensor(storage, offset, size, stride[, ...]) and v2 / v3; and
 * the same four first arguments of _rebuild_qtensor (kind QTENSOR), whose
 * storage class names its integer type. */
static c2s_status parse_dense(walk_ctx *c, torch_rebuild kind, const pvm_value *args,
                              tmap_tensor *t)
{
    size_t need = kind == TORCH_RB_V3 ? 7 : kind == TORCH_RB_QTENSOR ? 5 : 4;
    if (args->kind != PVM_TUPLE || args->u.seq.len < need)
        return bad_tensor(c, "rebuild call has too few arguments", NULL);
    c2s_dtype storage_dt = C2S_U8;
    storage_view view = {0};
    c2s_status st = parse_storage(c, item(args, 0), t, kind == TORCH_RB_QTENSOR, &storage_dt,
                                  &view);
    if (st != C2S_OK || !t->supported)
        return st;
    t->dtype = storage_dt;
    /* PyTorch 2's v2 and v3 take tensor metadata after their arguments
     * (set_tensor_metadata: bits such as a lazy negation that change the
     * values torch hands out); 1.13 refuses the extra argument.  A tensor
     * with metadata is not what its storage bytes say. */
    size_t meta_at = kind == TORCH_RB_V3 ? 7 : kind == TORCH_RB_V2 ? 6 : SIZE_MAX;
    if (meta_at < args->u.seq.len && !empty_metadata(item(args, meta_at))) {
        t->supported = 0;
        t->why = "tensor metadata (set_tensor_metadata)";
        return C2S_OK;
    }
    if (kind == TORCH_RB_V3) {
        const pvm_value *dt = item(args, 6);
        const char *why = NULL;
        if (dt->kind != PVM_GLOBAL || strcmp(dt->u.global.module, "torch") != 0)
            return bad_tensor(c, "dtype argument is not a torch dtype", NULL);
        switch (c2s_dtype_from_torch_name(dt->u.global.name, &t->dtype, &why)) {
        case C2S_DTYPE_FOUND:
            break;
        case C2S_DTYPE_UNSUPPORTED:
            t->supported = 0;
            t->why = why;
            return C2S_OK;
        case C2S_DTYPE_UNKNOWN:
            return bad_tensor(c, "unknown dtype torch.", dt->u.global.name);
        }
    }
    const pvm_value *off = item(args, 1);
    if (off->kind != PVM_INT || off->u.i < 0)
        return bad_tensor(c, "storage offset is not a non-negative integer", NULL);
    t->offset = (uint64_t)off->u.i;
    int64_t shape[TMAP_MAX_NDIM], stride[TMAP_MAX_NDIM];
    size_t nstride = 0;
    st = parse_int_tuple(c, item(args, 2), "size", shape, &t->ndim);
    if (st == C2S_OK)
        st = parse_int_tuple(c, item(args, 3), "stride", stride, &nstride);
    if (st != C2S_OK)
        return st;
    if (nstride != t->ndim)
        return bad_tensor(c, "size and stride have different lengths", NULL);
    t->shape = arena_alloc(&c->map->text, (2 * t->ndim + 1) * sizeof *t->shape);
    if (t->shape == NULL)
        return oom(c);
    t->stride = t->shape + t->ndim;
    memcpy(t->shape, shape, t->ndim * sizeof *shape);
    memcpy(t->stride, stride, t->ndim * sizeof *stride);
    if (!view.on)
        return check_view(c, t, UINT64_MAX);
    return view_in_storage(c, t, &view);
}

/* ---- quantized tensors ----------------------------------------------------- */

static c2s_status parse_tensor(walk_ctx *c, const pvm_value *call, tmap_tensor *t,
                               tmap_tensor *params, size_t *nparams);

static const char *qdtype_name(c2s_dtype dt)
{
    return dt == C2S_I8 ? "qint8" : dt == C2S_U8 ? "quint8" : "qint32";
}

/* One of the 1-d per-channel tensors (scales or zero points) of a tensor
 * quantized along axis: a dense tensor of channels elements of one of the
 * types dt1, dt2. */
static c2s_status parse_channel_tensor(walk_ctx *c, const pvm_value *v, const char *what,
                                       uint64_t channels, c2s_dtype dt1, c2s_dtype dt2,
                                       tmap_tensor *out)
{
    if (v->kind != PVM_CALL || !is_tensor_call(c, v))
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "tensor '%s': per-channel quantization: the %s are not a tensor", c->path,
                        what);
    c2s_status st = parse_tensor(c, v, out, NULL, NULL);
    if (st == C2S_OK && out->supported && out->ndim == 1 &&
        (out->dtype == dt1 || out->dtype == dt2) && (uint64_t)out->shape[0] == channels)
        return C2S_OK;
    out->shape = NULL; /* the caller keeps only what succeeded (the piece stays in the text) */
    if (st != C2S_OK)
        return st;
    return c2s_fail(c->err, C2S_ERR_INPUT,
                    "tensor '%s': per-channel quantization: the %s are not a 1-d %s or %s "
                    "tensor of one value per channel",
                    c->path, what, c2s_dtype_name(dt1), c2s_dtype_name(dt2));
}

static c2s_status qparams_fail(walk_ctx *c, const char *detail)
{
    return bad_tensor(c, "quantizer parameters: ", detail);
}

/* A new zeroed entry of map->quants for quantized tensor t (t->q.info says
 * which); *out is valid until the array grows. */
static c2s_status quant_new(walk_ctx *c, tmap_tensor *t, tmap_quant **out)
{
    tmap *m = c->map;
    if (m->nquants >= UINT32_MAX)
        return c2s_fail(c->err, C2S_ERR_INPUT, "more than %" PRIu32 " quantized tensors",
                        UINT32_MAX);
    if (!grow_in_place((void **)&m->quants, &c->quants_cap, m->nquants + 1, sizeof *m->quants))
        return oom(c);
    t->q.info = (uint32_t)m->nquants;
    *out = &m->quants[m->nquants++];
    memset(*out, 0, sizeof **out);
    return C2S_OK;
}

/* (torch.per_tensor_affine, scale, zero_point) or (torch.per_channel_affine,
 * scales, zero_points, axis), the fifth argument of _rebuild_qtensor. */
static c2s_status parse_qparams(walk_ctx *c, const pvm_value *qp, tmap_tensor *t,
                                tmap_tensor *params, size_t *nparams)
{
    const pvm_value *scheme = qp->kind == PVM_TUPLE ? item(qp, 0) : NULL;
    if (scheme == NULL || scheme->kind != PVM_GLOBAL ||
        strcmp(scheme->u.global.module, "torch") != 0)
        return qparams_fail(c, "not a tuple starting with a torch quantization scheme");
    const char *name = scheme->u.global.name;
    int per_tensor = strcmp(name, "per_tensor_affine") == 0;
    if (!per_tensor && strcmp(name, "per_channel_affine") != 0) {
        t->supported = 0;
        t->why = strcmp(name, "per_channel_affine_float_qparams") == 0
                     ? "quantized tensor (per_channel_affine_float_qparams)"
                     : "quantized tensor (unknown scheme)";
        return C2S_OK;
    }
    tmap_quant *q = NULL;
    c2s_status st = quant_new(c, t, &q);
    if (st != C2S_OK)
        return st;
    q->qdtype = qdtype_name(t->dtype);
    if (per_tensor) {
        const pvm_value *scale = item(qp, 1), *zp = item(qp, 2);
        if (qp->u.seq.len != 3 || (scale->kind != PVM_FLOAT && scale->kind != PVM_INT) ||
            zp->kind != PVM_INT)
            return qparams_fail(c, "expected (per_tensor_affine, scale, zero_point)");
        t->q.scheme = TMAP_Q_PER_TENSOR;
        q->scale = scale->kind == PVM_FLOAT ? scale->u.f : (double)scale->u.i;
        q->zero_point = zp->u.i;
        return C2S_OK;
    }
    const pvm_value *axis = qp->u.seq.len == 4 ? item(qp, 3) : NULL;
    if (axis == NULL || axis->kind != PVM_INT || axis->u.i < 0 || (uint64_t)axis->u.i >= t->ndim)
        return qparams_fail(c, "expected (per_channel_affine, scales, zero_points, axis) "
                               "with an axis of the tensor");
    t->q.scheme = TMAP_Q_PER_CHANNEL;
    q->axis = (size_t)axis->u.i;
    q->channels = (uint64_t)t->shape[q->axis];
    q->inner = 1;
    for (size_t d = q->axis + 1; d < t->ndim; d++)
        q->inner *= (uint64_t)t->shape[d]; /* no overflow: numel was checked */
    if (q->inner == 0)
        q->inner = 1;
    uint64_t channels = q->channels; /* q moves if the array grows */
    st = parse_channel_tensor(c, item(qp, 1), "scales", channels, C2S_F64, C2S_F32, &params[0]);
    if (st != C2S_OK)
        return st;
    *nparams = 1;
    st = parse_channel_tensor(c, item(qp, 2), "zero points", channels, C2S_I64, C2S_I32,
                              &params[1]);
    if (st == C2S_OK)
        *nparams = 2;
    return st;
}

/* _rebuild_qtensor(storage, offset, size, stride, qparams, ...): a tensor
 * of the storage's integers, with how they become values. */
static c2s_status parse_qtensor(walk_ctx *c, const pvm_value *args, tmap_tensor *t,
                                tmap_tensor *params, size_t *nparams)
{
    c2s_quantized mode = c->opts ? c->opts->quantized : C2S_QUANTIZED_REFUSE;
    if (mode == C2S_QUANTIZED_REFUSE || params == NULL) {
        t->supported = 0;
        t->why = params == NULL ? "quantized tensor of quantizer parameters" : "quantized tensor";
        return C2S_OK;
    }
    c2s_status st = parse_dense(c, TORCH_RB_QTENSOR, args, t);
    if (st != C2S_OK || !t->supported)
        return st;
    if (t->dtype != C2S_I8 && t->dtype != C2S_U8 && t->dtype != C2S_I32)
        return bad_tensor(c, "quantized tensor on a storage that is not qint8, quint8 or qint32",
                          NULL);
    t->q.dequantize = mode == C2S_QUANTIZED_DEQUANTIZE;
    return parse_qparams(c, item(args, 4), t, params, nparams);
}

/* ---- any tensor ------------------------------------------------------------- */

/* Unwrap Parameter and subclass wrappers down to a dense rebuild call.  A
 * quantized tensor's per-channel scales and zero points go to params (at
 * most 2; *nparams says how many); params NULL: a quantized tensor is not
 * expected here. */
/* 1 when the pickle did more to a rebuilt value than torch.save does:
 * BUILD (torch.load would hand the state to Tensor.__setstate__, which can
 * replace the data) or APPEND/SETITEM.  Such a tensor is not what the
 * rebuild arguments say, so it is refused, never converted differently. */
static int changed_after_rebuild(const pvm_value *call)
{
    return pvm_call_state(call) != NULL || pvm_call_listitems(call) != NULL ||
           pvm_call_dictitems(call) != NULL;
}

static c2s_status parse_tensor(walk_ctx *c, const pvm_value *call, tmap_tensor *t,
                               tmap_tensor *params, size_t *nparams)
{
    const pvm_value *callable = call->u.call.callable;
    const pvm_value *args = call->u.call.args;
    t->supported = 1;
    if (changed_after_rebuild(call))
        return bad_tensor(c,
                          "its rebuild call was changed afterwards (BUILD, APPEND or SETITEM), "
                          "which torch.load would apply",
                          NULL);
    for (int depth = 0; depth < MAX_WRAPPERS; depth++) {
        const char *why = NULL;
        torch_rebuild kind = rebuild_of(c, callable, &why);
        if (args == NULL || args->kind != PVM_TUPLE)
            return bad_tensor(c, "rebuild call without an argument tuple", NULL);
        switch (kind) {
        case TORCH_RB_V1:
        case TORCH_RB_V2:
        case TORCH_RB_V3:
            return parse_dense(c, kind, args, t);
        case TORCH_RB_QTENSOR:
            return parse_qtensor(c, args, t, params, nparams);
        case TORCH_RB_UNSUPPORTED:
            t->supported = 0;
            t->why = why;
            return C2S_OK;
        case TORCH_RB_PARAM: {
            const pvm_value *inner = item(args, 0);
            if (inner == NULL || inner->kind != PVM_CALL)
                return bad_tensor(c, "parameter does not wrap a tensor", NULL);
            if (changed_after_rebuild(inner))
                return bad_tensor(c,
                                  "its rebuild call was changed afterwards (BUILD, APPEND or "
                                  "SETITEM), which torch.load would apply",
                                  NULL);
            callable = inner->u.call.callable;
            args = inner->u.call.args;
            break;
        }
        case TORCH_RB_FROM_TYPE:
            if (args->u.seq.len < 3)
                return bad_tensor(c, "rebuild call has too few arguments", NULL);
            callable = item(args, 0);
            args = item(args, 2);
            break;
        case TORCH_RB_NONE:
            return bad_tensor(c, "wrapped object is not a tensor", NULL);
        }
    }
    return bad_tensor(c, "too many nested tensor wrappers", NULL);
}

static c2s_status path_set(walk_ctx *c, size_t base, const char *label);

/* A copy of c->path + suffix, or NULL when out of memory. */
static char *path_with(walk_ctx *c, const char *suffix)
{
    return map_strdup(c, c->path, c->path_len, suffix);
}

/* A scalar that is no storage's: the raw scale (F64) or zero point (I64)
 * of a tensor quantized per tensor. */
static c2s_status inline_scalar(walk_ctx *c, c2s_dtype dt, uint64_t bits, tmap_tensor *t)
{
    memset(t, 0, sizeof *t);
    t->supported = 1;
    t->dtype = dt;
    t->storage = TMAP_NO_STORAGE;
    t->numel = 1;
    t->nbytes = 8;
    t->contiguous = 1;
    for (int i = 0; i < 8; i++)
        t->inline_bytes[i] = (unsigned char)(bits >> (8 * i));
    t->shape = arena_alloc(&c->map->text, sizeof *t->shape);
    return t->shape ? C2S_OK : oom(c);
}

/* The tensors that follow a quantized tensor t: raw, NAME.scale and
 * NAME.zero_point (params, or inline scalars per tensor); dequantized per
 * channel, the scales and zero points go to map->qparams instead. */
static c2s_status add_qparams(walk_ctx *c, tmap_tensor *t, tmap_tensor *params, size_t n)
{
    tmap *m = c->map;
    if (t->q.dequantize && t->q.scheme == TMAP_Q_PER_TENSOR)
        return C2S_OK;
    if (t->q.dequantize) {
        if (!grow_in_place((void **)&m->qparams, &c->qparams_cap, m->nqparams + 2,
                           sizeof *m->qparams))
            return oom(c);
        if (m->nqparams > UINT32_MAX - 2)
            return oom(c); /* never: two per tensor, and tensors are nodes (32-bit ids) */
        t->q.scales = (uint32_t)m->nqparams;
        t->q.zero_points = (uint32_t)m->nqparams + 1;
        m->qparams[m->nqparams++] = params[0];
        m->qparams[m->nqparams++] = params[1];
        params[0].shape = params[1].shape = NULL; /* the map owns them now */
        return C2S_OK;
    }
    if (t->q.scheme == TMAP_Q_PER_TENSOR) {
        const tmap_quant *q = tmap_quant_of(m, t);
        uint64_t scale_bits;
        memcpy(&scale_bits, &q->scale, 8);
        uint64_t zero_point = (uint64_t)q->zero_point; /* q moves if the array grows */
        c2s_status st = inline_scalar(c, C2S_F64, scale_bits, &params[0]);
        if (st == C2S_OK)
            st = inline_scalar(c, C2S_I64, zero_point, &params[1]);
        if (st != C2S_OK)
            return st;
        n = 2;
    }
    static const char *const SUFFIX[] = {".scale", ".zero_point"};
    for (size_t i = 0; i < n; i++) {
        if (!room_for_tensor(c))
            return oom(c);
        if ((params[i].name = path_with(c, SUFFIX[i])) == NULL)
            return oom(c);
        m->tensors[m->ntensors++] = params[i];
        params[i].shape = NULL; /* the map owns it now */
    }
    return C2S_OK;
}

static c2s_status add_tensor(walk_ctx *c, const pvm_value *call)
{
    tmap *m = c->map;
    if (*c->path == '\0') {
        const char *name = c->opts && c->opts->tensor_name ? c->opts->tensor_name : "tensor";
        c2s_status st = *name ? path_set(c, 0, name)
                              : c2s_fail(c->err, C2S_ERR_INPUT,
                                         "the name for the root tensor "
                                         "is empty");
        if (st != C2S_OK)
            return st;
    }
    if (!room_for_tensor(c))
        return oom(c);
    slab_supply_fill_ahead(faulter(c), m->tensors, m->ntensors * sizeof *m->tensors,
                           m->tensors_bytes, &c->tensors_ahead);
    tmap_tensor *t = &m->tensors[m->ntensors];
    memset(t, 0, sizeof *t);
    tmap_tensor params[2];
    size_t nparams = 0;
    memset(params, 0, sizeof params);
    c2s_status st = parse_tensor(c, call, t, params, &nparams);
    size_t n = c->path_len, good = utf8_valid_prefix((const unsigned char *)c->path, n);
    if (st == C2S_OK && c->nul_at != SIZE_MAX)
        st = c2s_fail(c->err, C2S_ERR_INPUT,
                      "tensor name '%s...' holds a NUL byte (torch.load keeps the whole dict "
                      "key): such a name is not converted",
                      c->path);
    if (st == C2S_OK && good < n)
        st = c2s_fail(c->err, C2S_ERR_INPUT,
                      "tensor name '%.*s...' is not valid UTF-8 after %zu bytes (a lone "
                      "surrogate?): safetensors names must be UTF-8",
                      (int)good, c->path, good);
    if (st == C2S_OK && (t->name = map_strdup(c, c->path, n, "")) == NULL)
        st = oom(c);
    if (st != C2S_OK)
        return st; /* (what t and params hold is in the map's text) */
    m->ntensors++;
    if (!t->supported || t->q.scheme == TMAP_Q_NONE)
        return C2S_OK;
    size_t at = m->ntensors - 1;
    tmap_tensor main_copy = *t; /* t moves when the array grows */
    st = add_qparams(c, &main_copy, params, nparams);
    m->tensors[at].q = main_copy.q;
    return st;
}

/* ---- the walk ------------------------------------------------------------ */

/* Set path to path[0..base) + "." + label. */
static c2s_status path_set(walk_ctx *c, size_t base, const char *label)
{
    size_t ll = strlen(label);
    size_t need = base + 1 + ll + 1;
    if (!grow_in_place((void **)&c->path, &c->path_cap, need, 1))
        return oom(c);
    size_t at = base;
    if (base > 0)
        c->path[at++] = '.';
    memcpy(c->path + at, label, ll + 1);
    c->path_len = at + ll;
    return C2S_OK;
}

/* A counter for a "left out" note about what; why follows the count. */
static c2s_status new_counter(walk_ctx *c, const char *what, const char *why, size_t *idx)
{
    if (!grow_in_place((void **)&c->counts, &c->counts_cap, c->ncounts + 1, sizeof *c->counts))
        return oom(c);
    tensor_counter k = {strdup(what), "", NULL, 0};
    if (*why != '\0')
        k.why = k.why_buf = strdup(why);
    if (k.what == NULL || k.why == NULL) {
        free(k.what);
        free(k.why_buf);
        return oom(c);
    }
    c->counts[c->ncounts] = k;
    *idx = c->ncounts++;
    return C2S_OK;
}

static int is_container(const pvm_value *v)
{
    switch (v->kind) {
    case PVM_DICT:
    case PVM_LIST:
    case PVM_TUPLE:
    case PVM_SET:
    case PVM_FROZENSET:
    case PVM_CALL:
        return 1;
    default:
        return 0;
    }
}

static c2s_status visit(walk_ctx *c, const pvm_value *v, size_t name_len, enum walk_mode mode,
                        size_t counter)
{
    if (++c->visits > c->max_visits)
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "object graph too large: more than %llu nodes visited "
                        "(deeply shared sub-structures?)",
                        (unsigned long long)c->max_visits);
    if (mode != COUNTED && is_python_built_tensor(v))
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "tensor '%s': built by torch.Tensor(...) from Python values, which "
                        "this tool does not rebuild",
                        c->path);
    if (v->kind == PVM_CALL && is_tensor_call(c, v)) {
        if (mode == COUNTED) {
            c->counts[counter].n++;
            return C2S_OK;
        }
        return add_tensor(c, v);
    }
    if (!is_container(v) || on_path(c, v))
        return C2S_OK; /* a leaf, or an edge back into the current path */
    const pvm_value *state = module_state(v);
    if (state != NULL) {
        c2s_status st = check_module(c, state);
        if (st != C2S_OK)
            return st;
    }
    if (c->depth >= c->max_depth)
        return c2s_fail_rule(c->err, C2S_ERR_INPUT, C2S_RULE_MAX_DEPTH,
                             "nesting deeper than %zu levels at '%.*s%s'", c->max_depth, PATH_SHOWN,
                             display_path(c->path), strlen(c->path) > PATH_SHOWN ? "..." : "");
    if (!grow_in_place((void **)&c->stack, &c->stack_cap, c->depth + 1, sizeof *c->stack))
        return oom(c);
    c->stack[c->depth++] = (frame){v, name_len, 0, mode, counter};
    set_on_path(c, v, 1);
    return C2S_OK;
}

/* What torch's Module.__setstate__ and state_dict() would make of a
 * module's state otherwise than module_child reads it: the state changed
 * after its BUILD (__setstate__ copied it then); a
 * _non_persistent_buffers_set that is not a set (state_dict() tests `in`
 * on whatever it is: a str tests substrings); and, with no
 * _is_full_backward_hook in the state, an entry of that name, which
 * __setstate__ sets to None through Module.__setattr__. */
static c2s_status check_module(walk_ctx *c, const pvm_value *state)
{
    const char *why = NULL;
    const pvm_value *np = pvm_dict_get_str(state, "_non_persistent_buffers_set");
    if (state->how & PVM_CHANGED_AFTER_TAKEN)
        why = "its state was changed (SETITEM) after its BUILD, which torch does not see";
    else if (np != NULL && np->kind != PVM_SET && np->kind != PVM_FROZENSET)
        why = "its _non_persistent_buffers_set is not a set";
    else if (pvm_dict_get_str(state, "_is_full_backward_hook") == NULL) {
        static const char *const PARTS[] = {"_parameters", "_buffers", "_modules"};
        for (size_t i = 0; i < 3 && why == NULL; i++)
            if (pvm_dict_get_str(pvm_dict_get_str(state, PARTS[i]), "_is_full_backward_hook"))
                why = "an entry named _is_full_backward_hook, which torch.load sets to None";
    }
    if (why == NULL)
        return C2S_OK;
    return c2s_fail(c->err, C2S_ERR_INPUT, "module at '%s': %s", display_path(c->path), why);
}

typedef struct child {
    const pvm_value *v;
    const pvm_value *key; /* dict entries */
    size_t index;         /* sequence items */
    int attribute;        /* an object's args or state: never named */
} child;

/* ---- modules: torch.save(model) ------------------------------------------- */

static const pvm_value *dict_entry(const pvm_value *d, const char *key, pvm_kind kind)
{
    const pvm_value *v = pvm_dict_get_str(d, key);
    return v != NULL && v->kind == kind ? v : NULL;
}

/* The __dict__ of a torch.nn.Module, as the BUILD of its pickle gives it (a
 * dict holding the dicts _parameters, _buffers and _modules), when v is
 * such an object; else NULL. */
static const pvm_value *module_state(const pvm_value *v)
{
    if (v->kind != PVM_CALL || pvm_call_state(v) == NULL || pvm_call_state(v)->kind != PVM_DICT)
        return NULL;
    const pvm_value *s = pvm_call_state(v);
    return dict_entry(s, "_parameters", PVM_DICT) && dict_entry(s, "_buffers", PVM_DICT) &&
                   dict_entry(s, "_modules", PVM_DICT)
               ? s
               : NULL;
}

/* Whether buffer key is in the module's _non_persistent_buffers_set. */
static int non_persistent(const pvm_value *state, const pvm_value *key)
{
    const pvm_value *set = pvm_dict_get_str(state, "_non_persistent_buffers_set");
    if (set == NULL || (set->kind != PVM_SET && set->kind != PVM_FROZENSET) || key->kind != PVM_STR)
        return 0;
    for (size_t i = 0; i < set->u.seq.len; i++) {
        const pvm_value *x = set->u.seq.items[i];
        if (pvm_str_is(x, key->u.str.data, key->u.str.len))
            return 1;
    }
    return 0;
}

static int is_module_slot(const pvm_value *key)
{
    return pvm_str_is(key, "_parameters", 11) || pvm_str_is(key, "_buffers", 8) ||
           pvm_str_is(key, "_modules", 8);
}

/* The i-th child of a module (state: its __dict__), in state_dict() order:
 * parameters, persistent buffers, sub-modules (named by their keys), then
 * everything else in __dict__ (attributes: never named).  Returns as
 * child_at does. */
static int module_child(const pvm_value *state, size_t i, child *out)
{
    const pvm_value *parts[] = {pvm_dict_get_str(state, "_parameters"),
                                pvm_dict_get_str(state, "_buffers"),
                                pvm_dict_get_str(state, "_modules")};
    for (size_t p = 0; p < 3; p++) {
        const pvm_value *d = parts[p];
        if (i < d->u.dict.len) {
            out->key = d->u.dict.pairs[i].key;
            out->v = d->u.dict.pairs[i].val;
            out->attribute = p == 1 && non_persistent(state, out->key);
            return 1;
        }
        i -= d->u.dict.len;
    }
    for (size_t k = i; k < state->u.dict.len; k++) {
        if (is_module_slot(state->u.dict.pairs[k].key))
            continue;
        out->key = state->u.dict.pairs[k].key;
        out->v = state->u.dict.pairs[k].val;
        out->attribute = 1;
        return 1 + (int)(k - i);
    }
    return 0;
}

/* The i-th child of a frame's node; 0 when there is none, else 1 + the
 * number of indices skipped to reach it. */
static int child_at(const pvm_value *v, size_t i, child *out)
{
    memset(out, 0, sizeof *out);
    const pvm_value *state = module_state(v);
    if (state != NULL)
        return module_child(state, i, out);
    switch (v->kind) {
    case PVM_DICT:
        if (i >= v->u.dict.len)
            return 0;
        out->key = v->u.dict.pairs[i].key;
        out->v = v->u.dict.pairs[i].val;
        return 1;
    case PVM_LIST:
    case PVM_TUPLE:
    case PVM_SET:
    case PVM_FROZENSET:
        if (i >= v->u.seq.len)
            return 0;
        out->v = v->u.seq.items[i];
        out->index = i;
        return 1;
    case PVM_CALL: {
        if (size_items(v) != NULL)
            return child_at(size_items(v), i, out);
        /* A dict or list subclass keeps its items; attributes are not named. */
        const pvm_value *d = pvm_call_dictitems(v), *l = pvm_call_listitems(v);
        size_t nd = d ? d->u.dict.len : 0, nl = l ? l->u.seq.len : 0;
        if (i < nd)
            return child_at(d, i, out);
        if (i < nd + nl)
            return child_at(l, i - nd, out);
        const pvm_value *attrs[] = {v->u.call.args, pvm_call_kwargs(v), pvm_call_state(v)};
        for (size_t k = i - nd - nl; k < 3; k++) {
            if (attrs[k] != NULL) {
                out->v = attrs[k];
                out->attribute = 1;
                return 1 + (int)(k - (i - nd - nl)); /* children skipped + 1 */
            }
        }
        return 0;
    }
    default:
        return 0;
    }
}

/* Describe the object a frame stands for, for a "left out" note. */
static void object_name(const pvm_value *v, char *buf, size_t cap)
{
    const pvm_value *f = v->u.call.callable;
    if (f != NULL && f->kind == PVM_GLOBAL)
        snprintf(buf, cap, "%s.%s", f->u.global.module, f->u.global.name);
    else
        snprintf(buf, cap, "object");
}

/* Counter for tensors that cannot be named below the top frame. */
static c2s_status unnamed_counter(walk_ctx *c, frame *f, const child *ch, size_t *out)
{
    if (f->mode == COUNTED) {
        *out = f->counter;
        return C2S_OK;
    }
    char why[400];
    if (ch->attribute) {
        if (f->counter != SIZE_MAX) {
            *out = f->counter;
            return C2S_OK;
        }
        char obj[256];
        object_name(f->v, obj, sizeof obj);
        if (module_state(f->v) != NULL)
            snprintf(why, sizeof why, ", attributes of a %s module, not in its state_dict", obj);
        else
            snprintf(why, sizeof why, ", inside a %s object", obj);
        c2s_status st = new_counter(c, display_path(c->path), why, &f->counter);
        *out = f->counter;
        return st;
    }
    snprintf(why, sizeof why, ", under a dict key of type %s", kind_name(ch->key));
    return new_counter(c, display_path(c->path), why, out);
}

/* Whether label is prefix + "." + something: an entry the prefix selects. */
static int under_prefix(const walk_ctx *c, const char *label)
{
    return strncmp(label, c->prefix, c->prefix_len) == 0 && label[c->prefix_len] == '.' &&
           label[c->prefix_len + 1] != '\0';
}

static c2s_status step(walk_ctx *c)
{
    frame *f = &c->stack[c->depth - 1];
    child ch;
    int used = child_at(f->v, f->next, &ch);
    if (used == 0) {
        set_on_path(c, f->v, 0);
        c->depth--;
        return C2S_OK;
    }
    f->next += (size_t)used;
    c->path[f->name_len] = '\0';
    c->path_len = f->name_len;
    if (c->nul_at >= f->name_len)
        c->nul_at = SIZE_MAX; /* that label is no longer on the path */
    /* A key a call makes (builtins.str('w'), a numpy str_) may equal
     * another key of the dict, whose entry Python then replaced. */
    if (ch.key != NULL && ch.key->kind == PVM_CALL && size_items(ch.key) == NULL &&
        f->v->kind == PVM_DICT && f->v->u.dict.len > 1)
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "a key of '%s' is made by a call, which may equal another key of it",
                        display_path(c->path));
    char buf[32];
    const char *label = NULL;
    int named = !ch.attribute;
    if (named && ch.key != NULL)
        named = key_label(ch.key, buf, sizeof buf, &label);
    else if (named) {
        snprintf(buf, sizeof buf, "%zu", ch.index);
        label = buf;
    }
    if (c->depth == 1 && f->v == c->prefix_dict) {
        if (!named || !under_prefix(c, label))
            return C2S_OK; /* outside the selected names: not part of the root */
        label += c->prefix_len + 1;
    }
    if (!named) {
        size_t counter;
        c2s_status st = unnamed_counter(c, f, &ch, &counter);
        if (st != C2S_OK)
            return st;
        size_t len = f->name_len;
        return visit(c, ch.v, len, COUNTED, counter);
    }
    size_t base = f->name_len;
    enum walk_mode mode = f->mode;
    /* a named child counts its own attributes (a sub-module's, say) */
    size_t counter = mode == NAMED ? SIZE_MAX : f->counter;
    if (mode == NAMED) {
        c2s_status st = path_set(c, base, label);
        if (st != C2S_OK)
            return st;
        if (c->nul_at == SIZE_MAX && ch.key != NULL && ch.key->kind == PVM_STR &&
            pvm_str_has_nul(ch.key))
            c->nul_at = base;
    }
    return visit(c, ch.v, mode == NAMED ? c->path_len : base, mode, counter);
}

static c2s_status walk(walk_ctx *c, const pvm_value *root, enum walk_mode mode, size_t counter)
{
    if (!grow_in_place((void **)&c->path, &c->path_cap, 1, 1))
        return oom(c);
    c->path[0] = '\0';
    c->path_len = 0;
    c->nul_at = SIZE_MAX;
    c2s_status st = visit(c, root, 0, mode, counter);
    while (st == C2S_OK && c->depth > 0)
        st = step(c);
    return st;
}

/* ---- choosing the root ----------------------------------------------------- */

/* The label of the i-th child of v that is named (the next one from i
 * on); 0 when there is none.  *at is set to the index after it. */
static int named_child(const pvm_value *v, size_t *at, child *ch, char *buf, size_t cap,
                       const char **label)
{
    for (size_t i = *at;;) {
        int used = child_at(v, i, ch);
        if (used == 0)
            return 0;
        i += (size_t)used;
        *at = i;
        if (ch->attribute)
            continue;
        if (ch->key == NULL) {
            snprintf(buf, cap, "%zu", ch->index);
            *label = buf;
            return 1;
        }
        if (key_label(ch->key, buf, cap, label))
            return 1;
    }
}

/* Whether some named child of v has a label rest + "." + something. */
static int has_prefixed_child(walk_ctx *c, const pvm_value *v, const char *rest)
{
    const char *saved = c->prefix;
    size_t saved_len = c->prefix_len;
    c->prefix = rest;
    c->prefix_len = strlen(rest);
    child ch;
    char buf[32];
    const char *label;
    int found = 0;
    for (size_t i = 0; !found && named_child(v, &i, &ch, buf, sizeof buf, &label);)
        found = under_prefix(c, label);
    c->prefix = saved;
    c->prefix_len = saved_len;
    return found;
}

/* Follow a dotted key path from start; dict keys may themselves contain
 * dots, so the longest key matching a prefix of the rest of the path wins.
 * Where no key matches but some keys begin with the rest of the path and a
 * '.' (flat keys: "model.diffusion_model.out.0.weight"), the root is that
 * container with only those entries, named without the prefix.  *first:
 * 1 when the first component already named nothing. */
static c2s_status resolve_key(walk_ctx *c, const pvm_value *start, const char *key,
                              const pvm_value **out, int *first)
{
    const pvm_value *v = start;
    const char *rest = key;
    *first = 0;
    while (*rest) {
        const pvm_value *next = NULL;
        size_t best = 0;
        child ch;
        char buf[32];
        const char *label;
        for (size_t i = 0; named_child(v, &i, &ch, buf, sizeof buf, &label);) {
            size_t ll = strlen(label);
            if (ll > best && strncmp(rest, label, ll) == 0 &&
                (rest[ll] == '\0' || rest[ll] == '.')) {
                best = ll;
                next = ch.v;
            }
        }
        if (next == NULL && has_prefixed_child(c, v, rest)) {
            c->prefix_dict = v;
            c->prefix = rest;
            c->prefix_len = strlen(rest);
            break;
        }
        *first = next == NULL && rest == key;
        if (next == NULL && rest == key)
            return c2s_fail_rule(c->err, C2S_ERR_INPUT, C2S_RULE_KEY,
                                 "'%s': no such entry in the top-level %s", key, kind_name(v));
        if (next == NULL)
            return c2s_fail_rule(c->err, C2S_ERR_INPUT, C2S_RULE_KEY,
                                 "'%s': no entry '%s' in the %s at '%.*s'", key, rest, kind_name(v),
                                 (int)(rest - key - 1), key);
        v = next;
        rest += best;
        if (*rest == '.')
            rest++;
    }
    *out = v;
    return C2S_OK;
}

/* A dict subclass's items: v's SETITEM items when v is a call of
 * collections.defaultdict, Counter or OrderedDict (a form the pickle VM
 * does not interpret) whose arguments hold no container (no items of
 * their own), else NULL. */
static const pvm_value *dict_subclass_items(const pvm_value *v)
{
    if (v->kind != PVM_CALL || pvm_call_listitems(v) != NULL)
        return NULL;
    const pvm_value *fn = v->u.call.callable, *args = v->u.call.args;
    if (!pvm_is_global(fn, "collections", "defaultdict") &&
        !pvm_is_global(fn, "collections", "Counter") &&
        !pvm_is_global(fn, "collections", "OrderedDict"))
        return NULL;
    for (size_t i = 0; i < args->u.seq.len; i++)
        if (is_container(args->u.seq.items[i]))
            return NULL;
    return pvm_call_dictitems(v);
}

/* top["state_dict"] when it is a dict, or a dict subclass (a defaultdict:
 * `isinstance(sd, dict)` holds for it too): its items. */
static const pvm_value *state_dict_of(const pvm_value *top)
{
    const pvm_value *sd = pvm_dict_get_str(top, "state_dict");
    if (sd != NULL && sd->kind != PVM_DICT)
        sd = dict_subclass_items(sd);
    return sd != NULL && sd->kind == PVM_DICT ? sd : NULL;
}

/* The root a key path names: looked up from the top level; when its first
 * component names nothing there and the top level has a state_dict dict,
 * looked up in that dict instead (Lightning and Stable Diffusion keep their
 * tensors there).  *root_path: the path from the top level. */
static c2s_status key_root(walk_ctx *c, const pvm_value *top, const char *key,
                           const pvm_value **root, char **root_path)
{
    int first;
    c2s_status st = resolve_key(c, top, key, root, &first);
    const pvm_value *sd = top->kind == PVM_DICT ? state_dict_of(top) : NULL;
    if (st != C2S_OK && first && sd != NULL) {
        c->prefix_dict = NULL;
        st = resolve_key(c, sd, key, root, &first);
        if (st != C2S_OK && first)
            return c2s_fail_rule(c->err, C2S_ERR_INPUT, C2S_RULE_KEY,
                                 "'%s': no such entry in the top-level dict, nor in its "
                                 "state_dict",
                                 key);
        if (st == C2S_OK) {
            size_t n = strlen("state_dict.") + strlen(key) + 1;
            if ((*root_path = malloc(n)) == NULL)
                return oom(c);
            snprintf(*root_path, n, "state_dict.%s", key);
            return C2S_OK;
        }
    }
    if (st == C2S_OK && (*root_path = strdup(key)) == NULL)
        return oom(c);
    return st;
}

/* Default root: top["state_dict"] when it is a dict; the rest is counted. */
static c2s_status default_root(walk_ctx *c, const pvm_value *top, const pvm_value **root)
{
    const pvm_value *sd = state_dict_of(top);
    if (sd == NULL) {
        *root = top;
        return C2S_OK;
    }
    *root = sd;
    for (size_t i = 0; i < top->u.dict.len; i++) {
        char buf[32];
        const char *label;
        const pvm_value *k = top->u.dict.pairs[i].key;
        if (!key_label(k, buf, sizeof buf, &label) || strcmp(label, "state_dict") == 0)
            continue;
        size_t counter;
        c2s_status st = new_counter(c, label, "", &counter);
        if (st == C2S_OK)
            st = walk(c, top->u.dict.pairs[i].val, COUNTED, counter);
        if (st != C2S_OK)
            return st;
    }
    return C2S_OK;
}

/* ---- finishing -------------------------------------------------------------- */

/* Names hashed this many tensors ahead of their insertion, their slots
 * prefetched: the set is megabytes, each first probe a cache miss. */
#define NAMES_AHEAD 8

/* No name twice (checked with a hash set of the names, in file order: the
 * first name seen again is the one reported), none "__metadata__".  The set
 * places a name by 32 bits of its strhash, kept for every tensor in hashes,
 * which a probe compares before the names. */
static c2s_status check_names(walk_ctx *c)
{
    tmap *m = c->map;
    for (size_t i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, "__metadata__") == 0)
            return c2s_fail(c->err, C2S_ERR_INPUT,
                            "a tensor is named '__metadata__', a name safetensors reserves");
    if (m->ntensors < 2)
        return C2S_OK;
    size_t cap = 16;
    while (cap < 2 * m->ntensors)
        cap *= 2;
    if (m->ntensors >= EMPTY)
        return oom(c); /* never: each tensor is a node, and node ids are 32 bits */
    uint32_t *slots = big_calloc_whole(cap * sizeof *slots); /* filled at once */
    uint32_t *hashes = malloc(m->ntensors * sizeof *hashes);
    if (slots == NULL || hashes == NULL) {
        big_free_whole(slots, cap * sizeof *slots);
        free(hashes);
        return oom(c);
    }
    memset(slots, 0xff, cap * sizeof *slots); /* EMPTY */
    for (size_t i = 0; i < m->ntensors; i++)
        hashes[i] = (uint32_t)strhash(m->tensors[i].name);
    c2s_status st = C2S_OK;
    for (size_t i = 0; i < m->ntensors && st == C2S_OK; i++) {
        const char *name = m->tensors[i].name;
        if (i + NAMES_AHEAD < m->ntensors)
            __builtin_prefetch(&slots[hashes[i + NAMES_AHEAD] & (cap - 1)], 1);
        size_t at = (size_t)hashes[i] & (cap - 1);
        for (; slots[at] != EMPTY && st == C2S_OK; at = (at + 1) & (cap - 1))
            if (hashes[slots[at]] == hashes[i] && strcmp(m->tensors[slots[at]].name, name) == 0)
                st = c2s_fail(c->err, C2S_ERR_INPUT, "two tensors are both named '%s'", name);
        slots[at] = (uint32_t)i;
    }
    free(hashes);
    big_free_whole(slots, cap * sizeof *slots);
    return st;
}

static c2s_status make_notes(walk_ctx *c)
{
    tmap *m = c->map;
    for (size_t i = 0; i < c->ncounts; i++) {
        const tensor_counter *k = &c->counts[i];
        if (k->n == 0)
            continue;
        if (!grow_in_place((void **)&m->notes, &c->notes_cap, m->nnotes + 1, sizeof *m->notes))
            return oom(c);
        char buf[1024];
        snprintf(buf, sizeof buf, "left out: %.300s (%llu tensor%s%s)", k->what,
                 (unsigned long long)k->n, k->n == 1 ? "" : "s", k->why);
        if ((m->notes[m->nnotes] = strdup(buf)) == NULL)
            return oom(c);
        m->nnotes++;
    }
    return C2S_OK;
}

static c2s_status no_tensors(walk_ctx *c)
{
    const tmap *m = c->map;
    const char *root = *m->root ? m->root : "the top level";
    if (m->nnotes == 0)
        return c2s_fail_rule(c->err, C2S_ERR_INPUT, C2S_RULE_NO_TENSORS,
                             "no tensors found under %s", root);
    return c2s_fail_rule(c->err, C2S_ERR_INPUT, C2S_RULE_NO_TENSORS,
                         "no tensors found under %s (%s)", root, m->notes[0]);
}

/* The walk is over: its index of storage keys goes before check_names
 * takes memory of its own (the peak of a map of many tensors). */
static void free_storage_index(walk_ctx *c)
{
    free(c->storage_slots);
    c->storage_slots = NULL;
    c->nslots = 0;
}

static c2s_status build(walk_ctx *c, const pvm_value *top)
{
    const pvm_value *root = NULL;
    const char *key = c->opts ? c->opts->key : NULL;
    c2s_status st = key ? key_root(c, top, key, &root, &c->map->root) : default_root(c, top, &root);
    if (st != C2S_OK)
        return st;
    if (key == NULL && (c->map->root = strdup(root != top ? "state_dict" : "")) == NULL)
        return oom(c);
    if ((st = walk(c, root, NAMED, SIZE_MAX)) != C2S_OK)
        return st;
    free_storage_index(c);
    if ((st = make_notes(c)) != C2S_OK)
        return st;
    if (c->map->ntensors == 0)
        return no_tensors(c);
    return check_names(c);
}

c2s_status tmap_build(const pvm_value *top, size_t nobjects, const tmap_options *opts, tmap *map,
                      c2s_error *err)
{
    memset(map, 0, sizeof *map);
    map->in_arena = 1;
    walk_ctx c = {0};
    c.opts = opts;
    c.map = map;
    c.err = err;
    c.nobjects = nobjects;
    c.keys_in_order = 1;
    c.max_depth = opts && opts->max_depth ? opts->max_depth : DEFAULT_MAX_DEPTH;
    c.max_visits = opts && opts->max_visits ? opts->max_visits
                                            : VISITS_BASE + VISITS_PER_OBJECT * (uint64_t)nobjects;
    /* a big graph makes a big map: its text in huge slabs from the first
     * block and its arrays from HUGE_MIN bytes, rather than malloc'd memory
     * faulted in 4 KiB at a time (thousands of faults on this thread for
     * 200,000 tensors) */
    if (nobjects >= BIG_GRAPH) {
        c.big = 1;
        map->text.big = map->text.big_now = 1;
    }
    c.onpath = calloc(nobjects / 8 + 1, 1);
    c2s_status st = c.onpath ? build(&c, top) : oom(&c);
    arena_trim(&map->text); /* the untouched end of its last slab */
    free(c.onpath);
    free(c.path);
    free(c.stack);
    free(c.storage_slots);
    for (size_t i = 0; i < c.ncounts; i++) {
        free(c.counts[i].what);
        free(c.counts[i].why_buf);
    }
    free(c.counts);
    if (st != C2S_OK)
        tmap_free(map);
    return st;
}

void tmap_free(tmap *map)
{
    if (map == NULL)
        return;
    for (size_t i = 0; i < map->ntensors && !map->in_arena; i++) {
        free(map->tensors[i].name);
        free(map->tensors[i].shape);
    }
    for (size_t i = 0; i < map->nqparams && !map->in_arena; i++)
        free(map->qparams[i].shape);
    free(map->qparams);
    free(map->quants);
    for (size_t i = 0; i < map->nstorages && !map->in_arena; i++)
        free(map->storages[i].key);
    arena_free(&map->text);
    for (size_t i = 0; i < map->nnotes; i++)
        free(map->notes[i]);
    if (map->tensors_bytes > 0)
        big_free(map->tensors, map->tensors_bytes);
    else
        free(map->tensors);
    if (map->storages_bytes > 0)
        big_free(map->storages, map->storages_bytes);
    else
        free(map->storages);
    free(map->notes);
    free(map->root);
    memset(map, 0, sizeof *map);
}
