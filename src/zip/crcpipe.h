/*
 * crcpipe.h - reads of STORED records and their CRC-32, on a second thread.
 *
 * The copy loop hands the pipe jobs: "read these ranges of this record into
 * these buffers" (or, with no descriptor, "these bytes are already here").
 * The pipe's thread preads each range and folds it into the record's CRC,
 * while the copy loop writes out earlier blocks: the copying thread does
 * the writes, the pipe's thread the reads and the CRC.
 *
 * CRC from pieces.  A record's bytes may be read in any order, in ranges of
 * any size, by any number of tensors (slices of one storage, tied weights,
 * strided views).  For each range the thread computes the CRC-32 of the
 * part not covered yet and keeps it as a piece (offset, length, CRC).  A
 * record's pieces are sorted and disjoint; a range that starts where a
 * piece ends extends it (crc32 simply continues), anything else becomes a
 * new piece.  Bytes read twice are CRC'd once.  When the copy is done,
 * crcpipe_record_check() walks the record from its first byte to its last:
 * pieces are joined with zlib's crc32_combine(), the gaps between them
 * (bytes no tensor read) are read through a callback and CRC'd on the spot,
 * and the result is compared with the archive's CRC.  So every byte of a
 * record is read once.
 *
 * Ownership: the buffers of a submitted job belong to the pipe until the
 * job is done: crcpipe_submit() returns a ticket, and crcpipe_wait(p, t)
 * returns once job t and every earlier job are done.  A record belongs to
 * the pipe's thread from its first submit until crcpipe_finish() returns;
 * only then may the caller check or free it.  The first failed read stops
 * the pipe: later jobs are skipped and crcpipe_wait returns the error
 * (message in crcpipe_error()).
 *
 * Batches.  A checkpoint of many tiny tensors has as many tiny records,
 * lying one after the other in the file, separated only by their local
 * headers.  A batch job (crcpipe_submit_batch) carries many parts, each a
 * range of its own record bound for its own buffer, sorted by file
 * offset: the thread reads each run of parts that follow each other in the
 * file (gaps of at most CRCPIPE_GAP_MAX bytes between them, read into a
 * scratch buffer and dropped) with one preadv, then folds every part into
 * its own record's pieces.  So a run of records costs one read and the
 * batch one hand-off, and every record's CRC is still its own.  A failed
 * or short preadv reads the run again part by part, so an error names the
 * record exactly as a single read would.
 *
 * Bounds: a ring of CRCPIPE_RING jobs; per record at most CRCPIPE_MAX_PIECES
 * pieces (beyond that adjacent pieces are merged, and when none are a new
 * range is not kept), and a new piece is not kept either when it would
 * move more than CRCPIPE_MAX_MOVE others (ranges arriving far out of
 * order): such bytes stay gaps, read again at check time.  So the work per
 * range stays small whatever the order of the reads.  Without a thread
 * (creation failed) every job runs inline in crcpipe_submit: same results,
 * no overlap.
 */
#ifndef CRCPIPE_H
#define CRCPIPE_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"
#include "util/jobq.h"

#define CRCPIPE_RING 256
#define CRCPIPE_MAX_PIECES 65536
#define CRCPIPE_MAX_MOVE 256
#define CRCPIPE_GAP_MAX 4096 /* bytes between two parts read with one preadv */
#define CRCPIPE_RUN_MAX 512  /* parts per preadv (with their gaps: < IOV_MAX iovecs) */

typedef struct crcpipe_piece {
    uint64_t off, len;
    uint32_t crc;
} crcpipe_piece;

typedef struct crcpipe_record {
    char *name; /* for messages: "<prefix>/data/<key>" (at most 299 bytes); NULL if
                   out of memory.  Allocated: a record per storage, 200,000 of them
                   for some checkpoints, and most names are short. */
    uint32_t expected;
    int recorded; /* 0: the archive holds no CRC to compare */
    uint64_t size;
    crcpipe_piece *pieces; /* sorted by offset, disjoint; &one or allocated */
    size_t npieces, cap;
    crcpipe_piece one; /* the first piece: most records need no other (no malloc);
                          so a record is not moved once it holds pieces */
    size_t refuse;     /* new pieces to refuse before compacting again */
} crcpipe_record;

