/*
 * ring.h - the output side of c2s_write: the slot memory, the output ring,
 * the output buffer, and the writes to the output file.
 *
 * What it is for.  convert.c plans the file and gather.h produces the
 * tensors' bytes; everything they produce goes out through a ring, in file
 * order, and the ring is the only writer of the output file.  It also owns
 * the CRC pipe (crcpipe.h), since the pipe's reads land in its slots.
 *
 * How it works.  Two kinds of memory carry the bytes:
 *
 *  - the slots: RING_NSLOTS blocks of buffer_size / 8 bytes (1 MiB; 2 MiB
 *    aligned and marked for huge pages: faults on them were a visible cost).
 *    The first RING_SLOTS are the output ring, the others (from RING_READ0)
 *    read space for gathers and for copies that change the bytes.  A slot
 *    is reused only once the pipe's jobs on it are done (ticket[]).
 *  - the output buffer (buffer_size / 8): elements gathered from a strided
 *    view, or to be byte-swapped (big-endian archives) or converted
 *    (--dtype, straight into the ring's free bytes) when the buffer is
 *    flushed into the ring.
 *
 * The ring.  Every byte of the file, header included, passes through the
 * ring in file order: slot `cur` is filled at `used`.  Bytes reach a ring
 * slot either copied (ring_put) or read straight into it by the pipe
 * (ring_read_stored).  RING_WRITE_LAG slots after a slot was filled, once
 * the pipe's reads into it are done, it is handed to the writer: a thread
 * of its own (util/jobq.h) that writes the slots to `out` in the order
 * handed.  A slot is filled again only once its write is done.  So the
 * pipe reads up to RING_WRITE_LAG slots ahead, the writer writes up to
 * RING_SLOTS - RING_WRITE_LAG slots behind, and the calling thread, which
 * gathers, converts and swaps, waits for neither in the common case.
 * Every write but the last is a whole slot at a multiple of slot_size in
 * the file, from memory aligned to at least 4 KiB: what direct I/O needs
 * (outfile.h); where it starts is the caller's choice
 * (outfile_direct_from on `out`).
 *
 * Batches.  Many small ranges of STORED records (tiny tensors, each its
 * own record) are read by the pipe straight into the ring as one batch
 * job (ring_batch_*; crcpipe.h says how its parts are read): one hand-off
 * and, for records lying one after the other in the file, one read for
 * many tensors.  A batch fills part of one ring slot, in output order.
 * Tensors to be swapped or converted are batched the same way into the
 * read slots instead (ring_batch_start_read), and the caller waits for
 * the batch before putting them into the ring (ring_put_elements).
 *
 * Before a slot is handed to the writer the caller's cancel flag is read
 * (cancel.h); a set flag fails with "interrupted" wherever it happens.  A
 * failed write stops the writer (the later slots are not written) and is
 * the error of the next hand-off or wait.  Each time the calling thread
 * sees a write done, the progress callback sees the bytes written so far
 * (on the calling thread, never on the writer's).
 */
#ifndef RING_H
#define RING_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "c2s.h"
#include "engine/dtconv.h"
#include "engine/outfile.h"
#include "torch/dtype.h"
#include "util/jobq.h"
#include "zip/crcpipe.h"

#define RING_NSLOTS 32                        /* slots in all */
#define RING_SLOTS 4                          /* the output ring: slots 0 .. RING_SLOTS - 1 */
#define RING_WRITE_LAG 2                      /* a slot is handed to the writer this many later */
#define RING_READ0 RING_SLOTS                 /* the first read slot */
#define RING_NREAD (RING_NSLOTS - RING_SLOTS) /* read slots */
#define RING_BATCH CRCPIPE_RUN_MAX            /* parts per batch */
#define RING_NBATCH 8                         /* batches in the pipe at once */

/* A write of the output file, as the writer's queue runs it. */
typedef struct ring_write {
    const unsigned char *p;
    size_t n;
} ring_write;

typedef struct ring {
    outfile out; /* opened, committed and removed by the caller; the writer's
                    thread writes to it between ring_pipe_start and _finish */
    crcpipe pipe;
    jobq writer;                  /* the output file's writes, on their own thread */
    ring_write wjobs[RING_SLOTS]; /* the writer's entries */
    uint64_t wticket[RING_SLOTS]; /* the last write of each ring slot */
    uint64_t wend[RING_SLOTS];    /* output bytes written once that write is done */
    uint64_t handed;              /* output bytes handed to the writer */
    /* slots */
    unsigned char *slots; /* RING_NSLOTS * slot_size */
    size_t slot_size, slots_len;
    uint64_t ticket[RING_NSLOTS]; /* the last pipe job on each slot */
    size_t olen[RING_SLOTS];      /* output bytes in each ring slot, not yet written */
    size_t cur, used;             /* the ring slot being filled, bytes placed in it */
    /* batches: RING_NBATCH arrays of RING_BATCH parts, each the pipe's until its ticket */
    crcpipe_part *batch;
    uint64_t batch_ticket[RING_NBATCH];
    size_t batch_next;
    /* output buffer: gather.c appends to obuf directly in its inner loops */
    unsigned char *obuf;
    size_t ocap, ofill;
    size_t swap_unit; /* of the elements in obuf; 1: no swap */
    int converting;
    c2s_dtype conv_from, conv_to;
    dtconv_path conv_path;   /* dtconv_best_path(), asked once */
    const struct qconv *deq; /* dequantize obuf's elements first (qconv.h), or NULL */
    uint64_t deq_next;       /* the tensor's index of the next element to dequantize */
    /* the caller's */
    const volatile sig_atomic_t *cancel;
    c2s_progress_fn progress;
    void *progress_ctx;
    uint64_t done, total;                       /* output bytes written, and to write */
    int interrupted, pipe_failed, write_failed; /* errors that name no tensor */
    c2s_error *err;
} ring;

