/*
 * convert.c - writing the safetensors file (c2s_write, see include/c2s.h):
 * the orchestration of the copy.
 *
 * What it is for.  c2s_write checks the options and the target, plans the
 * file (the tensors kept, their output dtype, the metadata, the header:
 * stw_plan), opens the output (an unnamed file that becomes out_path,
 * outfile.h, or the caller's descriptor), copies every tensor, checks the CRC of every
 * record read, optionally verifies the written file (verify.h), and puts
 * the file in place.  The work is done by two modules below this one:
 *
 *  - ring.h: the output side.  Slot memory, the output ring (every byte
 *    of the file passes through it in file order, whole slots written at
 *    slot-aligned offsets, as direct I/O needs), the output buffer (swap
 *    and --dtype conversion), the CRC pipe's thread, cancel and progress.
 *  - gather.h: one tensor's bytes from its storage record into the ring,
 *    for contiguous tensors and strided views alike.
 *
 * How it works.  The header is planned first (stw_plan), so the order of
 * the tensors is known; then the header goes into the ring and the tensors
 * follow in that order (write_all).  Runs of small contiguous tensors from
 * STORED records are copied as batches (copy_batch): all their records'
 * ranges read by the CRC pipe in one job, records lying one after the
 * other in the file with one preadv (ring.h, crcpipe.h), straight into the
 * ring when the bytes go out as they are, else into the read slots and
 * then swapped or converted into the ring; so a checkpoint of 200,000 tiny
 * tensors costs hundreds of reads and hand-offs rather than 200,000 of each.
 * Every other tensor is copied on its own (copy_tensor): this file
 * opens the storage record (open_source), tells the ring how the output
 * buffer's elements are to be swapped or converted, and has gather.c copy
 * the bytes; the byte order and the output dtype decide whether the bytes
 * can go out as they are ("as is").
 *
 * CRC.  Every range read from a STORED record becomes a piece of that
 * record's CRC (crcpipe.h), whichever tensor reads it, in any order; after
 * the copy each record's pieces are combined and the bytes no tensor read
 * are read once and folded in (check_records).  So storages shared by
 * several tensors (q/k/v slices, tied weights, offset views) are read once
 * and their CRC is computed off this thread.  A DEFLATE record's stream
 * checks the CRC when it was read front to back; otherwise check_records
 * reads it again.  (A STORED record read whole is checked from its one
 * piece, without opening it again.)  A mismatch fails with C2S_ERR_INPUT, rule
 * C2S_RULE_CORRUPT (the file is damaged), before the file is put in place.
 *
 * Threads.  c2s_write runs on the caller's thread; the CRC pipe's thread
 * only reads records and computes CRCs (crcpipe.h).  The cancel flag is
 * read on the caller's thread only (cancel.h explains how, and why).
 */
#include "engine/checkpoint.h"
#include "engine/convert.h"
#include "engine/dtconv.h"
#include "engine/gather.h"
#include "engine/names.h"
#include "engine/outfile.h"
#include "engine/qconv.h"
#include "engine/ring.h"
#include "engine/verify.h"
#include "st/stw.h"
#include "util/sha256.h"
#include "zip/crcpipe.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { SRC_UNUSED, SRC_STORED, SRC_DEFLATE, SRC_DEFLATE_CHECKED };

typedef struct writer {
    c2s_checkpoint *ck;
    const c2s_write_options *opts;
    ring ring;               /* the output */
    gatherer gather;         /* copies tensors into it */
    crcpipe_record *records; /* per storage */
    unsigned char *state;    /* per storage: SRC_* */
    c2s_error *err;
} writer;

/* ---- one tensor ------------------------------------------------------------------ */

static int needs_swap(const writer *w, const tmap_tensor *t)
{
    return rd_big_endian(&w->ck->rd) && c2s_dtype_swap_unit(t->dtype) > 1;
}

