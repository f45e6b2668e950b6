/*
 * test_tmap.c - the tensor map (src/torch/tmap.h): naming, roots, views,
 * rebuild calls, refusals and walk robustness.
 *
 * Each test writes a pickle with pickle_builder.h, runs it through the pickle
 * VM and maps the result.  The VM and the map live in file-level variables so
 * that the suite's fini frees them even when an assertion fails.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/c2s_error.h"
#include "util/limits.h"
#include "torch/dtype.h"
#include "pickle_builder.h"
#include "pickle/pvm.h"
#include "torch/tmap.h"

static pvm *g_vm;
static tmap g_map;
static c2s_error g_err;

static void tmap_fini(void)
{
    tmap_free(&g_map);
    pvm_free(g_vm);
    g_vm = NULL;
}

TestSuite(tmap, .fini = tmap_fini);

/* ---- helpers ---------------------------------------------------------------- */

/* Finish the pickle, run it and map it with opts (may be NULL). */
static c2s_status map_pickle(pb *p, const tmap_options *opts)
{
    pb_stop(p);
    g_vm = pvm_new(NULL);
    cr_assert_not_null(g_vm);
    pvm_value *top = NULL;
    c2s_error perr;
    c2s_error_clear(&perr);
    c2s_status st = pvm_run(g_vm, p->buf, p->len, &top, NULL, &perr);
    pb_free(p);
    cr_assert_eq(st, C2S_OK, "pvm_run failed: %s", perr.msg);
    cr_assert_not_null(top);
    c2s_error_clear(&g_err);
    return tmap_build(top, pvm_value_count(g_vm), opts, &g_map, &g_err);
}

static void map_ok(pb *p, const tmap_options *opts)
{
    c2s_status st = map_pickle(p, opts);
    cr_assert_eq(st, C2S_OK, "tmap_build failed: %s", g_err.msg);
}

/* The build fails with exactly msg, and the map is left empty. */
static void map_fails(pb *p, const tmap_options *opts, const char *msg)
{
    c2s_status st = map_pickle(p, opts);
    cr_assert_eq(st, C2S_ERR_INPUT, "expected failure \"%s\", got status %d", msg, (int)st);
    cr_assert_eq(g_err.status, C2S_ERR_INPUT);
    cr_assert_str_eq(g_err.msg, msg);
    cr_assert_eq(g_map.ntensors, 0);
    cr_assert_null(g_map.tensors);
    cr_assert_eq(g_map.nstorages, 0);
    cr_assert_null(g_map.storages);
    cr_assert_eq(g_map.nnotes, 0);
    cr_assert_null(g_map.root);
}

static void assert_names(size_t n, const char *const *names)
{
    cr_assert_eq(g_map.ntensors, n, "expected %zu tensors, got %zu", n, g_map.ntensors);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(g_map.tensors[i].name, names[i], "tensor %zu", i);
}

static void assert_notes(size_t n, const char *const *notes)
{
    cr_assert_eq(g_map.nnotes, n, "expected %zu notes, got %zu", n, g_map.nnotes);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(g_map.notes[i], notes[i], "note %zu: got \"%s\"", i, g_map.notes[i]);
}

static void assert_view(const tmap_tensor *t, c2s_dtype dt, size_t ndim, const int64_t *shape,
                        const int64_t *stride, uint64_t offset, uint64_t numel, uint64_t nbytes,
                        int contiguous)
{
    cr_assert_eq(t->supported, 1, "%s: not supported (%s)", t->name, t->why ? t->why : "");
    cr_assert_eq(t->dtype, dt, "%s: dtype %s", t->name, c2s_dtype_name(t->dtype));
    cr_assert_eq(t->ndim, ndim, "%s: ndim %zu", t->name, t->ndim);
    for (size_t i = 0; i < ndim; i++) {
        cr_assert_eq(t->shape[i], shape[i], "%s: shape[%zu] = %" PRId64, t->name, i, t->shape[i]);
        cr_assert_eq(t->stride[i], stride[i], "%s: stride[%zu] = %" PRId64, t->name, i,
                     t->stride[i]);
    }
    cr_assert_eq(t->offset, offset, "%s: offset %" PRIu64, t->name, t->offset);
    cr_assert_eq(t->numel, numel, "%s: numel %" PRIu64, t->name, t->numel);
    cr_assert_eq(t->nbytes, nbytes, "%s: nbytes %" PRIu64, t->name, t->nbytes);
    cr_assert_eq(t->contiguous, contiguous, "%s: contiguous %d", t->name, t->contiguous);
}

static void assert_storage(size_t tensor, const char *key, c2s_dtype dt, uint64_t nbytes)
{
    const tmap_tensor *t = &g_map.tensors[tensor];
    cr_assert_lt(t->storage, g_map.nstorages, "%s: storage index %zu", t->name, t->storage);
    const tmap_storage *s = &g_map.storages[t->storage];
    cr_assert_str_eq(s->key, key);
    cr_assert_eq(s->dtype, dt, "storage %s: dtype %s", s->key, c2s_dtype_name(s->dtype));
    cr_assert_eq(s->nbytes, nbytes, "storage %s: nbytes %" PRIu64, s->key, s->nbytes);
}

static void dict_begin(pb *p)
{
    pb_empty_dict(p);
    pb_mark(p);
}
static void dict_end(pb *p)
{
    pb_setitems(p);
}
static void list_begin(pb *p)
{
    pb_mark(p);
}
static void list_end(pb *p)
{
    pb_op(p, 'l');
}
static void tuple_begin(pb *p)
{
    pb_mark(p);
}
static void tuple_end(pb *p)
{
    pb_tuple(p);
}

/* GLOBAL module.name, MARK ... then call_end: TUPLE REDUCE. */
static void call_begin(pb *p, const char *module, const char *name)
{
    pb_global(p, module, name);
    pb_mark(p);
}
static void call_end(pb *p)
{
    pb_tuple(p);
    pb_reduce(p);
}

static void ints(pb *p, size_t n, const int64_t *v)
{
    pb_ints_tuple(p, n, v);
}

/* _rebuild_tensor_v2 of a FloatStorage, contiguous 1-d, n elements. */
static void vec(pb *p, const char *key, int64_t n)
{
    pb_vec_f32(p, key, n);
}

/* _rebuild_tensor_v3(UntypedStorage(nbytes), offset, size, stride, False,
 * OrderedDict(), torch.<dtype>) */
static void tensor_v3(pb *p, const char *key, int64_t nbytes, int64_t offset, size_t ndim,
                      const int64_t *size, const int64_t *stride, const char *dtype)
{
    call_begin(p, "torch._utils", "_rebuild_tensor_v3");
    pb_storage(p, "UntypedStorage", key, nbytes);
    pb_int(p, offset);
    ints(p, ndim, size);
    ints(p, ndim, stride);
    pb_bool(p, 0);
    pb_ordered_dict(p);
    pb_global(p, "torch", dtype);
    call_end(p);
}

/* A top-level {name: <one v2 FloatStorage tensor '0'>} with the tensor's size
 * and stride, storage numel and offset given. */
static void one_tensor(pb *p, const char *name, int64_t numel, int64_t offset, size_t ndim,
                       const int64_t *size, const int64_t *stride)
{
    pb_proto(p, 2);
    dict_begin(p);
    pb_str(p, name);
    pb_tensor_v2(p, "FloatStorage", "0", numel, offset, ndim, size, stride);
    dict_end(p);
}

/* ---- naming ------------------------------------------------------------------ */

Test(tmap, naming_nested_dicts_lists_tuples_and_scalar_keys)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "a");
    dict_begin(&p);
    pb_str(&p, "b");
    dict_begin(&p);
    pb_str(&p, "c");
    vec(&p, "0", 1);
    dict_end(&p);
    dict_end(&p);
    pb_str(&p, "l");
    list_begin(&p);
    vec(&p, "1", 2);
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "2", 3);
    dict_end(&p);
    list_end(&p);
    pb_str(&p, "t");
    tuple_begin(&p);
    vec(&p, "3", 4);
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "4", 5);
    dict_end(&p);
    tuple_end(&p);
    pb_int(&p, 7);
    vec(&p, "5", 6);
    pb_int(&p, -3);
    vec(&p, "6", 7);
    pb_int(&p, INT64_C(1099511627776));
    vec(&p, "7", 8);
    pb_int(&p, INT64_MIN);
    vec(&p, "8", 9);
    pb_bool(&p, 1);
    vec(&p, "9", 10);
    pb_bool(&p, 0);
    vec(&p, "10", 11);
    pb_none(&p);
    vec(&p, "11", 12);
    dict_end(&p);
    map_ok(&p, NULL);

    static const char *const names[] = {
        "a.b.c", "l.0",           "l.1.w",
        "t.0",   "t.1.w",         "7",
        "-3",    "1099511627776", "-9223372036854775808",
        "True",  "False",         "None",
    };
    assert_names(12, names);
    cr_assert_str_eq(g_map.root, "");
    cr_assert_eq(g_map.nnotes, 0);
    cr_assert_null(g_map.notes);
    cr_assert_eq(g_map.nstorages, 12);
    /* walk order is also storage first-seen order; each tensor has its own */
    static const char *const keys[] = {"0", "1", "2", "3", "4",  "5",
                                       "6", "7", "8", "9", "10", "11"};
    for (size_t i = 0; i < 12; i++) {
        cr_assert_eq(g_map.tensors[i].storage, i);
        assert_storage(i, keys[i], C2S_F32, (uint64_t)(i + 1) * 4);
        int64_t n = (int64_t)i + 1, one = 1;
        assert_view(&g_map.tensors[i], C2S_F32, 1, &n, &one, 0, (uint64_t)n, (uint64_t)n * 4, 1);
    }
}

Test(tmap, naming_list_of_lists_and_ordered_dict)
{
    pb p = {0};
    pb_proto(&p, 2);
    pb_ordered_dict(&p);
    pb_mark(&p);
    pb_str(&p, "blocks");
    list_begin(&p);
    list_begin(&p);
    vec(&p, "0", 1);
    vec(&p, "1", 1);
    list_end(&p);
    list_begin(&p);
    list_end(&p);
    list_begin(&p);
    pb_none(&p);
    vec(&p, "2", 1);
    list_end(&p);
    list_end(&p);
    pb_setitems(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"blocks.0.0", "blocks.0.1", "blocks.2.1"};
    assert_names(3, names);
}

/* ---- default root ------------------------------------------------------------ */

/* A Lightning-like checkpoint: epoch, state_dict (an OrderedDict with a
 * _metadata BUILD), optimizer_states holding 2 tensors, empty lr_schedulers. */
