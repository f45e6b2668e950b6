/*
 * rd_tf.c - TensorFlow bundles behind the reader interface (see rd_tf.h).
 *
 * open: the prefix from the input's path (as given, when rd_input_open
 * opened path + ".index"; else the path less ".index"), then tfb_open on
 * the input's descriptor, which parses and checks the whole index and
 * opens every shard once.  map: one tensor and one storage per supported
 * entry, the rest as notes, names as rd_tf.h says.  Streams: pread from
 * the entry's shard with a running CRC-32C (the union member u.tf of
 * rd_stream).  Memory: the bundle's entries and the map, nothing per byte
 * of tensor data.
 */
#include "tf/rd_tf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf/crc32c.h"
#include "tf/sstable.h"
#include "tf/tfbundle.h"
#include "util/io.h"

#define INDEX_SUFFIX ".index"

typedef struct tf_reader {
    tfb_bundle b;
} tf_reader;

static c2s_status oom(c2s_error *err)
{
    return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
}

/* ---- recognising and opening ------------------------------------------------------ */

static int tf_sniff(const rd_input *in)
{
    uint8_t tail[SST_FOOTER_SIZE];
    if (in->size < SST_FOOTER_SIZE)
        return 0;
    if (pread_full(in->fd, tail, sizeof tail, in->size - sizeof tail) != (ssize_t)sizeof tail)
        return 0;
    return sst_has_magic(tail, sizeof tail);
}

static int named_index(const char *path)
{
    size_t n = strlen(path), k = strlen(INDEX_SUFFIX);
    return n > k && strcmp(path + n - k, INDEX_SUFFIX) == 0;
}

/* A table whose name does not end in ".index": what is wrong with it if its
 * index does not parse (a V1 checkpoint says so), else that its shards
 * cannot be found without the PREFIX.index name. */
static c2s_status unnamed_table(const rd_input *in, c2s_error *err)
{
    if (in->size > TFB_MAX_INDEX)
        return c2s_fail(err, C2S_ERR_INPUT, "%llu bytes, more than an index may have (%llu)",
                        (unsigned long long)in->size, (unsigned long long)TFB_MAX_INDEX);
    uint8_t *data = malloc((size_t)in->size);
    if (data == NULL)
        return oom(err);
    c2s_status st = C2S_OK;
    if (pread_full(in->fd, data, (size_t)in->size, 0) != (ssize_t)in->size)
        st = c2s_fail(err, C2S_ERR_INPUT, "cannot read: %s", strerror(errno ? errno : EIO));
    tfb_index ix;
    memset(&ix, 0, sizeof ix);
    if (st == C2S_OK)
        st = tfb_index_parse(data, (size_t)in->size, 0, &ix, err);
    tfb_index_free(&ix);
    free(data);
    if (st != C2S_OK)
        return st;
    return c2s_fail(err, C2S_ERR_INPUT,
                    "a TensorFlow checkpoint index not named PREFIX.index: its data shards "
                    "(PREFIX.data-00000-of-NNNNN) cannot be found");
}

/* tfbundle's messages start with the index's path, which the caller names
 * already (as the input): drop it. */
static void drop_index_path(const char *prefix, c2s_error *err)
{
    size_t n = strlen(prefix), k = strlen(INDEX_SUFFIX);
    if (strncmp(err->msg, prefix, n) == 0 && strncmp(err->msg + n, INDEX_SUFFIX, k) == 0 &&
        strncmp(err->msg + n + k, ": ", 2) == 0)
        memmove(err->msg, err->msg + n + k + 2, strlen(err->msg + n + k + 2) + 1);
}

