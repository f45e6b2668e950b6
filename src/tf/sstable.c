/*
 * sstable.c - reading a TensorFlow sorted string table (see src/tf/sstable.h).
 *
 * sst_walk reads the footer, then the index and metaindex blocks, then each
 * data block the index names, in order.  A block is checked (trailer CRC,
 * compression, restart array) before its entries are decoded; every entry
 * is checked against the previous key (strictly increasing across the whole
 * table) and against the index separators around its block.  The writer
 * (tsl's TableBuilder) lays blocks out as data blocks, metaindex, index,
 * footer, without gaps it could not explain; this reader accepts exactly
 * that order, so no handle can point back into a block already read (no
 * cycles), overlap another, or reach into the footer.
 */
#include "tf/sstable.h"
#include "util/le.h"

#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf/crc32c.h"

#define COMPRESSION_NONE 0
#define COMPRESSION_SNAPPY 1

int sst_varint64(const uint8_t *p, size_t n, size_t *pos, uint64_t *v)
{
    uint64_t r = 0;
    size_t i = *pos;
    for (unsigned shift = 0; shift <= 63; shift += 7) {
        if (i >= n)
            return -1;
        uint8_t b = p[i++];
        if (shift == 63 && b > 1)
            return -2; /* an 11th byte, or bits past 64 */
        r |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *pos = i;
            *v = r;
            return 0;
        }
    }
    return -2;
}

/* A varint32 as LevelDB writes them: at most 5 bytes, value below 2^32. */
static int varint32(const uint8_t *p, size_t n, size_t *pos, uint32_t *v)
{
    size_t i = *pos;
    uint64_t r;
    int rc = sst_varint64(p, n, &i, &r);
    if (rc != 0)
        return rc;
    if (i - *pos > 5 || r > UINT32_MAX)
        return -2;
    *pos = i;
    *v = (uint32_t)r;
    return 0;
}

int sst_has_magic(const uint8_t *file, size_t size)
{
    return size >= SST_FOOTER_SIZE && le64(file + size - 8) == SST_MAGIC;
}

/* ---- growable key buffer -------------------------------------------------- */

typedef struct kbuf {
    uint8_t *p;
    size_t len, cap;
} kbuf;

static c2s_status kbuf_reserve(kbuf *k, size_t n, c2s_error *err)
{
    if (n <= k->cap)
        return C2S_OK;
    size_t cap = k->cap ? k->cap : 64;
    while (cap < n)
        cap = cap > SIZE_MAX / 2 ? n : cap * 2;
    uint8_t *p = realloc(k->p, cap);
    if (p == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory for a %zu-byte key", n);
    k->p = p;
    k->cap = cap;
    return C2S_OK;
}

static c2s_status kbuf_set(kbuf *k, const uint8_t *p, size_t n, c2s_error *err)
{
    if (kbuf_reserve(k, n, err) != C2S_OK)
        return C2S_ERR_INPUT;
    if (n > 0)
        memcpy(k->p, p, n);
    k->len = n;
    return C2S_OK;
}

/* Bytewise comparison, a shorter prefix first (LevelDB's BytewiseComparator). */
static int keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* ---- blocks ------------------------------------------------------------- */

typedef struct blk {
    const uint8_t *data;
    size_t size;
    uint8_t *owned;  /* decompressed copy, or NULL */
    uint64_t offset; /* in the file, for messages */
    const char *what;
} blk;

static c2s_status decompress_snappy(blk *b, const uint8_t *src, size_t n, c2s_error *err)
{
    size_t ulen;
    if (snappy_uncompressed_length((const char *)src, n, &ulen) != SNAPPY_OK)
        return c2s_fail(err, C2S_ERR_INPUT, "%s block at offset %llu: bad Snappy length header",
                        b->what, (unsigned long long)b->offset);
    if (ulen / SST_MAX_EXPANSION > n)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "%s block at offset %llu: Snappy data claims %zu bytes from %zu", b->what,
                        (unsigned long long)b->offset, ulen, n);
    b->owned = malloc(ulen ? ulen : 1);
    if (b->owned == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory for a %zu-byte block", ulen);
    size_t got = ulen;
    if (snappy_uncompress((const char *)src, n, (char *)b->owned, &got) != SNAPPY_OK || got != ulen)
        return c2s_fail(err, C2S_ERR_INPUT, "%s block at offset %llu: corrupt Snappy data", b->what,
                        (unsigned long long)b->offset);
    b->data = b->owned;
    b->size = ulen;
    return C2S_OK;
}

/* The block at [off, off + size) plus its trailer, all before limit. */
static c2s_status read_block(const uint8_t *file, size_t limit, uint64_t off, uint64_t size,
                             unsigned flags, blk *b, c2s_error *err)
{
    b->owned = NULL;
    b->offset = off;
    if (off > limit || size > limit - off || SST_TRAILER_SIZE > limit - off - size)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "%s block at offset %llu (%llu bytes) runs past the blocks "
                        "(%zu bytes before the footer)",
                        b->what, (unsigned long long)off, (unsigned long long)size, limit);
    const uint8_t *p = file + off;
    uint8_t type = p[size];
    uint32_t stored = le32(p + size + 1);
    uint32_t actual = c2s_crc32c_mask(c2s_crc32c(0, p, (size_t)size + 1));
    if (stored != actual && !(flags & SST_NO_BLOCK_CRC))
        return c2s_fail(err, C2S_ERR_INPUT,
                        "%s block at offset %llu: checksum mismatch (stored 0x%08x, "
                        "computed 0x%08x)",
                        b->what, (unsigned long long)off, stored, actual);
    if (type == COMPRESSION_SNAPPY)
        return decompress_snappy(b, p, (size_t)size, err);
    if (type != COMPRESSION_NONE)
        return c2s_fail(err, C2S_ERR_INPUT, "%s block at offset %llu: unknown compression %u",
                        b->what, (unsigned long long)off, type);
    b->data = p;
    b->size = (size_t)size;
    return C2S_OK;
}

