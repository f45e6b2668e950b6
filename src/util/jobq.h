/*
 * jobq.h - jobs run in order on a second thread, with tickets.
 *
 * What it is for.  The writer hands slow, ordered work to a helper thread
 * and goes on with its own: the CRC pipe's reads (zip/crcpipe.h) and the
 * output ring's writes (engine/ring.h) each run on a queue of their own.
 *
 * How it works.  The caller owns an array of cap jobs of job_size bytes;
 * jobq_submit() copies a job into the next free entry (waiting while all
 * are in use) and returns its ticket, 1, 2, 3, ...; the thread takes the
 * jobs in order and calls run(ctx, job, err) for each.  jobq_wait(q, t)
 * returns once job t and every earlier job are done.  Whatever a job
 * points to belongs to the queue until its ticket is done.
 *
 * The first job that fails stops the queue: the jobs after it are skipped,
 * and jobq_wait() returns its status from then on, its message in
 * jobq_error().  Without a thread (pthread_create failed) every job runs
 * inline in jobq_submit(): the same results, no overlap.
 *
 * Only one thread submits and waits; the run function is called on the
 * queue's thread only.
 */
#ifndef UTIL_JOBQ_H
#define UTIL_JOBQ_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"

typedef c2s_status (*jobq_run_fn)(void *ctx, const void *job, c2s_error *err);

typedef struct jobq {
    pthread_mutex_t mu;
    pthread_cond_t work; /* the thread waits here for jobs */
    pthread_cond_t idle; /* the caller waits here for tickets and room */
    unsigned char *jobs; /* the caller's: cap entries of job_size bytes */
    size_t job_size, cap, head, count;
    uint64_t submitted, done;
    int closing, threaded, running, thread_waits, caller_waits;
    pthread_t thread;
    jobq_run_fn run;
    void *ctx;
    c2s_status status; /* of the first failed job */
    c2s_error err;
} jobq;

/* Start the thread (or, failing that, run jobs inline).  jobs holds cap
 * entries of job_size bytes and stays valid until jobq_finish(). */
void jobq_start(jobq *q, void *jobs, size_t job_size, size_t cap, jobq_run_fn run, void *ctx);

/* Queue a copy of job (job_size bytes); returns its ticket. */
uint64_t jobq_submit(jobq *q, const void *job);

/* Return once job `ticket` and every earlier one are done (0: none); the
 * queue's status (a failed job's, message in jobq_error()). */
c2s_status jobq_wait(jobq *q, uint64_t ticket);

/* The failed job's message (valid once jobq_wait returned its status). */
const c2s_error *jobq_error(const jobq *q);

/* Wait for every job and stop the thread.  Safe to call twice, and on a
 * queue that was never started if it was zeroed. */
void jobq_finish(jobq *q);

#endif /* UTIL_JOBQ_H */