Test(tmap, default_root_state_dict_with_left_out_note)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "epoch");
    pb_int(&p, 3);
    pb_str(&p, "state_dict");
    pb_ordered_dict(&p);
    pb_mark(&p);
    pb_str(&p, "layer.w");
    vec(&p, "0", 6);
    pb_str(&p, "layer.b");
    vec(&p, "1", 2);
    pb_setitems(&p);
    dict_begin(&p); /* BUILD state: {"_metadata": {"": {"version": 1}}} */
    pb_str(&p, "_metadata");
    dict_begin(&p);
    pb_str(&p, "");
    dict_begin(&p);
    pb_str(&p, "version");
    pb_int(&p, 1);
    dict_end(&p);
    dict_end(&p);
    dict_end(&p);
    pb_build(&p);
    pb_str(&p, "optimizer_states");
    list_begin(&p);
    dict_begin(&p);
    pb_str(&p, "state");
    dict_begin(&p);
    pb_int(&p, 0);
    dict_begin(&p);
    pb_str(&p, "exp_avg");
    vec(&p, "2", 6);
    pb_str(&p, "exp_avg_sq");
    vec(&p, "3", 6);
    dict_end(&p);
    dict_end(&p);
    dict_end(&p);
    list_end(&p);
    pb_str(&p, "lr_schedulers");
    list_begin(&p);
    list_end(&p);
    dict_end(&p);
    map_ok(&p, NULL);

    cr_assert_str_eq(g_map.root, "state_dict");
    static const char *const names[] = {"layer.w", "layer.b"};
    assert_names(2, names);
    static const char *const notes[] = {"left out: optimizer_states (2 tensors)"};
    assert_notes(1, notes);
    /* the left-out tensors do not add storages */
    cr_assert_eq(g_map.nstorages, 2);
    assert_storage(0, "0", C2S_F32, 24);
    assert_storage(1, "1", C2S_F32, 8);
}

Test(tmap, default_root_singular_note)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "state_dict");
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "0", 2);
    dict_end(&p);
    pb_str(&p, "ema");
    vec(&p, "1", 2);
    dict_end(&p);
    map_ok(&p, NULL);
    cr_assert_str_eq(g_map.root, "state_dict");
    static const char *const names[] = {"w"};
    assert_names(1, names);
    static const char *const notes[] = {"left out: ema (1 tensor)"};
    assert_notes(1, notes);
}

Test(tmap, default_root_no_note_when_nothing_left_out)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "epoch");
    pb_int(&p, 5);
    pb_str(&p, "state_dict");
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "0", 2);
    dict_end(&p);
    pb_str(&p, "hparams");
    dict_begin(&p);
    pb_str(&p, "lr");
    pb_int(&p, 1);
    dict_end(&p);
    dict_end(&p);
    map_ok(&p, NULL);
    cr_assert_str_eq(g_map.root, "state_dict");
    static const char *const names[] = {"w"};
    assert_names(1, names);
    cr_assert_eq(g_map.nnotes, 0);
    cr_assert_null(g_map.notes);
}

Test(tmap, default_root_state_dict_not_a_dict_uses_top)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "state_dict");
    list_begin(&p);
    vec(&p, "0", 2);
    list_end(&p);
    pb_str(&p, "w");
    vec(&p, "1", 2);
    dict_end(&p);
    map_ok(&p, NULL);
    cr_assert_str_eq(g_map.root, "");
    static const char *const names[] = {"state_dict.0", "w"};
    assert_names(2, names);
    cr_assert_eq(g_map.nnotes, 0);
}

Test(tmap, default_root_top_not_a_dict)
{
    pb p = {0};
    pb_proto(&p, 2);
    list_begin(&p);
    vec(&p, "0", 2);
    vec(&p, "1", 3);
    list_end(&p);
    map_ok(&p, NULL);
    cr_assert_str_eq(g_map.root, "");
    static const char *const names[] = {"0", "1"};
    assert_names(2, names);
}

/* ---- --key ------------------------------------------------------------------- */

/* {"model": {"layers": [T0, {"w": T1, "b": T2}]}, "other": T3} */
static void keyed_pickle(pb *p)
{
    pb_proto(p, 2);
    dict_begin(p);
    pb_str(p, "model");
    dict_begin(p);
    pb_str(p, "layers");
    list_begin(p);
    vec(p, "0", 1);
    dict_begin(p);
    pb_str(p, "w");
    vec(p, "1", 4);
    pb_str(p, "b");
    vec(p, "2", 2);
    dict_end(p);
    list_end(p);
    dict_end(p);
    pb_str(p, "other");
    vec(p, "3", 1);
    dict_end(p);
}

Test(tmap, key_path_through_dicts_and_lists)
{
    pb p = {0};
    keyed_pickle(&p);
    tmap_options o = {.key = "model.layers.1"};
    map_ok(&p, &o);
    cr_assert_str_eq(g_map.root, "model.layers.1");
    static const char *const names[] = {"w", "b"};
    assert_names(2, names);
    cr_assert_eq(g_map.nnotes, 0);
    cr_assert_eq(g_map.nstorages, 2);
    assert_storage(0, "1", C2S_F32, 16);
    assert_storage(1, "2", C2S_F32, 8);
}

Test(tmap, key_path_selects_a_list)
{
    pb p = {0};
    keyed_pickle(&p);
    tmap_options o = {.key = "model.layers"};
    map_ok(&p, &o);
    cr_assert_str_eq(g_map.root, "model.layers");
    static const char *const names[] = {"0", "1.w", "1.b"};
    assert_names(3, names);
}

Test(tmap, key_path_overrides_state_dict_default)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "state_dict");
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "0", 2);
    dict_end(&p);
    pb_str(&p, "ema");
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "1", 2);
    dict_end(&p);
    dict_end(&p);
    tmap_options o = {.key = "ema"};
    map_ok(&p, &o);
    cr_assert_str_eq(g_map.root, "ema");
    static const char *const names[] = {"w"};
    assert_names(1, names);
    assert_storage(0, "1", C2S_F32, 8);
    cr_assert_eq(g_map.nnotes, 0);
}

Test(tmap, key_with_a_dot_inside_a_dict_key)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "model");
    dict_begin(&p);
    pb_str(&p, "x");
    vec(&p, "0", 1);
    dict_end(&p);
    pb_str(&p, "model.ema");
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "1", 3);
    dict_end(&p);
    dict_end(&p);
    tmap_options o = {.key = "model.ema"};
    map_ok(&p, &o);
    cr_assert_str_eq(g_map.root, "model.ema");
    static const char *const names[] = {"w"};
    assert_names(1, names);
    assert_storage(0, "1", C2S_F32, 12);
}

Test(tmap, key_missing_at_top)
{
    pb p = {0};
    keyed_pickle(&p);
    tmap_options o = {.key = "nope"};
    map_fails(&p, &o, "'nope': no such entry in the top-level dict");
}

/* {"state_dict": {"m.a.w": T0, "m.a.": T1, "m.b": T2, "m_x.w": T3}, "step": 5}:
 * flat dotted keys, as Stable Diffusion keeps them */
static void flat_pickle(pb *p)
{
    pb_proto(p, 2);
    dict_begin(p);
    pb_str(p, "state_dict");
    dict_begin(p);
    pb_str(p, "m.a.w");
    vec(p, "0", 1);
    pb_str(p, "m.a.");
    vec(p, "1", 2);
    pb_str(p, "m.b");
    vec(p, "2", 3);
    pb_str(p, "m_x.w");
    vec(p, "3", 4);
    dict_end(p);
    pb_str(p, "step");
    pb_int(p, 5);
    dict_end(p);
}

Test(tmap, key_prefix_of_flat_keys_in_state_dict)
{
    pb p = {0};
    flat_pickle(&p);
    tmap_options o = {.key = "m.a"};
    map_ok(&p, &o);
    cr_assert_str_eq(g_map.root, "state_dict.m.a");
    /* "m.a." would leave an empty name: not selected */
    static const char *const names[] = {"w"};
    assert_names(1, names);
    assert_storage(0, "0", C2S_F32, 4);
    cr_assert_eq(g_map.nnotes, 0);
}

Test(tmap, key_prefix_stops_at_a_dot)
{
    pb p = {0};
    flat_pickle(&p);
    tmap_options o = {.key = "m"};
    map_ok(&p, &o);
    cr_assert_str_eq(g_map.root, "state_dict.m");
    static const char *const names[] = {"a.w", "a.", "b"}; /* not m_x.w */
    assert_names(3, names);
}

Test(tmap, key_prefix_after_an_explicit_path)
{
    pb p = {0};
    flat_pickle(&p);
    tmap_options o = {.key = "state_dict.m_x"};
    map_ok(&p, &o);
    cr_assert_str_eq(g_map.root, "state_dict.m_x");
    static const char *const names[] = {"w"};
    assert_names(1, names);
    assert_storage(0, "3", C2S_F32, 16);
}

Test(tmap, key_missing_at_top_and_in_state_dict)
{
    pb p = {0};
    flat_pickle(&p);
    tmap_options o = {.key = "m.c"};
    map_fails(&p, &o, "'m.c': no such entry in the top-level dict, nor in its state_dict");
}

Test(tmap, key_prefix_at_the_top_level)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "enc.w");
    vec(&p, "0", 1);
    pb_str(&p, "dec.w");
    vec(&p, "1", 2);
    pb_str(&p, "enc.b");
    vec(&p, "2", 3);
    dict_end(&p);
    tmap_options o = {.key = "enc"};
    map_ok(&p, &o);
    cr_assert_str_eq(g_map.root, "enc");
    static const char *const names[] = {"w", "b"};
    assert_names(2, names);
}

Test(tmap, key_missing_deeper)
{
    pb p = {0};
    keyed_pickle(&p);
    tmap_options o = {.key = "model.nope"};
    map_fails(&p, &o, "'model.nope': no entry 'nope' in the dict at 'model'");
}

Test(tmap, key_list_index_out_of_range)
{
    pb p = {0};
    keyed_pickle(&p);
    tmap_options o = {.key = "model.layers.5"};
    map_fails(&p, &o, "'model.layers.5': no entry '5' in the list at 'model.layers'");
}

Test(tmap, key_selecting_a_tensor_names_it_tensor)
{
    pb p = {0};
    keyed_pickle(&p);
    tmap_options o = {.key = "other"};
    map_ok(&p, &o);
    static const char *const names[] = {"tensor"};
    assert_names(1, names);
    cr_assert_str_eq(g_map.root, "other");
}

/* ---- sharing ----------------------------------------------------------------- */

Test(tmap, same_tensor_object_under_two_names)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "encoder.embed");
    vec(&p, "0", 10);
    pb_put(&p, 0);
    pb_str(&p, "lm_head");
    pb_get(&p, 0);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"encoder.embed", "lm_head"};
    assert_names(2, names);
    cr_assert_eq(g_map.nstorages, 1);
    cr_assert_eq(g_map.tensors[0].storage, 0);
    cr_assert_eq(g_map.tensors[1].storage, 0);
    assert_storage(1, "0", C2S_F32, 40);
    int64_t n = 10, one = 1;
    assert_view(&g_map.tensors[1], C2S_F32, 1, &n, &one, 0, 10, 40, 1);
}

Test(tmap, two_tensors_sharing_a_storage_key)
{
    pb p = {0};
    int64_t s1[1] = {4}, st1[1] = {1}, s2[2] = {2, 2}, st2[2] = {2, 1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "a");
    pb_tensor_v2(&p, "FloatStorage", "7", 8, 0, 1, s1, st1);
    pb_str(&p, "other");
    vec(&p, "3", 1);
    pb_str(&p, "b");
    pb_tensor_v2(&p, "FloatStorage", "7", 8, 4, 2, s2, st2);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"a", "other", "b"};
    assert_names(3, names);
    cr_assert_eq(g_map.nstorages, 2);
    cr_assert_eq(g_map.tensors[0].storage, 0);
    cr_assert_eq(g_map.tensors[1].storage, 1);
    cr_assert_eq(g_map.tensors[2].storage, 0);
    assert_storage(0, "7", C2S_F32, 32);
    assert_storage(1, "3", C2S_F32, 4);
    assert_view(&g_map.tensors[2], C2S_F32, 2, s2, st2, 4, 4, 16, 1);
}