static c2s_status tf_open(rd_input *in, const c2s_open_options *o, void **impl, c2s_report *r,
                          const pvm_value **top, c2s_error *err)
{
    (void)o, (void)r; /* no pickle: no globals, and the checks are errors */
    *top = NULL;
    tf_reader *t = calloc(1, sizeof *t);
    if (t == NULL)
        return oom(err);
    *impl = t;
    if (in->from_fd)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "a TensorFlow checkpoint index read from a descriptor (a pipe, standard "
                        "input): its data shards (PREFIX.data-00000-of-NNNNN) are other files, "
                        "which only its path can find");
    if (!in->index_added && !named_index(in->path))
        return unnamed_table(in, err);
    char *prefix = in->index_added ? strdup(in->path)
                                   : strndup(in->path, strlen(in->path) - strlen(INDEX_SUFFIX));
    if (prefix == NULL)
        return oom(err);
    c2s_status st = tfb_open(in->fd, prefix, &t->b, err);
    if (st != C2S_OK)
        drop_index_path(prefix, err);
    free(prefix);
    return st;
}

static void tf_close(void *impl)
{
    tf_reader *t = impl;
    if (t == NULL)
        return;
    tfb_close(&t->b);
    free(t);
}

/* ---- the integrity pass ------------------------------------------------------------ */

/* Every tensor's bytes against its CRC-32C; a mismatch (or a string tensor
 * whose lengths do not add up) is a finding.  Variants cannot be checked
 * and partitioned variables have no bytes of their own. */
static c2s_status tf_verify_all(void *impl, findings *f, c2s_error *err)
{
    tf_reader *t = impl;
    for (size_t i = 0; i < t->b.ix.nentries; i++) {
        const tfb_entry *e = &t->b.ix.entries[i];
        if (e->nslices > 0 || e->tf_dtype == TFB_DT_VARIANT)
            continue;
        c2s_error one;
        c2s_error_clear(&one);
        if (tfb_verify(&t->b, e, &one) != C2S_OK && !findings_add(f, "%s", one.msg))
            return oom(err);
    }
    c2s_error_clear(err);
    return C2S_OK;
}

/* ---- the tensor map ------------------------------------------------------------------ */

/* Why e is left out of the map (NULL: it is a tensor), into buf. */
static const char *left_out_reason(const tfb_entry *e, char *buf, size_t cap)
{
    if (strcmp(e->name, TFB_GRAPH_KEY) == 0)
        return "the TF2 object graph";
    if (e->nslices > 0) {
        snprintf(buf, cap, "a partitioned variable, in %zu slices", e->nslices);
        return buf;
    }
    if (!e->supported) {
        snprintf(buf, cap, "dtype %s", e->why ? e->why : tfb_dtype_name(e->tf_dtype));
        return buf;
    }
    return NULL;
}

static c2s_status add_note(tmap *m, const char *name, const char *why, c2s_error *err)
{
    char line[1024];
    snprintf(line, sizeof line, "left out: %.400s (%s)", name, why);
    if ((m->notes[m->nnotes] = strdup(line)) == NULL)
        return oom(err);
    m->nnotes++;
    return C2S_OK;
}

/* e as one contiguous tensor over a storage of its own, keyed by its key. */
static c2s_status add_tensor(tmap *m, const tfb_entry *e, c2s_error *err)
{
    tmap_tensor *t = &m->tensors[m->ntensors];
    tmap_storage *s = &m->storages[m->nstorages];
    memset(t, 0, sizeof *t);
    memset(s, 0, sizeof *s);
    t->name = strdup(e->name);
    s->key = strdup(e->name);
    t->shape = malloc((2 * e->ndim + 1) * sizeof *t->shape); /* shape, then strides */
    if (t->name == NULL || s->key == NULL || t->shape == NULL) {
        free(t->name);
        free(s->key);
        free(t->shape);
        return oom(err);
    }
    t->stride = t->shape + e->ndim;
    uint64_t step = 1; /* row-major strides, as torch's contiguous ones (sizes 0 count as 1) */
    for (size_t d = e->ndim; d-- > 0;) {
        t->shape[d] = e->shape[d];
        t->stride[d] = (int64_t)step;
        step *= e->shape[d] > 1 ? (uint64_t)e->shape[d] : 1; /* below 2^63 unless numel is 0 */
    }
    t->supported = 1;
    t->dtype = e->dtype;
    t->ndim = e->ndim;
    t->storage = m->nstorages;
    t->numel = e->numel;
    t->nbytes = e->size;
    t->contiguous = 1;
    s->dtype = e->dtype;
    s->nbytes = e->size;
    m->ntensors++;
    m->nstorages++;
    return C2S_OK;
}