/* ---- entries of a block ----------------------------------------------------- */

typedef struct biter {
    const blk *b;
    size_t limit; /* end of the entries: start of the restart array */
    const uint8_t *restarts;
    uint32_t nrestarts, next_restart;
    size_t pos;
    kbuf key;
    const uint8_t *val;
    size_t vlen;
} biter;

#define BFAIL(it, ...) block_fail((it)->b, err, __VA_ARGS__)

static c2s_status block_fail(const blk *b, c2s_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static c2s_status block_fail(const blk *b, c2s_error *err, const char *fmt, ...)
{
    char what[C2S_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return c2s_fail(err, C2S_ERR_INPUT, "%s block at offset %llu: %s", b->what,
                    (unsigned long long)b->offset, what);
}

/* Check the restart array: a count >= 1 that fits, offsets from 0 up,
 * strictly increasing, each inside the entries (whether each is really at
 * an entry is checked while walking). */
static c2s_status biter_init(biter *it, const blk *b, c2s_error *err)
{
    memset(it, 0, sizeof *it);
    it->b = b;
    if (b->size < 4)
        return BFAIL(it, "%zu bytes, too short for a restart count", b->size);
    uint32_t nr = le32(b->data + b->size - 4);
    if (nr == 0)
        return BFAIL(it, "no restart points");
    if (nr > (b->size - 4) / 4)
        return BFAIL(it, "%u restart points do not fit in %zu bytes", nr, b->size);
    it->nrestarts = nr;
    it->limit = b->size - 4 - 4 * (size_t)nr;
    it->restarts = b->data + it->limit;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < nr; i++) {
        uint32_t r = le32(it->restarts + 4 * (size_t)i);
        if (i == 0 && r != 0)
            return BFAIL(it, "restart point 0 is at offset %u, not 0", r);
        if (i > 0 && r <= prev)
            return BFAIL(it, "restart point %u (offset %u) does not follow %u", i, r, prev);
        if (r >= it->limit && !(it->limit == 0 && nr == 1))
            return BFAIL(it, "restart point %u (offset %u) is past the entries (%zu bytes)", i, r,
                         it->limit);
        prev = r;
    }
    return C2S_OK;
}

/* The next entry into it->key / it->val; *got = 0 at the end. */
static c2s_status biter_next(biter *it, int *got, c2s_error *err)
{
    *got = 0;
    size_t start = it->pos;
    uint32_t r = it->next_restart < it->nrestarts
                     ? le32(it->restarts + 4 * (size_t)it->next_restart)
                     : 0;
    int restart_left = it->next_restart < it->nrestarts && it->limit > 0;
    if (start == it->limit) {
        if (restart_left)
            return BFAIL(it, "restart point %u (offset %u) is not at an entry", it->next_restart,
                         r);
        return C2S_OK;
    }
    int at_restart = 0;
    if (restart_left && r < start)
        return BFAIL(it, "restart point %u (offset %u) is not at an entry", it->next_restart, r);
    if (restart_left && r == start) {
        at_restart = 1;
        it->next_restart++;
    }
    uint32_t shared, nonshared, vlen;
    size_t pos = start;
    if (varint32(it->b->data, it->limit, &pos, &shared) != 0 ||
        varint32(it->b->data, it->limit, &pos, &nonshared) != 0 ||
        varint32(it->b->data, it->limit, &pos, &vlen) != 0)
        return BFAIL(it, "entry at offset %zu: truncated or overlong length", start);
    if (at_restart && shared != 0)
        return BFAIL(it, "entry at offset %zu is a restart point but shares %u key bytes", start,
                     shared);
    if (shared > it->key.len)
        return BFAIL(it, "entry at offset %zu shares %u bytes of a %zu-byte key", start, shared,
                     it->key.len);
    if (nonshared > it->limit - pos || vlen > it->limit - pos - nonshared)
        return BFAIL(it, "entry at offset %zu runs past the entries (%zu bytes)", start, it->limit);
    if (kbuf_reserve(&it->key, (size_t)shared + nonshared, err) != C2S_OK)
        return C2S_ERR_INPUT;
    if (nonshared > 0)
        memcpy(it->key.p + shared, it->b->data + pos, nonshared);
    it->key.len = (size_t)shared + nonshared;
    it->val = it->b->data + pos + nonshared;
    it->vlen = vlen;
    it->pos = pos + nonshared + vlen;
    *got = 1;
    return C2S_OK;
}

static void biter_free(biter *it)
{
    free(it->key.p);
    it->key.p = NULL;
}

/* ---- the walk ------------------------------------------------------------- */

typedef struct handle {
    uint64_t off, size;
} handle;

static int decode_handle(const uint8_t *p, size_t n, size_t *pos, handle *h)
{
    return sst_varint64(p, n, pos, &h->off) == 0 && sst_varint64(p, n, pos, &h->size) == 0 ? 0 : -1;
}

/* End of a block with its trailer (handles already bounded by read_block). */
static uint64_t block_end(handle h)
{
    return h.off + h.size + SST_TRAILER_SIZE;
}

typedef struct walk {
    const uint8_t *file;
    size_t size, limit; /* limit: start of the footer */
    handle meta, index;
    kbuf last;         /* last key visited */
    int any;           /* whether any key was visited */
    kbuf sep_prev;     /* separator of the previous data block */
    uint64_t next_off; /* data blocks start at or after this */
    sst_visit_fn visit;
    void *ctx;
    unsigned flags;
} walk;

/* Every entry of data block nb, in order, against the separators around it:
 * keys strictly increasing across the table, above the previous block's
 * separator, at or below this block's. */
static c2s_status walk_data_block(walk *w, size_t nb, handle h, const uint8_t *sep, size_t seplen,
                                  c2s_error *err)
{
    if (h.off < w->next_off)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "data block %zu at offset %llu overlaps the block before it "
                        "(which ends at %llu)",
                        nb, (unsigned long long)h.off, (unsigned long long)w->next_off);
    blk b = {.what = "data"};
    c2s_status st = read_block(w->file, w->limit, h.off, h.size, w->flags, &b, err);
    if (st == C2S_OK && block_end(h) > w->meta.off)
        st = c2s_fail(err, C2S_ERR_INPUT,
                      "data block %zu at offset %llu (%llu bytes) does not end before the "
                      "metaindex block at offset %llu",
                      nb, (unsigned long long)h.off, (unsigned long long)h.size,
                      (unsigned long long)w->meta.off);
    biter it;
    if (st == C2S_OK)
        st = biter_init(&it, &b, err);
    else
        memset(&it, 0, sizeof it);
    size_t count = 0;
    while (st == C2S_OK) {
        int got;
        st = biter_next(&it, &got, err);
        if (st != C2S_OK || !got)
            break;
        const uint8_t *k = it.key.p;
        size_t kl = it.key.len;
        if (w->any && keycmp(k, kl, w->last.p, w->last.len) <= 0)
            st = c2s_fail(err, C2S_ERR_INPUT,
                          "data block %zu: key %zu is not after the key before it "
                          "(duplicate or unsorted keys)",
                          nb, count);
        else if (nb > 0 && keycmp(k, kl, w->sep_prev.p, w->sep_prev.len) <= 0)
            st = c2s_fail(err, C2S_ERR_INPUT,
                          "data block %zu: key %zu is not after the index key of block %zu", nb,
                          count, nb - 1);
        else if (keycmp(k, kl, sep, seplen) > 0)
            st = c2s_fail(err, C2S_ERR_INPUT,
                          "data block %zu: key %zu is after the block's index key", nb, count);
        if (st == C2S_OK)
            st = kbuf_set(&w->last, k, kl, err);
        if (st == C2S_OK)
            st = w->visit(w->ctx, k, kl, it.val, it.vlen, err);
        w->any = 1;
        count++;
    }
    if (st == C2S_OK && count == 0)
        st = c2s_fail(err, C2S_ERR_INPUT, "data block %zu at offset %llu has no entries", nb,
                      (unsigned long long)h.off);
    if (st == C2S_OK)
        w->next_off = block_end(h);
    biter_free(&it);
    free(b.owned);
    return st;
}