Test(tmap, many_storages_keep_their_indices)
{
    /* more storages than the first hash table size (64): keys reused in
     * reverse must find the same entries after the table grew */
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    char name[16], key[16];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "a%d", i);
        snprintf(key, sizeof key, "%d", i);
        pb_str(&p, name);
        vec(&p, key, i + 1);
    }
    for (int i = 199; i >= 0; i--) {
        snprintf(name, sizeof name, "b%d", i);
        snprintf(key, sizeof key, "%d", i);
        pb_str(&p, name);
        vec(&p, key, i + 1);
    }
    dict_end(&p);
    map_ok(&p, NULL);
    cr_assert_eq(g_map.ntensors, 400);
    cr_assert_eq(g_map.nstorages, 200);
    for (size_t i = 0; i < 200; i++) {
        cr_assert_eq(g_map.tensors[i].storage, i);
        cr_assert_eq(g_map.tensors[399 - i].storage, i, "b%zu", i);
        snprintf(key, sizeof key, "%zu", i);
        assert_storage(i, key, C2S_F32, (uint64_t)(i + 1) * 4);
    }
}

/* ---- views ------------------------------------------------------------------- */

Test(tmap, view_with_offset)
{
    pb p = {0};
    int64_t size[2] = {2, 3}, stride[2] = {3, 1};
    one_tensor(&p, "w", 10, 4, 2, size, stride);
    map_ok(&p, NULL);
    assert_view(&g_map.tensors[0], C2S_F32, 2, size, stride, 4, 6, 24, 1);
    assert_storage(0, "0", C2S_F32, 40);
}

Test(tmap, view_transposed_is_not_contiguous)
{
    pb p = {0};
    int64_t size[2] = {3, 2}, stride[2] = {1, 3};
    one_tensor(&p, "w", 6, 0, 2, size, stride);
    map_ok(&p, NULL);
    assert_view(&g_map.tensors[0], C2S_F32, 2, size, stride, 0, 6, 24, 0);
}

Test(tmap, view_expanded_stride_zero)
{
    pb p = {0};
    int64_t size[2] = {4, 3}, stride[2] = {0, 1};
    one_tensor(&p, "w", 3, 0, 2, size, stride);
    map_ok(&p, NULL);
    assert_view(&g_map.tensors[0], C2S_F32, 2, size, stride, 0, 12, 48, 0);
    assert_storage(0, "0", C2S_F32, 12);
}

Test(tmap, view_size_one_dims_ignore_stride)
{
    pb p = {0};
    int64_t size[3] = {1, 3, 1}, stride[3] = {99, 1, 7};
    one_tensor(&p, "w", 3, 0, 3, size, stride);
    map_ok(&p, NULL);
    assert_view(&g_map.tensors[0], C2S_F32, 3, size, stride, 0, 3, 12, 1);
}

Test(tmap, view_scalar)
{
    pb p = {0};
    one_tensor(&p, "step", 3, 2, 0, NULL, NULL);
    map_ok(&p, NULL);
    assert_view(&g_map.tensors[0], C2S_F32, 0, NULL, NULL, 2, 1, 4, 1);
}

Test(tmap, view_scalar_past_the_end)
{
    pb p = {0};
    one_tensor(&p, "step", 3, 3, 0, NULL, NULL);
    map_fails(&p, NULL,
              "tensor 'step': view (offset 3, shape and strides) reaches past the end of "
              "storage '0' (12 bytes)");
}

Test(tmap, view_empty_with_tiny_storage)
{
    pb p = {0};
    int64_t size[2] = {0, 5}, stride[2] = {5, 1};
    one_tensor(&p, "empty", 0, 100, 2, size, stride);
    map_ok(&p, NULL);
    assert_view(&g_map.tensors[0], C2S_F32, 2, size, stride, 100, 0, 0, 1);
    assert_storage(0, "0", C2S_F32, 0);
}

Test(tmap, view_exactly_fills_storage)
{
    pb p = {0};
    int64_t size[1] = {3}, stride[1] = {1};
    one_tensor(&p, "w", 4, 1, 1, size, stride);
    map_ok(&p, NULL);
    assert_view(&g_map.tensors[0], C2S_F32, 1, size, stride, 1, 3, 12, 1);
}

Test(tmap, view_strided_exactly_fills_storage)
{
    /* elements 0, 3, 6, 9 of a 10-element storage: last byte 40 */
    pb p = {0};
    int64_t size[1] = {4}, stride[1] = {3};
    one_tensor(&p, "w", 10, 0, 1, size, stride);
    map_ok(&p, NULL);
    assert_view(&g_map.tensors[0], C2S_F32, 1, size, stride, 0, 4, 16, 0);
}

Test(tmap, legacy_rebuild_tensor_v1)
{
    pb p = {0};
    int64_t size[2] = {2, 2}, stride[2] = {2, 1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    call_begin(&p, "torch._utils", "_rebuild_tensor");
    pb_storage(&p, "HalfStorage", "0", 4);
    pb_int(&p, 0);
    ints(&p, 2, size);
    ints(&p, 2, stride);
    call_end(&p);
    dict_end(&p);
    map_ok(&p, NULL);
    assert_view(&g_map.tensors[0], C2S_F16, 2, size, stride, 0, 4, 8, 1);
    assert_storage(0, "0", C2S_F16, 8);
}

/* ---- v3 --------------------------------------------------------------------- */

Test(tmap, v3_float8_counts_bytes)
{
    pb p = {0};
    int64_t size[2] = {2, 4}, stride[2] = {4, 1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "f8");
    tensor_v3(&p, "0", 10, 2, 2, size, stride, "float8_e4m3fn");
    dict_end(&p);
    map_ok(&p, NULL);
    assert_view(&g_map.tensors[0], C2S_F8_E4M3, 2, size, stride, 2, 8, 8, 1);
    assert_storage(0, "0", C2S_U8, 10);
}

Test(tmap, v3_uint16_bounds_in_bytes)
{
    pb p = {0};
    int64_t size[1] = {4}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "u16");
    tensor_v3(&p, "0", 8, 0, 1, size, stride, "uint16");
    dict_end(&p);
    map_ok(&p, NULL);
    assert_view(&g_map.tensors[0], C2S_U16, 1, size, stride, 0, 4, 8, 1);
    assert_storage(0, "0", C2S_U8, 8);
}

Test(tmap, v3_uint16_past_the_end)
{
    /* 4 uint16 at element offset 1 need 10 bytes; the storage has 8 */
    pb p = {0};
    int64_t size[1] = {4}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "u16");
    tensor_v3(&p, "0", 8, 1, 1, size, stride, "uint16");
    dict_end(&p);
    map_fails(&p, NULL,
              "tensor 'u16': view (offset 1, shape and strides) reaches past the end of "
              "storage '0' (8 bytes)");
}

Test(tmap, v3_complex128_unsupported)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "z");
    tensor_v3(&p, "0", 32, 0, 1, size, stride, "complex128");
    pb_str(&p, "w");
    vec(&p, "1", 1);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"z", "w"};
    assert_names(2, names);
    cr_assert_eq(g_map.tensors[0].supported, 0);
    cr_assert_str_eq(g_map.tensors[0].why, "complex128");
    cr_assert_eq(g_map.tensors[1].supported, 1);
}

Test(tmap, v3_unknown_dtype_refused)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "x");
    tensor_v3(&p, "0", 32, 0, 1, size, stride, "float128");
    dict_end(&p);
    map_fails(&p, NULL, "tensor 'x': unknown dtype torch.float128");
}

/* ---- wrappers --------------------------------------------------------------- */

Test(tmap, parameter_unwraps_to_tensor)
{
    pb p = {0};
    int64_t size[2] = {3, 2}, stride[2] = {2, 1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "fc.weight");
    call_begin(&p, "torch._utils", "_rebuild_parameter");
    pb_tensor_v2(&p, "DoubleStorage", "0", 6, 0, 2, size, stride);
    pb_bool(&p, 1);
    pb_ordered_dict(&p);
    call_end(&p);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"fc.weight"};
    assert_names(1, names);
    assert_view(&g_map.tensors[0], C2S_F64, 2, size, stride, 0, 6, 48, 1);
    assert_storage(0, "0", C2S_F64, 48);
}

Test(tmap, rebuild_from_type_v2_unwraps_to_tensor)
{
    pb p = {0};
    int64_t size[1] = {5}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "sub");
    call_begin(&p, "torch._tensor", "_rebuild_from_type_v2");
    pb_global(&p, "torch._utils", "_rebuild_tensor_v2");
    pb_global(&p, "__main__", "MyTensor");
    tuple_begin(&p);
    pb_storage(&p, "LongStorage", "0", 5);
    pb_int(&p, 0);
    ints(&p, 1, size);
    ints(&p, 1, stride);
    pb_bool(&p, 0);
    pb_ordered_dict(&p);
    tuple_end(&p);
    pb_empty_dict(&p);
    call_end(&p);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"sub"};
    assert_names(1, names);
    assert_view(&g_map.tensors[0], C2S_I64, 1, size, stride, 0, 5, 40, 1);
    assert_storage(0, "0", C2S_I64, 40);
}

Test(tmap, parameter_around_a_non_tensor_refused)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "p");
    call_begin(&p, "torch._utils", "_rebuild_parameter");
    pb_none(&p);
    pb_bool(&p, 1);
    pb_ordered_dict(&p);
    call_end(&p);
    dict_end(&p);
    map_fails(&p, NULL, "tensor 'p': parameter does not wrap a tensor");
}

/* ---- unsupported -------------------------------------------------------------- */

Test(tmap, unsupported_complex_double_storage)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "z");
    pb_tensor_v2(&p, "ComplexDoubleStorage", "0", 2, 0, 1, size, stride);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"z"};
    assert_names(1, names);
    cr_assert_eq(g_map.tensors[0].supported, 0);
    cr_assert_str_eq(g_map.tensors[0].why, "complex128");
}

/* PyTorch 2's _rebuild_tensor_v2 and _v3 take metadata after their usual
 * arguments (set_tensor_metadata: bits that change the values torch hands
 * out): a tensor with some is unsupported, one with None or {} is read. */
