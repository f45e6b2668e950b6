/*
 * tfbundle.c - TensorFlow tensor bundles (see src/tf/tfbundle.h).
 *
 * tfb_index_parse walks the index table (sst_walk) with a visitor that
 * decodes the header (the empty key, which sorts first) and then every
 * entry, checking each on its own: shard below num_shards, offset and size
 * non-negative without overflow, a known rank with sizes >= 0 whose product
 * fits, and for plain dtypes size == elements * element size.  tfb_open
 * adds what needs the shards: each is opened once, and every entry's bytes
 * must end inside its shard.
 */
#include "tf/tfbundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tf/crc32c.h"
#include "tf/sstable.h"

/* ---- dtypes --------------------------------------------------------------- */

typedef struct tf_dtype_info {
    const char *name; /* TensorFlow's name */
    int dtype;        /* c2s_dtype, or -1: unsupported */
} tf_dtype_info;

/* Indexed by types.proto DataType. */
static const tf_dtype_info tf_dtypes[] = {
    [1] = {"float", C2S_F32},
    [2] = {"double", C2S_F64},
    [3] = {"int32", C2S_I32},
    [4] = {"uint8", C2S_U8},
    [5] = {"int16", C2S_I16},
    [6] = {"int8", C2S_I8},
    [7] = {"string", -1},
    [8] = {"complex64", C2S_C64},
    [9] = {"int64", C2S_I64},
    [10] = {"bool", C2S_BOOL},
    [11] = {"qint8", -1},
    [12] = {"quint8", -1},
    [13] = {"qint32", -1},
    [14] = {"bfloat16", C2S_BF16},
    [15] = {"qint16", -1},
    [16] = {"quint16", -1},
    [17] = {"uint16", C2S_U16},
    [18] = {"complex128", -1},
    [19] = {"half", C2S_F16},
    [20] = {"resource", -1},
    [21] = {"variant", -1},
    [22] = {"uint32", C2S_U32},
    [23] = {"uint64", C2S_U64},
    [24] = {"float8_e5m2", C2S_F8_E5M2},
    [25] = {"float8_e4m3fn", C2S_F8_E4M3},
    [26] = {"float8_e4m3fnuz", C2S_F8_E4M3FNUZ},
    [27] = {"float8_e4m3b11fnuz", -1},
    [28] = {"float8_e5m2fnuz", C2S_F8_E5M2FNUZ},
    [29] = {"int4", -1},
    [30] = {"uint4", -1},
    [31] = {"int2", -1},
    [32] = {"uint2", -1},
};

#define N_TF_DTYPES (sizeof tf_dtypes / sizeof tf_dtypes[0])

const char *tfb_dtype_name(int32_t tf_dtype)
{
    if (tf_dtype > 0 && (size_t)tf_dtype < N_TF_DTYPES && tf_dtypes[tf_dtype].name != NULL)
        return tf_dtypes[tf_dtype].name;
    return "unknown dtype";
}

/* Set e->supported / dtype / why from e->tf_dtype. */
static void classify_dtype(tfb_entry *e)
{
    e->supported = 0;
    e->why = tfb_dtype_name(e->tf_dtype);
    if (e->tf_dtype <= 0 || (size_t)e->tf_dtype >= N_TF_DTYPES)
        return;
    const tf_dtype_info *d = &tf_dtypes[e->tf_dtype];
    if (d->name == NULL || d->dtype < 0)
        return;
    e->supported = 1;
    e->dtype = (c2s_dtype)d->dtype;
    e->why = NULL;
}

/* ---- the index ------------------------------------------------------------ */

void tfb_index_free(tfb_index *ix)
{
    for (size_t i = 0; i < ix->nentries; i++) {
        free(ix->entries[i].name);
        free(ix->entries[i].shape);
        free(ix->entries[i].full_name);
    }
    free(ix->entries);
    free(ix->parts);
    memset(ix, 0, sizeof *ix);
}

/* Header checks: shards, byte order, version (TensorFlow writes version 1
 * and accepts bundles whose min_consumer is at most 1). */
