/*
 * crcpipe.c - CRC-32 of copied bytes on a second thread (see crcpipe.h).
 *
 * A ring of slots guarded by one mutex: the copy loop fills slot `next`
 * after it is no longer busy; the thread takes slot `head` once busy, folds
 * it into its record's CRC, clears busy and wakes the copy loop.
 */
#include "crcpipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h> /* crc32 */

static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n > 0) { /* zlib takes unsigned int lengths */
        size_t part = n > (1u << 30) ? (1u << 30) : n;
        crc = (uint32_t)crc32(crc, p, (uInt)part);
        p += part;
        n -= part;
    }
    return crc;
}

/* Fold one block; on the last block of a record, compare. */
static void process(crcpipe *p, const unsigned char *data, const crcpipe_job *job)
{
    crcpipe_record *r = job->record;
    r->crc = crc_update(r->crc, data, job->len);
    if (job->last && r->recorded && r->crc != r->expected && p->status == C2S_OK)
        p->status = c2s_fail(&p->err, C2S_ERR_REFUSED,
                             "%s: CRC-32 mismatch (archive says %08x, data gives %08x): "
                             "the file was altered or damaged",
                             r->name, r->expected, r->crc);
}

static void *crcpipe_main(void *arg)
{
    crcpipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->busy[p->head] && !p->closing)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->busy[p->head])
            break; /* closing and drained */
        size_t h = p->head;
        pthread_mutex_unlock(&p->mu);
        process(p, p->slots[h], &p->jobs[h]);
        pthread_mutex_lock(&p->mu);
        p->busy[h] = 0;
        p->head = (h + 1) % p->nslots;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void crcpipe_record_init(crcpipe_record *r, const char *name, uint32_t expected, int recorded)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    r->expected = expected;
    r->recorded = recorded;
    r->crc = (uint32_t)crc32(0L, Z_NULL, 0);
}

static void free_slots(crcpipe *p)
{
    for (size_t i = 0; p->slots != NULL && i < p->nslots; i++)
        free(p->slots[i]);
    free(p->slots);
    free(p->jobs);
    free(p->busy);
    p->slots = NULL;
    p->jobs = NULL;
    p->busy = NULL;
}

c2s_status crcpipe_start(crcpipe *p, size_t nslots, size_t slot_size, c2s_error *err)
{
    memset(p, 0, sizeof *p);
    p->nslots = nslots;
    p->slot_size = slot_size;
    p->status = C2S_OK;
    p->slots = calloc(nslots, sizeof *p->slots);
    p->jobs = calloc(nslots, sizeof *p->jobs);
    p->busy = calloc(nslots, 1);
    int ok = p->slots && p->jobs && p->busy;
    for (size_t i = 0; ok && i < nslots; i++)
        ok = (p->slots[i] = malloc(slot_size)) != NULL;
    if (!ok) {
        free_slots(p);
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threaded = pthread_create(&p->thread, NULL, crcpipe_main, p) == 0;
    return C2S_OK;
}

unsigned char *crcpipe_acquire(crcpipe *p)
{
    if (!p->threaded)
        return p->slots[0];
    pthread_mutex_lock(&p->mu);
    while (p->busy[p->next])
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return p->slots[p->next];
}

void crcpipe_submit(crcpipe *p, size_t len, crcpipe_record *record, int last)
{
    crcpipe_job job = {len, record, last};
    if (!p->threaded) {
        process(p, p->slots[0], &job);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->jobs[p->next] = job;
    p->busy[p->next] = 1;
    p->next = (p->next + 1) % p->nslots;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

c2s_status crcpipe_finish(crcpipe *p)
{
    if (p->slots == NULL)
        return p->status;
    if (p->threaded) {
        pthread_mutex_lock(&p->mu);
        p->closing = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
        p->threaded = 0;
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free_slots(p);
    return p->status;
}