#define NOTES_SHOWN 3

/* "no tensor ... (left out: a (dtype string); b (...); and 2 more)" */
static c2s_status no_tensors(const tmap *m, c2s_error *err)
{
    if (m->nnotes == 0)
        return c2s_fail(err, C2S_ERR_INPUT, "a TensorFlow checkpoint with no tensors");
    char list[C2S_ERROR_MSG_MAX / 2];
    size_t at = 0;
    for (size_t i = 0; i < m->nnotes && i < NOTES_SHOWN && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? "; " : "",
                               m->notes[i] + (i ? strlen("left out: ") : 0));
    if (m->nnotes > NOTES_SHOWN && at < sizeof list)
        snprintf(list + at, sizeof list - at, "; and %zu more", m->nnotes - NOTES_SHOWN);
    return c2s_fail(err, C2S_ERR_INPUT,
                    "no tensor safetensors can hold in this TensorFlow checkpoint (%s)", list);
}

static int by_full_name(const void *a, const void *b)
{
    const tfb_entry *const *x = a, *const *y = b;
    return strcmp((*x)->full_name, (*y)->full_name);
}

/* Mark (in unique[]) the entries of es whose full name no other has. */
static c2s_status unique_full_names(const tfb_entry **es, size_t n, char *unique, c2s_error *err)
{
    const tfb_entry **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (sorted == NULL)
        return oom(err);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (es[i]->full_name != NULL && es[i]->full_name[0] != '\0')
            sorted[k++] = es[i];
    qsort(sorted, k, sizeof *sorted, by_full_name);
    for (size_t i = 0; i < n; i++)
        unique[i] = 0;
    for (size_t i = 0; i < k; i++) {
        int dup = (i > 0 && strcmp(sorted[i]->full_name, sorted[i - 1]->full_name) == 0) ||
                  (i + 1 < k && strcmp(sorted[i]->full_name, sorted[i + 1]->full_name) == 0);
        if (!dup)
            for (size_t j = 0; j < n; j++) /* es[] and sorted[] hold the same pointers */
                if (es[j] == sorted[i])
                    unique[j] = 1;
    }
    free(sorted);
    return C2S_OK;
}

/* With tf_names: the TF2 full name when it is unique, else the key less
 * "/.ATTRIBUTES/VARIABLE_VALUE".  es[i] is tensor i's entry. */
static c2s_status rename_tensors(tmap *m, const tfb_entry **es, c2s_error *err)
{
    char *unique = malloc(m->ntensors ? m->ntensors : 1);
    if (unique == NULL)
        return oom(err);
    c2s_status st = unique_full_names(es, m->ntensors, unique, err);
    for (size_t i = 0; i < m->ntensors && st == C2S_OK; i++) {
        char *name = unique[i] ? strdup(es[i]->full_name)
                               : strndup(es[i]->name, tfb_tf2_name_len(es[i]->name));
        if (name == NULL) {
            st = oom(err);
            break;
        }
        free(m->tensors[i].name);
        m->tensors[i].name = name;
    }
    free(unique);
    return st;
}

