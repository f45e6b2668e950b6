/*
 * crcpipe.h - CRC-32 of copied bytes, computed on a second thread.
 *
 * The copy loop reads a block of a storage record into a slot, submits the
 * slot, and writes it out; meanwhile the pipe's thread folds the same slot
 * into that record's running CRC (both only read the slot).  A slot is
 * handed out again only once its CRC is done, so the bytes are read from
 * the file once and CRC work overlaps the copy.  Blocks of one record must
 * be submitted in order, from its first byte to its last; the last block
 * closes the record and its CRC is compared with the archive's.
 *
 * Memory: nslots * slot_size, fixed at start.  Without a thread (creation
 * failed) the pipe computes each CRC inline in crcpipe_submit: same
 * results, no overlap.
 */
#ifndef CRCPIPE_H
#define CRCPIPE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "c2s_error.h"

typedef struct crcpipe_record {
    char name[300];         /* for messages */
    uint32_t expected;
    int recorded;           /* 0: the archive holds no CRC to compare */
    uint32_t crc;           /* running, owned by the pipe's thread */
} crcpipe_record;

typedef struct crcpipe_job {
    size_t len;
    crcpipe_record *record;
    int last;
} crcpipe_job;

typedef struct crcpipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char **slots;
    crcpipe_job *jobs;
    unsigned char *busy;    /* submitted, CRC not yet done */
    size_t nslots, slot_size, next, head;
    int closing, threaded;
    pthread_t thread;
    c2s_status status;      /* first mismatch (C2S_ERR_REFUSED) */
    c2s_error err;
} crcpipe;

/* 0 on success; C2S_ERR_INPUT when the slots cannot be allocated. */
c2s_status crcpipe_start(crcpipe *p, size_t nslots, size_t slot_size, c2s_error *err);

/* Start a record's running CRC. */
void crcpipe_record_init(crcpipe_record *r, const char *name, uint32_t expected, int recorded);

/* The next free slot (waits for the thread when all are busy). */
unsigned char *crcpipe_acquire(crcpipe *p);

/* Hand the slot returned by the last acquire, holding len bytes of record. */
void crcpipe_submit(crcpipe *p, size_t len, crcpipe_record *record, int last);

/* Wait for every submitted block and stop the thread; returns the status
 * (a CRC mismatch: C2S_ERR_REFUSED, message in p->err).  Frees the slots. */
c2s_status crcpipe_finish(crcpipe *p);

#endif /* CRCPIPE_H */