static c2s_status take_header(tfb_index *ix, const uint8_t *val, size_t vlen, c2s_error *err)
{
    if (tfp_looks_like_v1(val, vlen))
        return c2s_fail(err, C2S_ERR_INPUT,
                        "a V1 checkpoint (pre-2016 format, one file of tensor slices), "
                        "not a V2 tensor bundle: not supported");
    tfp_header *h = &ix->header;
    if (tfp_header_decode(val, vlen, h, err) != C2S_OK) {
        c2s_error_prefix(err, "header");
        return C2S_ERR_INPUT;
    }
    if (h->num_shards < 1 || h->num_shards > TFB_MAX_SHARDS)
        return c2s_fail(err, C2S_ERR_INPUT, "header: num_shards %d is not between 1 and %d",
                        h->num_shards, TFB_MAX_SHARDS);
    if (h->endianness == 1)
        return c2s_fail(err, C2S_ERR_INPUT, "header: a big-endian bundle: not supported");
    if (h->endianness != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "header: unknown endianness %d", h->endianness);
    if (h->min_consumer > 1)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "header: bundle version needs a reader of version %d (this is 1)",
                        h->min_consumer);
    for (size_t i = 0; i < h->nbad_consumers && i < 8; i++)
        if (h->bad_consumers[i] == 1)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "header: bundle version excludes readers of version 1");
    return C2S_OK;
}

/* Where an entry's bytes are: shard, offset, size, all checked. */
static c2s_status check_extent(const tfb_index *ix, const tfp_entry *pe, c2s_error *err)
{
    if (pe->shard_id < 0 || pe->shard_id >= ix->header.num_shards)
        return c2s_fail(err, C2S_ERR_INPUT, "shard_id %d is not below num_shards %d", pe->shard_id,
                        ix->header.num_shards);
    if (pe->offset < 0 || pe->size < 0)
        return c2s_fail(err, C2S_ERR_INPUT, "negative offset %lld or size %lld",
                        (long long)pe->offset, (long long)pe->size);
    if (pe->size > INT64_MAX - pe->offset)
        return c2s_fail(err, C2S_ERR_INPUT, "offset %lld + size %lld overflows",
                        (long long)pe->offset, (long long)pe->size);
    return C2S_OK;
}

