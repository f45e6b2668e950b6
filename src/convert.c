/*
 * convert.c - writing the safetensors file (c2s_write, see include/c2s.h).
 *
 * How it works: the header is planned first (stw_plan), so the order of the
 * tensors is known; then each tensor's bytes are produced into one output
 * buffer of fixed size and written to the temporary file whenever it fills.
 *
 *  - A C-contiguous view is a single byte range of its storage record: it is
 *    read straight into the buffer, block by block.
 *  - Any other view is copied run by run, a run being the innermost
 *    dimensions that are contiguous (a whole row, or one element for a
 *    transposed matrix).  When the view's span in its storage is not much
 *    larger than the tensor, the span is read once into memory and the runs
 *    are gathered from there; otherwise each run is read from the archive.
 *  - Big-endian archives are swapped element by element (per float for C64)
 *    when a full buffer is flushed; runs always hold whole elements.  With
 *    --dtype, the flushed elements are then converted (dtconv.c) into a
 *    second buffer, which is what gets written.
 *
 *  - Fast path: a tensor that is its whole STORED record, contiguous and
 *    needing no byte swap, is copied block by block through the slots of a
 *    crcpipe: pread into a slot, hand it to the CRC thread, write it out.
 *    The CRC then costs no time on the copying core.  (copy_file_range was
 *    measured too: slower here, since tensor data is not page-aligned.)
 *
 * Every storage record used is CRC-checked: by the crcpipe for fast-path
 * records, during the copy when a record is otherwise read front to back,
 * else by a separate pass before the file is committed.
 */
#include "checkpoint.h"
#include "crcpipe.h"
#include "dtconv.h"
#include "outfile.h"
#include "sha256.h"
#include "stw.h"
#include "verify.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_BUFFER (8u << 20)
#define GATHER_SLACK (64ull << 20)
#define PIPE_SLOTS 4
#define PIPE_SLOT_SIZE (4u << 20)

typedef struct writer {
    c2s_checkpoint *ck;
    const c2s_write_options *opts;
    outfile out;
    unsigned char *buf;
    size_t cap, fill;
    size_t swap_unit;        /* of the tensor being written; 1: no swap */
    int converting;          /* the tensor being written changes dtype */
    c2s_dtype conv_from, conv_to;
    unsigned char *cvt;      /* converted elements (2 * cap: F16 -> F32 doubles) */
    uint64_t done, total;
    unsigned char *verified; /* per storage: CRC already checked */
    unsigned char *piped;    /* per storage: CRC computed by the pipe */
    crcpipe_record *records; /* per storage, for the pipe */
    crcpipe pipe;
    int interrupted;
    c2s_error *err;
} writer;

/* ---- output buffer ----------------------------------------------------------- */

/* Checked between blocks; the message is the same wherever it happens. */
static int cancelled(writer *w)
{
    if (w->opts && w->opts->cancel && *w->opts->cancel) {
        w->interrupted = 1;
        c2s_fail(w->err, C2S_ERR_INPUT, "interrupted");
        return 1;
    }
    return 0;
}

static c2s_status flush(writer *w)
{
    if (w->fill == 0)
        return C2S_OK;
    if (cancelled(w))
        return C2S_ERR_INPUT;
    if (w->swap_unit > 1)
        c2s_byteswap(w->buf, w->fill, w->swap_unit);
    const unsigned char *out = w->buf;
    size_t len = w->fill;
    if (w->converting) {
        size_t elems = w->fill / c2s_dtype_size(w->conv_from);
        dtconv_run(w->conv_from, w->conv_to, w->buf, w->cvt, elems);
        out = w->cvt;
        len = elems * c2s_dtype_size(w->conv_to);
    }
    c2s_status st = outfile_write(&w->out, out, len, w->err);
    if (st != C2S_OK)
        return st;
    w->done += len;
    w->fill = 0;
    if (w->opts && w->opts->progress)
        w->opts->progress(w->opts->progress_ctx, w->done, w->total);
    return C2S_OK;
}