static void tensor_with_metadata(pb *p, const char *name, int v3, int with)
{
    int64_t size[1] = {4}, stride[1] = {1};
    pb_str(p, name);
    call_begin(p, "torch._utils", v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2");
    pb_storage(p, v3 ? "UntypedStorage" : "FloatStorage", name, v3 ? 16 : 4);
    pb_int(p, 0);
    ints(p, 1, size);
    ints(p, 1, stride);
    pb_bool(p, 0);
    pb_ordered_dict(p);
    if (v3)
        pb_global(p, "torch", "float32");
    if (with == 1) { /* {'neg': True} */
        pb_empty_dict(p);
        pb_str(p, "neg");
        pb_bool(p, 1);
        pb_setitem(p);
    } else if (with == 2) {
        pb_empty_dict(p);
    } else {
        pb_none(p);
    }
    call_end(p);
}

Test(tmap, unsupported_tensor_metadata)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    tensor_with_metadata(&p, "a", 0, 1);
    tensor_with_metadata(&p, "b", 1, 1);
    tensor_with_metadata(&p, "c", 0, 2);
    tensor_with_metadata(&p, "d", 1, 0);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"a", "b", "c", "d"};
    assert_names(4, names);
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(g_map.tensors[i].supported, 0, "%s", names[i]);
        cr_assert_str_eq(g_map.tensors[i].why, "tensor metadata (set_tensor_metadata)");
    }
    for (size_t i = 2; i < 4; i++)
        cr_assert_eq(g_map.tensors[i].supported, 1, "%s: %s", names[i], g_map.tensors[i].why);
}

Test(tmap, unsupported_sparse_tensor)
{
    pb p = {0};
    int64_t isz[2] = {2, 3}, ist[2] = {3, 1}, vsz[1] = {3}, vst[1] = {1};
    int64_t shape[2] = {4, 4};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "sp");
    call_begin(&p, "torch._utils", "_rebuild_sparse_tensor");
    pb_global(&p, "torch", "sparse_coo");
    tuple_begin(&p);
    pb_tensor_v2(&p, "LongStorage", "0", 6, 0, 2, isz, ist);
    pb_tensor_v2(&p, "FloatStorage", "1", 3, 0, 1, vsz, vst);
    ints(&p, 2, shape);
    tuple_end(&p);
    call_end(&p);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"sp"};
    assert_names(1, names);
    cr_assert_eq(g_map.tensors[0].supported, 0);
    cr_assert_str_eq(g_map.tensors[0].why, "sparse tensor");
}

Test(tmap, unsupported_quantized_tensor)
{
    pb p = {0};
    int64_t size[1] = {4}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "q");
    call_begin(&p, "torch._utils", "_rebuild_qtensor");
    pb_storage(&p, "QInt8Storage", "0", 4);
    pb_int(&p, 0);
    ints(&p, 1, size);
    ints(&p, 1, stride);
    tuple_begin(&p);
    pb_global(&p, "torch", "per_tensor_affine");
    pb_int(&p, 1);
    pb_int(&p, 0);
    tuple_end(&p);
    pb_bool(&p, 0);
    pb_ordered_dict(&p);
    call_end(&p);
    pb_str(&p, "w");
    vec(&p, "1", 2);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"q", "w"};
    assert_names(2, names);
    cr_assert_eq(g_map.tensors[0].supported, 0);
    cr_assert_str_eq(g_map.tensors[0].why, "quantized tensor");
    cr_assert_eq(g_map.tensors[1].supported, 1);
    assert_storage(1, "1", C2S_F32, 8);
}

/* ---- refusals ---------------------------------------------------------------- */

Test(tmap, refuse_view_past_end_of_storage)
{
    pb p = {0};
    int64_t size[1] = {3}, stride[1] = {1};
    one_tensor(&p, "w", 4, 2, 1, size, stride);
    map_fails(&p, NULL,
              "tensor 'w': view (offset 2, shape and strides) reaches past the end of "
              "storage '0' (16 bytes)");
}

Test(tmap, refuse_strided_view_past_end)
{
    pb p = {0};
    int64_t size[2] = {2, 3}, stride[2] = {1, 2};
    one_tensor(&p, "m.w", 5, 0, 2, size, stride);
    map_fails(&p, NULL,
              "tensor 'm.w': view (offset 0, shape and strides) reaches past the end of "
              "storage '0' (20 bytes)");
}

Test(tmap, refuse_negative_stride)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {-1};
    one_tensor(&p, "w", 4, 0, 1, size, stride);
    map_fails(&p, NULL, "tensor 'w': negative stride -1");
}

Test(tmap, refuse_negative_size)
{
    pb p = {0};
    int64_t size[2] = {3, -2}, stride[2] = {1, 1};
    one_tensor(&p, "w", 4, 0, 2, size, stride);
    map_fails(&p, NULL, "tensor 'w': negative size -2");
}

Test(tmap, refuse_negative_offset)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    one_tensor(&p, "w", 4, -1, 1, size, stride);
    map_fails(&p, NULL, "tensor 'w': storage offset is not a non-negative integer");
}

Test(tmap, refuse_element_count_overflow)
{
    pb p = {0};
    int64_t size[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    int64_t stride[2] = {INT64_C(1) << 40, 1};
    one_tensor(&p, "w", 1, 0, 2, size, stride);
    map_fails(&p, NULL, "tensor 'w': element count overflows");
}

Test(tmap, refuse_view_extent_overflow)
{
    pb p = {0};
    int64_t size[1] = {5}, stride[1] = {INT64_MAX}; /* 4 * (2^63 - 1) > 2^64 */
    one_tensor(&p, "w", 1, 0, 1, size, stride);
    map_fails(&p, NULL, "tensor 'w': view extent overflows");
}

Test(tmap, refuse_bad_persistent_id)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    call_begin(&p, "torch._utils", "_rebuild_tensor_v2");
    tuple_begin(&p); /* 4 fields instead of 5 */
    pb_str(&p, "storage");
    pb_global(&p, "torch", "FloatStorage");
    pb_str(&p, "0");
    pb_str(&p, "cpu");
    tuple_end(&p);
    pb_binpersid(&p);
    pb_int(&p, 0);
    ints(&p, 1, size);
    ints(&p, 1, stride);
    pb_bool(&p, 0);
    pb_ordered_dict(&p);
    call_end(&p);
    dict_end(&p);
    map_fails(&p, NULL,
              "tensor 'w': bad persistent id (expected ('storage', class, key, location, "
              "numel))");
}

Test(tmap, refuse_storage_not_a_persistent_id)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    call_begin(&p, "torch._utils", "_rebuild_tensor_v2");
    pb_none(&p);
    pb_int(&p, 0);
    ints(&p, 1, size);
    ints(&p, 1, stride);
    pb_bool(&p, 0);
    pb_ordered_dict(&p);
    call_end(&p);
    dict_end(&p);
    map_fails(&p, NULL, "tensor 'w': its storage is not a persistent id");
}

Test(tmap, refuse_storage_key_with_slash)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    pb_tensor_v2(&p, "FloatStorage", "../x", 2, 0, 1, size, stride);
    dict_end(&p);
    map_fails(&p, NULL, "tensor 'w': invalid storage key in persistent id");
}

/* The storage key names a record data/<key>: no empty key, no "." or
 * "..", nothing past C2S_STORAGE_KEY_MAX; a key that only starts with
 * dots is a name like any other. */
Test(tmap, storage_keys_checked_by_their_length)
{
    char longest[C2S_STORAGE_KEY_MAX + 2];
    memset(longest, '7', sizeof longest);
    longest[C2S_STORAGE_KEY_MAX] = '\0';
    const char *const good[] = {".x", "...", "..x", "x.", longest};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        pb p = {0};
        int64_t size[1] = {2}, stride[1] = {1};
        pb_proto(&p, 2);
        dict_begin(&p);
        pb_str(&p, "w");
        pb_tensor_v2(&p, "FloatStorage", good[i], 2, 0, 1, size, stride);
        dict_end(&p);
        map_ok(&p, NULL);
        assert_storage(0, good[i], C2S_F32, 8);
        tmap_fini();
    }
    longest[C2S_STORAGE_KEY_MAX] = '7';
    longest[C2S_STORAGE_KEY_MAX + 1] = '\0';
    const char *const bad[] = {"", ".", "..", "a/b", longest};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pb p = {0};
        int64_t size[1] = {2}, stride[1] = {1};
        pb_proto(&p, 2);
        dict_begin(&p);
        pb_str(&p, "w");
        pb_tensor_v2(&p, "FloatStorage", bad[i], 2, 0, 1, size, stride);
        dict_end(&p);
        map_fails(&p, NULL, "tensor 'w': invalid storage key in persistent id");
        tmap_fini();
    }
}

/* A state dict big enough for every "big" path at once: a pickle past the
 * VM's SLABS_MIN (its arenas in slabs from the first block, its memo and
 * key index made big at once) and a graph past tmap's BIG_GRAPH nodes (the
 * map's arrays and text made big at once).  Every tensor is where the
 * small paths put it. */
Test(tmap, big_state_dict_mapped_exactly)
{
    enum { N = 120000 };
    pb p = {0};
    int64_t size[1] = {1}, stride[1] = {1};
    pb_proto(&p, 2);
    pb_empty_dict(&p);
    uint32_t memo = 0;
    for (size_t i = 0; i < N; i++) {
        if (i % 1000 == 0)
            pb_mark(&p);
        char name[32], key[16];
        snprintf(name, sizeof name, "layer%zu.weight", i);
        snprintf(key, sizeof key, "%zu", i);
        pb_str(&p, name);
        pb_put(&p, memo++);
        pb_tensor_v2(&p, "FloatStorage", key, 1, 0, 1, size, stride);
        pb_put(&p, memo++);
        if (i % 1000 == 999)
            pb_setitems(&p);
    }
    cr_assert_gt(p.len, (size_t)4 << 20, "past the VM's SLABS_MIN");
    map_ok(&p, NULL);
    cr_assert_geq(pvm_value_count(g_vm), (size_t)1 << 20, "past tmap's BIG_GRAPH");
    cr_assert_eq(g_map.ntensors, N);
    cr_assert_eq(g_map.nstorages, N);
    for (size_t i = 0; i < N; i += 997) {
        char name[32], key[16];
        snprintf(name, sizeof name, "layer%zu.weight", i);
        snprintf(key, sizeof key, "%zu", i);
        cr_assert_str_eq(g_map.tensors[i].name, name);
        assert_storage(i, key, C2S_F32, 4);
        cr_assert_eq(g_map.tensors[i].ndim, 1);
        cr_assert_eq(g_map.tensors[i].shape[0], 1);
    }
    cr_assert_str_eq(g_map.tensors[N - 1].name, "layer119999.weight");
}

Test(tmap, refuse_unknown_storage_class)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    pb_tensor_v2(&p, "FooStorage", "0", 2, 0, 1, size, stride);
    dict_end(&p);
    map_fails(&p, NULL, "tensor 'w': unknown storage class torch.FooStorage");
}

/* FloatStorage is known, but only from torch (and torch.cuda). */
Test(tmap, refuse_storage_class_outside_torch)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    pb_global(&p, "torch._utils", "_rebuild_tensor_v2");
    pb_mark(&p);
    pb_mark(&p);
    pb_str(&p, "storage");
    pb_global(&p, "numpy", "FloatStorage");
    pb_str(&p, "0");
    pb_str(&p, "cpu");
    pb_int(&p, 2);
    pb_tuple(&p);
    pb_binpersid(&p);
    pb_int(&p, 0);
    pb_ints_tuple(&p, 1, size);
    pb_ints_tuple(&p, 1, stride);
    pb_bool(&p, 0);
    pb_ordered_dict(&p);
    pb_tuple(&p);
    pb_reduce(&p);
    dict_end(&p);
    map_fails(&p, NULL, "tensor 'w': unknown storage class numpy.FloatStorage");
}