/* Open storage i's record; STORED records get their CRC record on first use. */
static c2s_status open_source(writer *w, size_t i, gather_source *src)
{
    c2s_status st = rd_stream_open(&w->ck->rd, w->ck->map.storages[i].key, &src->s, w->err);
    if (st != C2S_OK)
        return st;
    src->raw = rd_stream_file_range(&src->s, &src->fd, &src->base);
    src->rec = &w->records[i];
    if (src->raw && w->state[i] == SRC_UNUSED)
        crcpipe_record_init(src->rec, src->s.name, src->s.crc_expected, src->s.crc_recorded,
                            src->s.size);
    if (w->state[i] == SRC_UNUSED)
        w->state[i] = src->raw ? SRC_STORED : SRC_DEFLATE;
    return C2S_OK;
}

/* A DEFLATE record read front to back has had its CRC checked by its stream. */
static c2s_status check_stream_crc(writer *w, const tmap_tensor *t, gather_source *src)
{
    if (src->raw || !rd_stream_crc_done(&src->s))
        return C2S_OK;
    c2s_status st = rd_stream_verify(&src->s, NULL, 0, w->err);
    if (st == C2S_OK)
        w->state[t->storage] = SRC_DEFLATE_CHECKED;
    return st;
}

/* Copy tensor t, written with dtype out, from its opened record; next:
 * the tensor copied after it (NULL: none, or its record is not open). */
static c2s_status copy_opened(writer *w, const tmap_tensor *t, c2s_dtype out, gather_source *src,
                              const gather_next *next)
{
    int swap = needs_swap(w, t), as_is = !swap && out == t->dtype;
    c2s_status st = C2S_OK;
    if (!as_is) /* the output buffer must hold this tensor's elements only */
        st = ring_obuf_flush(&w->ring);
    ring_obuf_elements(&w->ring, swap ? c2s_dtype_swap_unit(t->dtype) : 1, t->dtype, out);
    if (st == C2S_OK)
        st = gather_tensor(&w->gather, src, t, as_is, next);
    if (st == C2S_OK && !as_is)
        st = ring_obuf_flush(&w->ring);
    ring_obuf_elements(&w->ring, 1, out, out);
    if (st == C2S_OK)
        st = check_stream_crc(w, t, src);
    return st;
}

/* A dequantized tensor's scales and zero points (per channel) are read
 * from their records: those records' CRCs are checked with the others. */
static c2s_status mark_read(writer *w, const tmap_tensor *t)
{
    if (t->q.scheme != TMAP_Q_PER_CHANNEL || !t->q.dequantize)
        return C2S_OK;
    const tmap *m = &w->ck->map;
    size_t which[2] = {m->qparams[t->q.scales].storage, m->qparams[t->q.zero_points].storage};
    c2s_status st = C2S_OK;
    for (size_t i = 0; i < 2 && st == C2S_OK; i++) {
        gather_source src;
        memset(&src, 0, sizeof src);
        st = open_source(w, which[i], &src);
        rd_stream_close(&src.s);
    }
    return st;
}

/* Copy a dequantized tensor: its integers are gathered into the output
 * buffer, which dequantizes them as it is flushed. */
static c2s_status copy_dequantized(writer *w, const tmap_tensor *t, c2s_dtype out,
                                   gather_source *src, const gather_next *next)
{
    qconv qc;
    c2s_status st = qconv_load(w->ck, t, &qc, w->err);
    if (st == C2S_OK)
        st = mark_read(w, t);
    if (st == C2S_OK)
        st = ring_obuf_flush(&w->ring);
    if (st == C2S_OK) {
        ring_obuf_dequantize(&w->ring, &qc);
        st = copy_opened(w, t, out, src, next);
        ring_obuf_dequantize(&w->ring, NULL);
    }
    qconv_free(&qc);
    return st;
}

/* A value that is no storage's (tmap.h): its bytes as they are. */
static c2s_status copy_inline(writer *w, const tmap_tensor *t)
{
    c2s_status st = ring_obuf_flush(&w->ring);
    return st == C2S_OK ? ring_put(&w->ring, t->inline_bytes, (size_t)t->nbytes) : st;
}

