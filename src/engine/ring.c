/*
 * ring.c - the output ring, the output buffer and the slot memory of
 * c2s_write (see ring.h for how they fit together).
 *
 * A ring slot's bytes are handed to the writer's thread RING_WRITE_LAG
 * slots after it was filled (next_slot) or at the end (ring_flush), each
 * time after waiting for the pipe's last job on that slot and checking the
 * cancel flag (write_slot); before a slot is filled again, its write is
 * waited for, and the bytes written so far go to the progress callback
 * (slot_written).  The
 * output buffer is flushed into the ring after the swap (in place); a
 * conversion writes its elements straight into the ring's free bytes
 * (put_converted), so converted bytes are not copied once more.
 */
#include "engine/ring.h"
#include "util/huge.h"

#define RING_DEQ_CHUNK 1024 /* values dequantized at a time */
#include "engine/cancel.h"
#include "engine/dtconv.h"
#include "engine/qconv.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define DEFAULT_BUFFER (8u << 20)
#define MAX_BUFFER (64u << 20)

/* ---- memory ---------------------------------------------------------------------- */

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

/* A slot (and the output buffer) is buffer / 8: a multiple of 16 bytes, of
 * whole direct I/O blocks when it is large enough. */
static size_t slot_size_for(size_t buffer)
{
    if (buffer == 0)
        buffer = DEFAULT_BUFFER;
    if (buffer > MAX_BUFFER)
        buffer = MAX_BUFFER;
    size_t size = (buffer / 8) & ~(size_t)15;
    if (size < 16)
        size = 16;
    if (size >= 16 * OUTFILE_DIO_ALIGN) /* whole blocks for direct I/O */
        size &= ~(size_t)(OUTFILE_DIO_ALIGN - 1);
    return size;
}