Test(tmap, refuse_too_few_rebuild_args)
{
    pb p = {0};
    int64_t size[1] = {2};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    call_begin(&p, "torch._utils", "_rebuild_tensor_v2");
    pb_storage(&p, "FloatStorage", "0", 2);
    pb_int(&p, 0);
    ints(&p, 1, size);
    call_end(&p);
    dict_end(&p);
    map_fails(&p, NULL, "tensor 'w': rebuild call has too few arguments");
}

Test(tmap, refuse_v3_with_six_args)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    call_begin(&p, "torch._utils", "_rebuild_tensor_v3");
    pb_storage(&p, "UntypedStorage", "0", 2);
    pb_int(&p, 0);
    ints(&p, 1, size);
    ints(&p, 1, stride);
    pb_bool(&p, 0);
    pb_ordered_dict(&p);
    call_end(&p);
    dict_end(&p);
    map_fails(&p, NULL, "tensor 'w': rebuild call has too few arguments");
}

Test(tmap, refuse_size_stride_length_mismatch)
{
    pb p = {0};
    int64_t size[2] = {2, 3}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    call_begin(&p, "torch._utils", "_rebuild_tensor_v2");
    pb_storage(&p, "FloatStorage", "0", 6);
    pb_int(&p, 0);
    ints(&p, 2, size);
    ints(&p, 1, stride);
    pb_bool(&p, 0);
    pb_ordered_dict(&p);
    call_end(&p);
    dict_end(&p);
    map_fails(&p, NULL, "tensor 'w': size and stride have different lengths");
}

Test(tmap, refuse_duplicate_names)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "a.b");
    vec(&p, "0", 1);
    pb_str(&p, "a");
    dict_begin(&p);
    pb_str(&p, "b");
    vec(&p, "1", 1);
    dict_end(&p);
    dict_end(&p);
    map_fails(&p, NULL, "two tensors are both named 'a.b'");
}

/* Many tensors: each first name is found again only when its 32-bit hash
 * and then its text agree (check_names); a storage named by many tensors is
 * found by its key's hash and text (storage_index). */
#define MANY_NAMES 3000

Test(tmap, many_names_and_shared_storages)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    char name[32], key[32];
    for (int i = 0; i < MANY_NAMES; i++) {
        snprintf(name, sizeof name, "layer%d.w", i);
        snprintf(key, sizeof key, "%d", i % 100);
        pb_str(&p, name);
        vec(&p, key, 4);
    }
    dict_end(&p);
    map_ok(&p, NULL);
    cr_assert_eq(g_map.ntensors, MANY_NAMES);
    cr_assert_eq(g_map.nstorages, 100);
    for (int i = 0; i < MANY_NAMES; i++) {
        snprintf(name, sizeof name, "layer%d.w", i);
        snprintf(key, sizeof key, "%d", i % 100);
        cr_assert_str_eq(g_map.tensors[i].name, name);
        cr_assert_eq(g_map.tensors[i].storage, (size_t)(i % 100));
        cr_assert_str_eq(g_map.storages[i % 100].key, key);
    }
}

/* The same name twice among thousands, far apart: the first name seen again
 * is reported. */
Test(tmap, refuse_duplicate_name_among_many)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    char name[32], key[32];
    for (int i = 0; i < MANY_NAMES; i++) {
        snprintf(name, sizeof name, "t%d", i);
        snprintf(key, sizeof key, "%d", i);
        pb_str(&p, name);
        vec(&p, key, 1);
    }
    pb_str(&p, "x");
    dict_begin(&p);
    pb_str(&p, "y");
    vec(&p, "y", 1);
    dict_end(&p);
    pb_str(&p, "x.y");
    vec(&p, "z", 1);
    dict_end(&p);
    map_fails(&p, NULL, "two tensors are both named 'x.y'");
}

Test(tmap, refuse_tensor_named_metadata)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "0", 1);
    pb_str(&p, "__metadata__");
    vec(&p, "1", 1);
    dict_end(&p);
    map_fails(&p, NULL, "a tensor is named '__metadata__', a name safetensors reserves");
}

Test(tmap, refuse_no_tensors)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "epoch");
    pb_int(&p, 1);
    pb_str(&p, "empty");
    list_begin(&p);
    list_end(&p);
    dict_end(&p);
    map_fails(&p, NULL, "no tensors found under the top level");
}

Test(tmap, refuse_no_tensors_under_key)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "model");
    dict_begin(&p);
    pb_str(&p, "n");
    pb_int(&p, 1);
    dict_end(&p);
    pb_str(&p, "w");
    vec(&p, "0", 1);
    dict_end(&p);
    tmap_options o = {.key = "model"};
    map_fails(&p, &o, "no tensors found under model");
}

Test(tmap, refuse_no_tensors_with_left_out_note)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "state_dict");
    dict_begin(&p);
    dict_end(&p);
    pb_str(&p, "optimizer_states");
    list_begin(&p);
    vec(&p, "0", 1);
    list_end(&p);
    dict_end(&p);
    map_fails(&p, NULL,
              "no tensors found under state_dict (left out: optimizer_states (1 tensor))");
}

Test(tmap, refuse_no_tensors_only_inside_object)
{
    pb p = {0};
    pb_proto(&p, 2);
    pb_global(&p, "__main__", "Net");
    pb_empty_tuple(&p);
    pb_reduce(&p);
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "0", 1);
    pb_str(&p, "b");
    vec(&p, "1", 1);
    dict_end(&p);
    pb_build(&p);
    map_fails(&p, NULL,
              "no tensors found under the top level (left out: (top level) (2 tensors, "
              "inside a __main__.Net object))");
}

Test(tmap, root_tensor_is_named_tensor)
{
    pb p = {0};
    pb_proto(&p, 2);
    vec(&p, "0", 3);
    map_ok(&p, NULL);
    static const char *const names[] = {"tensor"};
    assert_names(1, names);
    int64_t n = 3, one = 1;
    assert_view(&g_map.tensors[0], C2S_F32, 1, &n, &one, 0, 3, 12, 1);
}

Test(tmap, root_tensor_takes_the_name_given)
{
    pb p = {0};
    pb_proto(&p, 2);
    vec(&p, "0", 3);
    tmap_options o = {.tensor_name = "embedding.weight"};
    map_ok(&p, &o);
    static const char *const names[] = {"embedding.weight"};
    assert_names(1, names);
}

Test(tmap, root_tensor_name_must_not_be_empty)
{
    pb p = {0};
    pb_proto(&p, 2);
    vec(&p, "0", 3);
    tmap_options o = {.tensor_name = ""};
    map_fails(&p, &o, "the name for the root tensor is empty");
}

/* Storage keys "0", "1", ... in order are found by their number; the first
 * other key ("x") indexes them all, and lookups go through the index from
 * then on: "01" is not "1", "1" is found again after the switch. */
Test(tmap, storage_keys_in_order_then_others)
{
    static const char *const keys[] = {"0", "1", "0", "2", "x", "1", "01", "x", "3", "2"};
    static const size_t want[] = {0, 1, 0, 2, 3, 1, 4, 3, 5, 2};
    enum { N = sizeof keys / sizeof *keys };
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    for (size_t i = 0; i < N; i++) {
        char name[8];
        snprintf(name, sizeof name, "t%zu", i);
        pb_str(&p, name);
        vec(&p, keys[i], 4);
    }
    dict_end(&p);
    map_ok(&p, NULL);
    cr_assert_eq(g_map.ntensors, N);
    static const char *const stored[] = {"0", "1", "2", "x", "01", "3"};
    cr_assert_eq(g_map.nstorages, 6);
    for (size_t s = 0; s < 6; s++)
        cr_assert_str_eq(g_map.storages[s].key, stored[s]);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(g_map.tensors[i].storage, want[i], "tensor %zu", i);
}

/* A key past the next number ("2" before "1") leaves the in-order path. */
Test(tmap, storage_key_ahead_of_its_turn)
{
    static const char *const keys[] = {"0", "2", "1", "2"};
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    for (size_t i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "t%zu", i);
        pb_str(&p, name);
        vec(&p, keys[i], 4);
    }
    dict_end(&p);
    map_ok(&p, NULL);
    cr_assert_eq(g_map.nstorages, 3);
    cr_assert_str_eq(g_map.storages[1].key, "2");
    cr_assert_str_eq(g_map.storages[2].key, "1");
    cr_assert_eq(g_map.tensors[3].storage, 1);
}

Test(tmap, refuse_storage_declared_twice_after_other_keys)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "a");
    vec(&p, "k", 4);
    pb_str(&p, "b");
    vec(&p, "k", 8);
    dict_end(&p);
    map_fails(&p, NULL, "storage 'k' is declared twice with different types or sizes");
}

Test(tmap, refuse_storage_declared_twice_with_different_sizes)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "a");
    vec(&p, "0", 4);
    pb_str(&p, "b");
    vec(&p, "0", 8);
    dict_end(&p);
    map_fails(&p, NULL, "storage '0' is declared twice with different types or sizes");
}

/* ---- robustness ---------------------------------------------------------------- */

Test(tmap, cycle_list_contains_itself)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "loop");
    pb_empty_list(&p);
    pb_dup(&p);
    pb_append(&p); /* L.append(L) */
    vec(&p, "0", 2);
    pb_append(&p); /* L.append(T) */
    pb_str(&p, "w");
    vec(&p, "1", 3);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"loop.1", "w"};
    assert_names(2, names);
    cr_assert_eq(g_map.nnotes, 0);
}

Test(tmap, cycle_dict_contains_itself_via_memo)
{
    pb p = {0};
    pb_proto(&p, 2);
    pb_empty_dict(&p);
    pb_put(&p, 0);
    pb_mark(&p);
    pb_str(&p, "self");
    pb_get(&p, 0);
    pb_str(&p, "w");
    vec(&p, "0", 3);
    pb_setitems(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"w"};
    assert_names(1, names);
}

/* {"a": {"b": {"c": {"d": T}}}}: four containers on the path. */
static void four_levels(pb *p)
{
    pb_proto(p, 2);
    dict_begin(p);
    pb_str(p, "a");
    dict_begin(p);
    pb_str(p, "b");
    dict_begin(p);
    pb_str(p, "c");
    dict_begin(p);
    pb_str(p, "d");
    vec(p, "0", 1);
    dict_end(p);
    dict_end(p);
    dict_end(p);
    dict_end(p);
}

Test(tmap, depth_limit_exactly_reached_is_fine)
{
    pb p = {0};
    four_levels(&p);
    tmap_options o = {.max_depth = 4};
    map_ok(&p, &o);
    static const char *const names[] = {"a.b.c.d"};
    assert_names(1, names);
}

Test(tmap, depth_limit_exceeded)
{
    pb p = {0};
    four_levels(&p);
    tmap_options o = {.max_depth = 3};
    map_fails(&p, &o, "nesting deeper than 3 levels at 'a.b.c'");
    cr_assert_eq(g_err.rule, C2S_RULE_MAX_DEPTH);
}

