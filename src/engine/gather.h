/*
 * gather.h - copying one tensor's bytes from its storage record into the
 * output ring (ring.h), whatever its view: contiguous, strided (transposed,
 * expanded, stepped, permuted), STORED or DEFLATE.
 *
 * What it is for.  convert.c opens each tensor's record (a gather_source)
 * and says whether its bytes go out as they are; gather_tensor() produces
 * the tensor's bytes in C order, with memory bounded by the ring's slots
 * and output buffer whatever the size or the strides of the tensor.
 *
 * How it works, per tensor:
 *  - C-contiguous, written as is: its bytes are read by the pipe straight
 *    into the ring, packed one after the other (small tensors share a
 *    slot): one pread and one write per block, no copy in between.
 *  - C-contiguous, swapped or converted: read into a read slot (the next
 *    chunk into another meanwhile), swapped there and converted straight
 *    into the ring (ring_put_elements).
 *  - strided: a gather, below; its memory is the slots.
 *  - a DEFLATE record (torch.save stores, so these are rare) is read on
 *    this thread through the reader's stream (which inflates again from the
 *    start when a read goes backwards).
 * Every range read from a STORED record goes through the CRC pipe, which
 * makes it a piece of that record's CRC (crcpipe.h); checking the records
 * at the end is convert.c's job.
 *
 * Gathers.  The view is simplified first: size-1 dimensions are dropped,
 * dimensions contiguous with each other merged, and the trailing
 * contiguous dimension taken as a run of `run` elements.  Runs of at least
 * LONG_RUN bytes are copied run by run like contiguous tensors.  Smaller
 * runs are gathered band by band: the dimensions before the band dimension
 * p are fixed, p takes `band` consecutive indices, and the band's source
 * bytes are read as segments: each combination of indices of the segment
 * dimensions (some of the dimensions from p on, those with the largest
 * strides) is one contiguous source range spanning the other dimensions.
 * A band's segments fit in half the read slots, so the next band is read
 * while this one is copied; among the possible (p, segment dimensions,
 * band) the plan reading the fewest bytes, counting PREAD_COST per read, is
 * chosen (plan_gather).  Segments adjacent in the source are read with one
 * pread.  For a transposed matrix, a band is a block of output rows and a
 * segment the needed part of one source row.  The band's runs are then
 * copied in output order: in tiles when the band is a (rows x segments)
 * matrix, as for a transpose (gather_rows: whole 16 x 16 tiles of 4-byte
 * runs with AVX2 where the CPU has it; rows going out as they are straight
 * into the ring), else by an odometer over the band's dimensions into the
 * output buffer (gather_any).
 *
 * Reading ahead.  A tensor read in one band (a transposed matrix that fits
 * half the read slots) would leave the pipe idle while it is copied, and
 * this thread idle while the next one is read.  So while the last band of
 * a gather is copied, the first band of the next tensor (when it is a
 * gather from a STORED record) is read into the other half.
 */
#ifndef GATHER_H
#define GATHER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/ring.h"
#include "torch/tmap.h"
#include "zip/crcpipe.h"
#include "reader/reader.h"

/* The storage record a tensor reads, opened by the caller. */
typedef struct gather_source {
    rd_stream s;
    int raw, fd; /* STORED: pread at base + offset */
    uint64_t base;
    crcpipe_record *rec; /* STORED: its CRC pieces */
} gather_source;

/* The ring, and the gathers' own memory: per half of the read slots, its
 * band's segments and the reads of them. */
typedef struct gatherer {
    ring *ring;
    const unsigned char **segp[2];
    crcpipe_range *reads[2];
    uint64_t band_ticket[2]; /* the last pipe job of the band */
    /* the first band of the next tensor, read ahead into half pre_h */
    const tmap_tensor *pre_t; /* NULL: none */
    int pre_h;
    size_t pre_nseg;
} gatherer;

/* The tensor copied after this one, and its opened record: a gather reads
 * its first band while the last band of this one is copied. */
typedef struct gather_next {
    gather_source *src;
    const tmap_tensor *t;
} gather_next;

/* Allocate gr's memory (fixed: it does not depend on the tensors) for
 * copies into r.  gather_free() in every case (it may be called again). */
c2s_status gather_alloc(gatherer *gr, ring *r, c2s_error *err);
void gather_free(gatherer *gr);

/* Append tensor t's bytes, read from src, to the ring: straight into it
 * when as_is, else through the output buffer (set up by the caller to
 * swap or convert them).  next (or NULL): the tensor the caller copies
 * next, with its record opened (and kept open until it is copied), whose
 * first band may be read ahead.  Errors in gr->ring->err, not yet naming t. */
c2s_status gather_tensor(gatherer *gr, gather_source *src, const tmap_tensor *t, int as_is,
                         const gather_next *next);

/* Read bytes [off, off + n) of the record (a gather_source) into buf on
 * this thread: a crcpipe_read_fn, for the gaps of crcpipe_record_check. */
c2s_status gather_read_gap(void *src, uint64_t off, void *buf, size_t n, c2s_error *err);

#endif /* GATHER_H */