/* Copy tensor t from src, opened here unless it was opened for reading
 * ahead (*opened); the record of the next tensor, when there is one, is
 * opened in nsrc first (*nopened) so that its first band can be read
 * ahead.  src is closed before returning. */
static c2s_status copy_tensor(writer *w, const tmap_tensor *t, c2s_dtype out, gather_source *src,
                              int opened, const tmap_tensor *tn, gather_source *nsrc, int *nopened)
{
    c2s_status st = C2S_OK;
    *nopened = 0;
    if (t->storage == TMAP_NO_STORAGE) /* nothing was opened for it */
        return copy_inline(w, t);
    if (!opened) {
        memset(src, 0, sizeof *src);
        st = open_source(w, t->storage, src);
    }
    if (st == C2S_OK && tn != NULL && tn->storage != TMAP_NO_STORAGE) {
        memset(nsrc, 0, sizeof *nsrc);
        /* a failure here is met again, and reported, when tn is copied */
        *nopened = open_source(w, tn->storage, nsrc) == C2S_OK;
        if (!*nopened)
            rd_stream_close(&nsrc->s);
    }
    gather_next next = {nsrc, tn};
    if (st == C2S_OK && t->q.scheme != TMAP_Q_NONE && t->q.dequantize)
        st = copy_dequantized(w, t, out, src, *nopened ? &next : NULL);
    else if (st == C2S_OK)
        st = copy_opened(w, t, out, src, *nopened ? &next : NULL);
    rd_stream_close(&src->s);
    if (st != C2S_OK && !ring_failed_alone(&w->ring))
        c2s_error_prefix(w->err, "tensor '%s'", t->name);
    return st;
}

/* ---- many small tensors ------------------------------------------------------------ */

/* Tensors up to this size may be batched; a larger one is read alone (one
 * read per tensor costs little beside its bytes). */
#define BATCH_TENSOR_MAX (64u << 10)

/* Whether the map lets tensor t go in a batch: one range of its storage,
 * small, not quantized.  (Its record must also be STORED: known once it
 * is open.) */
static int batchable(const tmap_tensor *t)
{
    return t->storage != TMAP_NO_STORAGE && (t->contiguous || t->numel == 0) &&
           t->q.scheme == TMAP_Q_NONE && t->nbytes <= BATCH_TENSOR_MAX;
}

/* Whether tensor t, written with dtype out, goes out as it is read. */
static int as_is(const writer *w, const tmap_tensor *t, c2s_dtype out)
{
    return out == t->dtype && !needs_swap(w, t);
}

/* Add tensor t, its record opened in src, to batch b; 0 when it does not
 * fit or its range is not in the record (the usual path then copies it,
 * and reports what is wrong under its name). */
static int add_to_batch(ring_batch *b, const tmap_tensor *t, const gather_source *src)
{
    if (t->numel == 0)
        return 1; /* nothing to read (gather_tensor reads nothing either) */
    uint64_t off = t->offset * c2s_dtype_size(t->dtype), n = t->nbytes;
    if (!src->raw || off > src->s.size || n > src->s.size - off ||
        !ring_batch_fits(b, src->fd, (size_t)n))
        return 0;
    ring_batch_add(b, src->rec, src->fd, src->base, off, (size_t)n);
    return 1;
}

/* A failure while tensor t is copied names it, as copy_tensor does. */
static c2s_status name_failure(writer *w, const tmap_tensor *t, c2s_status st)
{
    if (st != C2S_OK && !ring_failed_alone(&w->ring))
        c2s_error_prefix(w->err, "tensor '%s'", t->name);
    return st;
}

/* Tensors i, i + 1, ... into batch b while they can go in it (into the
 * ring: only tensors going out as they are); tensor i's record is first,
 * opened.  Returns how many. */
