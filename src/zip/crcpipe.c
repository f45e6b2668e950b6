/*
 * crcpipe.c - reads of STORED records and their CRC-32 from pieces, on a
 * second thread (see crcpipe.h).
 *
 * The thread and its queue are a util/jobq.h queue of crcpipe_jobs: the
 * thread takes each job in turn, reads its ranges and folds them into the
 * record's pieces.
 *
 * Pieces: a sorted array of disjoint (offset, length, CRC).  A new range is
 * cut against it: covered parts are skipped, each uncovered part either
 * extends the piece ending exactly where it starts (crc32 continues from
 * that piece's CRC) or becomes a new piece.  Adjacent pieces are joined
 * only when the array is full (crc32_combine), and at check time.  The
 * first piece is kept in the record itself: a record read whole, as tiny
 * storages are, costs no allocation.
 *
 * Batches: the parts come sorted by file offset; runs of them are read
 * with preadv (the gaps between them into the pipe's gap buffer), then
 * every part is folded into its record, as a range would be.
 */
#include "zip/crcpipe.h"
#include "zip/crc32.h"
#include "util/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

/* CRC of A followed by B, from the CRCs of A and of B (len_b bytes). */
static uint32_t crc_join(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    return (uint32_t)crc32_combine64(crc_a, crc_b, (z_off64_t)len_b);
}

/* ---- pieces ------------------------------------------------------------------ */

static uint64_t piece_end(const crcpipe_piece *q)
{
    return q->off + q->len;
}

