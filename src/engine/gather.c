/*
 * gather.c - one tensor's bytes from its storage record into the output
 * ring: contiguous ranges, runs, and gathers of strided views (see
 * gather.h for the plan and the ways bytes travel).
 *
 * Layers, bottom up: reading a record (here or queued to the CRC pipe),
 * contiguous ranges (copy_range), the gather plan (simplify, plan_gather),
 * reading a band into half of the read slots (read_band), copying a band
 * into the output buffer (gather_rows, gather_any), and the loop over the
 * bands (gather_bands), the next band being read while this one is copied.
 * Everywhere here `out` is the ring (ring.h) the bytes go to.
 */
#include "engine/gather.h"
#include "util/copy.h"
#include "util/io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HALF (RING_NREAD / 2) /* a gather's band: half the read slots */
#define LONG_RUN (64u << 10)  /* runs this long are copied one by one */
#define PREAD_COST 8192u      /* a pread costs about as much as copying 8 KiB */
#define MAX_SEGMENTS 65536u   /* per band */
#define TILE_BYTES 64         /* gather_rows: tiles of 64 bytes square */

/* ---- reading -------------------------------------------------------------------- */

static c2s_status check_range(const gather_source *src, uint64_t off, uint64_t n, c2s_error *err)
{
    if (off > src->s.size || n > src->s.size - off)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "%s: read of %llu bytes at %llu is past its end (%llu bytes)", src->s.name,
                        (unsigned long long)n, (unsigned long long)off,
                        (unsigned long long)src->s.size);
    return C2S_OK;
}

/* Read bytes [off, off + n) of the record into buf, on this thread. */
static c2s_status read_source(gather_source *src, uint64_t off, unsigned char *buf, size_t n,
                              c2s_error *err)
{
    c2s_status st = check_range(src, off, n, err);
    if (st != C2S_OK || !src->raw)
        return st == C2S_OK ? rd_stream_read(&src->s, off, buf, n, err) : st;
    return pread_exact(src->fd, buf, n, src->base + off, src->s.name, err);
}

/* The same, as a crcpipe_read_fn (gaps at check time). */
c2s_status gather_read_gap(void *src, uint64_t off, void *buf, size_t n, c2s_error *err)
{
    return read_source(src, off, buf, n, err);
}

/* Queue reads of a STORED record's ranges into memory that belongs to the
 * pipe until the returned ticket is done. */
static uint64_t read_async(ring *out, const gather_source *src, const crcpipe_range *r, size_t n)
{
    return crcpipe_submit(&out->pipe, src->rec, src->fd, src->base, r, n);
}

/* ---- contiguous ranges ------------------------------------------------------------------ */

/* As is, STORED: read into the ring by the pipe, written from there. */
static c2s_status copy_to_ring(ring *out, gather_source *src, uint64_t off, uint64_t n)
{
    c2s_status st = check_range(src, off, n, out->err);
    if (st == C2S_OK)
        st = ring_obuf_flush(out); /* it holds earlier output */
    while (st == C2S_OK && n > 0) {
        size_t room;
        if ((st = ring_room(out, &room)) != C2S_OK)
            break;
        size_t len = n < room ? (size_t)n : room;
        ring_read_stored(out, src->rec, src->fd, src->base, off, len);
        off += len;
        n -= len;
    }
    return st;
}

/* Start reading the next chunk (at most a slot) of [off, off + n) into read slot i. */
static uint64_t start_chunk(ring *out, const gather_source *src, crcpipe_range *r, size_t i,
                            uint64_t off, uint64_t n)
{
    *r = (crcpipe_range){off, ring_slot(out, i), n < out->slot_size ? (size_t)n : out->slot_size};
    return out->ticket[i] = read_async(out, src, r, 1);
}

/* STORED, swapped or converted: chunks read into the first two read slots
 * in turn, the next one read while this one goes into the ring. */