/* Shape: known rank, sizes >= 0, product below 2^63. */
static c2s_status take_shape(tfb_entry *e, const tfp_entry *pe, c2s_error *err)
{
    if (pe->unknown_rank)
        return c2s_fail(err, C2S_ERR_INPUT, "shape of unknown rank");
    e->shape = malloc(pe->ndim ? pe->ndim * sizeof *e->shape : 1);
    if (e->shape == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    e->ndim = pe->ndim;
    uint64_t numel = 1;
    for (size_t d = 0; d < pe->ndim; d++) {
        int64_t s = pe->dims[d];
        if (s < 0)
            return c2s_fail(err, C2S_ERR_INPUT, "dimension %zu has size %lld", d, (long long)s);
        e->shape[d] = s;
        if (s != 0 && numel > (uint64_t)INT64_MAX / (uint64_t)s)
            return c2s_fail(err, C2S_ERR_INPUT, "shape has more than 2^63 elements");
        numel *= (uint64_t)s;
    }
    e->numel = numel;
    return C2S_OK;
}

/* Size agrees with the shape for plain dtypes; slices have no bytes here. */
static c2s_status check_size(const tfb_entry *e, c2s_error *err)
{
    if (e->nslices > 0) {
        if (e->size != 0)
            return c2s_fail(err, C2S_ERR_INPUT, "partitioned into %zu slices but has %llu bytes",
                            e->nslices, (unsigned long long)e->size);
        return C2S_OK;
    }
    if (!e->supported)
        return C2S_OK;
    uint64_t es = c2s_dtype_size(e->dtype);
    if (e->numel > UINT64_MAX / es || e->numel * es != e->size)
        return c2s_fail(err, C2S_ERR_INPUT, "%llu bytes for %llu elements of %s",
                        (unsigned long long)e->size, (unsigned long long)e->numel,
                        c2s_dtype_name(e->dtype));
    return C2S_OK;
}

static c2s_status add_part(tfb_index *ix, const uint8_t *val, size_t vlen, c2s_error *err)
{
    tfp_entry pe;
    if (tfp_entry_decode(val, vlen, &pe, err) != C2S_OK || check_extent(ix, &pe, err) != C2S_OK) {
        c2s_error_prefix(err, "slice record %zu", ix->nparts);
        return C2S_ERR_INPUT;
    }
    if (ix->nparts == ix->part_cap) {
        size_t cap = ix->part_cap ? ix->part_cap * 2 : 16;
        tfb_part *p = realloc(ix->parts, cap * sizeof *p);
        if (p == NULL)
            return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
        ix->parts = p;
        ix->part_cap = cap;
    }
    ix->parts[ix->nparts++] = (tfb_part){(uint32_t)pe.shard_id, (uint64_t)pe.offset,
                                         (uint64_t)pe.size};
    return C2S_OK;
}

static c2s_status new_entry(tfb_index *ix, const uint8_t *key, size_t klen, tfb_entry **out,
                            c2s_error *err)
{
    if (memchr(key, 0, klen) != NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "key %zu contains a NUL byte", ix->nentries);
    if (klen > ix->name_limit - ix->name_bytes)
        return c2s_fail(err, C2S_ERR_INPUT, "names total more than %zu bytes (%d times the index)",
                        ix->name_limit, TFB_NAME_FACTOR);
    if (ix->nentries == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 64;
        tfb_entry *p = realloc(ix->entries, cap * sizeof *p);
        if (p == NULL)
            return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
        ix->entries = p;
        ix->cap = cap;
    }
    tfb_entry *e = &ix->entries[ix->nentries];
    memset(e, 0, sizeof *e);
    e->name = malloc(klen + 1);
    if (e->name == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    memcpy(e->name, key, klen);
    e->name[klen] = '\0';
    ix->name_bytes += klen;
    ix->nentries++;
    *out = e;
    return C2S_OK;
}

static c2s_status take_entry(tfb_index *ix, const uint8_t *key, size_t klen, const uint8_t *val,
                             size_t vlen, c2s_error *err)
{
    tfb_entry *e = NULL;
    if (new_entry(ix, key, klen, &e, err) != C2S_OK)
        return C2S_ERR_INPUT;
    tfp_entry pe;
    c2s_status st = tfp_entry_decode(val, vlen, &pe, err);
    if (st == C2S_OK && pe.dtype == 0)
        st = c2s_fail(err, C2S_ERR_INPUT, "no dtype");
    if (st == C2S_OK)
        st = check_extent(ix, &pe, err);
    if (st == C2S_OK)
        st = take_shape(e, &pe, err);
    if (st == C2S_OK) {
        e->tf_dtype = pe.dtype;
        classify_dtype(e);
        e->shard = (uint32_t)pe.shard_id;
        e->offset = (uint64_t)pe.offset;
        e->size = (uint64_t)pe.size;
        e->crc32c = pe.crc32c;
        e->nslices = pe.nslices;
        if (e->nslices > 0) {
            e->supported = 0;
            e->why = "partitioned variable (stored in slices)";
        }
        st = check_size(e, err);
    }
    if (st != C2S_OK)
        c2s_error_prefix(err, "'%s'", e->name);
    return st;
}

static c2s_status visit(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                        c2s_error *err)
{
    tfb_index *ix = ctx;
    int have_header = ix->header.num_shards > 0;
    if (klen == 0)
        return take_header(ix, val, vlen, err);
    if (!have_header)
        return c2s_fail(err, C2S_ERR_INPUT, "no header entry (the empty key)");
    if (key[0] == '\0')
        return add_part(ix, val, vlen, err);
    return take_entry(ix, key, klen, val, vlen, err);
}

c2s_status tfb_index_parse(const uint8_t *data, size_t size, unsigned flags, tfb_index *ix,
                           c2s_error *err)
{
    memset(ix, 0, sizeof *ix);
    ix->name_limit = size > (SIZE_MAX - (1u << 20)) / TFB_NAME_FACTOR
                         ? SIZE_MAX
                         : size * TFB_NAME_FACTOR + (1u << 20);
    c2s_status st = sst_walk(data, size, flags, visit, ix, err);
    if (st == C2S_OK && ix->header.num_shards == 0)
        st = c2s_fail(err, C2S_ERR_INPUT, "no header entry (the empty key)");
    return st;
}

/* ---- files ---------------------------------------------------------------- */

char *tfb_shard_path(const char *prefix, uint32_t i, uint32_t n)
{
    size_t len = strlen(prefix) + 40;
    char *p = malloc(len);
    if (p != NULL)
        snprintf(p, len, "%s.data-%05u-of-%05u", prefix, i, n);
    return p;
}

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 1);
    if (p != NULL) {
        memcpy(p, a, la);
        memcpy(p + la, b, lb + 1);
    }
    return p;
}

