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
 */
#include "engine/checkpoint.h"
#include "reader/judge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (st == C2S_OK)
        st = rd_verify_all(&ck->rd, &ck->report.damage, &err);
    st = judge_verdict(&ck->report, st, &err);
    if (st == C2S_ERR_INPUT && ck->report.verdict == C2S_VERDICT_UNREADABLE &&
        err.rule == C2S_RULE_NO_TENSORS) {
        /* a pickle read to its end that holds no checkpoint: judged on its globals */
        ck->report.verdict = C2S_VERDICT_SAFE;
        st = C2S_OK;
    } else if (st == C2S_OK && ck->top != NULL && (st = ckpt_map(ck, opts, &err)) != C2S_OK) {
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