/* Bytes [off, off + len) of a record, at data. */
typedef struct crcpipe_range {
    uint64_t off;
    unsigned char *data;
    size_t len;
} crcpipe_range;

/* One part of a batch: bytes [off, off + len) of record, which lie at
 * file_off in the file, read into data. */
typedef struct crcpipe_part {
    crcpipe_record *record;
    uint64_t off, file_off;
    unsigned char *data;
    size_t len;
} crcpipe_part;

typedef struct crcpipe_job {
    const crcpipe_part *parts; /* a batch (record unused), or NULL */
    size_t nparts;
    crcpipe_record *record;
    int fd; /* read from fd at base + off; -1: already read */
    uint64_t base;
    const crcpipe_range *ranges; /* NULL: the one range is `one` */
    size_t nranges;
    crcpipe_range one;
} crcpipe_job;

typedef struct crcpipe {
    jobq q;                             /* runs the jobs below on the pipe's thread */
    crcpipe_job ring[CRCPIPE_RING];     /* the queue's entries */
    unsigned char gap[CRCPIPE_GAP_MAX]; /* the thread's: bytes between parts, dropped */
} crcpipe;

/* Start the thread (or, failing that, run jobs inline). */
void crcpipe_start(crcpipe *p);

/* A record of size bytes with no pieces yet. */
void crcpipe_record_init(crcpipe_record *r, const char *name, uint32_t expected, int recorded,
                         uint64_t size);

/* Free the pieces and the name (the record may be initialised again);
 * zeroed memory and a record never initialised are fine. */
void crcpipe_record_free(crcpipe_record *r);

/* Queue a job: read nranges ranges of record r (offsets checked by the
 * caller against its size) from fd at base + off into their buffers, or
 * with fd -1 take them as already read; then fold them into r's CRC when r
 * has a recorded CRC.  With nranges == 1 the range is copied; with more the
 * array must stay valid until the job is done.  Waits while the ring is
 * full.  Returns the job's ticket. */
uint64_t crcpipe_submit(crcpipe *p, crcpipe_record *r, int fd, uint64_t base,
                        const crcpipe_range *ranges, size_t nranges);

/* Queue a batch: nparts parts (at least one, sorted by file_off), read
 * from fd and each folded into its own record's CRC when it has one (see
 * Batches above).  The array and the records' buffers belong to the pipe
 * until the job is done.  Returns the job's ticket. */
uint64_t crcpipe_submit_batch(crcpipe *p, int fd, const crcpipe_part *parts, size_t nparts);

/* Return once job `ticket` and every earlier one are done (0: none); the
 * pipe's status (a failed read: C2S_ERR_INPUT, message in crcpipe_error()). */
c2s_status crcpipe_wait(crcpipe *p, uint64_t ticket);

/* The failed read's message. */
const c2s_error *crcpipe_error(const crcpipe *p);

/* Wait for every job and stop the thread.  Safe to call twice, and on a
 * pipe that was never started if it was zeroed. */
void crcpipe_finish(crcpipe *p);

/* Fold bytes [off, off + len) of r, held at data, into its pieces, on the
 * calling thread (only when no job for r is pending). */
void crcpipe_record_add(crcpipe_record *r, uint64_t off, const void *data, size_t len);

/* Reads n bytes at off of the record into buf. */
typedef c2s_status (*crcpipe_read_fn)(void *ctx, uint64_t off, void *buf, size_t n, c2s_error *err);

/* Bytes of r not covered by its pieces. */
uint64_t crcpipe_record_missing(const crcpipe_record *r);

/* The record's CRC from its pieces, the gaps read with read() through
 * scratch (cap bytes), compared with the archive's: C2S_ERR_INPUT, rule
 * C2S_RULE_CORRUPT, and
 * "<name>: CRC-32 mismatch (archive says %08x, data gives %08x): the file
 * was altered or damaged" when they differ.  No-op when nothing is
 * recorded.  Call after crcpipe_finish(). */
c2s_status crcpipe_record_check(const crcpipe_record *r, crcpipe_read_fn read, void *ctx,
                                unsigned char *scratch, size_t cap, c2s_error *err);

#endif /* CRCPIPE_H */