static c2s_status copy_stored_buffered(ring *out, gather_source *src, uint64_t off, uint64_t n)
{
    c2s_status st = check_range(src, off, n, out->err);
    crcpipe_range r[2];
    uint64_t ticket[2] = {0, 0};
    if (st == C2S_OK && n > 0)
        ticket[0] = start_chunk(out, src, &r[0], RING_READ0, off, n);
    for (size_t k = 0; st == C2S_OK && n > 0; k ^= 1) {
        n -= r[k].len;
        if (n > 0)
            ticket[k ^ 1] = start_chunk(out, src, &r[k ^ 1], RING_READ0 + (k ^ 1),
                                        r[k].off + r[k].len, n);
        st = ring_wait(out, ticket[k]);
        if (st == C2S_OK) /* swapped and converted in the read slot, into the ring */
            st = ring_put_elements(out, r[k].data, r[k].len);
    }
    return st;
}

/* DEFLATE: straight from the stream into the output buffer. */
static c2s_status copy_stream(ring *out, gather_source *src, uint64_t off, uint64_t n)
{
    c2s_status st = C2S_OK;
    while (st == C2S_OK && n > 0) {
        if (out->ofill == out->ocap && (st = ring_obuf_flush(out)) != C2S_OK)
            break;
        size_t part = n < out->ocap - out->ofill ? (size_t)n : out->ocap - out->ofill;
        if ((st = read_source(src, off, out->obuf + out->ofill, part, out->err)) != C2S_OK)
            break;
        out->ofill += part;
        off += part;
        n -= part;
    }
    return st;
}

static c2s_status copy_range(ring *out, gather_source *src, uint64_t off, uint64_t n, int as_is)
{
    if (!src->raw)
        return copy_stream(out, src, off, n);
    return as_is ? copy_to_ring(out, src, off, n) : copy_stored_buffered(out, src, off, n);
}

/* ---- gathers: the plan ---------------------------------------------------------------- */

/* A view with size-1 dimensions dropped, mergeable dimensions merged and
 * the contiguous tail taken out as a run. */
