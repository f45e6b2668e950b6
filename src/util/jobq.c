/*
 * jobq.c - jobs run in order on a second thread (see jobq.h).
 *
 * One mutex guards the ring of jobs and the counters.  The thread runs a
 * job with the mutex released; the entry it reads cannot be reused
 * meanwhile, since `count` drops only after the job is done.  Each side
 * signals the other only when the other is waiting (thread_waits,
 * caller_waits), so a queue that never empties costs no wake-ups.
 */
#include "util/jobq.h"

#include <string.h>

static void *jobq_main(void *arg)
{
    jobq *q = arg;
    c2s_error err;
    c2s_status st = C2S_OK;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->count == 0 && !q->closing) {
            q->thread_waits = 1;
            pthread_cond_wait(&q->work, &q->mu);
            q->thread_waits = 0;
        }
        if (q->count == 0)
            break; /* closing and drained */
        const void *job = q->jobs + q->head * q->job_size;
        pthread_mutex_unlock(&q->mu);
        int failed = st == C2S_OK && (st = q->run(q->ctx, job, &err)) != C2S_OK;
        pthread_mutex_lock(&q->mu);
        if (failed) {
            q->status = st;
            q->err = err;
        }
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->done++;
        if (q->caller_waits)
            pthread_cond_broadcast(&q->idle);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

void jobq_start(jobq *q, void *jobs, size_t job_size, size_t cap, jobq_run_fn run, void *ctx)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->idle, NULL);
    q->jobs = jobs;
    q->job_size = job_size;
    q->cap = cap;
    q->run = run;
    q->ctx = ctx;
    q->running = 1;
    q->status = C2S_OK;
    c2s_error_clear(&q->err);
    q->threaded = pthread_create(&q->thread, NULL, jobq_main, q) == 0;
}

/* Wait on the idle condition (mutex held). */
static void caller_wait(jobq *q)
{
    q->caller_waits = 1;
    pthread_cond_wait(&q->idle, &q->mu);
    q->caller_waits = 0;
}

uint64_t jobq_submit(jobq *q, const void *job)
{
    if (!q->threaded) {
        if (q->status == C2S_OK)
            q->status = q->run(q->ctx, job, &q->err);
        return ++q->submitted;
    }
    pthread_mutex_lock(&q->mu);
    while (q->count == q->cap)
        caller_wait(q);
    memcpy(q->jobs + (q->head + q->count) % q->cap * q->job_size, job, q->job_size);
    q->count++;
    uint64_t ticket = ++q->submitted;
    if (q->thread_waits)
        pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    return ticket;
}

c2s_status jobq_wait(jobq *q, uint64_t ticket)
{
    if (!q->threaded)
        return q->status;
    pthread_mutex_lock(&q->mu);
    while (q->done < ticket)
        caller_wait(q);
    c2s_status st = q->status; /* written by the thread before `done` moved */
    pthread_mutex_unlock(&q->mu);
    return st;
}

const c2s_error *jobq_error(const jobq *q)
{
    return &q->err;
}

void jobq_finish(jobq *q)
{
    if (!q->running)
        return;
    if (q->threaded) {
        pthread_mutex_lock(&q->mu);
        q->closing = 1;
        pthread_cond_signal(&q->work);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thread, NULL);
        q->threaded = 0;
    }
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->idle);
    q->running = 0;
}