/* Allocate the memory buffer_size sets (0: default 8 MiB, at most 64 MiB):
 * RING_NSLOTS slots of buffer_size / 8 and an output buffer of
 * buffer_size / 8.  cancel and progress from o (o may
 * be NULL); errors go to err from now on.  ring_free() in every case; it
 * frees that memory only (not `out`), and may be called again. */
c2s_status ring_alloc(ring *r, const c2s_write_options *o, c2s_error *err);
void ring_free(ring *r);

static inline unsigned char *ring_slot(const ring *r, size_t i)
{
    return r->slots + i * r->slot_size;
}

/* The pipe's thread and the writer's: started before the first read,
 * finished (joined) before the records are checked or the file is put in
 * place, whatever happened in between. */
void ring_pipe_start(ring *r);
void ring_pipe_finish(ring *r);

/* Wait for the pipe's jobs up to ticket; a failed read becomes our error
 * (it names the record: the tensor being copied may be a later one). */
c2s_status ring_wait(ring *r, uint64_t ticket);

/* Whether the last error is one that is no tensor's: the caller asked to
 * stop, a read of the pipe failed (its message names the record), or a
 * write of the output failed (it names the output). */
static inline int ring_failed_alone(const ring *r)
{
    return r->interrupted || r->pipe_failed || r->write_failed;
}

/* Whether the caller asked to stop; if so, err says "interrupted". */
int ring_cancelled(ring *r);

/* The free bytes at the ring's position (at ring_slot(r, r->cur) +
 * r->used), moving on when its slot is full. */
c2s_status ring_room(ring *r, size_t *room);

/* Have the pipe read bytes [off, off + len) of a STORED record (rec, at
 * base in fd) into the ring's free bytes; len <= what ring_room gave. */
void ring_read_stored(ring *r, crcpipe_record *rec, int fd, uint64_t base, uint64_t off,
                      size_t len);

/* A batch being filled: its parts, and the bytes they take. */
typedef struct ring_batch {
    crcpipe_part *parts;
    size_t n;            /* parts */
    unsigned char *base; /* where the first part goes */
    size_t bytes;        /* placed from base on, in the order added */
    size_t room;         /* free bytes from base on */
    int fd;              /* every part is read from it */
    int reading;         /* into the read slots (else into the ring) */
    size_t which;        /* the array: r->batch + which * RING_BATCH */
} ring_batch;

/* Start a batch in the ring slot with free bytes (moving on when the slot
 * is full), once the pipe is done with its array. */
c2s_status ring_batch_start(ring *r, ring_batch *b);

/* Start a batch into the read slots (all of them), for bytes to be
 * swapped or converted once read. */
c2s_status ring_batch_start_read(ring *r, ring_batch *b);

/* Whether bytes of a record read from fd can be added to b: a part is
 * free, len more bytes fit, fd is the batch's. */
int ring_batch_fits(const ring_batch *b, int fd, size_t len);

/* Add bytes [off, off + len) of a STORED record (rec, at base in fd), to
 * be read at b->base + b->bytes, to b (ring_batch_fits said so). */
void ring_batch_add(ring_batch *b, crcpipe_record *rec, int fd, uint64_t base, uint64_t off,
                    size_t len);

/* Queue b (nothing when it is empty): its parts sorted by file offset, one
 * pipe job; a batch into the ring moves it past its bytes.  Returns the
 * job's ticket (0: none), to wait for before using a reading batch's
 * bytes. */
uint64_t ring_batch_submit(ring *r, ring_batch *b);

/* Append n bytes to the ring. */
c2s_status ring_put(ring *r, const unsigned char *p, size_t n);

/* At the end: write every ring slot holding output, oldest first. */
c2s_status ring_flush(ring *r);

/* How the elements in the output buffer are changed when it is flushed:
 * swapped in units of swap_unit (1: not), converted from `from` to `to`
 * (equal: not).  This applies to what the buffer already holds too: flush
 * it first unless its bytes are to go out unchanged either way. */
void ring_obuf_elements(ring *r, size_t swap_unit, c2s_dtype from, c2s_dtype to);

/* Swap, convert and append to the ring what the output buffer holds. */
c2s_status ring_obuf_flush(ring *r);

/* Swap and convert (as ring_obuf_elements says) n bytes of whole elements
 * at p, in place, and append them to the ring, after what the output buffer
 * holds: for contiguous elements, without the copy into the buffer. */
c2s_status ring_put_elements(ring *r, unsigned char *p, size_t n);

/* From now on the elements put (through the output buffer or
 * ring_put_elements; a quantized tensor's, from its first element) are
 * dequantized by qc into F32 before any conversion to the `to` of
 * ring_obuf_elements; NULL stops it.  Set it on an empty buffer. */
void ring_obuf_dequantize(ring *r, const struct qconv *qc);

/* Append n bytes (whole elements) to the output buffer. */
c2s_status ring_obuf_put(ring *r, const unsigned char *p, size_t n);

#endif /* RING_H */
