/*
 * convert.c - writing the safetensors file (c2s_write, see include/c2s.h).
 *
 * How it works.  The header is planned first (stw_plan), so the order of the
 * tensors is known; then their bytes are produced in that order and written
 * to the temporary file.  Reading STORED records is the crcpipe's job
 * (crcpipe.h): its thread preads the ranges this file asks for and folds
 * them into each record's CRC, while this thread writes.  Two kinds of
 * memory carry the bytes:
 *
 *  - the slots: NSLOTS blocks of buffer_size / 8 bytes (1 MiB; 2 MiB
 *    aligned and marked for huge pages: faults on them were a visible cost).
 *    The first RING_SLOTS are the output ring, the others read space for
 *    gathers (two halves of HALF slots, in turn) and for copies that change
 *    the bytes.  A slot is reused only once the pipe's jobs on it are done
 *    (w->ticket).
 *  - the output buffer (buffer_size / 8): elements gathered from a strided
 *    view, or to be byte-swapped (big-endian archives) or converted
 *    (--dtype, into w->cvt) when the buffer is flushed into the ring.
 *
 * The ring.  Every byte of the file, header included, passes through the
 * ring in file order: slot `cur` is filled at `used`, and a full slot is
 * written when the ring comes round to it (up to RING_SLOTS - 1 slots are
 * read ahead).  So every write but the last is a whole slot at a multiple
 * of slot_size in the file, from memory aligned to at least 4 KiB: what
 * direct I/O needs (outfile.h); where it starts is direct_start's choice.
 *
 * Per tensor:
 *  - C-contiguous, written as is: its bytes are read by the pipe straight
 *    into the ring, packed one after the other (small tensors share a
 *    slot): one pread and one write per block, no copy in between.
 *  - C-contiguous, swapped or converted: read into a read slot (the next
 *    chunk into another meanwhile), copied into the output buffer.
 *  - strided (transposed, expanded, stepped, permuted): a gather, below;
 *    its memory is the slots, whatever the size of the tensor.
 *  - a DEFLATE record (torch.save stores, so these are rare) is read on
 *    this thread through zipsrc's stream (which inflates again from the
 *    start when a read goes backwards); the stream checks the CRC of a
 *    record read front to back, else check_records reads it again.
 *
 * CRC.  Every range read from a STORED record becomes a piece of that
 * record's CRC (crcpipe.h), whichever tensor reads it, in any order; after
 * the copy each record's pieces are combined and the bytes no tensor read
 * are read once and folded in (check_records).  So storages shared by
 * several tensors (q/k/v slices, tied weights, offset views) are read once
 * and their CRC is computed off this thread.  A mismatch fails with
 * C2S_ERR_REFUSED before the file is put in place.
 *
 * Gathers.  The view is simplified first (simplify): size-1 dimensions are
 * dropped, dimensions contiguous with each other merged, and the trailing
 * contiguous dimension taken as a run of `run` elements.  Runs of at least
 * LONG_RUN bytes are copied run by run like contiguous tensors.  Smaller
 * runs are gathered band by band: the dimensions before the band dimension
 * p are fixed, p takes `band` consecutive indices, and the band's source
 * bytes are read as segments: each combination of indices of the segment
 * dimensions (some of the dimensions from p on, those with the largest
 * strides) is one contiguous source range spanning the other dimensions.
 * A band's segments fit in half the slots, so the next band is read while
 * this one is copied; among the possible (p, segment dimensions, band) the
 * plan reading the fewest bytes, counting PREAD_COST per read, is chosen
 * (plan_gather).  Segments adjacent in the source are read with one pread.
 * For a transposed matrix, a band is a block of output rows and a segment
 * the needed part of one source row.  The band's runs are then copied into
 * the output buffer in output order: in tiles when the band is a (rows x
 * segments) matrix, as for a transpose (gather_rows), else by an odometer
 * over the band's dimensions (gather_any).
 */
#include "engine/checkpoint.h"
#include "zip/crcpipe.h"
#include "engine/dtconv.h"
#include "engine/outfile.h"
#include "util/sha256.h"
#include "st/stw.h"
#include "engine/verify.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_BUFFER (8u << 20)
#define MAX_BUFFER (64u << 20)
#define NSLOTS 32               /* slots in all */
#define RING_SLOTS 4            /* the output ring: slots 0 .. RING_SLOTS - 1 */
#define READ0 RING_SLOTS        /* the first read slot */
#define HALF ((NSLOTS - RING_SLOTS) / 2) /* a gather's band */
#define HUGE_PAGE (2u << 20)
#define LONG_RUN (64u << 10)    /* runs this long are copied one by one */
#define PREAD_COST 8192u        /* a pread costs about as much as copying 8 KiB */
#define MAX_SEGMENTS 65536u     /* per band */
#define TILE_BYTES 64           /* gather_rows: tiles of 64 bytes square */

enum { SRC_UNUSED, SRC_STORED, SRC_DEFLATE, SRC_DEFLATE_CHECKED };