static int by_tensor_name(const void *a, const void *b)
{
    const tmap_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Names safetensors can take: unique, none of them __metadata__. */
static c2s_status check_names(const tmap *m, c2s_error *err)
{
    const tmap_tensor **sorted = malloc((m->ntensors ? m->ntensors : 1) * sizeof *sorted);
    if (sorted == NULL)
        return oom(err);
    for (size_t i = 0; i < m->ntensors; i++)
        sorted[i] = &m->tensors[i];
    qsort(sorted, m->ntensors, sizeof *sorted, by_tensor_name);
    c2s_status st = C2S_OK;
    for (size_t i = 0; i < m->ntensors && st == C2S_OK; i++) {
        if (strcmp(sorted[i]->name, "__metadata__") == 0)
            st = c2s_fail(err, C2S_ERR_INPUT,
                          "a tensor is named '__metadata__', a name safetensors reserves");
        else if (i > 0 && strcmp(sorted[i]->name, sorted[i - 1]->name) == 0)
            st = c2s_fail(err, C2S_ERR_INPUT, "two tensors are both named '%s'", sorted[i]->name);
    }
    free(sorted);
    return st;
}

static c2s_status build_map(tf_reader *t, int tf_names, tmap *m, const tfb_entry **es,
                            c2s_error *err)
{
    size_t n = t->b.ix.nentries;
    m->tensors = calloc(n ? n : 1, sizeof *m->tensors);
    m->storages = calloc(n ? n : 1, sizeof *m->storages);
    m->notes = calloc(n ? n : 1, sizeof *m->notes);
    m->root = strdup("");
    if (m->tensors == NULL || m->storages == NULL || m->notes == NULL || m->root == NULL)
        return oom(err);
    c2s_status st = C2S_OK;
    for (size_t i = 0; i < n && st == C2S_OK; i++) {
        const tfb_entry *e = &t->b.ix.entries[i];
        char buf[128];
        const char *why = left_out_reason(e, buf, sizeof buf);
        if (why != NULL) {
            st = add_note(m, e->name, why, err);
        } else {
            es[m->ntensors] = e;
            st = add_tensor(m, e, err);
        }
    }
    if (st == C2S_OK && m->ntensors == 0)
        st = no_tensors(m, err);
    if (st == C2S_OK && tf_names)
        st = rename_tensors(m, es, err);
    return st == C2S_OK ? check_names(m, err) : st;
}

static c2s_status tf_map(void *impl, const c2s_open_options *o, tmap *m, c2s_error *err)
{
    tf_reader *t = impl;
    if (o != NULL && o->key != NULL)
        return c2s_fail_rule(err, C2S_ERR_USAGE, C2S_RULE_KEY,
                             "'%s': a TensorFlow checkpoint has no key paths to choose a root "
                             "from; its tensors are all converted",
                             o->key);
    int tf_names = o != NULL && o->tf_names;
    c2s_status st = tf_names ? tfb_load_full_names(&t->b, NULL, err) : C2S_OK;
    if (st != C2S_OK) {
        drop_index_path(t->b.prefix, err);
        return st;
    }
    const tfb_entry **es = malloc((t->b.ix.nentries ? t->b.ix.nentries : 1) * sizeof *es);
    if (es == NULL)
        return oom(err);
    st = build_map(t, tf_names, m, es, err);
    free(es);
    if (st != C2S_OK)
        tmap_free(m);
    return st;
}

static c2s_status tf_check_storages(void *impl, const tmap *m, c2s_error *err)
{
    tf_reader *t = impl;
    for (size_t i = 0; i < m->nstorages; i++) {
        const tmap_storage *s = &m->storages[i];
        const tfb_entry *e = tfb_find(&t->b, s->key);
        if (e == NULL || !e->supported || e->nslices > 0 || e->size != s->nbytes)
            return c2s_fail(err, C2S_ERR_INPUT, "no tensor '%s' of %llu bytes in the index", s->key,
                            (unsigned long long)s->nbytes);
    }
    return C2S_OK;
}

/* ---- streams ------------------------------------------------------------------------- */

static c2s_status ts_read(rd_stream *s, uint64_t off, void *buf, size_t n, c2s_error *err)
{
    if (off > s->size || n > s->size - off)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "%s: read of %zu bytes at %llu is past its end (%llu bytes)", s->name, n,
                        (unsigned long long)off, (unsigned long long)s->size);
    ssize_t got = pread_full(s->u.tf.fd, buf, n, s->u.tf.base + off);
    if (got < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: read failed: %s", s->name, strerror(errno));
    if ((size_t)got < n)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: truncated (the shard ends early)", s->name);
    if (off == s->u.tf.crc_pos) { /* in order: the CRC goes on */
        s->u.tf.crc = c2s_crc32c(s->u.tf.crc, buf, n);
        s->u.tf.crc_pos += n;
    }
    return C2S_OK;
}

static int ts_file_range(const rd_stream *s, int *fd, uint64_t *offset)
{
    (void)s, (void)fd, (void)offset;
    return 0; /* the engine's fast path checks CRC-32: read through the stream */
}

static int ts_crc_done(const rd_stream *s)
{
    return s->u.tf.crc_pos == s->size;
}

static c2s_status ts_verify(rd_stream *s, void *scratch, size_t len, c2s_error *err)
{
    while (s->u.tf.crc_pos < s->size) {
        if (scratch == NULL || len == 0)
            return c2s_fail(err, C2S_ERR_INPUT, "%s: internal error: no scratch buffer", s->name);
        uint64_t left = s->size - s->u.tf.crc_pos;
        c2s_status st = ts_read(s, s->u.tf.crc_pos, scratch, left < len ? (size_t)left : len, err);
        if (st != C2S_OK)
            return st;
    }
    uint32_t got = c2s_crc32c_mask(s->u.tf.crc);
    if (got != s->u.tf.crc_masked)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_CORRUPT,
                             "%s: CRC-32C mismatch (index says 0x%08x, data gives 0x%08x): "
                             "the file was altered or damaged",
                             s->name, s->u.tf.crc_masked, got);
    return C2S_OK;
}

