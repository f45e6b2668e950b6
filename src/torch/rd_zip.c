/*
 * rd_zip.c - torch.save zip checkpoints behind the reader interface (see
 * rd_zip.h and reader.h).
 *
 * open: the archive (its structural findings go to the report), data.pkl
 * read whole and interpreted; its globals are judged, and bytes after its
 * STOP opcode are a finding (a second reader could see a second object)
 * whose globals the sweep lists.  When the machine stops early (malformed,
 * a limit) the sweep lists the globals of the whole record.  Every other
 * pickle record (".pkl" in any case: model/config.pkl, ...) is judged the
 * same way under its own name: pipelines load them with pickle.load; so
 * is the pickle of every .npy member holding objects (an .npz).  When torch
 * refuses the archive (no data.pkl, ...) those records are still judged.
 * Storages stream through zipsrc: STORED records by pread from the input's
 * descriptor, DEFLATE ones through the inflater.
 */
#include "torch/rd_zip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reader/judge.h"
#include "torch/dtype.h"
#include "reader/rd_npy.h"
#include "util/strhash.h"

#define VERIFY_BUFFER (1u << 20)

typedef struct zip_reader {
    zipsrc *zip;
    uint8_t *pickle;
    size_t pickle_len;
    pvm *vm;
} zip_reader;

static int zip_sniff(const rd_input *in)
{
    return in->nhead >= 4 && memcmp(in->head, "PK\x03\x04", 4) == 0;
}

/* Interpret the pickle data (record where) on vm; its globals go to the
 * report whatever happens, and the sweep lists those of the bytes the
 * machine did not reach.  ran: vm already ran on data (the early run of
 * rd_open), with this outcome; NULL: run it now. */
static c2s_status judge_pickle(pvm *vm, const uint8_t *data, size_t len, const rd_early_run *ran,
                               const char *where, const c2s_open_options *o, c2s_report *r,
                               pvm_value **v, c2s_error *err)
{
    policy_options policy = rd_policy(o);
    size_t end = 0;
    c2s_status s;
    if (ran != NULL) {
        s = ran->st;
        *v = ran->top;
        end = ran->end;
        if (s != C2S_OK)
            *err = ran->err;
    } else {
        s = pvm_run(vm, data, len, v, &end, err);
    }
    if (!judge_add_globals(r, vm, where, 0, &policy))
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    c2s_error swept;
    c2s_error_clear(&swept);
    if (s != C2S_OK) {
        c2s_error_prefix(err, "%s", where);
        if (judge_sweep(r, data, len, 0, 1, where, 0, &policy, &swept) != C2S_OK)
            *err = swept;
        return s;
    }
    if (end < len) {
        findings_add(&r->findings, "%s has %zu bytes after its STOP opcode", where, len - end);
        if (judge_sweep(r, data, len, end, 1, where, 0, &policy, err) != C2S_OK)
            return C2S_ERR_INPUT;
    }
    return C2S_OK;
}

static int ends_with_npy(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcasecmp(name + n - 4, ".npy") == 0;
}

/* Every other pickle record, judged as data.pkl is (the pickle of an .npy
 * member with objects from its start: offsets are from there).  A record that cannot be
 * read whole is damage when its CRC fails, a finding otherwise. */
static c2s_status judge_other_pickles(zip_reader *z, const c2s_open_options *o, c2s_report *r,
                                      int by_content, c2s_error *err)
{
    pvm_limits limits = rd_pvm_limits(o);
    for (size_t i = 0; i < zipsrc_entry_count(z->zip); i++) {
        if (!zipsrc_entry_is_other_pickle(z->zip, i) &&
            !(by_content && zipsrc_entry_starts_like_pickle(z->zip, i)))
            continue;
        const char *where = zipsrc_entry_name(z->zip, i);
        uint8_t *data = NULL;
        size_t len = 0;
        c2s_error e;
        c2s_error_clear(&e);
        if (zipsrc_read_entry(z->zip, i, &data, &len, &e) != C2S_OK) {
            findings_add(e.rule == C2S_RULE_CORRUPT ? &r->damage : &r->findings, "%s", e.msg);
            if (data == NULL)
                continue; /* else a CRC mismatch: judge the bytes all the same */
        }
        size_t at = 0;
        int npy = ends_with_npy(where) ? npy_pickle_offset(data, len, &at) : 1;
        if (npy <= 0) { /* a plain array (or no .npy at all): no pickle */
            free(data);
            continue;
        }
        pvm *vm = pvm_new(&limits);
        pvm_value *v = NULL;
        c2s_status s = vm ? judge_pickle(vm, data + at, len - at, NULL, where, o, r, &v, &e)
                          : c2s_fail(&e, C2S_ERR_INPUT, "out of memory");
        pvm_free(vm);
        free(data);
        if (s != C2S_OK && strcmp(e.msg, "out of memory") == 0)
            return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
        if (s != C2S_OK)
            findings_add(&r->findings, "%s", e.msg); /* a pickle we cannot read to its end */
    }
    return C2S_OK;
}