static size_t fill_batch(writer *w, const stw_entry *entries, size_t n, size_t i,
                         const gather_source *first, ring_batch *b)
{
    const tmap *m = &w->ck->map;
    size_t count = 0;
    for (size_t j = i; j < n; j++, count++) {
        const tmap_tensor *t = &m->tensors[entries[j].src];
        if (j == i) {
            if (!add_to_batch(b, t, first))
                break;
            continue;
        }
        if (!batchable(t) || (!b->reading && !as_is(w, t, entries[j].dtype)))
            break;
        gather_source src;
        memset(&src, 0, sizeof src);
        int added = open_source(w, t->storage, &src) == C2S_OK && add_to_batch(b, t, &src);
        rd_stream_close(&src.s);
        if (!added)
            break;
    }
    return count;
}

/* Swap or convert count batched tensors from entries[i] on, read one
 * after the other from b->base, into the ring, as copy_opened does. */
static c2s_status put_batched(writer *w, const stw_entry *entries, size_t i, size_t count,
                              const ring_batch *b)
{
    const tmap *m = &w->ck->map;
    size_t at = 0;
    c2s_status st = C2S_OK;
    for (size_t j = i; j < i + count && st == C2S_OK; j++) {
        const tmap_tensor *t = &m->tensors[entries[j].src];
        if (t->numel == 0)
            continue;
        c2s_dtype out = entries[j].dtype;
        ring_obuf_elements(&w->ring, needs_swap(w, t) ? c2s_dtype_swap_unit(t->dtype) : 1, t->dtype,
                           out);
        st = name_failure(w, t, ring_put_elements(&w->ring, b->base + at, (size_t)t->nbytes));
        ring_obuf_elements(&w->ring, 1, out, out);
        at += (size_t)t->nbytes;
    }
    return st;
}

/* Copy tensors i, i + 1, ... of entries (n of them) as one batch (ring.h)
 * while they are small and from STORED records: straight into the ring
 * when tensor i goes out as it is (and then only such tensors), else
 * through the read slots; *count: how many (0: tensor i takes the usual
 * path).  Tensor i's record is opened already when *opened; when it was
 * not used here it is left open (*opened) for the usual path. */
static c2s_status copy_batch(writer *w, const stw_entry *entries, size_t n, size_t i,
                             gather_source *first, int *opened, size_t *count)
{
    const tmap_tensor *t = &w->ck->map.tensors[entries[i].src];
    *count = 0;
    if (!batchable(t))
        return C2S_OK;
    if (!*opened) {
        memset(first, 0, sizeof *first);
        if (open_source(w, t->storage, first) != C2S_OK) {
            rd_stream_close(&first->s); /* the usual path meets the error again */
            return C2S_OK;
        }
        *opened = 1;
    }
    if (!first->raw)
        return C2S_OK;
    int into_ring = as_is(w, t, entries[i].dtype);
    ring_batch b;
    c2s_status st = ring_obuf_flush(&w->ring); /* it holds earlier output */
    if (st == C2S_OK)
        st = into_ring ? ring_batch_start(&w->ring, &b) : ring_batch_start_read(&w->ring, &b);
    if (st != C2S_OK)
        return name_failure(w, t, st);
    *count = fill_batch(w, entries, n, i, first, &b);
    uint64_t ticket = ring_batch_submit(&w->ring, &b);
    if (*count > 0) {
        rd_stream_close(&first->s);
        *opened = 0;
    }
    if (!into_ring && *count > 0) {
        st = ring_wait(&w->ring, ticket);
        if (st == C2S_OK)
            st = put_batched(w, entries, i, *count, &b);
    }
    return st;
}

/* ---- the checks ------------------------------------------------------------------- */

/* A STORED record whose gaps are read only if it has any: most records
 * were read whole, and their check needs no open. */
typedef struct lazy_source {
    writer *w;
    size_t i;
    gather_source src;
    int opened;
} lazy_source;

