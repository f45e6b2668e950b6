/*
 * tool_run.c - the conversion run and its worker threads (see tool_run.h).
 */
#include "tool_run.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool_batch.h"
#include "tool_convert.h"
#include "tool_hf.h"
#include "tool_msgs.h"
#include "tool_others.h"
#include "tool_progress.h"
#include "tool_report.h"
#include "tool_shard.h"
#include "tool_summary.h"

typedef struct run_state {
    const tool_config *cfg;
    const volatile sig_atomic_t *cancel;
    const tool_batch *batch;
    tool_outcome *results;
    tool_console con;
    tool_progress progress;
    pthread_mutex_t lock; /* guards next, summary, stdout_failed */
    size_t next;
    size_t workers; /* conversions running at once */
    tool_summary summary;
    int stdout_failed;
} run_state;

typedef struct worker {
    run_state *rs;
    tool_progress_slot *slot; /* NULL: no progress bar */
    pthread_t thread;
} worker;

/* Print what became of one file (o NULL: only its messages). */
static void record(void *ctx, const char *input, const char *output, const tool_outcome *o,
                   tool_msgbuf *mb)
{
    run_state *rs = ctx;
    tool_console_flush(&rs->con, mb);
    if (o == NULL)
        return;
    int bad = rs->cfg->json && tool_report_json(&rs->con, input, output, o) != 0;
    pthread_mutex_lock(&rs->lock);
    tool_summary_add(&rs->summary, input, o);
    rs->stdout_failed |= bad;
    pthread_mutex_unlock(&rs->lock);
}

/* The next job to do, or SIZE_MAX when done or interrupted. */
static size_t take(run_state *rs)
{
    pthread_mutex_lock(&rs->lock);
    size_t i = SIZE_MAX;
    if (!tool_cancelled(rs->cancel) && rs->next < rs->batch->njobs)
        i = rs->next++;
    pthread_mutex_unlock(&rs->lock);
    return i;
}

static void *work(void *arg)
{
    worker *w = arg;
    run_state *rs = w->rs;
    tool_msgbuf mb = {.color = rs->cfg->color_stderr};
    for (size_t i; (i = take(rs)) != SIZE_MAX;) {
        const tool_job *job = &rs->batch->jobs[i];
        if (w->slot)
            tool_progress_start(w->slot, job->input, job->in_size);
        tool_convert_one(rs->cfg, job, rs->cancel, w->slot, (unsigned)rs->workers, &mb,
                         &rs->results[i]);
        if (w->slot)
            tool_progress_finish(w->slot);
        tool_status st = rs->results[i].status;
        if (tool_cancelled(rs->cancel) && st != TOOL_CONVERTED && st != TOOL_SKIPPED)
            break; /* its error is "interrupted": say nothing */
        char *index = rs->results[i].sharded ? tool_shard_index_name(job->output) : NULL;
        record(rs, job->input, index ? index : job->output, &rs->results[i], &mb);
        free(index);
    }
    tool_msgbuf_free(&mb);
    return NULL;
}

static size_t worker_count(const tool_config *cfg, size_t njobs)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = cfg->jobs ? cfg->jobs : cpus > 0 ? (size_t)cpus : 1;
    return n < njobs ? n : njobs ? njobs : 1;
}

/* Run the jobs on n workers; the calling thread is the first of them. */
static void run_workers(run_state *rs, size_t n)
{
    worker *w = calloc(n, sizeof *w);
    if (w == NULL) {
        worker one = {rs, rs->progress.enabled ? &rs->progress.slots[0] : NULL, 0};
        work(&one);
        return;
    }
    size_t started = 1;
    for (size_t i = 0; i < n; i++) {
        w[i].rs = rs;
        w[i].slot = rs->progress.enabled ? &rs->progress.slots[i] : NULL;
    }
    for (size_t i = 1; i < n && pthread_create(&w[i].thread, NULL, work, &w[i]) == 0; i++)
        started++;
    work(&w[0]);
    for (size_t i = 1; i < started; i++)
        pthread_join(w[i].thread, NULL);
    free(w);
}

static int run_batch(run_state *rs, const struct timespec *t0)
{
    const tool_config *cfg = rs->cfg;
    const tool_batch *b = rs->batch;
    size_t n = worker_count(cfg, b->njobs);
    uint64_t total_in = 0;
    for (size_t i = 0; i < b->njobs; i++)
        total_in += b->jobs[i].in_size;
    int bar = !cfg->quiet && isatty(STDERR_FILENO);
    if (tool_progress_init(&rs->progress, &rs->con, bar, cfg->verify, n, b->njobs, total_in) != 0) {
        tool_error(NULL, NULL, "out of memory");
        return C2S_ERR_INPUT;
    }
    rs->workers = n;
    run_workers(rs, n);
    if (!tool_cancelled(rs->cancel) && !cfg->dry_run) /* --dry-run: indexes not previewed */
        tool_hf_rewrite_indexes(cfg, b, rs->results, record, rs);
    if (!tool_cancelled(rs->cancel))
        tool_copy_others(cfg, b, rs->cancel, record, rs);
    tool_progress_end(&rs->progress);
    tool_progress_destroy(&rs->progress);
    if (tool_cancelled(rs->cancel))
        return C2S_ERR_INPUT; /* the caller dies of the signal */
    if (tool_is_batch(cfg)) {
        double secs = tool_seconds_since(t0);
        tool_summary_print(cfg, &rs->summary, secs);
        if (cfg->json && tool_summary_json(&rs->con, &rs->summary, cfg->dry_run, secs) != 0)
            rs->stdout_failed = 1;
    }
    int rc = tool_tally_exit_code(&rs->summary.tally);
    if (rs->stdout_failed) {
        tool_error(NULL, NULL, "cannot write the --json lines to standard output");
        if (rc == C2S_OK)
            rc = C2S_ERR_INPUT;
    }
    return rc;
}

int tool_run(const tool_config *cfg, const volatile sig_atomic_t *cancel)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tool_batch b;
    c2s_error err;
    char why[TOOL_ERROR_TEXT_MAX];
    c2s_error_clear(&err);
    c2s_status st = tool_batch_plan(cfg, &b, &err);
    if (st != C2S_OK) {
        tool_error(NULL, NULL, "%s", tool_error_text(&err, why, sizeof why));
        tool_batch_free(&b);
        return st;
    }
    int nothing = tool_batch_warn(cfg, &b);
    run_state rs = {.cfg = cfg, .cancel = cancel, .batch = &b};
    rs.results = calloc(b.njobs ? b.njobs : 1, sizeof *rs.results);
    int rc = C2S_ERR_INPUT;
    if (rs.results == NULL) {
        tool_error(NULL, NULL, "out of memory");
    } else {
        tool_console_init(&rs.con);
        pthread_mutex_init(&rs.lock, NULL);
        rc = run_batch(&rs, &t0);
        tool_summary_free(&rs.summary);
        pthread_mutex_destroy(&rs.lock);
        tool_console_destroy(&rs.con);
    }
    free(rs.results);
    tool_batch_free(&b);
    return rc == C2S_OK && nothing ? C2S_ERR_INPUT : rc;
}