/* The whole file behind fd into *out (at most TFB_MAX_INDEX bytes). */
static c2s_status slurp(int fd, const char *path, uint8_t **out, size_t *size, c2s_error *err)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return c2s_fail(err, C2S_ERR_INPUT, "%s: not a regular file", path);
    if ((uint64_t)sb.st_size > TFB_MAX_INDEX)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: %lld bytes, more than an index may have (%llu)",
                        path, (long long)sb.st_size, (unsigned long long)TFB_MAX_INDEX);
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: out of memory", path);
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, buf + done, n - done, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(buf);
            return c2s_fail(err, C2S_ERR_INPUT, "%s: %s", path,
                            r < 0 ? strerror(errno) : "file shrank while being read");
        }
        done += (size_t)r;
    }
    *out = buf;
    *size = n;
    return C2S_OK;
}

static c2s_status open_shards(tfb_bundle *b, c2s_error *err)
{
    uint32_t n = (uint32_t)b->ix.header.num_shards;
    b->fds = malloc(n * sizeof *b->fds);
    b->shard_sizes = calloc(n, sizeof *b->shard_sizes);
    if (b->fds == NULL || b->shard_sizes == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    for (uint32_t i = 0; i < n; i++)
        b->fds[i] = -1;
    for (uint32_t i = 0; i < n; i++) {
        char *path = tfb_shard_path(b->prefix, i, n);
        if (path == NULL)
            return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
        struct stat sb;
        b->fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        int ok = b->fds[i] >= 0 && fstat(b->fds[i], &sb) == 0;
        if (ok && !S_ISREG(sb.st_mode)) {
            errno = EINVAL;
            ok = 0;
        }
        if (!ok) {
            c2s_fail(err, C2S_ERR_INPUT, "%s: %s", path,
                     errno == EINVAL ? "not a regular file" : strerror(errno));
            free(path);
            return C2S_ERR_INPUT;
        }
        b->shard_sizes[i] = (uint64_t)sb.st_size;
        free(path);
    }
    return C2S_OK;
}

/* Whether bytes [off, off + size) end inside the shard; what names them. */
static c2s_status in_shard(const tfb_bundle *b, uint32_t shard, uint64_t off, uint64_t size,
                           const char *what, c2s_error *err)
{
    if (off + size <= b->shard_sizes[shard])
        return C2S_OK;
    char *path = tfb_shard_path(b->prefix, shard, (uint32_t)b->ix.header.num_shards);
    c2s_fail(err, C2S_ERR_INPUT, "%s: %s: bytes [%llu, %llu) end past the end of %s (%llu bytes)",
             b->index_path, what, (unsigned long long)off, (unsigned long long)(off + size),
             path ? path : "its shard", (unsigned long long)b->shard_sizes[shard]);
    free(path);
    return C2S_ERR_INPUT;
}

/* Every entry's (and slice record's) bytes end inside its shard. */
static c2s_status check_in_shards(const tfb_bundle *b, c2s_error *err)
{
    for (size_t i = 0; i < b->ix.nentries; i++) {
        const tfb_entry *e = &b->ix.entries[i];
        char what[C2S_ERROR_MSG_MAX / 2];
        snprintf(what, sizeof what, "'%s'", e->name);
        if (in_shard(b, e->shard, e->offset, e->size, what, err) != C2S_OK)
            return C2S_ERR_INPUT;
    }
    for (size_t i = 0; i < b->ix.nparts; i++) {
        const tfb_part *p = &b->ix.parts[i];
        char what[64];
        snprintf(what, sizeof what, "slice record %zu", i);
        if (in_shard(b, p->shard, p->offset, p->size, what, err) != C2S_OK)
            return C2S_ERR_INPUT;
    }
    return C2S_OK;
}

c2s_status tfb_open(int index_fd, const char *prefix, tfb_bundle *b, c2s_error *err)
{
    memset(b, 0, sizeof *b);
    b->prefix = strdup(prefix);
    b->index_path = concat(prefix, ".index");
    if (b->prefix == NULL || b->index_path == NULL) {
        tfb_close(b);
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    }
    uint8_t *data = NULL;
    size_t size = 0;
    c2s_status st = slurp(index_fd, b->index_path, &data, &size, err);
    if (st == C2S_OK) {
        st = tfb_index_parse(data, size, 0, &b->ix, err);
        if (st != C2S_OK)
            c2s_error_prefix(err, "%s", b->index_path);
    }
    free(data);
    if (st == C2S_OK)
        st = open_shards(b, err);
    if (st == C2S_OK)
        st = check_in_shards(b, err);
    if (st != C2S_OK)
        tfb_close(b);
    return st;
}

void tfb_close(tfb_bundle *b)
{
    if (b->fds != NULL)
        for (int32_t i = 0; i < b->ix.header.num_shards; i++)
            if (b->fds[i] >= 0)
                close(b->fds[i]);
    free(b->fds);
    free(b->shard_sizes);
    free(b->prefix);
    free(b->index_path);
    tfb_index_free(&b->ix);
    memset(b, 0, sizeof *b);
}

/* ---- tensor bytes ----------------------------------------------------------- */

c2s_status tfb_read(const tfb_bundle *b, const tfb_entry *e, uint64_t off, void *buf, size_t len,
                    c2s_error *err)
{
    if (off > e->size || len > e->size - off)
        return c2s_fail(err, C2S_ERR_INPUT, "'%s': read of %zu bytes at %llu past its %llu bytes",
                        e->name, len, (unsigned long long)off, (unsigned long long)e->size);
    int fd = b->fds[e->shard];
    uint64_t pos = e->offset + off;
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(pos + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            char *path = tfb_shard_path(b->prefix, e->shard, (uint32_t)b->ix.header.num_shards);
            c2s_fail(err, C2S_ERR_INPUT, "%s: '%s': %s", path ? path : b->prefix, e->name,
                     r < 0 ? strerror(errno) : "unexpected end of file");
            free(path);
            return C2S_ERR_INPUT;
        }
        done += (size_t)r;
    }
    return C2S_OK;
}