/* The index block: each entry a separator key and a data block handle. */
static c2s_status walk_index(walk *w, const blk *ib, c2s_error *err)
{
    biter it;
    c2s_status st = biter_init(&it, ib, err);
    kbuf sep = {0};
    for (size_t nb = 0; st == C2S_OK; nb++) {
        int got;
        st = biter_next(&it, &got, err);
        if (st != C2S_OK || !got)
            break;
        if (nb > 0 && keycmp(it.key.p, it.key.len, sep.p, sep.len) <= 0) {
            st = c2s_fail(err, C2S_ERR_INPUT, "index block: key %zu is not after the one before",
                          nb);
            break;
        }
        handle h;
        size_t pos = 0;
        if (decode_handle(it.val, it.vlen, &pos, &h) != 0 || pos != it.vlen) {
            st = c2s_fail(err, C2S_ERR_INPUT, "index block: entry %zu is not a block handle", nb);
            break;
        }
        st = kbuf_set(&sep, it.key.p, it.key.len, err);
        if (st == C2S_OK)
            st = walk_data_block(w, nb, h, sep.p, sep.len, err);
        if (st == C2S_OK)
            st = kbuf_set(&w->sep_prev, sep.p, sep.len, err);
    }
    free(sep.p);
    biter_free(&it);
    return st;
}