/* Append n bytes read from the stream at off, flushing as the buffer fills. */
static c2s_status emit_from_stream(writer *w, zipsrc_stream *s, uint64_t off, uint64_t n)
{
    while (n > 0) {
        if (w->fill == w->cap) {
            c2s_status st = flush(w);
            if (st != C2S_OK)
                return st;
        }
        size_t room = w->cap - w->fill;
        size_t part = n < room ? (size_t)n : room;
        c2s_status st = zipsrc_stream_read(s, off, w->buf + w->fill, part, w->err);
        if (st != C2S_OK)
            return st;
        w->fill += part;
        off += part;
        n -= part;
    }
    return C2S_OK;
}

static c2s_status emit_from_memory(writer *w, const unsigned char *src, size_t n)
{
    while (n > 0) {
        if (w->fill == w->cap) {
            c2s_status st = flush(w);
            if (st != C2S_OK)
                return st;
        }
        size_t room = w->cap - w->fill;
        size_t part = n < room ? n : room;
        memcpy(w->buf + w->fill, src, part);
        w->fill += part;
        src += part;
        n -= part;
    }
    return C2S_OK;
}

/* A tensor that is its whole STORED record: read each block once, into a
 * pipe slot, and let the pipe's thread compute the record's CRC. */
static c2s_status copy_record(writer *w, const tmap_tensor *t, zipsrc_stream *s, int fd,
                              uint64_t base)
{
    crcpipe_record *rec = &w->records[t->storage];
    crcpipe_record_init(rec, s->name, s->crc_expected, s->crc_recorded);
    w->piped[t->storage] = 1;
    c2s_status st = flush(w);
    for (uint64_t off = 0; st == C2S_OK && off < t->nbytes;) {
        if (cancelled(w))
            return C2S_ERR_INPUT;
        size_t len = t->nbytes - off < w->pipe.slot_size ? (size_t)(t->nbytes - off)
                                                         : w->pipe.slot_size;
        unsigned char *slot = crcpipe_acquire(&w->pipe);
        for (size_t got = 0; got < len;) {
            ssize_t k = pread(fd, slot + got, len - got, (off_t)(base + off + got));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                return c2s_fail(w->err, C2S_ERR_INPUT, "%s: %s", s->name,
                                k < 0 ? strerror(errno) : "truncated record");
            got += (size_t)k;
        }
        crcpipe_submit(&w->pipe, len, rec, off + len == t->nbytes);
        st = outfile_write(&w->out, slot, len, w->err);
        off += len;
        w->done += len;
        if (w->opts && w->opts->progress)
            w->opts->progress(w->opts->progress_ctx, w->done, w->total);
    }
    return st;
}

/* ---- one tensor ------------------------------------------------------------------ */

/* Number of trailing dimensions that form one contiguous run, and its length. */
static size_t inner_run(const tmap_tensor *t, uint64_t *run_elems)
{
    uint64_t run = 1;
    size_t k = t->ndim;
    while (k > 0 && (t->shape[k - 1] == 1 || (uint64_t)t->stride[k - 1] == run)) {
        run *= (uint64_t)t->shape[k - 1];
        k--;
    }
    *run_elems = run;
    return k; /* dimensions 0..k-1 are iterated */
}

static c2s_status copy_strided(writer *w, const tmap_tensor *t, zipsrc_stream *s)
{
    size_t es = c2s_dtype_size(t->dtype);
    uint64_t run_elems;
    size_t outer = inner_run(t, &run_elems);
    uint64_t last = t->offset;
    for (size_t i = 0; i < t->ndim; i++)
        last += (uint64_t)(t->shape[i] - 1) * (uint64_t)t->stride[i];
    uint64_t span = (last - t->offset + 1) * es; /* bounded by the storage: checked in tmap */
    unsigned char *mem = NULL;
    if (span <= 4 * t->nbytes + GATHER_SLACK && span <= SIZE_MAX) {
        mem = malloc((size_t)span);
        if (mem == NULL)
            return c2s_fail(w->err, C2S_ERR_INPUT, "out of memory gathering tensor '%s'", t->name);
        c2s_status st = zipsrc_stream_read(s, t->offset * es, mem, (size_t)span, w->err);
        if (st != C2S_OK) {
            free(mem);
            return st;
        }
    }
    int64_t idx[TMAP_MAX_NDIM] = {0};
    c2s_status st = C2S_OK;
    for (uint64_t runs = t->numel / run_elems; runs > 0 && st == C2S_OK; runs--) {
        uint64_t elem = 0;
        for (size_t i = 0; i < outer; i++)
            elem += (uint64_t)idx[i] * (uint64_t)t->stride[i];
        if (mem != NULL)
            st = emit_from_memory(w, mem + elem * es, (size_t)(run_elems * es));
        else
            st = emit_from_stream(w, s, (t->offset + elem) * es, run_elems * es);
        for (size_t i = outer; i-- > 0;) { /* odometer over the outer dimensions */
            if (++idx[i] < t->shape[i])
                break;
            idx[i] = 0;
        }
    }
    free(mem);
    return st;
}