typedef struct view {
    size_t k;                                    /* dimensions left */
    uint64_t n[TMAP_MAX_NDIM], s[TMAP_MAX_NDIM]; /* sizes, strides (elements) */
    uint64_t run;                                /* elements per run */
    uint64_t offset;                             /* of the first element */
    size_t es;                                   /* element size */
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

/* Whether a band of b fits: every segment in a slot, all in half the read slots. */
static int band_fits(const ring *out, const view *v, const gplan *g, uint64_t b)
{
    uint64_t bytes = sat_mul(seg_span(v, g, b), v->es), n = seg_count(v, g, b);
    return bytes <= out->slot_size && n <= MAX_SEGMENTS &&
           n <= (uint64_t)HALF * (out->slot_size / bytes);
}

/* The largest band that fits (0: none), and what the whole gather costs. */
static void size_band(const ring *out, const view *v, gplan *g)
{
    g->band = 0;
    g->cost = UINT64_MAX;
    if (!band_fits(out, v, g, 1))
        return;
    uint64_t lo = 1, hi = v->n[g->p]; /* band_fits(lo) holds */
    while (lo < hi) {
        uint64_t mid = hi - (hi - lo) / 2;
        if (band_fits(out, v, g, mid))
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
static gplan plan_gather(const ring *out, const view *v)
{
    gplan best = {.cost = UINT64_MAX};
    for (size_t p = 0; p < v->k; p++) {
        gplan g = {.p = p};
        for (;;) {
            size_band(out, v, &g);
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
static c2s_status send_reads(gatherer *gr, gather_source *src, int h, size_t slot, size_t first,
                             size_t n)
{
    ring *out = gr->ring;
    if (n == first)
        return C2S_OK;
    if (src->raw) {
        out->ticket[slot] = gr->band_ticket[h] = read_async(out, src, &gr->reads[h][first],
                                                            n - first);
        return C2S_OK;
    }
    for (size_t i = first; i < n; i++) {
        crcpipe_range *r = &gr->reads[h][i];
        c2s_status st = read_source(src, r->off, r->data, r->len, out->err);
        if (st != C2S_OK)
            return st;
    }
    return C2S_OK;
}

/* Plan a read of bytes [off, off + len) into p, joined to the last read
 * when both follow on (first: the first read of this slot). */
static void add_read(crcpipe_range *reads, size_t first, size_t *n, uint64_t off, unsigned char *p,
                     size_t len)
{
    crcpipe_range *last = *n > first ? &reads[*n - 1] : NULL;
    if (last != NULL && last->off + last->len == off && last->data + last->len == p)
        last->len += len;
    else
        reads[(*n)++] = (crcpipe_range){off, p, len};
}

/* Place the band's segments in half h of the read slots and start reading
 * them; gr->segp[h][i] is segment i (segment dimensions in C order). */
static c2s_status read_band(gatherer *gr, gather_source *src, const view *v, const gplan *g,
                            const band *bd, int h, size_t *nseg)
{
    ring *out = gr->ring;
    uint64_t ext[TMAP_MAX_NDIM], idx[TMAP_MAX_NDIM] = {0};
    uint64_t base = v->offset + bd->b0 * v->s[g->p];
    for (size_t j = 0; j < g->p; j++)
        base += bd->fixed[j] * v->s[j];
    for (size_t j = g->p; j < v->k; j++)
        ext[j] = g->seg[j] ? extent(v, g, j, bd->ext) : 1;
    size_t bytes = (size_t)(seg_span(v, g, bd->ext) * v->es); /* fits a slot: band_fits */
    size_t slot = RING_READ0 + (size_t)h * HALF, used = 0, first = 0, nreads = 0, i = 0;
    gr->band_ticket[h] = 0;
    c2s_status st = ring_wait(out, out->ticket[slot]);
    do {
        uint64_t start = base;
        for (size_t j = g->p; j < v->k; j++)
            start += idx[j] * v->s[j];
        if (st == C2S_OK)
            st = check_range(src, start * v->es, bytes, out->err);
        if (st == C2S_OK && used + bytes > out->slot_size) {
            if (slot + 1 == RING_READ0 + (size_t)(h + 1) * HALF) /* band_fits rules this out */
                return c2s_fail(out->err, C2S_ERR_INPUT, "internal error: a band overflows");
            st = send_reads(gr, src, h, slot, first, nreads);
            first = nreads;
            used = 0;
            if (st == C2S_OK)
                st = ring_wait(out, out->ticket[++slot]);
        }
        if (st != C2S_OK)
            return st;
        unsigned char *p = ring_slot(out, slot) + used;
        used += bytes;
        gr->segp[h][i++] = p;
        add_read(gr->reads[h], first, &nreads, start * v->es, p, bytes);
    } while (odometer(idx, ext, g->p, v->k));
    *nseg = i;
    return send_reads(gr, src, h, slot, first, nreads);
}

/* ---- gathers: copying a band ---------------------------------------------------------- */

/* One tile of a band matrix: nr rows by nc columns of runs of rb bytes,
 * run (t, c) at segp[c] + off + t * rstep, written at out + t * row + c * rb.
 * The tile is first copied column by column into tmp (each segment read
 * sequentially), then written row by row (each output line written
 * whole): no cache line is visited twice, whatever the strides. */
static inline __attribute__((always_inline)) void
transpose_tile(unsigned char *out, size_t row, const unsigned char *const *segp, size_t nc,
               size_t nr, size_t off, size_t rstep, size_t rb, unsigned char *tmp)
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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

static int have_avx2(void)
{
    __builtin_cpu_init(); /* idempotent */
    return __builtin_cpu_supports("avx2");
}

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline __m256 load8(const unsigned char *p)
{
    return _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
}

AVX2 static inline void store8(unsigned char *p, __m256 v)
{
    _mm256_storeu_si256((__m256i *)(void *)p, _mm256_castps_si256(v));
}

/* 8 x 8 runs of 4 bytes: run t of segment c (at s[c] + 4 t) to out + t *
 * row + 4 c.  Shuffles move bits as they are (no arithmetic), NaNs too. */
AVX2 static inline void transpose8x8_4(unsigned char *out, size_t row,
                                       const unsigned char *const *s, size_t off)
{
    __m256 r0 = load8(s[0] + off), r1 = load8(s[1] + off), r2 = load8(s[2] + off);
    __m256 r3 = load8(s[3] + off), r4 = load8(s[4] + off), r5 = load8(s[5] + off);
    __m256 r6 = load8(s[6] + off), r7 = load8(s[7] + off);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    store8(out + 0 * row, _mm256_permute2f128_ps(u0, u4, 0x20));
    store8(out + 1 * row, _mm256_permute2f128_ps(u1, u5, 0x20));
    store8(out + 2 * row, _mm256_permute2f128_ps(u2, u6, 0x20));
    store8(out + 3 * row, _mm256_permute2f128_ps(u3, u7, 0x20));
    store8(out + 4 * row, _mm256_permute2f128_ps(u0, u4, 0x31));
    store8(out + 5 * row, _mm256_permute2f128_ps(u1, u5, 0x31));
    store8(out + 6 * row, _mm256_permute2f128_ps(u2, u6, 0x31));
    store8(out + 7 * row, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* A tile of 16 segments by nr <= 16 runs of 4 bytes, read where it lies
 * (rstep 4): 8 x 8 blocks while 8 runs are left, then the last runs one
 * element of each segment at a time; what transpose_tile gives, without
 * tmp.  (A band's rows rarely come in multiples of 16: a 1 MiB slot holds
 * 186 rows of a 1408-column matrix, so every slot ends in a short tile.) */
AVX2 static void transpose16_4(unsigned char *out, size_t row, const unsigned char *const *segp,
                               size_t off, size_t nr)
{
    size_t t0 = 0;
    for (; t0 + 8 <= nr; t0 += 8)
        for (size_t c0 = 0; c0 < 16; c0 += 8)
            transpose8x8_4(out + t0 * row + c0 * 4, row, segp + c0, off + t0 * 4);
    for (; t0 < nr; t0++)
        for (size_t c = 0; c < 16; c++)
            memcpy(out + t0 * row + c * 4, segp[c] + off + t0 * 4, 4);
}
#else
static int have_avx2(void)
{
    return 0;
}

static void transpose16_4(unsigned char *out, size_t row, const unsigned char *const *segp,
                          size_t off, size_t nr)
{
    (void)out, (void)row, (void)segp, (void)off, (void)nr;
}
#endif

/* m rows of the band matrix (cols runs each) from row r0 into out, in
 * tiles of TILE_BYTES / rb runs square; tiles 16 segments wide of 4-byte
 * runs read where they lie go through AVX2 when avx2 (the CPU has it). */
static inline __attribute__((always_inline)) void transpose_rows(unsigned char *out,
                                                                 const unsigned char *const *segp,
                                                                 size_t cols, size_t m, size_t r0,
                                                                 size_t rstep, size_t rb, int avx2)
{
    unsigned char tmp[TILE_BYTES * TILE_BYTES];
    size_t side = rb < TILE_BYTES ? TILE_BYTES / rb : 1, row = cols * rb;
    for (size_t c0 = 0; c0 < cols; c0 += side) /* a few segments at a time, read in order */
        for (size_t t0 = 0; t0 < m; t0 += side) {
            for (size_t c = c0 + side; c < c0 + 2 * side && c < cols; c++)
                __builtin_prefetch(segp[c] + (r0 + t0) * rstep);
            size_t nc = cols - c0 < side ? cols - c0 : side, nr = m - t0 < side ? m - t0 : side;
            if (rb == 4 && avx2 && rstep == 4 && nc == 16)
                transpose16_4(out + t0 * row + c0 * rb, row, segp + c0, (r0 + t0) * rstep, nr);
            else
                transpose_tile(out + t0 * row + c0 * rb, row, segp + c0, nc, nr, (r0 + t0) * rstep,
                               rstep, rb, tmp);
        }
}

static void transpose_any(unsigned char *out, const unsigned char *const *segp, size_t cols,
                          size_t m, size_t r0, size_t rstep, size_t rb)
{
    switch (rb) { /* the common element sizes, with constant copies */
    case 1:
        transpose_rows(out, segp, cols, m, r0, rstep, 1, 0);
        break;
    case 2:
        transpose_rows(out, segp, cols, m, r0, rstep, 2, 0);
        break;
    case 4:
        transpose_rows(out, segp, cols, m, r0, rstep, 4, have_avx2());
        break;
    case 8:
        transpose_rows(out, segp, cols, m, r0, rstep, 8, 0);
        break;
    default:
        transpose_rows(out, segp, cols, m, r0, rstep, rb, 0);
    }
}

/* A band that is a matrix: ext rows (dimension p) by cols segments (the
 * dimensions after p), row t of segment c at t * rstep in it.  Whole rows
 * go straight into the ring's free bytes when they go out as they are and
 * the output buffer is empty (a row that would straddle two slots goes
 * through the buffer, flushed at once), else to the output buffer. */
static c2s_status gather_rows(ring *out, const unsigned char *const *segp, const band *bd,
                              size_t cols, size_t rstep, size_t rb)
{
    size_t row = cols * rb; /* <= ocap */
    for (uint64_t r0 = 0; r0 < bd->ext;) {
        unsigned char *dst;
        uint64_t fit;
        int direct = 0;
        if (out->swap_unit == 1 && !out->converting && out->ofill == 0) {
            /* bytes going out as they are: whole rows straight into the ring */
            size_t room;
            c2s_status st = ring_room(out, &room);
            if (st != C2S_OK)
                return st;
            fit = room / row;
            if (fit == 0) { /* a row across two slots: through the buffer, at once */
                transpose_any(out->obuf, segp, cols, 1, (size_t)r0, rstep, rb);
                out->ofill = row;
                if ((st = ring_obuf_flush(out)) != C2S_OK)
                    return st;
                r0++;
                continue;
            }
            direct = 1;
        }
        if (direct) {
            dst = ring_slot(out, out->cur) + out->used;
        } else {
            if (out->ocap - out->ofill < row) {
                c2s_status st = ring_obuf_flush(out);
                if (st != C2S_OK)
                    return st;
            }
            dst = out->obuf + out->ofill;
            fit = (out->ocap - out->ofill) / row;
        }
        size_t m = (size_t)(bd->ext - r0 < fit ? bd->ext - r0 : fit);
        transpose_any(dst, segp, cols, m, (size_t)r0, rstep, rb);
        if (direct) {
            out->used += m * row;
            out->olen[out->cur] += m * row;
        } else {
            out->ofill += m * row;
        }
        r0 += m;
    }
    return C2S_OK;
}

/* Any band: an odometer over dimensions p..k-1 of the band, the last one
 * in a tight loop. */
static c2s_status gather_any(ring *out, const unsigned char *const *segp, const view *v,
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
            if (out->ocap - out->ofill >= rb) {
                copy_small(out->obuf + out->ofill, s, rb);
                out->ofill += rb;
            } else {
                c2s_status st = ring_obuf_put(out, s, rb);
                if (st != C2S_OK)
                    return st;
            }
        }
    } while (odometer(idx, ext, p, last));
    return C2S_OK;
}

/* Copy a band that has been read. */
static c2s_status gather_band(gatherer *gr, const view *v, const gplan *g, const band *bd, int h,
                              size_t nseg)
{
    ring *out = gr->ring;
    const unsigned char *const *segp = gr->segp[h];
    int matrix = !g->seg[g->p] && nseg <= out->ocap / (v->run * v->es);
    for (size_t j = g->p + 1; j < v->k; j++)
        matrix = matrix && g->seg[j];
    if (matrix) /* rows: dimension p; columns: the segments, in output order */
        return gather_rows(out, segp, bd, nseg, (size_t)(v->s[g->p] * v->es),
                           (size_t)(v->run * v->es));
    return gather_any(out, segp, v, g, bd);
}

/* Whether t is copied by a gather (gather_bands), with view v and plan g:
 * the decisions of copy_strided. */
static int plan_for(const ring *out, const tmap_tensor *t, view *v, gplan *g)
{
    if (t->numel == 0 || t->contiguous)
        return 0;
    simplify(t, v);
    if (v->k == 0 || v->run * v->es >= LONG_RUN)
        return 0;
    *g = plan_gather(out, v);
    return g->band > 0;
}

static band first_band(const view *v, const gplan *g)
{
    band bd = {{0}, 0, v->n[g->p] < g->band ? v->n[g->p] : g->band};
    return bd;
}

/* Start reading the first band of the next tensor into half h when it is
 * a gather from a STORED record.  A failure is left for that tensor's own
 * copy to meet again (and report under its name), unless it is the
 * pipe's, which stops everything. */
static c2s_status read_ahead(gatherer *gr, const gather_next *next, int h)
{
    view v;
    gplan g;
    if (next == NULL || !next->src->raw || !plan_for(gr->ring, next->t, &v, &g))
        return C2S_OK;
    band bd = first_band(&v, &g);
    c2s_status st = read_band(gr, next->src, &v, &g, &bd, h, &gr->pre_nseg);
    if (st == C2S_OK) {
        gr->pre_t = next->t;
        gr->pre_h = h;
    }
    return gr->ring->pipe_failed ? st : C2S_OK;
}

/* Band after band, each read (into one half of the read slots) while the
 * one before is copied (from the other); the first one may have been read
 * ahead (gr->pre_t), and the next tensor's first is read during the last. */
static c2s_status gather_bands(gatherer *gr, gather_source *src, const tmap_tensor *t,
                               const view *v, const gplan *g, const gather_next *next)
{
    band bd[2];
    size_t nseg[2] = {0, 0};
    int h0 = gr->pre_t == t ? gr->pre_h : 0;
    c2s_status st = C2S_OK;
    bd[h0] = first_band(v, g);
    if (gr->pre_t == t)
        nseg[h0] = gr->pre_nseg;
    else
        st = read_band(gr, src, v, g, &bd[h0], h0, &nseg[h0]);
    gr->pre_t = NULL;
    int more = 1;
    for (int h = h0; st == C2S_OK && more; h ^= 1) {
        bd[h ^ 1] = bd[h];
        more = next_band(v, g, &bd[h ^ 1]);
        if (more)
            st = read_band(gr, src, v, g, &bd[h ^ 1], h ^ 1, &nseg[h ^ 1]);
        else
            st = read_ahead(gr, next, h ^ 1);
        if (st == C2S_OK)
            st = ring_wait(gr->ring, gr->band_ticket[h]);
        if (st == C2S_OK)
            st = gather_band(gr, v, g, &bd[h], h, nseg[h]);
    }
    return st;
}

/* Runs long enough to be read one by one, as contiguous ranges. */
static c2s_status copy_runs(ring *out, gather_source *src, const view *v, int as_is)
{
    uint64_t idx[TMAP_MAX_NDIM] = {0};
    c2s_status st;
    do {
        uint64_t e = v->offset;
        for (size_t j = 0; j < v->k; j++)
            e += idx[j] * v->s[j];
        st = copy_range(out, src, e * v->es, v->run * v->es, as_is);
    } while (st == C2S_OK && odometer(idx, v->n, 0, v->k));
    return st;
}

static c2s_status copy_strided(gatherer *gr, const tmap_tensor *t, gather_source *src, int as_is,
                               const gather_next *next)
{
    ring *out = gr->ring;
    view v;
    simplify(t, &v);
    if (v.k == 0) /* contiguous after all */
        return copy_range(out, src, v.offset * v.es, v.run * v.es, as_is);
    if (v.run * v.es >= LONG_RUN)
        return copy_runs(out, src, &v, as_is);
    gplan g = plan_gather(out, &v);
    if (g.band == 0) /* nothing fits the slots (tiny buffer_size) */
        return copy_runs(out, src, &v, as_is);
    return gather_bands(gr, src, t, &v, &g, next);
}

/* ---- the entry points ------------------------------------------------------------------ */

c2s_status gather_tensor(gatherer *gr, gather_source *src, const tmap_tensor *t, int as_is,
                         const gather_next *next)
{
    if (gr->pre_t != t) /* what was read ahead is not this tensor's */
        gr->pre_t = NULL;
    if (t->numel == 0)
        return C2S_OK;
    if (t->contiguous)
        return copy_range(gr->ring, src, t->offset * c2s_dtype_size(t->dtype), t->nbytes, as_is);
    return copy_strided(gr, t, src, as_is, next);
}

c2s_status gather_alloc(gatherer *gr, ring *r, c2s_error *err)
{
    gr->ring = r;
    gr->pre_t = NULL;
    int ok = 1;
    for (int h = 0; h < 2; h++) {
        gr->segp[h] = malloc(MAX_SEGMENTS * sizeof *gr->segp[h]);
        gr->reads[h] = malloc(MAX_SEGMENTS * sizeof *gr->reads[h]);
        ok = ok && gr->segp[h] && gr->reads[h];
    }
    if (!ok)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    return C2S_OK;
}

void gather_free(gatherer *gr)
{
    for (int h = 0; h < 2; h++) {
        free(gr->segp[h]);
        free(gr->reads[h]);
        gr->segp[h] = NULL;
        gr->reads[h] = NULL;
    }
}