static c2s_status read_gap_lazily(void *ctx, uint64_t off, void *buf, size_t n, c2s_error *err)
{
    lazy_source *l = ctx;
    if (!l->opened) {
        memset(&l->src, 0, sizeof l->src);
        l->opened = 1;
        c2s_status st = open_source(l->w, l->i, &l->src);
        if (st != C2S_OK)
            return st;
    }
    return gather_read_gap(&l->src, off, buf, n, err);
}

static c2s_status check_stored(writer *w, size_t i)
{
    lazy_source l = {.w = w, .i = i, .opened = 0};
    c2s_status st = crcpipe_record_check(&w->records[i], read_gap_lazily, &l, w->ring.slots,
                                         w->ring.slots_len, w->err);
    if (l.opened)
        rd_stream_close(&l.src.s);
    return st;
}

static c2s_status check_deflate(writer *w, size_t i)
{
    gather_source src;
    memset(&src, 0, sizeof src);
    c2s_status st = open_source(w, i, &src);
    if (st == C2S_OK)
        st = rd_stream_verify(&src.s, w->ring.slots, w->ring.slots_len, w->err);
    rd_stream_close(&src.s);
    return st;
}

/* After the copy: the CRC of every record used, from its pieces and its
 * gaps (STORED), or by reading it again (DEFLATE not read in order). */
static c2s_status check_records(writer *w)
{
    for (size_t i = 0; i < w->ck->map.nstorages; i++) {
        if (w->state[i] == SRC_UNUSED || w->state[i] == SRC_DEFLATE_CHECKED)
            continue;
        if (ring_cancelled(&w->ring))
            return C2S_ERR_INPUT;
        c2s_status st = w->state[i] == SRC_STORED ? check_stored(w, i) : check_deflate(w, i);
        if (st != C2S_OK)
            return st;
    }
    return C2S_OK;
}

static void sha256_tap(void *ctx, const void *buf, size_t n)
{
    sha256_update(ctx, buf, n);
}

/* ---- the whole file ---------------------------------------------------------------- */

static c2s_status check_target(const c2s_checkpoint *ck, const char *out_path, c2s_error *err)
{
    struct stat st;
    if (stat(out_path, &st) == 0 && st.st_dev == ck->in.dev && st.st_ino == ck->in.ino)
        return c2s_fail(err, C2S_ERR_INPUT, "refusing to write the output over the input file");
    return C2S_OK;
}

/* Whether opts->only lets tensor i be written. */
static int in_only(const c2s_write_options *o, size_t i)
{
    return o == NULL || o->only == NULL || o->only[i] != 0;
}

static c2s_status check_unsupported(const tmap *m, const c2s_write_options *o, c2s_error *err)
{
    int skip = o && o->skip_unsupported;
    for (size_t i = 0; i < m->ntensors && !skip; i++)
        if (!in_only(o, i))
            continue;
        else if (!m->tensors[i].supported && strcmp(m->tensors[i].why, "quantized tensor") == 0)
            return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_QUANTIZED,
                                 "tensor '%s' is a quantized tensor, which safetensors cannot "
                                 "store as such: it can be dequantized to F32 values, or written "
                                 "raw (its integers, scale and zero point)",
                                 m->tensors[i].name);
        else if (!m->tensors[i].supported)
            return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_UNSUPPORTED,
                                 "tensor '%s' is a %s, which safetensors cannot store",
                                 m->tensors[i].name, m->tensors[i].why);
    return C2S_OK;
}

/* The dtype a tensor is written with: its values' (F32 when dequantized),
 * converted when asked. */
static c2s_dtype output_dtype(const c2s_write_options *o, const tmap_tensor *t)
{
    c2s_dtype dt = tmap_value_dtype(t);
    return o && o->convert_dtype && dtconv_supported(dt, o->dtype) ? o->dtype : dt;
}

int c2s_selected(const c2s_write_options *o, const char *name)
{
    if (o == NULL)
        return 1;
    int in = o->ninclude == 0;
    for (size_t i = 0; i < o->ninclude && !in; i++)
        in = c2s_glob_match(o->include[i], name);
    for (size_t i = 0; i < o->nexclude && in; i++)
        in = !c2s_glob_match(o->exclude[i], name);
    return in;
}