/* Interpret data.pkl, then every other pickle record.  data.pkl's run is
 * the one made early (in->early) when it ran on these very bytes. */
static c2s_status run_pickle(zip_reader *z, rd_input *in, const c2s_open_options *o, c2s_report *r,
                             const pvm_value **top, c2s_error *err)
{
    rd_early_run early;
    int ran = rd_input_take_early_run(in, zipsrc_pickle_prefetched(z->zip), z->pickle,
                                      z->pickle_len, &early);
    pvm_limits limits = rd_pvm_limits(o);
    z->vm = ran ? early.vm : pvm_new(&limits);
    if (z->vm == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    const char *where = zipsrc_pickle_name(z->zip); /* the entry torch reads */
    pvm_value *v = NULL;
    c2s_status s = judge_pickle(z->vm, z->pickle, z->pickle_len, ran ? &early : NULL, where, o, r,
                                &v, err);
    c2s_error e;
    c2s_error_clear(&e);
    /* the machine copied what it keeps: the pickle's bytes are not read again */
    free(z->pickle);
    z->pickle = NULL;
    if (judge_other_pickles(z, o, r, 0, &e) != C2S_OK) {
        *err = e;
        return C2S_ERR_INPUT;
    }
    if (s == C2S_OK)
        *top = v;
    return s;
}

/* An archive torch does not open (no data.pkl, no archive directory, an
 * .npz): its pickle records (by name, or any record that starts as
 * pickle.dump starts) are judged all the same, since a pipeline may load
 * them; the reason torch refuses it stays the error.  Returns 1 when the
 * archive is an .npz (every record an .npy), judged whole. */
static int judge_records_only(zip_reader *z, const rd_input *in, const c2s_open_options *o,
                              c2s_report *r, uint64_t max_pickle)
{
    c2s_error e;
    c2s_error_clear(&e);
    if (zipsrc_open_records(in->fd, in->size, max_pickle, &z->zip, &e) != C2S_OK)
        return 0;
    size_t n = zipsrc_entry_count(z->zip), npy = 0;
    for (size_t i = 0; i < n; i++)
        npy += ends_with_npy(zipsrc_entry_name(z->zip, i));
    if (judge_other_pickles(z, o, r, 1, &e) != C2S_OK)
        findings_add(&r->findings, "%s", e.msg);
    zipsrc_close(z->zip);
    z->zip = NULL;
    return n > 0 && npy == n;
}

static void zip_close(void *impl)
{
    zip_reader *z = impl;
    if (z == NULL)
        return;
    pvm_free(z->vm);
    free(z->pickle);
    zipsrc_close(z->zip);
    free(z);
}

/* The tensor map is built: the object graph is no longer read (storages
 * are streamed from the archive by key). */
static void zip_release(void *impl)
{
    zip_reader *z = impl;
    pvm_free(z->vm);
    z->vm = NULL;
}

static slab_supply *zip_faulter(void *impl)
{
    zip_reader *z = impl;
    return z->vm != NULL ? pvm_slab_supply(z->vm) : NULL;
}

static c2s_status zip_open(rd_input *in, const c2s_open_options *o, void **impl, c2s_report *r,
                           const pvm_value **top, c2s_error *err)
{
    zip_reader *z = calloc(1, sizeof *z);
    if (z == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    *impl = z;
    uint64_t max_pickle = o ? o->limits.max_pickle : 0;
    c2s_status s = rd_input_take_zip(in, max_pickle, &z->zip, &r->findings, err);
    if (s != C2S_OK)
        rd_input_drop_early_run(in);
    /* TorchScript archives have a loader of their own (not judged here yet) */
    if (s != C2S_OK && err->rule != C2S_RULE_CORRUPT &&
        strcmp(err->msg, "TorchScript archives are not supported yet") != 0 &&
        judge_records_only(z, in, o, r, max_pickle)) /* judged whole: holds no checkpoint */
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_NO_TENSORS,
                             "a NumPy .npz archive, not a PyTorch checkpoint");
    if (s == C2S_OK)
        s = zipsrc_read_pickle(z->zip, &z->pickle, &z->pickle_len, err);
    if (s != C2S_OK && z->pickle != NULL) { /* a CRC mismatch: damage, yet judged */
        c2s_error crc = *err;
        findings_add(&r->damage, "%s", crc.msg);
        c2s_error_clear(err);
        s = run_pickle(z, in, o, r, top, err);
        *top = NULL; /* damaged: nothing to convert */
        if (s == C2S_OK)
            *err = crc;
        return C2S_ERR_INPUT;
    }
    if (s != C2S_OK) {
        rd_input_drop_early_run(in); /* no pickle read: nothing to adopt it */
        return s;
    }
    return run_pickle(z, in, o, r, top, err);
}

c2s_status rd_zip_verify_all(zipsrc *zip, findings *f, c2s_error *err)
{
    void *buf = malloc(VERIFY_BUFFER);
    if (buf == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    c2s_status s = zipsrc_verify_all(zip, buf, VERIFY_BUFFER, f, err);
    free(buf);
    return s;
}

static c2s_status zip_verify_all(void *impl, findings *f, c2s_error *err)
{
    zip_reader *z = impl;
    return rd_zip_verify_all(z->zip, f, err);
}

/* An open-addressing index of the map's storage keys (util/strhash.h, linear
 * probing; 32-bit storage indexes, NO_KEY marks an empty slot), for
 * check_first_types. */
typedef struct key_index {
    uint32_t *slots;
    size_t mask;
} key_index;

#define NO_KEY UINT32_MAX

static int key_index_build(key_index *ix, const tmap *m)
{
    size_t cap = 16;
    while (cap < 2 * m->nstorages)
        cap *= 2;
    if (m->nstorages >= NO_KEY)
        return -1; /* never: each storage is a pickle node, and node ids are 32 bits */
    ix->slots = malloc(cap * sizeof *ix->slots);
    ix->mask = cap - 1;
    if (ix->slots == NULL)
        return -1;
    memset(ix->slots, 0xff, cap * sizeof *ix->slots);
    for (size_t i = 0; i < m->nstorages; i++) {
        size_t at = (size_t)strhash(m->storages[i].key) & ix->mask;
        while (ix->slots[at] != NO_KEY)
            at = (at + 1) & ix->mask;
        ix->slots[at] = (uint32_t)i;
    }
    return 0;
}

/* The index of the storage whose key is key, or SIZE_MAX. */
static size_t find_key(const key_index *ix, const tmap *m, const char *key)
{
    for (size_t at = (size_t)strhash(key) & ix->mask; ix->slots[at] != NO_KEY;
         at = (at + 1) & ix->mask)
        if (strcmp(m->storages[ix->slots[at]].key, key) == 0)
            return ix->slots[at];
    return SIZE_MAX;
}

/* The storage a persistent id's key names, or SIZE_MAX.  The keys of a
 * map are unique (tmap finds or adds a storage by its key), and the first
 * ids of the storages come in the order the map met them, usually: so
 * storage *next is tried first, and the index is built only when that
 * fails (ix->slots NULL until then). */
static size_t first_id_storage(key_index *ix, const tmap *m, const char *key, size_t *next,
                               int *oom)
{
    size_t at = *next;
    if (at >= m->nstorages || strcmp(m->storages[at].key, key) != 0) {
        if (ix->slots == NULL && key_index_build(ix, m) != 0) {
            *oom = 1;
            return SIZE_MAX;
        }
        at = find_key(ix, m, key);
    }
    if (at != SIZE_MAX && at >= *next)
        *next = at + 1;
    return at;
}

/* The ids are spread over the whole graph: each one's node, tuple, items
 * and key string would be a cache miss in turn.  They are fetched ahead in
 * stages, each stage reading what the one before fetched: the node of id
 * i + 5 * STEP, its tuple at i + 4 * STEP, the tuple's items at 3 * STEP,
 * the key's node at 2 * STEP, its bytes at STEP; id i then finds them all
 * in the cache. */
#define STEP 4

static const pvm_value *id_tuple(const pvm *vm, size_t i)
{
    const pvm_value *pid = pvm_persid_at(vm, i)->u.persid.pid;
    return pid->kind == PVM_TUPLE && pid->u.seq.len == 5 ? pid : NULL;
}

static void prefetch_id(const pvm *vm, size_t ids, size_t i)
{
    const pvm_value *t;
    if (i + 5 * STEP < ids)
        __builtin_prefetch(pvm_persid_at(vm, i + 5 * STEP));
    if (i + 4 * STEP < ids)
        __builtin_prefetch(pvm_persid_at(vm, i + 4 * STEP)->u.persid.pid);
    if (i + 3 * STEP < ids && (t = id_tuple(vm, i + 3 * STEP)) != NULL)
        __builtin_prefetch(t->u.seq.items);
    if (i + 2 * STEP < ids && (t = id_tuple(vm, i + 2 * STEP)) != NULL)
        __builtin_prefetch(t->u.seq.items[2]);
    if (i + STEP < ids && (t = id_tuple(vm, i + STEP)) != NULL &&
        t->u.seq.items[2]->kind == PVM_STR)
        __builtin_prefetch(t->u.seq.items[2]->u.str.data);
}

/* torch.load types a storage by the first persistent id that names its key
 * (loaded_storages), wherever it stands, even outside the root or never
 * used by a tensor.  The map typed each storage from the tensors it maps:
 * when the first id says otherwise, torch reads other values, so refuse. */
static c2s_status check_first_types(const zip_reader *z, const tmap *m, c2s_error *err)
{
    size_t n = m->nstorages, ids = z->vm ? pvm_persid_count(z->vm) : 0, next = 0;
    key_index ix = {NULL, 0};
    int oom = 0;
    unsigned char *seen = calloc(n ? n : 1, 1);
    c2s_status st = seen ? C2S_OK : c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    /* the class of the last id and what it says: ids share one GLOBAL node */
    const pvm_value *last_cls = NULL;
    c2s_dtype last_dt = C2S_U8;
    int last_found = 0;
    for (size_t i = 0; i < ids && st == C2S_OK; i++) {
        prefetch_id(z->vm, ids, i);
        const pvm_value *pid = pvm_persid_at(z->vm, i)->u.persid.pid;
        /* every id, used by a tensor or not: torch.load compares keys with
         * == (a key a call makes, builtins.str('0'), equals '0') and reads
         * the dtype off any object given as the class */
        if (pid->kind != PVM_TUPLE || pid->u.seq.len != 5 ||
            pid->u.seq.items[1]->kind != PVM_GLOBAL || pid->u.seq.items[2]->kind != PVM_STR) {
            st = c2s_fail(err, C2S_ERR_INPUT,
                          "persistent id %zu (in pickle order) is not ('storage', class, str "
                          "key, location, numel)",
                          i + 1);
            break;
        }
        size_t at = first_id_storage(&ix, m, pid->u.seq.items[2]->u.str.data, &next, &oom);
        if (oom) {
            st = c2s_fail(err, C2S_ERR_INPUT, "out of memory");
            break;
        }
        if (at == SIZE_MAX || seen[at])
            continue;
        seen[at] = 1;
        const pvm_value *cls = pid->u.seq.items[1];
        if (cls != last_cls) {
            const char *why = NULL;
            last_cls = cls;
            last_dt = C2S_U8;
            last_found = strcmp(cls->u.global.module, "torch") == 0 &&
                         c2s_dtype_from_storage_class(cls->u.global.name, &last_dt, &why) ==
                             C2S_DTYPE_FOUND;
        }
        const tmap_storage *s = &m->storages[at];
        if (last_found && last_dt != s->dtype)
            st = c2s_fail(err, C2S_ERR_INPUT,
                          "storage '%s' is first named as a %s storage, which torch.load keeps, "
                          "but its tensors read it as %s",
                          s->key, c2s_dtype_name(last_dt), c2s_dtype_name(s->dtype));
    }
    free(ix.slots);
    free(seen);
    return st;
}

static c2s_status zip_check_storages(void *impl, const tmap *m, c2s_error *err)
{
    zip_reader *z = impl;
    c2s_status st = check_first_types(z, m, err);
    return st == C2S_OK ? rd_zip_check_storages(z->zip, m, err) : st;
}

c2s_status rd_zip_check_storages(zipsrc *zip, const tmap *m, c2s_error *err)
{
    size_t hint = 0; /* storages come in the order of their records, usually */
    for (size_t i = 0; i < m->nstorages; i++) {
        const tmap_storage *s = &m->storages[i];
        uint64_t size;
        c2s_status st = zipsrc_storage_size_near(zip, s->key, &hint, &size, err);
        if (st != C2S_OK)
            return st;
        if (size < s->nbytes)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "storage record %s/data/%s has %llu bytes, the pickle declares %llu",
                            zipsrc_prefix(zip), s->key, (unsigned long long)size,
                            (unsigned long long)s->nbytes);
    }
    return C2S_OK;
}

/* ---- streams: zipsrc_stream behind rd_stream ------------------------------------ */

static c2s_status zs_read(rd_stream *s, uint64_t off, void *buf, size_t n, c2s_error *err)
{
    return zipsrc_stream_read(&s->u.zip, off, buf, n, err);
}

static int zs_file_range(const rd_stream *s, int *fd, uint64_t *offset)
{
    return zipsrc_stream_file_range(&s->u.zip, fd, offset);
}

static int zs_crc_done(const rd_stream *s)
{
    return zipsrc_stream_crc_done(&s->u.zip);
}

static c2s_status zs_verify(rd_stream *s, void *scratch, size_t len, c2s_error *err)
{
    return zipsrc_stream_verify(&s->u.zip, scratch, len, err);
}

static void zs_close(rd_stream *s)
{
    zipsrc_stream_close(&s->u.zip);
}

static const rd_stream_ops ZIP_STREAM = {zs_read, zs_file_range, zs_crc_done, zs_verify, zs_close};

static c2s_status zip_stream_open(void *impl, const char *key, rd_stream *s, c2s_error *err)
{
    zip_reader *z = impl;
    return rd_zip_stream_open(z->zip, key, s, err);
}

void rd_zip_stream_wrap(rd_stream *s)
{
    s->ops = &ZIP_STREAM;
    s->size = s->u.zip.size;
    s->crc_expected = s->u.zip.crc_expected;
    s->crc_recorded = s->u.zip.crc_recorded;
    size_t n = strnlen(s->u.zip.name, sizeof s->name - 1); /* once per tensor: no snprintf */
    memcpy(s->name, s->u.zip.name, n);
    s->name[n] = '\0';
}

c2s_status rd_zip_stream_open(zipsrc *zip, const char *key, rd_stream *s, c2s_error *err)
{
    c2s_status st = zipsrc_stream_open(zip, key, &s->u.zip, err);
    if (st == C2S_OK)
        rd_zip_stream_wrap(s);
    return st;
}

static int zip_big_endian(const void *impl)
{
    const zip_reader *z = impl;
    return zipsrc_big_endian(z->zip);
}

static uint64_t zip_object_count(const void *impl)
{
    const zip_reader *z = impl;
    return z->vm ? pvm_value_count(z->vm) : 0;
}

const rd_ops rd_zip_ops = {
    .format = "zip",
    .sniff = zip_sniff,
    .open = zip_open,
    .verify_all = zip_verify_all,
    .verify_beside_map = 1, /* zipsrc_verify_all only reads the layout and preads */
    .check_storages = zip_check_storages,
    .stream_open = zip_stream_open,
    .big_endian = zip_big_endian,
    .object_count = zip_object_count,
    .close = zip_close,
    .release = zip_release,
    .faulter = zip_faulter,
};