static int needs_swap(const writer *w, const tmap_tensor *t)
{
    return zipsrc_big_endian(w->ck->zip) && c2s_dtype_swap_unit(t->dtype) > 1;
}

static c2s_status copy_tensor(writer *w, const tmap_tensor *t, c2s_dtype out)
{
    const tmap_storage *sto = &w->ck->map.storages[t->storage];
    zipsrc_stream s;
    c2s_status st = zipsrc_stream_open(w->ck->zip, sto->key, &s, w->err);
    if (st != C2S_OK)
        return st;
    int swap = needs_swap(w, t), in_fd;
    int transform = swap || out != t->dtype;
    uint64_t base;
    if (transform) /* the buffer must hold this tensor's elements only */
        st = flush(w);
    w->swap_unit = swap ? c2s_dtype_swap_unit(t->dtype) : 1;
    w->converting = out != t->dtype;
    w->conv_from = t->dtype;
    w->conv_to = out;
    int whole = t->contiguous && !transform && t->offset == 0 && t->nbytes == s.size &&
                !w->piped[t->storage] && zipsrc_stream_file_range(&s, &in_fd, &base);
    if (st == C2S_OK && t->numel > 0) {
        if (whole)
            st = copy_record(w, t, &s, in_fd, base);
        else if (t->contiguous)
            st = emit_from_stream(w, &s, t->offset * c2s_dtype_size(t->dtype), t->nbytes);
        else
            st = copy_strided(w, t, &s);
    }
    if (st == C2S_OK && transform)
        st = flush(w);
    w->swap_unit = 1;
    w->converting = 0;
    if (st == C2S_OK && !w->piped[t->storage] && zipsrc_stream_crc_done(&s)) {
        st = zipsrc_stream_verify(&s, NULL, 0, w->err);
        w->verified[t->storage] = st == C2S_OK;
    }
    zipsrc_stream_close(&s);
    if (st != C2S_OK && !w->interrupted)
        c2s_error_prefix(w->err, "tensor '%s'", t->name);
    return st;
}

/* CRC-check the storages that were not read front to back. */
static c2s_status verify_rest(writer *w, const unsigned char *used)
{
    for (size_t i = 0; i < w->ck->map.nstorages; i++) {
        if (!used[i] || w->verified[i] || w->piped[i])
            continue;
        if (cancelled(w))
            return C2S_ERR_INPUT;
        zipsrc_stream s;
        c2s_status st = zipsrc_stream_open(w->ck->zip, w->ck->map.storages[i].key, &s, w->err);
        if (st == C2S_OK)
            st = zipsrc_stream_verify(&s, w->buf, w->cap, w->err);
        zipsrc_stream_close(&s);
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
    if (stat(out_path, &st) == 0 && st.st_dev == ck->in_dev && st.st_ino == ck->in_ino)
        return c2s_fail(err, C2S_ERR_INPUT, "refusing to write the output over the input file");
    return C2S_OK;
}

static c2s_status check_unsupported(const tmap *m, int skip, c2s_error *err)
{
    for (size_t i = 0; i < m->ntensors && !skip; i++)
        if (!m->tensors[i].supported)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "tensor '%s' is a %s, which safetensors cannot store "
                            "(--skip-unsupported drops such tensors)",
                            m->tensors[i].name, m->tensors[i].why);
    return C2S_OK;
}

/* The dtype a tensor is written with. */
static c2s_dtype output_dtype(const c2s_write_options *o, c2s_dtype dt)
{
    return o && o->convert_dtype && dtconv_supported(dt, o->dtype) ? o->dtype : dt;
}