typedef struct writer {
    c2s_checkpoint *ck;
    const c2s_write_options *opts;
    outfile out;
    /* slots */
    unsigned char *slots;         /* NSLOTS * slot_size */
    size_t slot_size, slots_len;
    uint64_t ticket[NSLOTS];      /* the last pipe job on each slot */
    size_t olen[RING_SLOTS];      /* output bytes in each ring slot, not yet written */
    size_t cur, used;             /* the ring slot being filled, bytes placed in it */
    /* output buffer */
    unsigned char *obuf, *cvt;    /* cvt: 2 * ocap (F16 -> F32 doubles) */
    size_t ocap, ofill;
    size_t swap_unit;             /* of the elements in obuf; 1: no swap */
    int converting;
    c2s_dtype conv_from, conv_to;
    /* gathers, per half of the slots: its band's segments, the reads of them */
    const unsigned char **segp[2]; /* MAX_SEGMENTS each */
    crcpipe_range *reads[2];
    uint64_t band_ticket[2];      /* the last pipe job of the band */
    /* CRC */
    crcpipe pipe;
    crcpipe_record *records;      /* per storage */
    unsigned char *state;         /* per storage: SRC_* */
    uint64_t done, total;
    int interrupted, pipe_failed; /* errors that name no tensor */
    c2s_error *err;
} writer;

/* The storage record a tensor reads. */
typedef struct source {
    rd_stream s;
    int raw, fd;                  /* STORED: pread at base + offset */
    uint64_t base;
    crcpipe_record *rec;          /* STORED: its CRC pieces */
} source;

/* ---- reading -------------------------------------------------------------------- */

static c2s_status check_range(const source *src, uint64_t off, uint64_t n, c2s_error *err)
{
    if (off > src->s.size || n > src->s.size - off)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "%s: read of %llu bytes at %llu is past its end (%llu bytes)",
                        src->s.name, (unsigned long long)n, (unsigned long long)off,
                        (unsigned long long)src->s.size);
    return C2S_OK;
}