/* Entries for the tensors to write, in the order of the map, with their
 * output name (names.h: *names owns them), dtype and size (convert.h). */
c2s_status convert_entries(const tmap *m, const c2s_write_options *o, stw_entry **entries,
                           size_t *n, char ***names, c2s_write_result *res, c2s_error *err)
{
    size_t written, filtered;
    *names = NULL;
    *n = 0;
    *entries = malloc((m->ntensors ? m->ntensors : 1) * sizeof **entries);
    if (*entries == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    c2s_status st = check_unsupported(m, o, err);
    if (st == C2S_OK)
        st = names_plan(m, o, names, &written, &filtered, err);
    if (st != C2S_OK)
        return st;
    for (size_t i = 0; i < m->ntensors; i++) {
        const tmap_tensor *t = &m->tensors[i];
        if (!in_only(o, i))
            continue;
        res->skipped += !t->supported;
        res->filtered += t->supported && (*names)[i] == NULL; /* dropped by the globs */
        if ((*names)[i] == NULL)
            continue;
        c2s_dtype dt = output_dtype(o, t);
        res->converted += dt != tmap_value_dtype(t);
        (*entries)[(*n)++] =
            (stw_entry){(*names)[i], dt, t->ndim, t->shape, t->numel * c2s_dtype_size(dt), 0, i};
    }
    if (*n == 0 && res->skipped == 0 && o && o->only)
        return c2s_fail(err, C2S_ERR_USAGE, "no tensor chosen to write");
    if (*n == 0)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "no tensor left to write after skipping unsupported ones");
    return C2S_OK;
}

/* User metadata, then (with training_metadata) the checkpoint's scalars. */
static c2s_status plan_metadata(c2s_checkpoint *ck, const c2s_write_options *o, stw_kv **meta,
                                size_t *nmeta, c2s_error *err)
{
    *meta = NULL;
    *nmeta = 0;
    if (o == NULL)
        return ckpt_metadata(ck, NULL, 0, 0, NULL, meta, nmeta, err);
    for (size_t i = 0; i < o->nmetadata; i++) {
        if (strcmp(o->metadata[i].key, "format") == 0)
            return c2s_fail(err, C2S_ERR_USAGE, "metadata key 'format' is reserved (it is \"pt\")");
        for (size_t k = 0; k < i; k++)
            if (strcmp(o->metadata[i].key, o->metadata[k].key) == 0)
                return c2s_fail(err, C2S_ERR_USAGE, "metadata key '%s' given twice",
                                o->metadata[i].key);
    }
    return ckpt_metadata(ck, o->metadata, o->nmetadata, o->training_metadata, o, meta, nmeta, err);
}

/* Everything c2s_write allocates, freed in one place. */
typedef struct plan {
    stw_entry *entries;
    size_t n;
    char **names; /* output names, one per tensor of the map (names.h) */
    size_t nnames;
    stw_kv *meta;
    size_t nmeta;
    unsigned char *header;
    size_t header_len;
    uint64_t data_len;
} plan;

static void plan_free(plan *p)
{
    free(p->entries);
    names_free(p->names, p->nnames);
    ckpt_metadata_free(p->meta, p->nmeta);
    free(p->header);
}

/* The header and every tensor through the ring, then the checks; the file
 * is put in place only when all passed.  What is not needed again is
 * freed on the way, before --verify takes memory of its own: the header's
 * bytes once they are in the ring, the ring's and the gathers' buffers
 * once the records are checked (on a checkpoint of many tensors the
 * header is megabytes; the ring is 33 MiB by default). */
