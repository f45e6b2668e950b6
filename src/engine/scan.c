/*
 * scan.c - judging a file without converting it: c2s_scan().
 *
 * The same stages as c2s_open (checkpoint.c): the input opened once, its
 * reader judging every pickle the loader would run; then the reader's
 * integrity pass over every record (CRCs, into the report's damage), then
 * the verdict (judge.c).  A safe file whose tensors cannot be mapped is
 * reported unreadable, with the reason; one that holds no tensors (a
 * pickle of {'epoch': 1}, a whole pickle that is no checkpoint) stays safe,
 * with the reason it would not convert in the report's error.  A format
 * with no pickle (safetensors) has nothing to map.
 *
 * A reader whose integrity pass can run beside the map (rd_ops
 * verify_beside_map: the zip reader) has it run on a thread of its own
 * while this one maps the tensors (on 200,000 tiny tensors each is tens of
 * ms).  The pass keeps its damage apart; after the join it is appended to
 * the report's, then the verdict is judged and the map used or dropped
 * exactly as in the sequential order, so the report is the same.
 */
#include "engine/checkpoint.h"
#include "reader/judge.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The integrity pass on its own thread: its damage, error and status. */
typedef struct verify_job {
    rd *rd;
    findings damage;
    c2s_error err;
    c2s_status st;
} verify_job;

static void *verify_main(void *arg)
{
    verify_job *j = arg;
    j->st = rd_verify_all(j->rd, &j->damage, &j->err);
    return NULL;
}

/* The map made beside the integrity pass, for the verdict to use or drop. */
typedef struct early_map {
    int made;
    c2s_status st;
    c2s_error err;
} early_map;

/* The integrity pass of ck's reader (its damage into the report), with the
 * tensor map made meanwhile into *early when the reader allows it. */
static c2s_status verify_and_map(c2s_checkpoint *ck, const c2s_open_options *opts, early_map *early,
                                 c2s_error *err)
{
    verify_job job = {&ck->rd, {0}, {0}, C2S_OK};
    c2s_error_clear(&job.err);
    pthread_t t;
    if (!ck->rd.ops->verify_beside_map || ck->top == NULL ||
        pthread_create(&t, NULL, verify_main, &job) != 0)
        return rd_verify_all(&ck->rd, &ck->report.damage, err);
    c2s_error_clear(&early->err);
    early->st = ckpt_map(ck, opts, &early->err);
    early->made = 1;
    pthread_join(t, NULL);
    for (size_t i = 0; i < job.damage.n; i++)
        findings_add(&ck->report.damage, "%s", job.damage.items[i]);
    findings_free(&job.damage);
    if (job.st != C2S_OK)
        *err = job.err;
    return job.st;
}

/* Judge path, or (path NULL) fd named name. */
static c2s_status scan_either(const char *path, int fd, const char *name,
                              const c2s_open_options *opts, c2s_report *rep)
{
    memset(rep, 0, sizeof *rep);
    c2s_checkpoint *ck = calloc(1, sizeof *ck);
    c2s_error err;
    c2s_error_clear(&err);
    if (ck == NULL) {
        rep->verdict = C2S_VERDICT_UNREADABLE;
        c2s_fail(&rep->error, C2S_ERR_INPUT, "out of memory");
        return C2S_ERR_INPUT;
    }
    ck->in.fd = -1;
    c2s_status st = path != NULL ? ckpt_inspect(ck, path, opts, &err)
                                 : ckpt_inspect_fd(ck, fd, name, opts, &err);
    early_map early = {0};
    if (st == C2S_OK)
        st = verify_and_map(ck, opts, &early, &err);
    st = judge_verdict(&ck->report, st, &err);
    if (st == C2S_ERR_INPUT && ck->report.verdict == C2S_VERDICT_UNREADABLE &&
        err.rule == C2S_RULE_NO_TENSORS) {
        /* a pickle read to its end that holds no checkpoint: judged on its globals */
        ck->report.verdict = C2S_VERDICT_SAFE;
        st = C2S_OK;
    } else if (st == C2S_OK && ck->top != NULL &&
               (st = early.made ? early.st : ckpt_map(ck, opts, &err)) != C2S_OK) {
        if (early.made)
            err = early.err;
        ck->report.error = err;
        if (err.rule == C2S_RULE_NO_TENSORS) /* safe, holds no tensors: nothing to convert */
            st = C2S_OK;
        else /* safe, but not a checkpoint we could convert */
            ck->report.verdict = C2S_VERDICT_UNREADABLE;
    }
    *rep = ck->report;
    memset(&ck->report, 0, sizeof ck->report);
    c2s_close(ck);
    return st;
}

c2s_status c2s_scan(const char *path, const c2s_open_options *opts, c2s_report *rep)
{
    return scan_either(path, -1, NULL, opts, rep);
}

c2s_status c2s_scan_fd(int fd, const char *name, const c2s_open_options *opts, c2s_report *rep)
{
    return scan_either(NULL, fd, name, opts, rep);
}

void c2s_report_free(c2s_report *rep)
{
    if (rep == NULL)
        return;
    for (size_t i = 0; i < rep->nglobals; i++) {
        free(rep->globals[i].module);
        free(rep->globals[i].name);
        free(rep->globals[i].pickle);
    }
    free(rep->globals);
    findings_free(&rep->findings);
    findings_free(&rep->damage);
    memset(rep, 0, sizeof *rep);
}