Test(tmap, depth_default_limit)
{
    /* 1001 nested lists around a tensor: one level too many for the default */
    pb p = {0};
    pb_proto(&p, 2);
    for (int i = 0; i < 1001; i++)
        pb_mark(&p);
    vec(&p, "0", 1);
    for (int i = 0; i < 1001; i++)
        list_end(&p);
    /* the path shown is cut after 60 characters */
    char want[160] = "nesting deeper than 1000 levels at '";
    for (int i = 0; i < 30; i++)
        strcat(want, "0.");
    strcat(want, "...'");
    map_fails(&p, NULL, want);
}

/* 40 levels, each a list holding the previous level twice (DUP), around a
 * tensor: 2^40 paths through 41 nodes. */
static void exponential(pb *p)
{
    pb_proto(p, 2);
    dict_begin(p);
    pb_str(p, "x");
    for (int i = 0; i < 40; i++)
        pb_mark(p);
    vec(p, "0", 1);
    for (int i = 0; i < 40; i++) {
        pb_dup(p);
        list_end(p);
    }
    dict_end(p);
}

Test(tmap, shared_structure_small_visit_limit)
{
    pb p = {0};
    exponential(&p);
    tmap_options o = {.max_visits = 1000};
    map_fails(&p, &o,
              "object graph too large: more than 1000 nodes visited (deeply shared "
              "sub-structures?)");
}

Test(tmap, shared_structure_default_limit_ends_fast, .timeout = 60)
{
    pb p = {0};
    exponential(&p);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    c2s_status st = map_pickle(&p, NULL);
    cr_assert_eq(st, C2S_ERR_INPUT);
    /* default budget (tmap.h): 100,000 + 4 per pickle object */
    char want[160];
    snprintf(want, sizeof want,
             "object graph too large: more than %llu nodes visited (deeply shared "
             "sub-structures?)",
             100000ull + 4ull * (unsigned long long)pvm_value_count(g_vm));
    cr_assert_str_eq(g_err.msg, want);
    cr_assert_eq(g_map.ntensors, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert_lt(secs, 30.0, "took %.1f s", secs);
}

Test(tmap, shared_structure_small_enough_is_walked)
{
    /* 3 levels: 8 paths to the one tensor, all named */
    pb p = {0};
    pb_proto(&p, 2);
    for (int i = 0; i < 3; i++)
        pb_mark(&p);
    vec(&p, "0", 1);
    for (int i = 0; i < 3; i++) {
        pb_dup(&p);
        list_end(&p);
    }
    map_ok(&p, NULL);
    static const char *const names[] = {"0.0.0", "0.0.1", "0.1.0", "0.1.1",
                                        "1.0.0", "1.0.1", "1.1.0", "1.1.1"};
    assert_names(8, names);
    cr_assert_eq(g_map.nstorages, 1);
}

Test(tmap, opaque_object_note)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "model");
    dict_begin(&p);
    pb_str(&p, "net");
    pb_global(&p, "__main__", "Net");
    pb_empty_tuple(&p);
    pb_reduce(&p);
    dict_begin(&p);
    pb_str(&p, "weight");
    vec(&p, "0", 2);
    pb_str(&p, "layers");
    list_begin(&p);
    vec(&p, "1", 2);
    vec(&p, "2", 2);
    list_end(&p);
    dict_end(&p);
    pb_build(&p);
    pb_str(&p, "w");
    vec(&p, "3", 2);
    dict_end(&p);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"model.w"};
    assert_names(1, names);
    static const char *const notes[] = {
        "left out: model.net (3 tensors, inside a __main__.Net object)"};
    assert_notes(1, notes);
    cr_assert_eq(g_map.nstorages, 1);
    assert_storage(0, "3", C2S_F32, 8);
}

Test(tmap, dict_subclass_items_are_named)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "sd");
    pb_global(&p, "__main__", "MyDict");
    pb_empty_tuple(&p);
    pb_reduce(&p);
    pb_mark(&p);
    pb_str(&p, "w");
    vec(&p, "0", 2);
    pb_str(&p, "b");
    vec(&p, "1", 1);
    pb_setitems(&p);
    dict_begin(&p); /* an attribute holding a tensor: not named */
    pb_str(&p, "_extra");
    vec(&p, "2", 1);
    dict_end(&p);
    pb_build(&p);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"sd.w", "sd.b"};
    assert_names(2, names);
    static const char *const notes[] = {"left out: sd (1 tensor, inside a __main__.MyDict object)"};
    assert_notes(1, notes);
}

Test(tmap, list_subclass_items_are_named)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "blocks");
    pb_global(&p, "torch.nn.modules.container", "ModuleList");
    pb_empty_tuple(&p);
    pb_reduce(&p);
    vec(&p, "0", 2);
    pb_append(&p);
    vec(&p, "1", 2);
    pb_append(&p);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"blocks.0", "blocks.1"};
    assert_names(2, names);
    cr_assert_eq(g_map.nnotes, 0);
}

Test(tmap, tensor_under_unnameable_key_noted)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "m");
    dict_begin(&p);
    tuple_begin(&p);
    pb_int(&p, 1);
    pb_int(&p, 2);
    tuple_end(&p);
    vec(&p, "0", 1);
    pb_str(&p, "w");
    vec(&p, "1", 1);
    dict_end(&p);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"m.w"};
    assert_names(1, names);
    static const char *const notes[] = {"left out: m (1 tensor, under a dict key of type tuple)"};
    assert_notes(1, notes);
}

/* ---- notes whose names contain '|' -------------------------------------------- */

/* The note text is the entry's name: a '|' in it is just a character. */
Test(tmap, note_for_left_out_key_containing_a_bar)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "state_dict");
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "0", 1);
    dict_end(&p);
    pb_str(&p, "opt|1");
    vec(&p, "1", 1);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const notes[] = {"left out: opt|1 (1 tensor)"};
    assert_notes(1, notes);
}

Test(tmap, note_for_object_under_key_containing_a_bar)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "a|b");
    pb_global(&p, "__main__", "Net");
    pb_empty_tuple(&p);
    pb_reduce(&p);
    dict_begin(&p);
    pb_str(&p, "weight");
    vec(&p, "0", 1);
    dict_end(&p);
    pb_build(&p);
    pb_str(&p, "w");
    vec(&p, "1", 1);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const notes[] = {"left out: a|b (1 tensor, inside a __main__.Net object)"};
    assert_notes(1, notes);
}

/* ---- torch.Size ----------------------------------------------------------------- */

/* The pickle VM leaves torch.Size(seq) a call (test_pvm.c); the map reads it
 * as the tuple seq wherever it appears, as torch.load would build it. */

/* {"w": _rebuild_tensor_v2(FloatStorage '0' of 6, 0, <size>, <stride>, ...)}
 * where size and stride are written by the callbacks. */
static void tensor_with(pb *p, void (*size)(pb *), void (*stride)(pb *))
{
    pb_proto(p, 2);
    dict_begin(p);
    pb_str(p, "w");
    call_begin(p, "torch._utils", "_rebuild_tensor_v2");
    pb_storage(p, "FloatStorage", "0", 6);
    pb_int(p, 0);
    size(p);
    stride(p);
    pb_bool(p, 0);
    pb_ordered_dict(p);
    call_end(p);
    dict_end(p);
}

/* torch.Size((2, 3)) by REDUCE */
static void size_2_3(pb *p)
{
    static const int64_t v[2] = {2, 3};
    call_begin(p, "torch", "Size");
    ints(p, 2, v);
    call_end(p);
}

/* torch.Size([3, 1]) by NEWOBJ */
static void size_list_3_1_newobj(pb *p)
{
    pb_global(p, "torch", "Size");
    pb_mark(p);
    list_begin(p);
    pb_int(p, 3);
    pb_int(p, 1);
    list_end(p);
    pb_tuple(p);
    pb_op(p, 0x81); /* NEWOBJ */
}

static void tuple_3_1(pb *p)
{
    static const int64_t v[2] = {3, 1};
    ints(p, 2, v);
}

/* torch.Size((2, 3), 4): not the shape of a torch.Size call */
static void size_two_args(pb *p)
{
    static const int64_t v[2] = {2, 3};
    call_begin(p, "torch", "Size");
    ints(p, 2, v);
    pb_int(p, 4);
    call_end(p);
}

/* torch.Size(6) */
static void size_of_int(pb *p)
{
    call_begin(p, "torch", "Size");
    pb_int(p, 6);
    call_end(p);
}

/* torch.Size((2, 3)) that then receives BUILD state: no longer a plain size */
static void size_built(pb *p)
{
    size_2_3(p);
    pb_empty_dict(p);
    pb_build(p);
}

/* torch.Sizes((2, 3)): a global the table does not call a size */
static void not_torch_size(pb *p)
{
    static const int64_t v[2] = {2, 3};
    call_begin(p, "torch", "Sizes");
    ints(p, 2, v);
    call_end(p);
}

Test(tmap, torch_size_as_size_and_stride)
{
    pb p = {0};
    tensor_with(&p, size_2_3, size_list_3_1_newobj);
    map_ok(&p, NULL);
    static const int64_t size[2] = {2, 3}, stride[2] = {3, 1};
    assert_view(&g_map.tensors[0], C2S_F32, 2, size, stride, 0, 6, 24, 1);
    assert_storage(0, "0", C2S_F32, 24);
}

Test(tmap, torch_size_of_the_wrong_shape_is_not_a_size)
{
    pb p = {0};
    tensor_with(&p, size_two_args, tuple_3_1);
    map_fails(&p, NULL, "tensor 'w': size is not a tuple");
    tmap_fini();
    pb p2 = {0};
    tensor_with(&p2, size_of_int, tuple_3_1);
    map_fails(&p2, NULL, "tensor 'w': size is not a tuple");
    tmap_fini();
    pb p3 = {0};
    tensor_with(&p3, not_torch_size, tuple_3_1);
    map_fails(&p3, NULL, "tensor 'w': size is not a tuple");
}

/* When the VM turned torch.Size into a tuple itself, BUILD on it failed in
 * the VM ("BUILD on a tuple"); now the VM records the state on the call and
 * the map refuses the size. */
Test(tmap, torch_size_given_state_is_not_a_size)
{
    pb p = {0};
    tensor_with(&p, size_built, tuple_3_1);
    map_fails(&p, NULL, "tensor 'w': size is not a tuple");
}

/* {"s": torch.Size((<tensor '0'>, <tensor '1'>))} */
static void size_of_tensors(pb *p)
{
    pb_proto(p, 2);
    dict_begin(p);
    pb_str(p, "s");
    call_begin(p, "torch", "Size");
    tuple_begin(p);
    vec(p, "0", 1);
    vec(p, "1", 2);
    tuple_end(p);
    call_end(p);
    dict_end(p);
}

Test(tmap, torch_size_items_are_named_like_a_tuple)
{
    pb p = {0};
    size_of_tensors(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"s.0", "s.1"};
    assert_names(2, names);
    cr_assert_eq(g_map.nnotes, 0);
}