static c2s_status write_all(writer *w, plan *p)
{
    ring_pipe_start(&w->ring);
    c2s_status st = ring_put(&w->ring, p->header, p->header_len);
    free(p->header);
    p->header = NULL;
    gather_source src[2]; /* tensor i's record in src[i % 2], the next one's in the other */
    int opened = 0;
    size_t i = 0;
    while (i < p->n && st == C2S_OK) {
        size_t batched = 0;
        st = copy_batch(w, p->entries, p->n, i, &src[i % 2], &opened, &batched);
        if (st != C2S_OK || batched > 0) {
            i += batched;
            continue;
        }
        const tmap_tensor *tn = i + 1 < p->n ? &w->ck->map.tensors[p->entries[i + 1].src] : NULL;
        st = copy_tensor(w, &w->ck->map.tensors[p->entries[i].src], p->entries[i].dtype,
                         &src[i % 2], opened, tn, &src[(i + 1) % 2], &opened);
        i++;
    }
    if (opened) /* stopped before the tensor opened for reading ahead: src[i % 2] */
        rd_stream_close(&src[i % 2].s);
    if (st == C2S_OK)
        st = ring_obuf_flush(&w->ring);
    if (st == C2S_OK)
        st = ring_flush(&w->ring);
    ring_pipe_finish(&w->ring); /* always: joins the thread */
    /* the last block may have ended with the signal */
    if (st == C2S_OK && ring_cancelled(&w->ring))
        st = C2S_ERR_INPUT;
    if (st == C2S_OK)
        st = check_records(w);
    ring_free(&w->ring);
    gather_free(&w->gather);
    if (st == C2S_OK && w->opts && w->opts->verify) {
        const outfile *out = &w->ring.out;
        verify_read how = {out->direct_bytes ? out->direct_from : UINT64_MAX, out->align};
        st = verify_output(w->ck, outfile_read_path(out), p->entries, p->n, p->header_len, w->opts,
                           &how, w->err);
    }
    if (st == C2S_OK)
        st = outfile_commit(&w->ring.out, w->err);
    return st;
}

static c2s_status make_plan(c2s_checkpoint *ck, const c2s_write_options *o, plan *p,
                            c2s_write_result *res, c2s_error *err)
{
    p->nnames = ck->map.ntensors;
    c2s_status st = convert_entries(&ck->map, o, &p->entries, &p->n, &p->names, res, err);
    if (st == C2S_OK)
        st = plan_metadata(ck, o, &p->meta, &p->nmeta, err);
    if (st == C2S_OK)
        st = stw_plan(p->entries, p->n, p->meta, p->nmeta, &p->header, &p->header_len, &p->data_len,
                      err);
    return st;
}

/* Where direct I/O starts in a file of size bytes (UINT64_MAX: nowhere).
 * AUTO: nowhere when the whole file fits the page cache's room before
 * writeback starts (the fastest way to write it, and the kernel writes it
 * back at leisure), else from the start: a larger file would be written
 * at the pace of writeback throttling, which bench/ (BENCH_MODES) measured
 * slower and far less even than the device itself.  Starting direct I/O
 * only where the room ends was tried too: less even than starting it at
 * the first byte, since writeback of the cached part then competes. */
static uint64_t direct_start(const c2s_write_options *o, uint64_t size)
{
    c2s_direct_io mode = o ? o->direct_io : C2S_DIRECT_AUTO;
    if (mode == C2S_DIRECT_NEVER)
        return UINT64_MAX;
    if (mode == C2S_DIRECT_ALWAYS)
        return 0;
    uint64_t room = outfile_writeback_room();
    if (room == UINT64_MAX)
        return UINT64_MAX;
    room /= o && o->jobs > 1 ? o->jobs : 1;
    return size <= room ? UINT64_MAX : 0;
}

static c2s_status check_options(const char *out_path, const c2s_write_options *o, c2s_error *err)
{
    if (out_path == NULL && (o == NULL || o->out_fd < 0))
        return c2s_fail(err, C2S_ERR_USAGE, "no output: neither a path nor a descriptor");
    if (o == NULL)
        return C2S_OK;
    if (o->convert_dtype && o->dtype != C2S_F16 && o->dtype != C2S_BF16 && o->dtype != C2S_F32)
        return c2s_fail(err, C2S_ERR_USAGE, "dtype conversion is to F16, BF16 or F32 only");
    if (out_path == NULL && o->verify)
        return c2s_fail(err, C2S_ERR_USAGE, "verifying needs an output file, not a stream");
    return C2S_OK;
}

