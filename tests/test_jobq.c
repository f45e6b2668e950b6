/*
 * test_jobq.c - jobs run in order on a second thread (src/util/jobq.h):
 * every job runs once, in submission order, on another thread; a full
 * queue makes submit wait instead of overwriting; tickets mean "this job
 * and every earlier one are done"; the first failure skips the jobs after
 * it and is what every later wait returns.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "util/jobq.h"

TestSuite(jobq);

#define NJOBS 1000
#define CAP 4

typedef struct job {
    uint32_t seq;
    int fail; /* 1: this job fails */
} job;

typedef struct record {
    uint32_t order[NJOBS]; /* seq of the k-th job run */
    size_t ran;
    pthread_t caller;
    int off_thread; /* every job ran on another thread */
} record;

static c2s_status run(void *ctx, const void *p, c2s_error *err)
{
    record *r = ctx;
    const job *j = p;
    if (r->ran < NJOBS)
        r->order[r->ran] = j->seq;
    r->ran++;
    r->off_thread &= !pthread_equal(pthread_self(), r->caller);
    if (j->fail)
        return c2s_fail(err, C2S_ERR_INPUT, "job %u failed", j->seq);
    if (j->seq % 97 == 0) { /* a slow job now and then: the queue fills */
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return C2S_OK;
}

Test(jobq, runs_every_job_once_in_order_on_its_thread)
{
    job jobs[CAP];
    record r = {.caller = pthread_self(), .off_thread = 1};
    jobq q;
    jobq_start(&q, jobs, sizeof *jobs, CAP, run, &r);
    cr_assert(q.threaded);
    for (uint32_t i = 0; i < NJOBS; i++) {
        uint64_t t = jobq_submit(&q, &(job){i, 0});
        cr_assert_eq(t, (uint64_t)i + 1, "tickets count the jobs");
        if (i % 100 == 50) { /* this job and all before it are done */
            cr_assert_eq(jobq_wait(&q, t), C2S_OK);
            cr_assert_geq(r.ran, (size_t)i + 1);
        }
    }
    cr_assert_eq(jobq_wait(&q, NJOBS), C2S_OK);
    cr_assert_eq(r.ran, (size_t)NJOBS);
    jobq_finish(&q);
    for (uint32_t i = 0; i < NJOBS; i++)
        cr_assert_eq(r.order[i], i, "job %u ran as %u", i, r.order[i]);
    cr_assert(r.off_thread, "jobs run on the queue's thread");
    jobq_finish(&q); /* twice: harmless */
}

Test(jobq, the_first_failure_skips_later_jobs_and_is_kept)
{
    job jobs[CAP];
    record r = {.caller = pthread_self(), .off_thread = 1};
    jobq q;
    jobq_start(&q, jobs, sizeof *jobs, CAP, run, &r);
    for (uint32_t i = 0; i < 10; i++)
        jobq_submit(&q, &(job){i, 0});
    cr_assert_eq(jobq_wait(&q, 10), C2S_OK);
    jobq_submit(&q, &(job){10, 1});
    for (uint32_t i = 11; i < 50; i++)
        jobq_submit(&q, &(job){i, i == 20});
    cr_assert_eq(jobq_wait(&q, 11), C2S_ERR_INPUT);
    cr_assert_str_eq(jobq_error(&q)->msg, "job 10 failed");
    cr_assert_eq(jobq_wait(&q, 50), C2S_ERR_INPUT);
    cr_assert_str_eq(jobq_error(&q)->msg, "job 10 failed", "the first failure stays");
    jobq_finish(&q);
    cr_assert_eq(r.ran, (size_t)11, "nothing ran after the failed job");
}

Test(jobq, finish_waits_for_queued_jobs)
{
    job jobs[CAP];
    record r = {.caller = pthread_self(), .off_thread = 1};
    jobq q;
    jobq_start(&q, jobs, sizeof *jobs, CAP, run, &r);
    for (uint32_t i = 0; i < 200; i++)
        jobq_submit(&q, &(job){i, 0});
    jobq_finish(&q);
    cr_assert_eq(r.ran, (size_t)200);
}

Test(jobq, a_zeroed_queue_never_started_finishes)
{
    jobq q;
    memset(&q, 0, sizeof q);
    jobq_finish(&q);
}