void tfb_crc_start(tfb_crc *c)
{
    c->crc = 0;
    c->nbytes = 0;
}

void tfb_crc_add(tfb_crc *c, const void *p, size_t n)
{
    c->crc = c2s_crc32c(c->crc, p, n);
    c->nbytes += n;
}

c2s_status tfb_crc_check(const tfb_bundle *b, const tfb_entry *e, const tfb_crc *c, c2s_error *err)
{
    if (c->nbytes != e->size)
        return c2s_fail(err, C2S_ERR_INPUT, "'%s': checksum over %llu of its %llu bytes", e->name,
                        (unsigned long long)c->nbytes, (unsigned long long)e->size);
    uint32_t got = c2s_crc32c_mask(c->crc);
    if (got == e->crc32c)
        return C2S_OK;
    char *path = tfb_shard_path(b->prefix, e->shard, (uint32_t)b->ix.header.num_shards);
    c2s_fail(err, C2S_ERR_INPUT, "%s: '%s': CRC-32C mismatch (index 0x%08x, data 0x%08x)",
             path ? path : b->prefix, e->name, e->crc32c, got);
    free(path);
    return C2S_ERR_INPUT;
}

/* Sequential reads of a tensor's bytes through a buffer (string tensors are
 * parsed byte by byte). */