/* The writer's memory: per storage, its CRC record and state; the ring's
 * slots and buffers; the gathers' segment tables.  All of it fixed before
 * the copy starts. */
static c2s_status alloc_writer(writer *w, const tmap *m, c2s_error *err)
{
    w->records = calloc(m->nstorages + 1, sizeof *w->records);
    w->state = calloc(m->nstorages + 1, 1);
    if (w->records == NULL || w->state == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    c2s_status st = ring_alloc(&w->ring, w->opts, err);
    return st == C2S_OK ? gather_alloc(&w->gather, &w->ring, err) : st;
}

static void free_writer(writer *w, size_t nstorages)
{
    for (size_t i = 0; w->records != NULL && i < nstorages; i++)
        crcpipe_record_free(&w->records[i]);
    free(w->records);
    free(w->state);
    ring_free(&w->ring);
    gather_free(&w->gather);
}

/* Everything refused before any memory is taken. */
static c2s_status check_request(const c2s_checkpoint *ck, const char *out_path,
                                const c2s_write_options *o, c2s_error *err)
{
    c2s_status st = check_options(out_path, o, err);
    if (st == C2S_OK && out_path != NULL)
        st = check_target(ck, out_path, err);
    if (st == C2S_OK)
        st = check_unsupported(&ck->map, o, err);
    return st;
}

/* The file that becomes out_path (outfile.h), direct I/O from where direct_start
 * says, or (out_path NULL) the caller's descriptor; and the SHA-256 tap. */
static c2s_status open_output(writer *w, const char *out_path, sha256_ctx *sha)
{
    const c2s_write_options *o = w->opts;
    outfile *out = &w->ring.out;
    if (out_path == NULL) {
        outfile_open_fd(out, o->out_fd); /* o is not NULL: check_options */
    } else {
        c2s_status st = outfile_open(out, out_path, o && o->force, w->err);
        if (st != C2S_OK)
            return st;
        outfile_direct_from(out, direct_start(o, w->ring.total));
    }
    if (o && o->sha256) {
        sha256_init(sha);
        out->tap = sha256_tap;
        out->tap_ctx = sha;
    }
    return C2S_OK;
}

static void fill_result(c2s_write_result *res, const plan *p, const writer *w, sha256_ctx *sha)
{
    res->tensors = p->n;
    res->data_bytes = p->data_len;
    res->file_bytes = p->header_len + p->data_len;
    res->direct_bytes = w->ring.out.direct_bytes;
    if (w->opts && w->opts->sha256) {
        unsigned char digest[32];
        sha256_final(sha, digest);
        sha256_hex(digest, res->sha256);
    }
}

c2s_status c2s_write(c2s_checkpoint *ck, const char *out_path, const c2s_write_options *opts,
                     c2s_write_result *res, c2s_error *err)
{
    c2s_write_result local;
    if (res == NULL)
        res = &local;
    memset(res, 0, sizeof *res);
    c2s_status st = check_request(ck, out_path, opts, err);
    if (st != C2S_OK)
        return st;

    plan p = {0};
    writer w = {.ck = ck, .opts = opts, .err = err};
    w.ring.out.fd = -1;
    st = alloc_writer(&w, &ck->map, err);
    if (st == C2S_OK)
        st = make_plan(ck, opts, &p, res, err);
    w.ring.total = p.header_len + p.data_len;
    sha256_ctx sha;
    if (st == C2S_OK)
        st = open_output(&w, out_path, &sha);
    if (st == C2S_OK)
        st = write_all(&w, &p);
    outfile_abort(&w.ring.out); /* drops the unfinished file unless committed */
    if (st == C2S_OK)
        fill_result(res, &p, &w, &sha);
    plan_free(&p);
    free_writer(&w, ck->map.nstorages);
    return st;
}