/* Read bytes [off, off + n) of the record into buf, on this thread. */
static c2s_status read_source(source *src, uint64_t off, unsigned char *buf, size_t n,
                              c2s_error *err)
{
    c2s_status st = check_range(src, off, n, err);
    if (st != C2S_OK || !src->raw)
        return st == C2S_OK ? rd_stream_read(&src->s, off, buf, n, err) : st;
    for (size_t got = 0; got < n;) {
        ssize_t k = pread(src->fd, buf + got, n - got, (off_t)(src->base + off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return c2s_fail(err, C2S_ERR_INPUT, "%s: read failed: %s", src->s.name,
                            strerror(errno));
        if (k == 0)
            return c2s_fail(err, C2S_ERR_INPUT, "%s: truncated record", src->s.name);
        got += (size_t)k;
    }
    return C2S_OK;
}

/* The same, as a crcpipe_read_fn (gaps at check time). */
static c2s_status read_gap(void *ctx, uint64_t off, void *buf, size_t n, c2s_error *err)
{
    return read_source(ctx, off, buf, n, err);
}

/* Queue reads of a STORED record's ranges into memory that belongs to the
 * pipe until the returned ticket is done. */
static uint64_t read_async(writer *w, const source *src, const crcpipe_range *r, size_t n)
{
    return crcpipe_submit(&w->pipe, src->rec, src->fd, src->base, r, n);
}

/* Wait for the pipe's jobs up to ticket; a failed read becomes our error
 * (it names the record: the tensor being copied may be a later one). */
static c2s_status pipe_wait(writer *w, uint64_t ticket)
{
    c2s_status st = crcpipe_wait(&w->pipe, ticket);
    if (st != C2S_OK) {
        memcpy(w->err, &w->pipe.err, sizeof *w->err);
        w->pipe_failed = 1;
    }
    return st;
}

/* ---- output ----------------------------------------------------------------------- */

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

static c2s_status write_out(writer *w, const unsigned char *p, size_t n)
{
    if (cancelled(w))
        return C2S_ERR_INPUT;
    c2s_status st = outfile_write(&w->out, p, n, w->err);
    if (st != C2S_OK)
        return st;
    w->done += n;
    if (w->opts && w->opts->progress)
        w->opts->progress(w->opts->progress_ctx, w->done, w->total);
    return C2S_OK;
}

static unsigned char *slot_at(writer *w, size_t i)
{
    return w->slots + i * w->slot_size;
}

/* ---- the output ring ---------------------------------------------------------------- */

/* Write ring slot i's output once its reads are done. */
static c2s_status write_slot(writer *w, size_t i)
{
    size_t n = w->olen[i];
    w->olen[i] = 0;
    c2s_status st = pipe_wait(w, w->ticket[i]);
    return st == C2S_OK ? write_out(w, slot_at(w, i), n) : st;
}

/* Move to the next ring slot: write what it still holds, wait for the
 * jobs on it.  (The slot at `cur` with nothing placed is always free.) */
static c2s_status next_slot(writer *w)
{
    w->cur = (w->cur + 1) % RING_SLOTS;
    w->used = 0;
    c2s_status st = w->olen[w->cur] ? write_slot(w, w->cur) : C2S_OK;
    return st == C2S_OK ? pipe_wait(w, w->ticket[w->cur]) : st;
}

/* The free bytes at the ring's position, moving on when its slot is full. */
static c2s_status ring_room(writer *w, size_t *room)
{
    c2s_status st = w->used == w->slot_size ? next_slot(w) : C2S_OK;
    *room = w->slot_size - w->used;
    return st;
}

/* Append n bytes to the ring. */
static c2s_status ring_put(writer *w, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t room;
        c2s_status st = ring_room(w, &room);
        if (st != C2S_OK)
            return st;
        size_t part = n < room ? n : room;
        memcpy(slot_at(w, w->cur) + w->used, p, part);
        w->used += part;
        w->olen[w->cur] += part;
        p += part;
        n -= part;
    }
    return C2S_OK;
}

/* At the end: write every ring slot holding output, oldest first. */
static c2s_status ring_flush(writer *w)
{
    c2s_status st = C2S_OK;
    for (size_t k = 1; k <= RING_SLOTS && st == C2S_OK; k++) {
        size_t i = (w->cur + k) % RING_SLOTS;
        if (w->olen[i])
            st = write_slot(w, i);
    }
    w->used = 0;
    return st;
}

/* Swap, convert and write what the output buffer holds. */
static c2s_status flush_obuf(writer *w)
{
    if (w->ofill == 0)
        return C2S_OK;
    if (w->swap_unit > 1)
        c2s_byteswap(w->obuf, w->ofill, w->swap_unit);
    const unsigned char *out = w->obuf;
    size_t len = w->ofill;
    if (w->converting) {
        size_t elems = w->ofill / c2s_dtype_size(w->conv_from);
        dtconv_run(w->conv_from, w->conv_to, w->obuf, w->cvt, elems);
        out = w->cvt;
        len = elems * c2s_dtype_size(w->conv_to);
    }
    w->ofill = 0;
    return ring_put(w, out, len);
}

/* Append n bytes (whole elements) to the output buffer. */
static c2s_status to_obuf(writer *w, const unsigned char *p, size_t n)
{
    while (n > 0) {
        if (w->ofill == w->ocap) {
            c2s_status st = flush_obuf(w);
            if (st != C2S_OK)
                return st;
        }
        size_t part = n < w->ocap - w->ofill ? n : w->ocap - w->ofill;
        memcpy(w->obuf + w->ofill, p, part);
        w->ofill += part;
        p += part;
        n -= part;
    }
    return C2S_OK;
}

/* ---- contiguous ranges ------------------------------------------------------------------ */

/* As is, STORED: read into the ring by the pipe, written from there. */
static c2s_status copy_to_ring(writer *w, source *src, uint64_t off, uint64_t n)
{
    c2s_status st = check_range(src, off, n, w->err);
    if (st == C2S_OK)
        st = flush_obuf(w); /* it holds earlier output */
    while (st == C2S_OK && n > 0) {
        size_t room;
        if ((st = ring_room(w, &room)) != C2S_OK)
            break;
        crcpipe_range r = {off, slot_at(w, w->cur) + w->used, n < room ? (size_t)n : room};
        w->ticket[w->cur] = read_async(w, src, &r, 1);
        w->used += r.len;
        w->olen[w->cur] += r.len;
        off += r.len;
        n -= r.len;
    }
    return st;
}

/* Start reading the next chunk (at most a slot) of [off, off + n) into read slot i. */
static uint64_t start_chunk(writer *w, const source *src, crcpipe_range *r, size_t i,
                            uint64_t off, uint64_t n)
{
    *r = (crcpipe_range){off, slot_at(w, i), n < w->slot_size ? (size_t)n : w->slot_size};
    return w->ticket[i] = read_async(w, src, r, 1);
}

/* STORED, through the output buffer: chunks read into the first two read
 * slots in turn, the next one read while this one is copied. */
static c2s_status copy_stored_buffered(writer *w, source *src, uint64_t off, uint64_t n)
{
    c2s_status st = check_range(src, off, n, w->err);
    crcpipe_range r[2];
    uint64_t ticket[2] = {0, 0};
    if (st == C2S_OK && n > 0)
        ticket[0] = start_chunk(w, src, &r[0], READ0, off, n);
    for (size_t k = 0; st == C2S_OK && n > 0; k ^= 1) {
        n -= r[k].len;
        if (n > 0)
            ticket[k ^ 1] =
                start_chunk(w, src, &r[k ^ 1], READ0 + (k ^ 1), r[k].off + r[k].len, n);
        st = pipe_wait(w, ticket[k]);
        if (st == C2S_OK)
            st = to_obuf(w, r[k].data, r[k].len);
    }
    return st;
}

/* DEFLATE: straight from the stream into the output buffer. */
static c2s_status copy_stream(writer *w, source *src, uint64_t off, uint64_t n)
{
    c2s_status st = C2S_OK;
    while (st == C2S_OK && n > 0) {
        if (w->ofill == w->ocap && (st = flush_obuf(w)) != C2S_OK)
            break;
        size_t part = n < w->ocap - w->ofill ? (size_t)n : w->ocap - w->ofill;
        if ((st = read_source(src, off, w->obuf + w->ofill, part, w->err)) != C2S_OK)
            break;
        w->ofill += part;
        off += part;
        n -= part;
    }
    return st;
}

static c2s_status copy_range(writer *w, source *src, uint64_t off, uint64_t n, int as_is)
{
    if (!src->raw)
        return copy_stream(w, src, off, n);
    return as_is ? copy_to_ring(w, src, off, n) : copy_stored_buffered(w, src, off, n);
}

/* ---- gathers: the plan ---------------------------------------------------------------- */

/* A view with size-1 dimensions dropped, mergeable dimensions merged and
 * the contiguous tail taken out as a run. */
typedef struct view {
    size_t k;                                      /* dimensions left */
    uint64_t n[TMAP_MAX_NDIM], s[TMAP_MAX_NDIM];   /* sizes, strides (elements) */
    uint64_t run;                                  /* elements per run */
    uint64_t offset;                               /* of the first element */
    size_t es;                                     /* element size */
} view;

/* A gather: dimension p in bands of `band` indices; seg[j] (j >= p): j
 * indexes segments, else it spans within each segment. */
typedef struct gplan {
    size_t p;
    uint64_t band;
    unsigned char seg[TMAP_MAX_NDIM];
    uint64_t cost;
} gplan;

static void simplify(const tmap_tensor *t, view *v)
{
    v->k = 0;
    v->offset = t->offset;
    v->es = c2s_dtype_size(t->dtype);
    for (size_t i = 0; i < t->ndim; i++) {
        uint64_t n = (uint64_t)t->shape[i], s = (uint64_t)t->stride[i];
        if (n == 1)
            continue;
        if (v->k > 0 && v->s[v->k - 1] == n * s) { /* bounded by the storage: no overflow */
            v->n[v->k - 1] *= n;
            v->s[v->k - 1] = s;
        } else {
            v->n[v->k] = n;
            v->s[v->k] = s;
            v->k++;
        }
    }
    v->run = 1;
    if (v->k > 0 && v->s[v->k - 1] == 1)
        v->run = v->n[--v->k];
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Indices dimension j takes within a band of b. */
static uint64_t extent(const view *v, const gplan *g, size_t j, uint64_t b)
{
    return j == g->p ? b : v->n[j];
}

static uint64_t seg_count(const view *v, const gplan *g, uint64_t b)
{
    uint64_t c = 1;
    for (size_t j = g->p; j < v->k; j++)
        if (g->seg[j])
            c = sat_mul(c, extent(v, g, j, b));
    return c;
}

/* Elements one segment spans. */
static uint64_t seg_span(const view *v, const gplan *g, uint64_t b)
{
    uint64_t span = v->run;
    for (size_t j = g->p; j < v->k; j++)
        if (!g->seg[j])
            span = sat_add(span, sat_mul(extent(v, g, j, b) - 1, v->s[j]));
    return span;
}

/* Whether a band of b fits: every segment in a slot, all in half the slots. */
static int band_fits(const writer *w, const view *v, const gplan *g, uint64_t b)
{
    uint64_t bytes = sat_mul(seg_span(v, g, b), v->es), n = seg_count(v, g, b);
    return bytes <= w->slot_size && n <= MAX_SEGMENTS &&
           n <= (uint64_t)HALF * (w->slot_size / bytes);
}

/* The largest band that fits (0: none), and what the whole gather costs. */
static void size_band(const writer *w, const view *v, gplan *g)
{
    g->band = 0;
    g->cost = UINT64_MAX;
    if (!band_fits(w, v, g, 1))
        return;
    uint64_t lo = 1, hi = v->n[g->p]; /* band_fits(lo) holds */
    while (lo < hi) {
        uint64_t mid = hi - (hi - lo) / 2;
        if (band_fits(w, v, g, mid))
            lo = mid;
        else
            hi = mid - 1;
    }
    g->band = lo;
    uint64_t bands = (v->n[g->p] + lo - 1) / lo;
    for (size_t j = 0; j < g->p; j++)
        bands = sat_mul(bands, v->n[j]);
    uint64_t per_seg = sat_add(sat_mul(seg_span(v, g, lo), v->es), PREAD_COST);
    g->cost = sat_mul(bands, sat_mul(seg_count(v, g, lo), per_seg));
}

/* Choose p and the segment dimensions (those from p on with the largest
 * strides, 0 to all of them) with the least cost.  band 0: none fits. */
static gplan plan_gather(const writer *w, const view *v)
{
    gplan best = {.cost = UINT64_MAX};
    for (size_t p = 0; p < v->k; p++) {
        gplan g = {.p = p};
        for (;;) {
            size_band(w, v, &g);
            if (g.band > 0 && g.cost < best.cost)
                best = g;
            size_t pick = v->k; /* next segment dimension: the largest stride left */
            for (size_t j = p; j < v->k; j++)
                if (!g.seg[j] && v->s[j] > 0 && (pick == v->k || v->s[j] > v->s[pick]))
                    pick = j;
            if (pick == v->k)
                break;
            g.seg[pick] = 1;
        }
    }
    return best;
}

/* ---- gathers: reading a band ---------------------------------------------------------- */

/* One band: indices fixed[j] of the dimensions j < p, [b0, b0 + ext) of p. */
typedef struct band {
    uint64_t fixed[TMAP_MAX_NDIM];
    uint64_t b0, ext;
} band;

/* Next index tuple of dimensions [from, to), the last fastest; 0 after the last. */
static int odometer(uint64_t *idx, const uint64_t *n, size_t from, size_t to)
{
    for (size_t j = to; j-- > from;) {
        if (++idx[j] < n[j])
            return 1;
        idx[j] = 0;
    }
    return 0;
}

/* The band after bd; 0 after the last. */
static int next_band(const view *v, const gplan *g, band *bd)
{
    bd->b0 += g->band;
    if (bd->b0 >= v->n[g->p]) {
        bd->b0 = 0;
        if (!odometer(bd->fixed, v->n, 0, g->p))
            return 0;
    }
    bd->ext = v->n[g->p] - bd->b0 < g->band ? v->n[g->p] - bd->b0 : g->band;
    return 1;
}

/* Read ranges [first, n) of half h, all in slot `slot`: by the pipe
 * (STORED) or here (DEFLATE). */
static c2s_status send_reads(writer *w, source *src, int h, size_t slot, size_t first, size_t n)
{
    if (n == first)
        return C2S_OK;
    if (src->raw) {
        w->ticket[slot] = w->band_ticket[h] = read_async(w, src, &w->reads[h][first], n - first);
        return C2S_OK;
    }
    for (size_t i = first; i < n; i++) {
        crcpipe_range *r = &w->reads[h][i];
        c2s_status st = read_source(src, r->off, r->data, r->len, w->err);
        if (st != C2S_OK)
            return st;
    }
    return C2S_OK;
}

/* Plan a read of bytes [off, off + len) into p, joined to the last read
 * when both follow on (first: the first read of this slot). */
static void add_read(crcpipe_range *reads, size_t first, size_t *n, uint64_t off,
                     unsigned char *p, size_t len)
{
    crcpipe_range *last = *n > first ? &reads[*n - 1] : NULL;
    if (last != NULL && last->off + last->len == off && last->data + last->len == p)
        last->len += len;
    else
        reads[(*n)++] = (crcpipe_range){off, p, len};
}

/* Place the band's segments in half h of the slots and start reading them;
 * w->segp[h][i] is segment i (segment dimensions in C order). */
static c2s_status read_band(writer *w, source *src, const view *v, const gplan *g,
                            const band *bd, int h, size_t *nseg)
{
    uint64_t ext[TMAP_MAX_NDIM], idx[TMAP_MAX_NDIM] = {0};
    uint64_t base = v->offset + bd->b0 * v->s[g->p];
    for (size_t j = 0; j < g->p; j++)
        base += bd->fixed[j] * v->s[j];
    for (size_t j = g->p; j < v->k; j++)
        ext[j] = g->seg[j] ? extent(v, g, j, bd->ext) : 1;
    size_t bytes = (size_t)(seg_span(v, g, bd->ext) * v->es); /* fits a slot: band_fits */
    size_t slot = READ0 + (size_t)h * HALF, used = 0, first = 0, nreads = 0, i = 0;
    w->band_ticket[h] = 0;
    c2s_status st = pipe_wait(w, w->ticket[slot]);
    do {
        uint64_t start = base;
        for (size_t j = g->p; j < v->k; j++)
            start += idx[j] * v->s[j];
        if (st == C2S_OK)
            st = check_range(src, start * v->es, bytes, w->err);
        if (st == C2S_OK && used + bytes > w->slot_size) {
            if (slot + 1 == READ0 + (size_t)(h + 1) * HALF) /* band_fits rules this out */
                return c2s_fail(w->err, C2S_ERR_INPUT, "internal error: a band overflows");
            st = send_reads(w, src, h, slot, first, nreads);
            first = nreads;
            used = 0;
            if (st == C2S_OK)
                st = pipe_wait(w, w->ticket[++slot]);
        }
        if (st != C2S_OK)
            return st;
        unsigned char *p = slot_at(w, slot) + used;
        used += bytes;
        w->segp[h][i++] = p;
        add_read(w->reads[h], first, &nreads, start * v->es, p, bytes);
    } while (odometer(idx, ext, g->p, v->k));
    *nseg = i;
    return send_reads(w, src, h, slot, first, nreads);
}

/* ---- gathers: copying a band ---------------------------------------------------------- */

static inline void copy_run(unsigned char *d, const unsigned char *s, size_t n)
{
    switch (n) { /* constant sizes: single moves */
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    case 8: memcpy(d, s, 8); break;
    default: memcpy(d, s, n);
    }
}

/* One tile of a band matrix: nr rows by nc columns of runs of rb bytes,
 * run (t, c) at segp[c] + off + t * rstep, written at out + t * row + c * rb.
 * The tile is first copied column by column into tmp (each segment read
 * sequentially), then written row by row (each output line written
 * whole): no cache line is visited twice, whatever the strides. */
static inline __attribute__((always_inline)) void transpose_tile(
    unsigned char *out, size_t row, const unsigned char *const *segp, size_t nc, size_t nr,
    size_t off, size_t rstep, size_t rb, unsigned char *tmp)
{
    for (size_t c = 0; c < nc; c++) {
        const unsigned char *s = segp[c] + off;
        unsigned char *d = tmp + c * nr * rb;
        if (rstep == rb && nr * rb == TILE_BYTES)
            memcpy(d, s, TILE_BYTES); /* the usual case: a constant size */
        else if (rstep == rb)
            memcpy(d, s, nr * rb);
        else
            for (size_t t = 0; t < nr; t++)
                memcpy(d + t * rb, s + t * rstep, rb);
    }
    for (size_t t = 0; t < nr; t++)
        for (size_t c = 0; c < nc; c++)
            memcpy(out + t * row + c * rb, tmp + (c * nr + t) * rb, rb);
}

/* m rows of the band matrix (cols runs each) from row r0 into out, in
 * tiles of TILE_BYTES / rb runs square. */
static inline __attribute__((always_inline)) void transpose_rows(
    unsigned char *out, const unsigned char *const *segp, size_t cols, size_t m, size_t r0,
    size_t rstep, size_t rb)
{
    unsigned char tmp[TILE_BYTES * TILE_BYTES];
    size_t side = rb < TILE_BYTES ? TILE_BYTES / rb : 1, row = cols * rb;
    for (size_t c0 = 0; c0 < cols; c0 += side) /* a few segments at a time, read in order */
        for (size_t t0 = 0; t0 < m; t0 += side) {
            for (size_t c = c0 + side; c < c0 + 2 * side && c < cols; c++)
                __builtin_prefetch(segp[c] + (r0 + t0) * rstep);
            transpose_tile(out + t0 * row + c0 * rb, row, segp + c0,
                           cols - c0 < side ? cols - c0 : side, m - t0 < side ? m - t0 : side,
                           (r0 + t0) * rstep, rstep, rb, tmp);
        }
}

static void transpose_any(unsigned char *out, const unsigned char *const *segp, size_t cols,
                          size_t m, size_t r0, size_t rstep, size_t rb)
{
    switch (rb) { /* the common element sizes, with constant copies */
    case 1: transpose_rows(out, segp, cols, m, r0, rstep, 1); break;
    case 2: transpose_rows(out, segp, cols, m, r0, rstep, 2); break;
    case 4: transpose_rows(out, segp, cols, m, r0, rstep, 4); break;
    case 8: transpose_rows(out, segp, cols, m, r0, rstep, 8); break;
    default: transpose_rows(out, segp, cols, m, r0, rstep, rb);
    }
}

/* A band that is a matrix: ext rows (dimension p) by cols segments (the
 * dimensions after p), row t of segment c at t * rstep in it.  Whole rows
 * go to the output buffer. */
static c2s_status gather_rows(writer *w, const unsigned char *const *segp, const band *bd,
                              size_t cols, size_t rstep, size_t rb)
{
    size_t row = cols * rb; /* <= ocap */
    for (uint64_t r0 = 0; r0 < bd->ext;) {
        if (w->ocap - w->ofill < row) {
            c2s_status st = flush_obuf(w);
            if (st != C2S_OK)
                return st;
        }
        uint64_t fit = (w->ocap - w->ofill) / row;
        size_t m = (size_t)(bd->ext - r0 < fit ? bd->ext - r0 : fit);
        transpose_any(w->obuf + w->ofill, segp, cols, m, (size_t)r0, rstep, rb);
        w->ofill += m * row;
        r0 += m;
    }
    return C2S_OK;
}

/* Any band: an odometer over dimensions p..k-1 of the band, the last one
 * in a tight loop. */
static c2s_status gather_any(writer *w, const unsigned char *const *segp, const view *v,
                             const gplan *g, const band *bd)
{
    size_t p = g->p, last = v->k - 1, rb = (size_t)(v->run * v->es);
    uint64_t ext[TMAP_MAX_NDIM], mul[TMAP_MAX_NDIM], idx[TMAP_MAX_NDIM] = {0}, m = 1;
    for (size_t j = v->k; j-- > p;) { /* segment index = sum of idx[j] * mul[j] */
        ext[j] = extent(v, g, j, bd->ext);
        mul[j] = g->seg[j] ? m : 0;
        m *= g->seg[j] ? ext[j] : 1;
    }
    size_t seg_step = (size_t)mul[last];
    size_t byte_step = g->seg[last] ? 0 : (size_t)(v->s[last] * v->es);
    do {
        size_t si = 0, eo = 0;
        for (size_t j = p; j < last; j++) {
            si += (size_t)(idx[j] * mul[j]);
            eo += g->seg[j] ? 0 : (size_t)(idx[j] * v->s[j] * v->es);
        }
        for (uint64_t i = 0; i < ext[last]; i++, si += seg_step, eo += byte_step) {
            const unsigned char *s = segp[si] + eo;
            if (w->ocap - w->ofill >= rb) {
                copy_run(w->obuf + w->ofill, s, rb);
                w->ofill += rb;
            } else {
                c2s_status st = to_obuf(w, s, rb);
                if (st != C2S_OK)
                    return st;
            }
        }
    } while (odometer(idx, ext, p, last));
    return C2S_OK;
}

/* Copy a band that has been read. */
static c2s_status gather_band(writer *w, const view *v, const gplan *g, const band *bd, int h,
                              size_t nseg)
{
    const unsigned char *const *segp = w->segp[h];
    int matrix = !g->seg[g->p] && nseg <= w->ocap / (v->run * v->es);
    for (size_t j = g->p + 1; j < v->k; j++)
        matrix = matrix && g->seg[j];
    if (matrix) /* rows: dimension p; columns: the segments, in output order */
        return gather_rows(w, segp, bd, nseg, (size_t)(v->s[g->p] * v->es),
                           (size_t)(v->run * v->es));
    return gather_any(w, segp, v, g, bd);
}

/* Band after band, each read (into one half of the slots) while the one
 * before is copied (from the other). */
static c2s_status gather_bands(writer *w, source *src, const view *v, const gplan *g)
{
    band bd[2] = {{{0}, 0, v->n[g->p] < g->band ? v->n[g->p] : g->band}};
    size_t nseg[2] = {0, 0};
    c2s_status st = read_band(w, src, v, g, &bd[0], 0, &nseg[0]);
    int more = 1;
    for (int h = 0; st == C2S_OK && more; h ^= 1) {
        bd[h ^ 1] = bd[h];
        more = next_band(v, g, &bd[h ^ 1]);
        if (more)
            st = read_band(w, src, v, g, &bd[h ^ 1], h ^ 1, &nseg[h ^ 1]);
        if (st == C2S_OK)
            st = pipe_wait(w, w->band_ticket[h]);
        if (st == C2S_OK)
            st = gather_band(w, v, g, &bd[h], h, nseg[h]);
    }
    return st;
}

/* Runs long enough to be read one by one, as contiguous ranges. */
static c2s_status copy_runs(writer *w, source *src, const view *v, int as_is)
{
    uint64_t idx[TMAP_MAX_NDIM] = {0};
    c2s_status st;
    do {
        uint64_t e = v->offset;
        for (size_t j = 0; j < v->k; j++)
            e += idx[j] * v->s[j];
        st = copy_range(w, src, e * v->es, v->run * v->es, as_is);
    } while (st == C2S_OK && odometer(idx, v->n, 0, v->k));
    return st;
}

static c2s_status copy_strided(writer *w, const tmap_tensor *t, source *src, int as_is)
{
    view v;
    simplify(t, &v);
    if (v.k == 0) /* contiguous after all */
        return copy_range(w, src, v.offset * v.es, v.run * v.es, as_is);
    if (v.run * v.es >= LONG_RUN)
        return copy_runs(w, src, &v, as_is);
    gplan g = plan_gather(w, &v);
    if (g.band == 0) /* nothing fits the slots (tiny buffer_size) */
        return copy_runs(w, src, &v, as_is);
    return gather_bands(w, src, &v, &g);
}

/* ---- one tensor ------------------------------------------------------------------ */

static int needs_swap(const writer *w, const tmap_tensor *t)
{
    return rd_big_endian(&w->ck->rd) && c2s_dtype_swap_unit(t->dtype) > 1;
}

/* Open storage i's record; STORED records get their CRC record on first use. */
static c2s_status open_source(writer *w, size_t i, source *src)
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

static c2s_status copy_tensor(writer *w, const tmap_tensor *t, c2s_dtype out)
{
    source src;
    memset(&src, 0, sizeof src);
    c2s_status st = open_source(w, t->storage, &src);
    if (st == C2S_OK) {
        int swap = needs_swap(w, t), as_is = !swap && out == t->dtype;
        if (!as_is) /* the output buffer must hold this tensor's elements only */
            st = flush_obuf(w);
        w->swap_unit = swap ? c2s_dtype_swap_unit(t->dtype) : 1;
        w->converting = out != t->dtype;
        w->conv_from = t->dtype;
        w->conv_to = out;
        if (st == C2S_OK && t->numel > 0 && t->contiguous)
            st = copy_range(w, &src, t->offset * c2s_dtype_size(t->dtype), t->nbytes, as_is);
        else if (st == C2S_OK && t->numel > 0)
            st = copy_strided(w, t, &src, as_is);
        if (st == C2S_OK && !as_is)
            st = flush_obuf(w);
        w->swap_unit = 1;
        w->converting = 0;
        if (st == C2S_OK && !src.raw && rd_stream_crc_done(&src.s)) {
            st = rd_stream_verify(&src.s, NULL, 0, w->err);
            if (st == C2S_OK)
                w->state[t->storage] = SRC_DEFLATE_CHECKED;
        }
    }
    rd_stream_close(&src.s);
    if (st != C2S_OK && !w->interrupted && !w->pipe_failed)
        c2s_error_prefix(w->err, "tensor '%s'", t->name);
    return st;
}

/* After the copy: the CRC of every record used, from its pieces and its
 * gaps (STORED), or by reading it again (DEFLATE not read in order). */
static c2s_status check_records(writer *w)
{
    for (size_t i = 0; i < w->ck->map.nstorages; i++) {
        if (w->state[i] == SRC_UNUSED || w->state[i] == SRC_DEFLATE_CHECKED)
            continue;
        if (cancelled(w))
            return C2S_ERR_INPUT;
        source src;
        memset(&src, 0, sizeof src);
        c2s_status st = open_source(w, i, &src);
        if (st == C2S_OK && src.raw)
            st = crcpipe_record_check(&w->records[i], read_gap, &src, w->slots,
                                      w->slots_len, w->err);
        else if (st == C2S_OK)
            st = rd_stream_verify(&src.s, w->slots, w->slots_len, w->err);
        rd_stream_close(&src.s);
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

static c2s_status check_unsupported(const tmap *m, int skip, c2s_error *err)
{
    for (size_t i = 0; i < m->ntensors && !skip; i++)
        if (!m->tensors[i].supported)
            return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_UNSUPPORTED,
                                 "tensor '%s' is a %s, which safetensors cannot store",
                            m->tensors[i].name, m->tensors[i].why);
    return C2S_OK;
}

/* The dtype a tensor is written with. */
static c2s_dtype output_dtype(const c2s_write_options *o, c2s_dtype dt)
{
    return o && o->convert_dtype && dtconv_supported(dt, o->dtype) ? o->dtype : dt;
}

int c2s_selected(const c2s_write_options *o, const char *name)
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
        if (!c2s_selected(o, t->name)) {
            res->filtered++;
            continue;
        }
        c2s_dtype dt = output_dtype(o, t->dtype);
        res->converted += dt != t->dtype;
        (*entries)[(*n)++] = (stw_entry){t->name, dt, t->ndim, t->shape,
                                         t->numel * c2s_dtype_size(dt), 0, i};
    }
    if (*n == 0 && res->filtered > 0)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_ALL_FILTERED,
                             "no tensor left to write after the include/exclude filters");
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

static c2s_status write_all(writer *w, const plan *p)
{
    crcpipe_start(&w->pipe);
    c2s_status st = ring_put(w, p->header, p->header_len);
    for (size_t i = 0; i < p->n && st == C2S_OK; i++)
        st = copy_tensor(w, &w->ck->map.tensors[p->entries[i].src], p->entries[i].dtype);
    if (st == C2S_OK)
        st = flush_obuf(w);
    if (st == C2S_OK)
        st = ring_flush(w);
    crcpipe_finish(&w->pipe); /* always: joins the thread */
    if (st == C2S_OK && cancelled(w)) /* the last block may have ended with the signal */
        st = C2S_ERR_INPUT;
    if (st == C2S_OK)
        st = check_records(w);
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
    if (o == NULL)
        return C2S_OK;
    if (o->convert_dtype && o->dtype != C2S_F16 && o->dtype != C2S_BF16 && o->dtype != C2S_F32)
        return c2s_fail(err, C2S_ERR_USAGE, "dtype conversion is to F16, BF16 or F32 only");
    if (out_path == NULL && o->verify)
        return c2s_fail(err, C2S_ERR_USAGE, "verifying needs an output file, not a stream");
    return C2S_OK;
}

/* Slot memory on huge-page boundaries, marked for huge pages: a fault per
 * 2 MiB instead of per 4 KiB (each fault is a visible cost), and fewer TLB
 * misses in gathers.  Small sizes (tests) on OUTFILE_DIO_ALIGN boundaries. */
static unsigned char *alloc_slots(size_t len)
{
    if (len < HUGE_PAGE)
        return aligned_alloc(OUTFILE_DIO_ALIGN,
                             (len + OUTFILE_DIO_ALIGN - 1) & ~(size_t)(OUTFILE_DIO_ALIGN - 1));
    size_t padded = (len + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    unsigned char *p = aligned_alloc(HUGE_PAGE, padded);
    if (p != NULL)
        madvise(p, len, MADV_HUGEPAGE); /* a hint: without huge pages all works the same */
    return p;
}

/* buffer_size (default 8 MiB) sets the memory: NSLOTS slots of buffer_size / 8
 * (32 MiB in all by default), an output buffer of buffer_size / 8, and
 * twice that for --dtype's converted elements. */
static c2s_status alloc_writer(writer *w, const tmap *m, size_t buffer, c2s_error *err)
{
    if (buffer == 0)
        buffer = DEFAULT_BUFFER;
    if (buffer > MAX_BUFFER)
        buffer = MAX_BUFFER;
    w->slot_size = w->ocap = (buffer / 8) & ~(size_t)15;
    if (w->slot_size < 16)
        w->slot_size = w->ocap = 16;
    if (w->slot_size >= 16 * OUTFILE_DIO_ALIGN) /* whole blocks for direct I/O */
        w->slot_size = w->ocap = w->slot_size & ~(size_t)(OUTFILE_DIO_ALIGN - 1);
    w->slots_len = NSLOTS * w->slot_size;
    w->records = calloc(m->nstorages + 1, sizeof *w->records);
    w->state = calloc(m->nstorages + 1, 1);
    w->slots = alloc_slots(w->slots_len);
    w->obuf = malloc(w->ocap);
    w->cvt = malloc(2 * w->ocap);
    int ok = w->records && w->state && w->slots && w->obuf && w->cvt;
    for (int h = 0; h < 2; h++) {
        w->segp[h] = malloc(MAX_SEGMENTS * sizeof *w->segp[h]);
        w->reads[h] = malloc(MAX_SEGMENTS * sizeof *w->reads[h]);
        ok = ok && w->segp[h] && w->reads[h];
    }
    if (!ok)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    return C2S_OK;
}

static void free_writer(writer *w, size_t nstorages)
{
    for (size_t i = 0; w->records != NULL && i < nstorages; i++)
        crcpipe_record_free(&w->records[i]);
    free(w->records);
    free(w->state);
    free(w->slots);
    free(w->obuf);
    free(w->cvt);
    for (int h = 0; h < 2; h++) {
        free(w->segp[h]);
        free(w->reads[h]);
    }
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
    st = alloc_writer(&w, m, opts ? opts->buffer_size : 0, err);
    if (st == C2S_OK)
        st = make_plan(ck, opts, &p, res, err);
    w.total = p.header_len + p.data_len;
    sha256_ctx sha;
    if (st == C2S_OK && out_path == NULL)
        outfile_open_fd(&w.out, opts->out_fd);
    else if (st == C2S_OK)
        st = outfile_open(&w.out, out_path, opts && opts->force, err);
    if (st == C2S_OK && out_path != NULL)
        outfile_direct_from(&w.out, direct_start(opts, w.total));
    if (st == C2S_OK && opts && opts->sha256) {
        sha256_init(&sha);
        w.out.tap = sha256_tap;
        w.out.tap_ctx = &sha;
    }
    if (st == C2S_OK)
        st = write_all(&w, &p);
    outfile_abort(&w.out); /* removes the temporary file unless committed */
    if (st == C2S_ERR_REFUSED) /* bytes that fail their CRC: a finding, found late */
        c2s_error_prefix(err, "refused by the safety policy");
    if (st == C2S_OK) {
        res->tensors = p.n;
        res->data_bytes = p.data_len;
        res->file_bytes = p.header_len + p.data_len;
        res->direct_bytes = w.out.direct_bytes;
        if (opts && opts->sha256) {
            unsigned char digest[32];
            sha256_final(&sha, digest);
            sha256_hex(digest, res->sha256);
        }
    }
    plan_free(&p);
    free_writer(&w, m->nstorages);
    return st;
}