c2s_status ring_alloc(ring *r, const c2s_write_options *o, c2s_error *err)
{
    r->err = err;
    r->swap_unit = 1;
    r->conv_path = dtconv_best_path();
    r->cancel = o ? o->cancel : NULL;
    r->progress = o ? o->progress : NULL;
    r->progress_ctx = o ? o->progress_ctx : NULL;
    r->slot_size = r->ocap = slot_size_for(o ? o->buffer_size : 0);
    r->slots_len = RING_NSLOTS * r->slot_size;
    r->slots = alloc_slots(r->slots_len);
    r->obuf = malloc(r->ocap);
    r->batch = malloc(RING_NBATCH * RING_BATCH * sizeof *r->batch);
    if (r->slots == NULL || r->obuf == NULL || r->batch == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    return C2S_OK;
}

void ring_free(ring *r)
{
    free(r->slots);
    free(r->obuf);
    free(r->batch);
    r->slots = r->obuf = NULL;
    r->batch = NULL;
    r->slots_len = r->ocap = 0;
}

/* ---- the pipe ---------------------------------------------------------------------- */

/* A slot's write, on the writer's thread. */
static c2s_status run_write(void *ctx, const void *job, c2s_error *err)
{
    ring *r = ctx;
    const ring_write *w = job;
    return outfile_write(&r->out, w->p, w->n, err);
}

void ring_pipe_start(ring *r)
{
    crcpipe_start(&r->pipe);
    jobq_start(&r->writer, r->wjobs, sizeof *r->wjobs, RING_SLOTS, run_write, r);
}

void ring_pipe_finish(ring *r)
{
    crcpipe_finish(&r->pipe);
    jobq_finish(&r->writer);
}

c2s_status ring_wait(ring *r, uint64_t ticket)
{
    c2s_status st = crcpipe_wait(&r->pipe, ticket);
    if (st != C2S_OK) {
        *r->err = *crcpipe_error(&r->pipe);
        r->pipe_failed = 1;
    }
    return st;
}

/* ---- cancelling -------------------------------------------------------------------------- */

/* Checked between blocks; the message is the same wherever it happens. */
int ring_cancelled(ring *r)
{
    if (cancel_requested(r->cancel)) {
        r->interrupted = 1;
        c2s_fail(r->err, C2S_ERR_INPUT, "interrupted");
        return 1;
    }
    return 0;
}

/* ---- the output ring ------------------------------------------------------------------ */

/* Hand ring slot i's output to the writer once its reads are done. */
static c2s_status write_slot(ring *r, size_t i)
{
    size_t n = r->olen[i];
    r->olen[i] = 0;
    c2s_status st = ring_wait(r, r->ticket[i]);
    if (st != C2S_OK)
        return st;
    if (ring_cancelled(r))
        return C2S_ERR_INPUT;
    r->wticket[i] = jobq_submit(&r->writer, &(ring_write){ring_slot(r, i), n});
    r->handed += n;
    r->wend[i] = r->handed;
    return C2S_OK;
}

/* Wait until the writer is done with ring slot i (and so with every slot
 * handed before it); a failed write becomes our error. */
static c2s_status slot_written(ring *r, size_t i)
{
    c2s_status st = jobq_wait(&r->writer, r->wticket[i]);
    if (st != C2S_OK) {
        *r->err = *jobq_error(&r->writer);
        r->write_failed = 1;
        return st;
    }
    if (r->wend[i] > r->done) {
        r->done = r->wend[i];
        if (r->progress)
            r->progress(r->progress_ctx, r->done, r->total);
    }
    return C2S_OK;
}

/* Move to the next ring slot: hand the slot filled RING_WRITE_LAG slots
 * ago to the writer, wait until the new one is written and its reads are
 * done.  (The slot at `cur` with nothing placed is always free.) */
static c2s_status next_slot(ring *r)
{
    r->cur = (r->cur + 1) % RING_SLOTS;
    r->used = 0;
    size_t lag = (r->cur + RING_SLOTS - RING_WRITE_LAG) % RING_SLOTS;
    c2s_status st = r->olen[lag] ? write_slot(r, lag) : C2S_OK;
    if (st == C2S_OK) /* (cur was handed when it was the lag slot, or by ring_flush) */
        st = slot_written(r, r->cur);
    return st == C2S_OK ? ring_wait(r, r->ticket[r->cur]) : st;
}

c2s_status ring_room(ring *r, size_t *room)
{
    c2s_status st = r->used == r->slot_size ? next_slot(r) : C2S_OK;
    *room = r->slot_size - r->used;
    return st;
}

void ring_read_stored(ring *r, crcpipe_record *rec, int fd, uint64_t base, uint64_t off, size_t len)
{
    crcpipe_range range = {off, ring_slot(r, r->cur) + r->used, len};
    r->ticket[r->cur] = crcpipe_submit(&r->pipe, rec, fd, base, &range, 1);
    r->used += len;
    r->olen[r->cur] += len;
}

/* ---- batches ------------------------------------------------------------------------- */

/* An empty batch, once the pipe is done with its array. */
static c2s_status batch_init(ring *r, ring_batch *b, int reading)
{
    size_t which = r->batch_next++ % RING_NBATCH;
    *b = (ring_batch){.parts = r->batch + which * RING_BATCH,
                      .fd = -1,
                      .reading = reading,
                      .which = which};
    return ring_wait(r, r->batch_ticket[which]);
}

c2s_status ring_batch_start(ring *r, ring_batch *b)
{
    c2s_status st = batch_init(r, b, 0);
    if (st == C2S_OK)
        st = ring_room(r, &b->room);
    b->base = ring_slot(r, r->cur) + r->used;
    return st;
}

c2s_status ring_batch_start_read(ring *r, ring_batch *b)
{
    c2s_status st = batch_init(r, b, 1);
    b->base = ring_slot(r, RING_READ0);
    b->room = RING_NREAD * r->slot_size;
    return st;
}

int ring_batch_fits(const ring_batch *b, int fd, size_t len)
{
    return b->n < RING_BATCH && len <= b->room - b->bytes && (b->n == 0 || fd == b->fd);
}

void ring_batch_add(ring_batch *b, crcpipe_record *rec, int fd, uint64_t base, uint64_t off,
                    size_t len)
{
    unsigned char *dest = b->base + b->bytes;
    b->parts[b->n++] = (crcpipe_part){rec, off, base + off, dest, len};
    b->bytes += len;
    b->fd = fd;
}

/* By file offset; equal offsets (a record read twice) by destination, so
 * that the order does not depend on qsort. */
static int by_file_offset(const void *a, const void *b)
{
    const crcpipe_part *x = a, *y = b;
    if (x->file_off != y->file_off)
        return x->file_off < y->file_off ? -1 : 1;
    return x->data < y->data ? -1 : x->data > y->data;
}

uint64_t ring_batch_submit(ring *r, ring_batch *b)
{
    if (b->n == 0)
        return 0;
    qsort(b->parts, b->n, sizeof *b->parts, by_file_offset);
    uint64_t ticket = crcpipe_submit_batch(&r->pipe, b->fd, b->parts, b->n);
    r->batch_ticket[b->which] = ticket;
    if (!b->reading) {
        r->ticket[r->cur] = ticket;
        r->used += b->bytes;
        r->olen[r->cur] += b->bytes;
    }
    return ticket;
}

c2s_status ring_put(ring *r, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t room;
        c2s_status st = ring_room(r, &room);
        if (st != C2S_OK)
            return st;
        size_t part = n < room ? n : room;
        memcpy(ring_slot(r, r->cur) + r->used, p, part);
        r->used += part;
        r->olen[r->cur] += part;
        p += part;
        n -= part;
    }
    return C2S_OK;
}