static void ts_close(rd_stream *s)
{
    (void)s;
}

static const rd_stream_ops TF_STREAM = {ts_read, ts_file_range, ts_crc_done, ts_verify, ts_close};

static c2s_status tf_stream_open(void *impl, const char *key, rd_stream *s, c2s_error *err)
{
    tf_reader *t = impl;
    const tfb_entry *e = tfb_find(&t->b, key);
    if (e == NULL || e->nslices > 0)
        return c2s_fail(err, C2S_ERR_INPUT, "no tensor '%s' in the index", key);
    char *shard = tfb_shard_path(t->b.prefix, e->shard, (uint32_t)t->b.ix.header.num_shards);
    if (shard == NULL)
        return oom(err);
    snprintf(s->name, sizeof s->name, "%s: '%s'", shard, key);
    free(shard);
    s->ops = &TF_STREAM;
    s->size = e->size;
    s->crc_recorded = 0; /* no CRC-32: the stream checks its CRC-32C itself */
    s->u.tf.fd = t->b.fds[e->shard];
    s->u.tf.base = e->offset;
    s->u.tf.crc = 0;
    s->u.tf.crc_pos = 0;
    s->u.tf.crc_masked = e->crc32c;
    return C2S_OK;
}

static int tf_big_endian(const void *impl)
{
    (void)impl;
    return 0; /* big-endian bundles are refused at open */
}

static uint64_t tf_object_count(const void *impl)
{
    (void)impl;
    return 0; /* no pickle */
}

const rd_ops rd_tf_ops = {
    .format = RD_TF_FORMAT,
    .sniff = tf_sniff,
    .open = tf_open,
    .verify_all = tf_verify_all,
    .map = tf_map,
    .check_storages = tf_check_storages,
    .stream_open = tf_stream_open,
    .big_endian = tf_big_endian,
    .object_count = tf_object_count,
    .close = tf_close,
};