typedef struct breader {
    const tfb_bundle *b;
    const tfb_entry *e;
    uint8_t *buf;
    size_t len, pos; /* bytes in buf, next one */
    uint64_t next;   /* tensor offset of the byte after buf */
} breader;

enum { CHUNK = 1 << 18 };

static c2s_status br_fill(breader *r, c2s_error *err)
{
    uint64_t left = r->e->size - r->next;
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    if (n == 0)
        return c2s_fail(err, C2S_ERR_INPUT, "'%s': string lengths run past its %llu bytes",
                        r->e->name, (unsigned long long)r->e->size);
    if (tfb_read(r->b, r->e, r->next, r->buf, n, err) != C2S_OK)
        return C2S_ERR_INPUT;
    r->len = n;
    r->pos = 0;
    r->next += n;
    return C2S_OK;
}

static c2s_status br_byte(breader *r, uint8_t *out, c2s_error *err)
{
    if (r->pos == r->len && br_fill(r, err) != C2S_OK)
        return C2S_ERR_INPUT;
    *out = r->buf[r->pos++];
    return C2S_OK;
}

/* One varint64 string length. */
static c2s_status br_varint(breader *r, uint64_t *v, c2s_error *err)
{
    uint8_t tmp[10];
    size_t n = 0, pos = 0;
    do {
        if (br_byte(r, &tmp[n], err) != C2S_OK)
            return C2S_ERR_INPUT;
    } while ((tmp[n++] & 0x80) && n < sizeof tmp);
    if (sst_varint64(tmp, n, &pos, v) != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "'%s': bad string length", r->e->name);
    return C2S_OK;
}

/* A DT_STRING tensor: numel varint lengths, the masked CRC of those lengths
 * (each as a little-endian uint32, uint64 when larger), then the strings.
 * The entry's CRC covers those uint32/uint64 lengths, the 4 checksum bytes
 * and the strings (TensorFlow's WriteStringTensor). */
static c2s_status verify_string(breader *r, tfb_crc *c, c2s_error *err)
{
    uint64_t total = 0;
    for (uint64_t i = 0; i < r->e->numel; i++) {
        uint64_t len;
        if (br_varint(r, &len, err) != C2S_OK)
            return C2S_ERR_INPUT;
        uint8_t le[8];
        for (int k = 0; k < 8; k++)
            le[k] = (uint8_t)(len >> (8 * k));
        tfb_crc_add(c, le, len <= UINT32_MAX ? 4 : 8);
        if (len > UINT64_MAX - total)
            return c2s_fail(err, C2S_ERR_INPUT, "'%s': string lengths overflow", r->e->name);
        total += len;
    }
    uint8_t ck[4];
    for (int k = 0; k < 4; k++)
        if (br_byte(r, &ck[k], err) != C2S_OK)
            return C2S_ERR_INPUT;
    uint32_t stored = (uint32_t)ck[0] | (uint32_t)ck[1] << 8 | (uint32_t)ck[2] << 16 |
                      (uint32_t)ck[3] << 24;
    if (stored != c2s_crc32c_mask(c->crc))
        return c2s_fail(err, C2S_ERR_INPUT, "'%s': checksum of the string lengths does not match",
                        r->e->name);
    tfb_crc_add(c, ck, 4);
    uint64_t used = r->next - (r->len - r->pos);
    if (total != r->e->size - used)
        return c2s_fail(err, C2S_ERR_INPUT, "'%s': strings of %llu bytes in %llu", r->e->name,
                        (unsigned long long)total, (unsigned long long)(r->e->size - used));
    tfb_crc_add(c, r->buf + r->pos, r->len - r->pos);
    while (r->next < r->e->size) {
        if (br_fill(r, err) != C2S_OK)
            return C2S_ERR_INPUT;
        tfb_crc_add(c, r->buf, r->len);
    }
    c->nbytes = r->e->size;
    return C2S_OK;
}