/* The metaindex block (TensorFlow leaves it empty): only checked. */
static c2s_status check_metaindex(const blk *mb, c2s_error *err)
{
    biter it;
    c2s_status st = biter_init(&it, mb, err);
    int got = 1;
    while (st == C2S_OK && got)
        st = biter_next(&it, &got, err);
    biter_free(&it);
    return st;
}

static c2s_status read_footer(walk *w, c2s_error *err)
{
    if (w->size < SST_FOOTER_SIZE)
        return c2s_fail(err, C2S_ERR_INPUT, "%zu bytes, too short for a table footer (%d bytes)",
                        w->size, SST_FOOTER_SIZE);
    if (!sst_has_magic(w->file, w->size))
        return c2s_fail(err, C2S_ERR_INPUT, "not a TensorFlow table (no magic number at the end)");
    w->limit = w->size - SST_FOOTER_SIZE;
    const uint8_t *f = w->file + w->limit;
    size_t pos = 0;
    if (decode_handle(f, 40, &pos, &w->meta) != 0 || decode_handle(f, 40, &pos, &w->index) != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "footer: bad block handle");
    return C2S_OK;
}

c2s_status sst_walk(const uint8_t *file, size_t size, unsigned flags, sst_visit_fn visit, void *ctx,
                    c2s_error *err)
{
    walk w = {.file = file, .size = size, .visit = visit, .ctx = ctx, .flags = flags};
    blk mb = {.what = "metaindex"}, ib = {.what = "index"};
    c2s_status st = read_footer(&w, err);
    if (st == C2S_OK)
        st = read_block(file, w.limit, w.meta.off, w.meta.size, flags, &mb, err);
    if (st == C2S_OK)
        st = read_block(file, w.limit, w.index.off, w.index.size, flags, &ib, err);
    if (st == C2S_OK && block_end(w.meta) > w.index.off)
        st = c2s_fail(err, C2S_ERR_INPUT,
                      "metaindex block at offset %llu does not end before the index block at "
                      "offset %llu",
                      (unsigned long long)w.meta.off, (unsigned long long)w.index.off);
    if (st == C2S_OK)
        st = check_metaindex(&mb, err);
    if (st == C2S_OK)
        st = walk_index(&w, &ib, err);
    free(mb.owned);
    free(ib.owned);
    free(w.last.p);
    free(w.sep_prev.p);
    return st;
}
