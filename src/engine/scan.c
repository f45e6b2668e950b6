/*
 * scan.c - judging a file without converting it: c2s_scan().
 *
 * The same stages as c2s_open (checkpoint.c): the input opened once, its
 * reader judging every pickle the loader would run; then the reader's
 * integrity pass over every record (CRCs), then the verdict (judge.c).  A
 * safe file whose tensors cannot be mapped is reported unreadable, with
 * the reason.
 */
#include "engine/checkpoint.h"
#include "reader/judge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

c2s_status c2s_scan(const char *path, const c2s_open_options *opts, c2s_report *rep)
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
    c2s_status st = ckpt_inspect(ck, path, opts, &err);
    if (st == C2S_OK)
        st = rd_verify_all(&ck->rd, &ck->report.findings, &err);
    st = judge_verdict(&ck->report, st, &err);
    if (st == C2S_OK && (st = ckpt_map(ck, opts, &err)) != C2S_OK) {
        /* safe, but not a checkpoint we could convert */
        ck->report.verdict = C2S_VERDICT_UNREADABLE;
        ck->report.error = err;
    }
    *rep = ck->report;
    memset(&ck->report, 0, sizeof ck->report);
    c2s_close(ck);
    return st;
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
    memset(rep, 0, sizeof *rep);
}