static c2s_status verify_plain(breader *r, tfb_crc *c, c2s_error *err)
{
    while (r->next < r->e->size) {
        if (br_fill(r, err) != C2S_OK)
            return C2S_ERR_INPUT;
        tfb_crc_add(c, r->buf, r->len);
    }
    return C2S_OK;
}

c2s_status tfb_verify(const tfb_bundle *b, const tfb_entry *e, c2s_error *err)
{
    if (e->nslices > 0)
        return c2s_fail(err, C2S_ERR_INPUT, "'%s': a partitioned variable has no bytes of its own",
                        e->name);
    if (e->tf_dtype == TFB_DT_VARIANT)
        return c2s_fail(err, C2S_ERR_INPUT, "'%s': checking variant tensors is not supported",
                        e->name);
    breader r = {.b = b, .e = e, .buf = malloc(CHUNK)};
    if (r.buf == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    tfb_crc c;
    tfb_crc_start(&c);
    c2s_status st = e->tf_dtype == TFB_DT_STRING && e->nslices == 0 ? verify_string(&r, &c, err)
                                                                    : verify_plain(&r, &c, err);
    free(r.buf);
    if (st == C2S_OK)
        st = tfb_crc_check(b, e, &c, err);
    return st;
}

/* ---- names ---------------------------------------------------------------- */

size_t tfb_tf2_name_len(const char *key)
{
    size_t n = strlen(key), s = strlen(TFB_TF2_SUFFIX);
    if (n > s && memcmp(key + n - s, TFB_TF2_SUFFIX, s) == 0)
        return n - s;
    return n;
}

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Length of the prefix of a shard name "P.data-DDDDD-of-DDDDD", or 0. */
static size_t shard_prefix_len(const char *s)
{
    static const char pat[] = ".data-#####-of-#####";
    size_t n = strlen(s), k = sizeof pat - 1;
    if (n <= k)
        return 0;
    for (size_t i = 0; i < k; i++) {
        char c = s[n - k + i];
        if (pat[i] == '#' ? (c < '0' || c > '9') : c != pat[i])
            return 0;
    }
    return n - k;
}

/* Whether path is a file ending in the table magic. */
static int is_table_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint8_t tail[SST_FOOTER_SIZE];
    struct stat sb;
    int yes = fstat(fd, &sb) == 0 && sb.st_size >= SST_FOOTER_SIZE &&
              pread(fd, tail, sizeof tail, sb.st_size - SST_FOOTER_SIZE) == (ssize_t)sizeof tail &&
              sst_has_magic(tail, sizeof tail);
    close(fd);
    return yes;
}