Test(tmap, key_path_through_a_torch_size)
{
    pb p = {0};
    size_of_tensors(&p);
    tmap_options o = {.key = "s.1"};
    map_ok(&p, &o);
    static const char *const names[] = {"tensor"};
    assert_names(1, names);
    tmap_fini();
    pb p2 = {0};
    size_of_tensors(&p2);
    tmap_options o2 = {.key = "s.5"};
    map_fails(&p2, &o2, "'s.5': no entry '5' in the tuple at 's'");
}

Test(tmap, torch_size_dict_key_noted_as_a_tuple)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "m");
    dict_begin(&p);
    size_2_3(&p);
    vec(&p, "0", 1);
    pb_str(&p, "w");
    vec(&p, "1", 1);
    dict_end(&p);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"m.w"};
    assert_names(1, names);
    static const char *const notes[] = {"left out: m (1 tensor, under a dict key of type tuple)"};
    assert_notes(1, notes);
}

/* ---- quantized tensors ------------------------------------------------------------ */

/* BINFLOAT: 8 bytes, big-endian. */
static void pb_float(pb *p, double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    pb_op(p, 'G');
    for (int i = 7; i >= 0; i--)
        pb_op(p, (unsigned char)(b >> (8 * i)));
}

/* A contiguous 1-d tensor of n elements of storage class cls. */
static void vec_of(pb *p, const char *cls, const char *key, int64_t n)
{
    int64_t size[1] = {n}, stride[1] = {1};
    pb_tensor_v2(p, cls, key, n, 0, 1, size, stride);
}

/* _rebuild_qtensor(storage, 0, [2, 3, 4], C strides, qparams, False, OrderedDict())
 * with qparams written by qp. */
static void qtensor(pb *p, const char *cls, void (*qp)(pb *))
{
    int64_t size[3] = {2, 3, 4}, stride[3] = {12, 4, 1};
    call_begin(p, "torch._utils", "_rebuild_qtensor");
    pb_storage(p, cls, "q", 24);
    pb_int(p, 0);
    ints(p, 3, size);
    ints(p, 3, stride);
    qp(p);
    pb_bool(p, 0);
    pb_ordered_dict(p);
    call_end(p);
}

static void per_tensor(pb *p)
{
    tuple_begin(p);
    pb_global(p, "torch", "per_tensor_affine");
    pb_float(p, 0.5);
    pb_int(p, -3);
    tuple_end(p);
}

/* (per_channel_affine, scales (3 F64), zero points (3 I64), axis 1) */
static void per_channel(pb *p)
{
    tuple_begin(p);
    pb_global(p, "torch", "per_channel_affine");
    vec_of(p, "DoubleStorage", "s", 3);
    vec_of(p, "LongStorage", "z", 3);
    pb_int(p, 1);
    tuple_end(p);
}

static void per_channel_bad_axis(pb *p)
{
    tuple_begin(p);
    pb_global(p, "torch", "per_channel_affine");
    vec_of(p, "DoubleStorage", "s", 3);
    vec_of(p, "LongStorage", "z", 3);
    pb_int(p, 3);
    tuple_end(p);
}

static void per_channel_short_scales(pb *p)
{
    tuple_begin(p);
    pb_global(p, "torch", "per_channel_affine");
    vec_of(p, "DoubleStorage", "s", 2);
    vec_of(p, "LongStorage", "z", 3);
    pb_int(p, 1);
    tuple_end(p);
}

static void per_channel_float_zero_points(pb *p)
{
    tuple_begin(p);
    pb_global(p, "torch", "per_channel_affine");
    vec_of(p, "DoubleStorage", "s", 3);
    vec_of(p, "FloatStorage", "z", 3);
    pb_int(p, 1);
    tuple_end(p);
}

static void float_qparams(pb *p)
{
    tuple_begin(p);
    pb_global(p, "torch", "per_channel_affine_float_qparams");
    vec_of(p, "FloatStorage", "s", 3);
    vec_of(p, "FloatStorage", "z", 3);
    pb_int(p, 1);
    tuple_end(p);
}

static void one_quantized(pb *p, const char *cls, void (*qp)(pb *))
{
    pb_proto(p, 2);
    dict_begin(p);
    pb_str(p, "w");
    qtensor(p, cls, qp);
    dict_end(p);
}

Test(tmap, quantized_per_tensor_raw_adds_inline_scale_and_zero_point)
{
    pb p = {0};
    one_quantized(&p, "QInt8Storage", per_tensor);
    tmap_options o = {.quantized = C2S_QUANTIZED_RAW};
    map_ok(&p, &o);
    static const char *const names[] = {"w", "w.scale", "w.zero_point"};
    assert_names(3, names);
    const tmap_tensor *w = &g_map.tensors[0], *s = &g_map.tensors[1], *z = &g_map.tensors[2];
    cr_assert_eq(w->dtype, C2S_I8);
    cr_assert_eq(tmap_value_dtype(w), C2S_I8);
    cr_assert_eq(w->q.scheme, TMAP_Q_PER_TENSOR);
    cr_assert_str_eq(tmap_quant_of(&g_map, w)->qdtype, "qint8");
    assert_storage(0, "q", C2S_I8, 24);
    static const unsigned char half[8] = {0, 0, 0, 0, 0, 0, 0xE0, 0x3F};
    static const unsigned char minus3[8] = {0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    cr_assert_eq(s->storage, TMAP_NO_STORAGE);
    cr_assert_eq(s->dtype, C2S_F64);
    cr_assert_eq(s->ndim, 0);
    cr_assert_eq(s->nbytes, 8);
    cr_assert_arr_eq(s->inline_bytes, half, 8);
    cr_assert_eq(z->storage, TMAP_NO_STORAGE);
    cr_assert_eq(z->dtype, C2S_I64);
    cr_assert_arr_eq(z->inline_bytes, minus3, 8);
}

Test(tmap, quantized_per_tensor_dequantized_is_one_f32_tensor)
{
    pb p = {0};
    one_quantized(&p, "QUInt8Storage", per_tensor);
    tmap_options o = {.quantized = C2S_QUANTIZED_DEQUANTIZE};
    map_ok(&p, &o);
    static const char *const names[] = {"w"};
    assert_names(1, names);
    const tmap_tensor *w = &g_map.tensors[0];
    cr_assert_eq(w->dtype, C2S_U8);
    cr_assert_eq(tmap_value_dtype(w), C2S_F32);
    cr_assert_eq(tmap_quant_of(&g_map, w)->scale, 0.5);
    cr_assert_eq(tmap_quant_of(&g_map, w)->zero_point, -3);
    cr_assert_str_eq(tmap_quant_of(&g_map, w)->qdtype, "quint8");
    cr_assert_eq(g_map.nqparams, 0);
}

Test(tmap, quantized_per_channel_dequantized_keeps_its_parameters_aside)
{
    pb p = {0};
    one_quantized(&p, "QInt32Storage", per_channel);
    tmap_options o = {.quantized = C2S_QUANTIZED_DEQUANTIZE};
    map_ok(&p, &o);
    static const char *const names[] = {"w"};
    assert_names(1, names);
    const tmap_tensor *w = &g_map.tensors[0];
    cr_assert_eq(w->q.scheme, TMAP_Q_PER_CHANNEL);
    cr_assert_eq(tmap_quant_of(&g_map, w)->axis, 1);
    cr_assert_eq(tmap_quant_of(&g_map, w)->channels, 3);
    cr_assert_eq(tmap_quant_of(&g_map, w)->inner, 4);
    cr_assert_eq(g_map.nqparams, 2);
    cr_assert_eq(g_map.qparams[w->q.scales].dtype, C2S_F64);
    cr_assert_eq(g_map.qparams[w->q.zero_points].dtype, C2S_I64);
    cr_assert_eq(g_map.nstorages, 3);
}

Test(tmap, quantized_per_channel_raw_names_its_parameters)
{
    pb p = {0};
    one_quantized(&p, "QInt8Storage", per_channel);
    tmap_options o = {.quantized = C2S_QUANTIZED_RAW};
    map_ok(&p, &o);
    static const char *const names[] = {"w", "w.scale", "w.zero_point"};
    assert_names(3, names);
    int64_t three = 3, one = 1;
    assert_view(&g_map.tensors[1], C2S_F64, 1, &three, &one, 0, 3, 24, 1);
    assert_view(&g_map.tensors[2], C2S_I64, 1, &three, &one, 0, 3, 24, 1);
}

Test(tmap, quantized_without_a_choice_is_unsupported)
{
    pb p = {0};
    one_quantized(&p, "QInt8Storage", per_channel);
    map_ok(&p, NULL);
    cr_assert_eq(g_map.ntensors, 1);
    cr_assert_eq(g_map.tensors[0].supported, 0);
    cr_assert_str_eq(g_map.tensors[0].why, "quantized tensor");
}

Test(tmap, quantized_refusals)
{
    tmap_options o = {.quantized = C2S_QUANTIZED_DEQUANTIZE};
    pb p = {0};
    one_quantized(&p, "QInt8Storage", per_channel_bad_axis);
    map_fails(&p, &o,
              "tensor 'w': quantizer parameters: expected (per_channel_affine, scales, "
              "zero_points, axis) with an axis of the tensor");
    tmap_fini();
    pb p2 = {0};
    one_quantized(&p2, "QInt8Storage", per_channel_short_scales);
    map_fails(&p2, &o,
              "tensor 'w': per-channel quantization: the scales are not a 1-d F64 or "
              "F32 tensor of one value per channel");
    tmap_fini();
    pb p3 = {0};
    one_quantized(&p3, "QInt8Storage", per_channel_float_zero_points);
    map_fails(&p3, &o,
              "tensor 'w': per-channel quantization: the zero points are not a 1-d I64 "
              "or I32 tensor of one value per channel");
    tmap_fini();
    pb p4 = {0};
    one_quantized(&p4, "FloatStorage", per_tensor);
    map_fails(&p4, &o,
              "tensor 'w': quantized tensor on a storage that is not qint8, quint8 or "
              "qint32");
}

Test(tmap, quantized_float_qparams_is_unsupported)
{
    pb p = {0};
    one_quantized(&p, "QUInt8Storage", float_qparams);
    tmap_options o = {.quantized = C2S_QUANTIZED_RAW};
    map_ok(&p, &o);
    cr_assert_eq(g_map.ntensors, 1);
    cr_assert_eq(g_map.tensors[0].supported, 0);
    cr_assert_str_eq(g_map.tensors[0].why, "quantized tensor (per_channel_affine_float_qparams)");
}

/* ---- modules: torch.save(model) --------------------------------------------------- */

/* NEWOBJ of module.name, BUILD with a Module __dict__: 'training', then
 * _parameters {w}, _buffers {b, np}, _non_persistent_buffers_set {np},
 * _modules {sub: (inner) or None}, and an attribute 'grid' (a tensor). */
static void module_obj(pb *p, const char *name, int with_sub, const char *key0)
{
    pb_global(p, "m", name);
    pb_empty_tuple(p);
    pb_op(p, 0x81); /* NEWOBJ */
    dict_begin(p);
    pb_str(p, "training");
    pb_bool(p, 1);
    pb_str(p, "_parameters");
    dict_begin(p);
    pb_str(p, "w");
    vec(p, key0, 2);
    pb_str(p, "none");
    pb_none(p);
    dict_end(p);
    pb_str(p, "grid");
    list_begin(p);
    vec(p, with_sub ? "g1" : "g2", 1);
    list_end(p);
    pb_str(p, "_buffers");
    dict_begin(p);
    pb_str(p, "b");
    vec(p, with_sub ? "b1" : "b2", 3);
    pb_str(p, "np");
    vec(p, with_sub ? "n1" : "n2", 4);
    dict_end(p);
    pb_str(p, "_non_persistent_buffers_set");
    pb_global(p, "builtins", "set");
    list_begin(p);
    pb_str(p, "np");
    list_end(p);
    pb_op(p, 0x85); /* TUPLE1 */
    pb_reduce(p);
    pb_str(p, "_modules");
    dict_begin(p);
    pb_str(p, "sub");
    if (with_sub)
        module_obj(p, "Inner", 0, "w2");
    else
        pb_none(p);
    dict_end(p);
    dict_end(p);
    pb_build(p);
}

Test(tmap, module_named_as_its_state_dict)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "model");
    module_obj(&p, "Outer", 1, "w1");
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"model.w", "model.b", "model.sub.w", "model.sub.b"};
    assert_names(4, names);
    cr_assert_eq(g_map.nnotes, 2);
    cr_assert_str_eq(g_map.notes[0], "left out: model (2 tensors, attributes of a m.Outer "
                                     "module, not in its state_dict)");
    cr_assert_str_eq(g_map.notes[1], "left out: model.sub (2 tensors, attributes of a m.Inner "
                                     "module, not in its state_dict)");
}