/* --include / --exclude: fnmatch globs on the tensor name. */
static int selected(const c2s_write_options *o, const char *name)
{
    if (o == NULL)
        return 1;
    int in = o->ninclude == 0;
    for (size_t i = 0; i < o->ninclude && !in; i++)
        in = fnmatch(o->include[i], name, 0) == 0;
    for (size_t i = 0; i < o->nexclude && in; i++)
        in = fnmatch(o->exclude[i], name, 0) != 0;
    return in;
}

/* Entries for the tensors to write, in write order, with their output dtype
 * and size. */
static c2s_status plan_entries(const tmap *m, const c2s_write_options *o, stw_entry **entries,
                               size_t *n, c2s_write_result *res, c2s_error *err)
{
    *entries = malloc((m->ntensors ? m->ntensors : 1) * sizeof **entries);
    if (*entries == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    *n = 0;
    for (size_t i = 0; i < m->ntensors; i++) {
        const tmap_tensor *t = &m->tensors[i];
        if (!t->supported) {
            res->skipped++;
            continue;
        }
        if (!selected(o, t->name)) {
            res->filtered++;
            continue;
        }
        c2s_dtype dt = output_dtype(o, t->dtype);
        res->converted += dt != t->dtype;
        (*entries)[(*n)++] = (stw_entry){t->name, dt, t->ndim, t->shape,
                                         t->numel * c2s_dtype_size(dt), 0, i};
    }
    if (*n == 0 && res->filtered > 0)
        return c2s_fail(err, C2S_ERR_INPUT, "no tensor left to write after --include/--exclude");
    if (*n == 0)
        return c2s_fail(err, C2S_ERR_INPUT, "no tensor left to write after skipping unsupported ones");
    return C2S_OK;
}

/* User metadata, then (with training_metadata) the checkpoint's scalars. */
static c2s_status plan_metadata(c2s_checkpoint *ck, const c2s_write_options *o,
                                stw_kv **meta, size_t *nmeta, c2s_error *err)
{
    *meta = NULL;
    *nmeta = 0;
    if (o == NULL)
        return C2S_OK;
    for (size_t i = 0; i < o->nmetadata; i++) {
        if (strcmp(o->metadata[i].key, "format") == 0)
            return c2s_fail(err, C2S_ERR_USAGE, "metadata key 'format' is reserved (it is \"pt\")");
        for (size_t k = 0; k < i; k++)
            if (strcmp(o->metadata[i].key, o->metadata[k].key) == 0)
                return c2s_fail(err, C2S_ERR_USAGE, "metadata key '%s' given twice",
                                o->metadata[i].key);
    }
    return ckpt_metadata(ck, o->metadata, o->nmetadata, o->training_metadata, meta, nmeta, err);
}

/* Everything c2s_write allocates, freed in one place. */
typedef struct plan {
    stw_entry *entries;
    size_t n;
    stw_kv *meta;
    size_t nmeta;
    unsigned char *header;
    size_t header_len;
    uint64_t data_len;
} plan;

static void plan_free(plan *p)
{
    free(p->entries);
    ckpt_metadata_free(p->meta, p->nmeta);
    free(p->header);
}

static c2s_status write_all(writer *w, const plan *p, unsigned char *used)
{
    c2s_status st = crcpipe_start(&w->pipe, PIPE_SLOTS, PIPE_SLOT_SIZE, w->err);
    if (st != C2S_OK)
        return st;
    st = outfile_write(&w->out, p->header, p->header_len, w->err);
    for (size_t i = 0; i < p->n && st == C2S_OK; i++) {
        const tmap_tensor *t = &w->ck->map.tensors[p->entries[i].src];
        used[t->storage] = 1;
        st = copy_tensor(w, t, p->entries[i].dtype);
    }
    if (st == C2S_OK)
        st = flush(w);
    c2s_status crc = crcpipe_finish(&w->pipe); /* always: joins the thread */
    if (st == C2S_OK && crc != C2S_OK) {
        memcpy(w->err, &w->pipe.err, sizeof w->pipe.err);
        st = crc;
    }
    if (st == C2S_OK && cancelled(w)) /* the last block may have ended with the signal */
        st = C2S_ERR_INPUT;
    if (st == C2S_OK)
        st = verify_rest(w, used);
    if (st == C2S_OK && w->opts && w->opts->verify)
        st = verify_output(w->ck, w->out.tmp_path, p->entries, p->n, p->header_len, w->opts->cancel,
                           w->err);
    if (st == C2S_OK)
        st = outfile_commit(&w->out, w->err);
    return st;
}

static c2s_status make_plan(c2s_checkpoint *ck, const c2s_write_options *o, plan *p,
                            c2s_write_result *res, c2s_error *err)
{
    c2s_status st = plan_entries(&ck->map, o, &p->entries, &p->n, res, err);
    if (st == C2S_OK)
        st = plan_metadata(ck, o, &p->meta, &p->nmeta, err);
    if (st == C2S_OK)
        st = stw_plan(p->entries, p->n, p->meta, p->nmeta, &p->header, &p->header_len,
                      &p->data_len, err);
    return st;
}

static c2s_status check_options(const char *out_path, const c2s_write_options *o, c2s_error *err)
{
    if (o == NULL)
        return C2S_OK;
    if (o->convert_dtype && o->dtype != C2S_F16 && o->dtype != C2S_BF16 && o->dtype != C2S_F32)
        return c2s_fail(err, C2S_ERR_USAGE, "--dtype converts to f16, bf16 or f32 only");
    if (out_path == NULL && o->verify)
        return c2s_fail(err, C2S_ERR_USAGE, "--verify needs an output file, not a stream");
    return C2S_OK;
}

static c2s_status alloc_writer(writer *w, const tmap *m, c2s_error *err)
{
    w->verified = calloc(m->nstorages + 1, 1);
    w->piped = calloc(m->nstorages + 1, 1);
    w->records = calloc(m->nstorages + 1, sizeof *w->records);
    w->buf = malloc(w->cap);
    w->cvt = malloc(2 * w->cap);
    if (w->verified == NULL || w->piped == NULL || w->records == NULL || w->buf == NULL ||
        w->cvt == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    return C2S_OK;
}

static void free_writer(writer *w)
{
    free(w->verified);
    free(w->piped);
    free(w->records);
    free(w->buf);
    free(w->cvt);
}

c2s_status c2s_write(c2s_checkpoint *ck, const char *out_path,
                     const c2s_write_options *opts, c2s_write_result *res,
                     c2s_error *err)
{
    c2s_write_result local;
    if (res == NULL)
        res = &local;
    memset(res, 0, sizeof *res);
    const tmap *m = &ck->map;
    c2s_status st = check_options(out_path, opts, err);
    if (st == C2S_OK && out_path != NULL)
        st = check_target(ck, out_path, err);
    if (st == C2S_OK)
        st = check_unsupported(m, opts && opts->skip_unsupported, err);
    if (st != C2S_OK)
        return st;

    plan p = {0};
    writer w = {.ck = ck, .opts = opts, .err = err, .swap_unit = 1};
    w.out.fd = -1;
    w.cap = opts && opts->buffer_size ? opts->buffer_size & ~(size_t)15 : DEFAULT_BUFFER;
    if (w.cap == 0)
        w.cap = 16;
    unsigned char *used = calloc(m->nstorages + 1, 1);
    st = used ? alloc_writer(&w, m, err) : c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    if (st == C2S_OK)
        st = make_plan(ck, opts, &p, res, err);
    w.total = p.data_len;
    sha256_ctx sha;
    if (st == C2S_OK && out_path == NULL)
        outfile_open_fd(&w.out, opts->out_fd);
    else if (st == C2S_OK)
        st = outfile_open(&w.out, out_path, opts && opts->force, err);
    if (st == C2S_OK && opts && opts->sha256) {
        sha256_init(&sha);
        w.out.tap = sha256_tap;
        w.out.tap_ctx = &sha;
    }
    if (st == C2S_OK)
        st = write_all(&w, &p, used);
    outfile_abort(&w.out); /* removes the temporary file unless committed */
    if (st == C2S_ERR_REFUSED) /* bytes that fail their CRC: a finding, found late */
        c2s_error_prefix(err, "refused by the safety policy");
    if (st == C2S_OK) {
        res->tensors = p.n;
        res->data_bytes = p.data_len;
        res->file_bytes = p.header_len + p.data_len;
        if (opts && opts->sha256) {
            unsigned char digest[32];
            sha256_final(&sha, digest);
            sha256_hex(digest, res->sha256);
        }
    }
    plan_free(&p);
    free(used);
    free_writer(&w);
    return st;
}