static c2s_status resolved(char *prefix, char **out, c2s_error *err)
{
    if (prefix == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    *out = prefix;
    return C2S_OK;
}

c2s_status tfb_resolve(const char *arg, char **prefix_out, c2s_error *err)
{
    *prefix_out = NULL;
    if (ends_with(arg, ".index") && is_file(arg))
        return resolved(strndup(arg, strlen(arg) - 6), prefix_out, err);
    char *index = concat(arg, ".index");
    if (index == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    int have = is_file(index);
    free(index);
    if (have)
        return resolved(strdup(arg), prefix_out, err);
    size_t k = shard_prefix_len(arg);
    if (k > 0) {
        char *prefix = strndup(arg, k);
        char *pi = prefix ? concat(prefix, ".index") : NULL;
        have = pi != NULL && is_file(pi);
        free(pi);
        if (have)
            return resolved(prefix, prefix_out, err);
        free(prefix);
        return c2s_fail(err, C2S_ERR_INPUT, "%s: a checkpoint shard without its .index file", arg);
    }
    if (is_table_file(arg))
        return c2s_fail(err, C2S_ERR_INPUT,
                        "%s: a TensorFlow table but no .index file: a V1 checkpoint "
                        "(pre-2016 format) is not supported",
                        arg);
    return c2s_fail(err, C2S_ERR_INPUT, "%s: no such checkpoint (neither it nor %s.index exists)",
                    arg, arg);
}

/* ---- TF2 object graph ----------------------------------------------------- */

tfb_entry *tfb_find(const tfb_bundle *b, const char *name)
{
    size_t lo = 0, hi = b->ix.nentries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(b->ix.entries[mid].name, name);
        if (c == 0)
            return &b->ix.entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static c2s_status set_full_name(void *ctx, const uint8_t *key, size_t klen, const uint8_t *full,
                                size_t flen, c2s_error *err)
{
    tfb_bundle *b = ctx;
    if (memchr(key, 0, klen) != NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "object graph: a checkpoint key with a NUL byte");
    char *name = strndup((const char *)key, klen);
    if (name == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    tfb_entry *e = tfb_find(b, name);
    if (e == NULL) {
        c2s_fail(err, C2S_ERR_INPUT, "object graph: '%s' names no entry", name);
        free(name);
        return C2S_ERR_INPUT;
    }
    free(name);
    if (flen == 0 || e->full_name != NULL)
        return C2S_OK;
    if (memchr(full, 0, flen) != NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "object graph: full name of '%s' has a NUL byte",
                        e->name);
    e->full_name = strndup((const char *)full, flen);
    if (e->full_name == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    return C2S_OK;
}

/* The one string of a scalar string tensor's bytes p[0..n): varint length,
 * 4 checksum bytes (already checked by tfb_verify), the string. */
static c2s_status scalar_string(const uint8_t *p, size_t n, const uint8_t **s, size_t *len,
                                c2s_error *err)
{
    size_t pos = 0;
    uint64_t v;
    if (sst_varint64(p, n, &pos, &v) != 0 || n - pos < 4 || v != n - pos - 4)
        return c2s_fail(err, C2S_ERR_INPUT, "'%s': not one string", TFB_GRAPH_KEY);
    *s = p + pos + 4;
    *len = (size_t)v;
    return C2S_OK;
}

c2s_status tfb_load_full_names(tfb_bundle *b, int *found, c2s_error *err)
{
    if (found != NULL)
        *found = 0;
    const tfb_entry *g = tfb_find(b, TFB_GRAPH_KEY);
    if (g == NULL)
        return C2S_OK;
    if (g->tf_dtype != TFB_DT_STRING || g->numel != 1 || g->nslices > 0)
        return c2s_fail(err, C2S_ERR_INPUT, "'%s': not a string scalar", TFB_GRAPH_KEY);
    if (g->size > TFB_MAX_GRAPH)
        return c2s_fail(err, C2S_ERR_INPUT, "'%s': %llu bytes, more than %u", TFB_GRAPH_KEY,
                        (unsigned long long)g->size, TFB_MAX_GRAPH);
    if (tfb_verify(b, g, err) != C2S_OK)
        return C2S_ERR_INPUT;
    uint8_t *buf = malloc(g->size ? (size_t)g->size : 1);
    if (buf == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    const uint8_t *s = NULL;
    size_t len = 0;
    c2s_status st = tfb_read(b, g, 0, buf, (size_t)g->size, err);
    if (st == C2S_OK)
        st = scalar_string(buf, (size_t)g->size, &s, &len, err);
    if (st == C2S_OK)
        st = tfp_object_graph_walk(s, len, set_full_name, b, err);
    free(buf);
    if (st != C2S_OK)
        c2s_error_prefix(err, "%s", b->index_path);
    else if (found != NULL)
        *found = 1;
    return st;
}