Test(tmap, module_key_path_gives_bare_names)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "model");
    module_obj(&p, "Outer", 1, "w1");
    dict_end(&p);
    tmap_options o = {.key = "model.sub"};
    map_ok(&p, &o);
    static const char *const names[] = {"w", "b"};
    assert_names(2, names);
}

Test(tmap, module_attribute_is_not_a_key)
{
    pb p = {0};
    pb_proto(&p, 2);
    module_obj(&p, "Outer", 1, "w1");
    tmap_options o = {.key = "grid"};
    map_fails(&p, &o, "'grid': no such entry in the top-level module");
}

/* A key with a lone surrogate (valid in Python, pvm keeps it as ED A0 80)
 * cannot be a safetensors name: refused, not written into the header. */
Test(tmap, refuse_name_that_is_not_utf8)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "a\xed\xa0\x80"
               "b");
    vec(&p, "0", 1);
    dict_end(&p);
    map_fails(&p, NULL,
              "tensor name 'a...' is not valid UTF-8 after 1 bytes (a lone surrogate?): "
              "safetensors names must be UTF-8");
}

/* A BINUNICODE key of n bytes, NUL bytes and all. */
static void key_n(pb *p, const char *s, size_t n)
{
    pb_op(p, 'X');
    pb_le(p, n, 4);
    pb_bytes(p, s, n);
}

/* A key holding a NUL: torch.load keeps the whole key, a C string would
 * cut the name there.  Refused for a tensor below it, at any depth ("b"
 * keeps the top dict the root). */
Test(tmap, refuse_name_holding_a_nul)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "b");
    vec(&p, "1", 1);
    key_n(&p, "m\0x", 3);
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "0", 1);
    dict_end(&p);
    dict_end(&p);
    map_fails(&p, NULL,
              "tensor name 'm.w...' holds a NUL byte (torch.load keeps the whole dict key): "
              "such a name is not converted");
}

/* A NUL in keys with no tensor below: the tensors beside them convert. */
Test(tmap, nul_in_keys_without_tensors)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "a");
    dict_begin(&p);
    key_n(&p, "n\0", 2);
    pb_int(&p, 1);
    dict_end(&p);
    key_n(&p, "m\0", 2);
    pb_int(&p, 2);
    pb_str(&p, "w");
    vec(&p, "0", 1);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"w"};
    assert_names(1, names);
}

/* Storage keys 'a\0x' and 'a\0y' are two storages to torch.load: a key
 * holding a NUL is refused rather than read as 'a'. */
Test(tmap, refuse_storage_key_holding_a_nul)
{
    pb p = {0};
    int64_t size[1] = {1}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    pb_global(&p, "torch._utils", "_rebuild_tensor_v2");
    pb_mark(&p);
    pb_mark(&p);
    pb_str(&p, "storage");
    pb_global(&p, "torch", "FloatStorage");
    key_n(&p, "a\0x", 3);
    pb_str(&p, "cpu");
    pb_int(&p, 1);
    pb_tuple(&p);
    pb_binpersid(&p);
    pb_int(&p, 0);
    pb_ints_tuple(&p, 1, size);
    pb_ints_tuple(&p, 1, stride);
    pb_bool(&p, 0);
    pb_ordered_dict(&p);
    pb_tuple(&p);
    pb_reduce(&p);
    dict_end(&p);
    map_fails(&p, NULL, "tensor 'w': storage key in persistent id holds a NUL byte");
}

/* BUILD on a rebuilt tensor: torch.load would hand the state to
 * Tensor.__setstate__, which can replace the data, so the map refuses it
 * rather than convert what the rebuild arguments alone say. */
Test(tmap, refuse_build_on_a_rebuilt_tensor)
{
    pb p = {0};
    int64_t size[1] = {2}, stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    pb_tensor_v2(&p, "FloatStorage", "0", 2, 0, 1, size, stride);
    pb_empty_dict(&p);
    pb_build(&p);
    dict_end(&p);
    map_fails(&p, NULL,
              "tensor 'w': its rebuild call was changed afterwards (BUILD, APPEND or SETITEM), "
              "which torch.load would apply");
}

/* torch.Tensor([...]) under the root: torch.load builds a tensor from the
 * values; the map does not rebuild it and says so rather than drop it. */
Test(tmap, refuse_tensor_built_from_python_values)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "0", 2);
    pb_str(&p, "t");
    call_begin(&p, "torch", "Tensor");
    list_begin(&p);
    pb_int(&p, 1);
    list_end(&p);
    call_end(&p);
    dict_end(&p);
    map_fails(&p, NULL,
              "tensor 't': built by torch.Tensor(...) from Python values, which this tool does "
              "not rebuild");
}

/* ---- what torch saw when it took a container ------------------------------- */

/* _rebuild_tensor_v2 copies its size and stride when it is called: a size
 * list APPENDed to afterwards still says (4,) to torch. */
Test(tmap, size_list_changed_after_the_call_refused)
{
    pb p = {0};
    int64_t stride[1] = {1};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    call_begin(&p, "torch._utils", "_rebuild_tensor_v2");
    pb_storage(&p, "FloatStorage", "0", 4);
    pb_int(&p, 0);
    pb_empty_list(&p);
    pb_put(&p, 100);
    pb_int(&p, 4);
    pb_append(&p);
    ints(&p, 1, stride);
    pb_bool(&p, 0);
    pb_ordered_dict(&p);
    call_end(&p);
    pb_get(&p, 100); /* the size list, after the call: [4, 1] */
    pb_int(&p, 1);
    pb_append(&p);
    pb_pop(&p);
    dict_end(&p);
    map_fails(&p, NULL,
              "tensor 'w': its size list was changed (APPEND or SETITEM) after the call that "
              "took it, which torch does not see");
}

/* NEWOBJ m.Mod, BUILD {'training': True, '_parameters': {'w': <2 floats>, key: value
 * when key}, '_buffers': {}, '_modules': {}, plus '_non_persistent_buffers_set': the
 * list ['x'] when np_list}; the state dict is memo 200. */
static void small_module(pb *p, const char *key, int np_list)
{
    pb_global(p, "m", "Mod");
    pb_empty_tuple(p);
    pb_op(p, 0x81); /* NEWOBJ */
    pb_empty_dict(p);
    pb_put(p, 200);
    pb_mark(p);
    pb_str(p, "training");
    pb_bool(p, 1);
    pb_str(p, "_parameters");
    dict_begin(p);
    pb_str(p, "w");
    vec(p, "0", 2);
    if (key != NULL) {
        pb_str(p, key);
        vec(p, "1", 2);
    }
    dict_end(p);
    pb_str(p, "_buffers");
    pb_empty_dict(p);
    pb_str(p, "_modules");
    pb_empty_dict(p);
    if (np_list) {
        pb_str(p, "_non_persistent_buffers_set");
        list_begin(p);
        pb_str(p, "x");
        list_end(p);
    }
    pb_setitems(p);
    pb_build(p);
}

static void module_top(pb *p, const char *key, int np_list, int change_after)
{
    pb_proto(p, 2);
    dict_begin(p);
    pb_str(p, "model");
    small_module(p, key, np_list);
    if (change_after) { /* state['_parameters'] = {} after the BUILD */
        pb_get(p, 200);
        pb_str(p, "_parameters");
        pb_empty_dict(p);
        pb_setitem(p);
        pb_pop(p);
    }
    dict_end(p);
}

/* What Module.__setstate__ and state_dict() would make of a module's state
 * otherwise than the map reads it: refused (the plain module maps). */
Test(tmap, module_state_plain_maps)
{
    pb p = {0};
    module_top(&p, NULL, 0, 0);
    map_ok(&p, NULL);
    static const char *const names[] = {"model.w"};
    assert_names(1, names);
}

Test(tmap, module_state_changed_after_build_refused)
{
    pb p = {0};
    module_top(&p, NULL, 0, 1);
    map_fails(&p, NULL,
              "module at 'model': its state was changed (SETITEM) after its BUILD, which torch "
              "does not see");
}

Test(tmap, module_non_persistent_set_not_a_set_refused)
{
    pb p = {0};
    module_top(&p, NULL, 1, 0);
    map_fails(&p, NULL, "module at 'model': its _non_persistent_buffers_set is not a set");
}

Test(tmap, module_entry_named_full_backward_hook_refused)
{
    pb p = {0};
    module_top(&p, "_is_full_backward_hook", 0, 0);
    map_fails(&p, NULL,
              "module at 'model': an entry named _is_full_backward_hook, which torch.load sets "
              "to None");
}

/* {'w': t0, builtins.str('w'): t1}: Python's dict keeps one 'w' (t1); a
 * key a call makes, beside others, is refused. */
Test(tmap, key_made_by_a_call_refused)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "w");
    vec(&p, "0", 2);
    call_begin(&p, "builtins", "str");
    pb_str(&p, "w");
    call_end(&p);
    vec(&p, "1", 2);
    dict_end(&p);
    map_fails(&p, NULL,
              "a key of '(top level)' is made by a call, which may equal another key of it");
}

/* top['state_dict'] a defaultdict (a dict to isinstance): its items are the root. */
Test(tmap, state_dict_defaultdict_is_the_root)
{
    pb p = {0};
    pb_proto(&p, 2);
    dict_begin(&p);
    pb_str(&p, "state_dict");
    call_begin(&p, "collections", "defaultdict");
    pb_none(&p);
    call_end(&p);
    pb_mark(&p);
    pb_str(&p, "w");
    vec(&p, "0", 2);
    pb_setitems(&p);
    pb_str(&p, "epoch");
    pb_int(&p, 3);
    dict_end(&p);
    map_ok(&p, NULL);
    static const char *const names[] = {"w"};
    assert_names(1, names);
    cr_assert_str_eq(g_map.root, "state_dict");
}