/* Index of the first piece ending after off (npieces when none). */
static size_t first_after(const crcpipe_record *r, uint64_t off)
{
    size_t lo = 0, hi = r->npieces;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (piece_end(&r->pieces[mid]) > off)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Join runs of adjacent pieces into one. */
static void compact(crcpipe_record *r)
{
    size_t out = 0;
    for (size_t i = 0; i < r->npieces; i++) {
        crcpipe_piece *q = &r->pieces[i];
        if (out > 0 && piece_end(&r->pieces[out - 1]) == q->off) {
            crcpipe_piece *prev = &r->pieces[out - 1];
            prev->crc = crc_join(prev->crc, q->crc, q->len);
            prev->len += q->len;
        } else {
            r->pieces[out++] = *q;
        }
    }
    r->npieces = out;
}

/* Make room for one more piece: grow, or else compact (after a compaction
 * that frees nothing, the next npieces / 4 requests are refused without
 * trying again).  0: no room. */
static int room_for_piece(crcpipe_record *r)
{
    if (r->npieces < r->cap)
        return 1;
    if (r->cap == 0) { /* the first piece lives in the record */
        r->pieces = &r->one;
        r->cap = 1;
        return 1;
    }
    if (r->cap < CRCPIPE_MAX_PIECES) {
        int inline_one = r->pieces == &r->one;
        size_t cap = inline_one ? 4 : 2 * r->cap;
        crcpipe_piece *grown = realloc(inline_one ? NULL : r->pieces, cap * sizeof *grown);
        if (grown != NULL) {
            if (inline_one)
                grown[0] = r->one;
            r->pieces = grown;
            r->cap = cap;
            return 1;
        }
    }
    if (r->refuse > 0) {
        r->refuse--;
        return 0;
    }
    compact(r);
    if (r->npieces < r->cap)
        return 1;
    r->refuse = r->npieces / 4;
    return 0;
}

/* Record the uncovered bytes [pos, pos + n) at data, before piece i.  Bytes
 * not kept (no room, or a new piece that would move more than
 * CRCPIPE_MAX_MOVE others) stay a gap: crcpipe_record_check reads them. */
static void add_uncovered(crcpipe_record *r, size_t i, uint64_t pos, const unsigned char *data,
                          size_t n)
{
    if (i > 0 && piece_end(&r->pieces[i - 1]) == pos) {
        crcpipe_piece *prev = &r->pieces[i - 1];
        prev->crc = c2s_crc32(prev->crc, data, n);
        prev->len += n;
        return;
    }
    if (r->npieces - i > CRCPIPE_MAX_MOVE || !room_for_piece(r))
        return;
    i = first_after(r, pos); /* compacting may have moved pieces */
    memmove(&r->pieces[i + 1], &r->pieces[i], (r->npieces - i) * sizeof *r->pieces);
    r->pieces[i] = (crcpipe_piece){pos, n, c2s_crc32((uint32_t)crc32(0L, Z_NULL, 0), data, n)};
    r->npieces++;
}

void crcpipe_record_add(crcpipe_record *r, uint64_t off, const void *data, size_t len)
{
    const unsigned char *bytes = data;
    uint64_t pos = off, end = off + len;
    while (pos < end) {
        size_t i = first_after(r, pos);
        if (i < r->npieces && r->pieces[i].off <= pos) { /* covered already */
            uint64_t e = piece_end(&r->pieces[i]);
            pos = e < end ? e : end;
            continue;
        }
        uint64_t stop = i < r->npieces && r->pieces[i].off < end ? r->pieces[i].off : end;
        add_uncovered(r, i, pos, bytes + (pos - off), (size_t)(stop - pos));
        pos = stop;
    }
}

void crcpipe_record_init(crcpipe_record *r, const char *name, uint32_t expected, int recorded,
                         uint64_t size)
{
    crcpipe_record_free(r);
    r->name = strndup(name, 299);
    r->expected = expected;
    r->recorded = recorded;
    r->size = size;
}

void crcpipe_record_free(crcpipe_record *r)
{
    if (r->pieces != &r->one)
        free(r->pieces);
    free(r->name);
    r->pieces = NULL;
    r->name = NULL;
    r->npieces = r->cap = r->refuse = 0;
}

uint64_t crcpipe_record_missing(const crcpipe_record *r)
{
    uint64_t have = 0;
    for (size_t i = 0; i < r->npieces; i++)
        have += r->pieces[i].len;
    return r->size - have;
}

/* Continue crc over bytes [off, end) of the record, read into scratch. */
static c2s_status crc_gap(uint32_t *crc, uint64_t off, uint64_t end, crcpipe_read_fn read,
                          void *ctx, unsigned char *scratch, size_t cap, c2s_error *err)
{
    while (off < end) {
        size_t n = end - off < cap ? (size_t)(end - off) : cap;
        c2s_status st = read(ctx, off, scratch, n, err);
        if (st != C2S_OK)
            return st;
        *crc = c2s_crc32(*crc, scratch, n);
        off += n;
    }
    return C2S_OK;
}

c2s_status crcpipe_record_check(const crcpipe_record *r, crcpipe_read_fn read, void *ctx,
                                unsigned char *scratch, size_t cap, c2s_error *err)
{
    if (!r->recorded)
        return C2S_OK;
    uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
    uint64_t pos = 0;
    for (size_t i = 0; i <= r->npieces; i++) {
        uint64_t next = i < r->npieces ? r->pieces[i].off : r->size;
        c2s_status st = crc_gap(&crc, pos, next, read, ctx, scratch, cap, err);
        if (st != C2S_OK)
            return st;
        if (i < r->npieces) {
            /* the CRC of nothing followed by B is B's */
            crc = pos == 0 && next == 0 ? r->pieces[i].crc
                                        : crc_join(crc, r->pieces[i].crc, r->pieces[i].len);
            pos = piece_end(&r->pieces[i]);
        }
    }
    if (crc != r->expected)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_CORRUPT,
                             "%s: CRC-32 mismatch (archive says %08x, data gives %08x): "
                             "the file was altered or damaged",
                             r->name ? r->name : "?", r->expected, crc);
    return C2S_OK;
}

/* ---- the thread ----------------------------------------------------------------- */

static c2s_status read_range(const crcpipe_job *job, const crcpipe_range *rg, c2s_error *err)
{
    return pread_exact(job->fd, rg->data, rg->len, job->base + rg->off,
                       job->record->name ? job->record->name : "?", err);
}

/* ---- batches ---------------------------------------------------------------------- */

static const char *part_name(const crcpipe_part *q)
{
    return q->record->name ? q->record->name : "?";
}

/* The parts from parts[0] on that one preadv reads: each starts at most
 * CRCPIPE_GAP_MAX bytes after the one before ends (never before it). */
static size_t run_length(const crcpipe_part *parts, size_t n)
{
    size_t k = 1;
    while (k < n && k < CRCPIPE_RUN_MAX) {
        uint64_t end = parts[k - 1].file_off + parts[k - 1].len;
        if (parts[k].file_off < end || parts[k].file_off - end > CRCPIPE_GAP_MAX)
            break;
        k++;
    }
    return k;
}

/* Read a run of n parts with one preadv, the gaps into gap; 0 when it did
 * not read every byte (an error, the end of the file, a short read). */