c2s_status ring_flush(ring *r)
{
    c2s_status st = C2S_OK;
    for (size_t k = 1; k <= RING_SLOTS && st == C2S_OK; k++) { /* oldest first */
        size_t i = (r->cur + k) % RING_SLOTS;
        if (r->olen[i])
            st = write_slot(r, i);
    }
    for (size_t k = 1; k <= RING_SLOTS && st == C2S_OK; k++)
        st = slot_written(r, (r->cur + k) % RING_SLOTS);
    r->used = 0;
    return st;
}

/* ---- the output buffer ------------------------------------------------------------------ */

void ring_obuf_elements(ring *r, size_t swap_unit, c2s_dtype from, c2s_dtype to)
{
    r->swap_unit = swap_unit;
    r->converting = from != to;
    r->conv_from = from;
    r->conv_to = to;
}

/* Convert elems elements at p (conv_from) into the ring's free bytes, as
 * many per slot as fit; an element that would straddle two slots goes
 * through a small buffer and ring_put. */
static c2s_status put_converted(ring *r, const unsigned char *p, size_t elems)
{
    size_t ss = c2s_dtype_size(r->conv_from), ds = c2s_dtype_size(r->conv_to);
    while (elems > 0) {
        size_t room;
        c2s_status st = ring_room(r, &room);
        if (st != C2S_OK)
            return st;
        size_t k = room / ds < elems ? room / ds : elems;
        if (k == 0) {
            unsigned char one[8];
            dtconv_run_on(r->conv_path, r->conv_from, r->conv_to, p, one, 1);
            if ((st = ring_put(r, one, ds)) != C2S_OK)
                return st;
            k = 1;
        } else {
            dtconv_run_on(r->conv_path, r->conv_from, r->conv_to, p, ring_slot(r, r->cur) + r->used,
                          k);
            r->used += k * ds;
            r->olen[r->cur] += k * ds;
        }
        p += k * ss;
        elems -= k;
    }
    return C2S_OK;
}

void ring_obuf_dequantize(ring *r, const struct qconv *qc)
{
    r->deq = qc;
    r->deq_next = 0;
}

/* Dequantize elems quantized elements at p (swapped already) to F32, then
 * to conv_to, into the ring: a chunk at a time through a fixed buffer. */
static c2s_status put_dequantized(ring *r, const unsigned char *p, size_t elems)
{
    float vals[RING_DEQ_CHUNK];
    size_t es = c2s_dtype_size(r->deq->from), ds = c2s_dtype_size(r->conv_to);
    c2s_status st = C2S_OK;
    for (size_t done = 0; done < elems && st == C2S_OK;) {
        size_t k = elems - done < RING_DEQ_CHUNK ? elems - done : RING_DEQ_CHUNK;
        unsigned char *v = (unsigned char *)vals;
        qconv_run(r->deq, p + done * es, v, k, r->deq_next);
        r->deq_next += k;
        if (r->conv_to != C2S_F32)
            dtconv_run_on(r->conv_path, C2S_F32, r->conv_to, v, v, k); /* narrowing: in place */
        st = ring_put(r, v, k * ds);
        done += k;
    }
    return st;
}

/* Swap in place and convert (or dequantize) n bytes of whole elements at p
 * into the ring. */
static c2s_status put_elements(ring *r, unsigned char *p, size_t n)
{
    if (r->swap_unit > 1)
        c2s_byteswap(p, n, r->swap_unit);
    if (r->deq != NULL)
        return put_dequantized(r, p, n / c2s_dtype_size(r->deq->from));
    if (r->converting)
        return put_converted(r, p, n / c2s_dtype_size(r->conv_from));
    return ring_put(r, p, n);
}

c2s_status ring_obuf_flush(ring *r)
{
    size_t len = r->ofill;
    r->ofill = 0;
    return len ? put_elements(r, r->obuf, len) : C2S_OK;
}

c2s_status ring_put_elements(ring *r, unsigned char *p, size_t n)
{
    c2s_status st = ring_obuf_flush(r); /* what it holds goes first */
    return st == C2S_OK ? put_elements(r, p, n) : st;
}

c2s_status ring_obuf_put(ring *r, const unsigned char *p, size_t n)
{
    while (n > 0) {
        if (r->ofill == r->ocap) {
            c2s_status st = ring_obuf_flush(r);
            if (st != C2S_OK)
                return st;
        }
        size_t part = n < r->ocap - r->ofill ? n : r->ocap - r->ofill;
        memcpy(r->obuf + r->ofill, p, part);
        r->ofill += part;
        p += part;
        n -= part;
    }
    return C2S_OK;
}