static int read_run_at_once(int fd, const crcpipe_part *parts, size_t n, unsigned char *gap)
{
    struct iovec iov[2 * CRCPIPE_RUN_MAX];
    size_t niov = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            size_t g = (size_t)(parts[i].file_off - (parts[i - 1].file_off + parts[i - 1].len));
            if (g > 0)
                iov[niov++] = (struct iovec){gap, g};
            total += g;
        }
        if (parts[i].len > 0)
            iov[niov++] = (struct iovec){parts[i].data, parts[i].len};
        total += parts[i].len;
    }
    if (niov == 0)
        return 1;
    ssize_t got;
    do
        got = preadv(fd, iov, (int)niov, (off_t)parts[0].file_off);
    while (got < 0 && errno == EINTR);
    return got >= 0 && (size_t)got == total;
}

/* Read a run; when one preadv does not do it, part by part, so that an
 * error is the one a read of that record alone gives. */
static c2s_status read_run(int fd, const crcpipe_part *parts, size_t n, unsigned char *gap,
                           c2s_error *err)
{
    if (read_run_at_once(fd, parts, n, gap))
        return C2S_OK;
    for (size_t i = 0; i < n; i++) {
        c2s_status st = pread_exact(fd, parts[i].data, parts[i].len, parts[i].file_off,
                                    part_name(&parts[i]), err);
        if (st != C2S_OK)
            return st;
    }
    return C2S_OK;
}

/* Read every run of a batch, then fold each part into its record. */
static c2s_status run_batch(const crcpipe_job *job, unsigned char *gap, c2s_error *err)
{
    for (size_t i = 0; i < job->nparts;) {
        size_t k = run_length(job->parts + i, job->nparts - i);
        c2s_status st = read_run(job->fd, job->parts + i, k, gap, err);
        if (st != C2S_OK)
            return st;
        i += k;
    }
    for (size_t i = 0; i < job->nparts; i++) {
        const crcpipe_part *q = &job->parts[i];
        if (q->record->recorded)
            crcpipe_record_add(q->record, q->off, q->data, q->len);
    }
    return C2S_OK;
}

/* Read (unless fd is -1) and CRC each range. */
static c2s_status run_job(const crcpipe_job *job, unsigned char *gap, c2s_error *err)
{
    if (job->parts != NULL)
        return run_batch(job, gap, err);
    const crcpipe_range *rg = job->ranges ? job->ranges : &job->one;
    for (size_t i = 0; i < job->nranges; i++) {
        if (job->fd >= 0) {
            c2s_status st = read_range(job, &rg[i], err);
            if (st != C2S_OK)
                return st;
        }
        if (job->record->recorded)
            crcpipe_record_add(job->record, rg[i].off, rg[i].data, rg[i].len);
    }
    return C2S_OK;
}

/* The thread: jobs in order; after the first failure they are only counted. */
/* A job, as the queue (util/jobq.h) runs it. */
static c2s_status run_queued(void *ctx, const void *job, c2s_error *err)
{
    crcpipe *p = ctx;
    return run_job(job, p->gap, err);
}

void crcpipe_start(crcpipe *p)
{
    memset(p, 0, sizeof *p);
    jobq_start(&p->q, p->ring, sizeof *p->ring, CRCPIPE_RING, run_queued, p);
}

uint64_t crcpipe_submit(crcpipe *p, crcpipe_record *r, int fd, uint64_t base,
                        const crcpipe_range *ranges, size_t nranges)
{
    crcpipe_job job = {.record = r,
                       .fd = fd,
                       .base = base,
                       .ranges = nranges == 1 ? NULL : ranges,
                       .nranges = nranges,
                       .one = nranges == 1 ? ranges[0] : (crcpipe_range){0, NULL, 0}};
    return jobq_submit(&p->q, &job);
}

uint64_t crcpipe_submit_batch(crcpipe *p, int fd, const crcpipe_part *parts, size_t nparts)
{
    crcpipe_job job = {.parts = parts, .nparts = nparts, .fd = fd};
    return jobq_submit(&p->q, &job);
}

c2s_status crcpipe_wait(crcpipe *p, uint64_t ticket)
{
    return jobq_wait(&p->q, ticket);
}

const c2s_error *crcpipe_error(const crcpipe *p)
{
    return jobq_error(&p->q);
}

void crcpipe_finish(crcpipe *p)
{
    jobq_finish(&p->q);
}
