/*
 * judge.c - collecting globals into the report, and the verdict (see
 * judge.h).  The refusal message lists the first few offenders; the
 * error's rule, subject and count let the front end add how to see them
 * all and how to accept unknown ones.
 */
#include "reader/judge.h"
#include "torch/torchtab.h"
#include "util/findings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFUSAL_ITEMS 4

/* ---- collecting globals -------------------------------------------------------- */

/* The torch table as the policy's classifier, for a global used as uses:
 * a torch.nn.Module class is known only when the pickle instantiates it
 * the way torch.save does (NEWOBJ, then BUILD); called with arguments
 * (REDUCE, INST, OBJ) it would run the class's __init__, so it is judged
 * like any name the table does not know. */
static policy_known_fn classifier_for(const char *module, const char *name, unsigned uses)
{
    const torch_global *g = torchtab_find(module, name);
    if (g != NULL && g->role == TORCH_MODULE &&
        (uses & (PVM_USE_REDUCE | PVM_USE_INST | PVM_USE_OBJ)) != 0)
        return NULL;
    return torchtab_allowed;
}

int judge_add_globals(c2s_report *r, const pvm *vm, const char *where, uint64_t base,
                      const policy_options *policy)
{
    size_t n = pvm_global_count(vm);
    if (n == 0)
        return 1;
    c2s_global_use *g = realloc(r->globals, (r->nglobals + n) * sizeof *g);
    if (g == NULL)
        return 0;
    r->globals = g;
    for (size_t i = 0; i < n; i++) {
        const pvm_global *pg = pvm_global_at(vm, i);
        c2s_global_use *u = &r->globals[r->nglobals];
        u->module = strdup(pg->module);
        u->name = strdup(pg->name);
        u->pickle = strdup(where);
        u->cls = policy_classify(pg->module, pg->name,
                                 classifier_for(pg->module, pg->name, pg->uses), policy);
        u->uses = pg->uses;
        u->offset = base + pg->first_offset;
        r->nglobals++;
        if (u->module == NULL || u->name == NULL || u->pickle == NULL)
            return 0;
    }
    return 1;
}

const char *c2s_uses_text(unsigned uses, char *buf, size_t cap)
{
    static const struct { unsigned bit; const char *name; } NAMES[] = {
        {PVM_USE_REDUCE, "REDUCE"}, {PVM_USE_NEWOBJ, "NEWOBJ"}, {PVM_USE_INST, "INST"},
        {PVM_USE_OBJ, "OBJ"}, {PVM_USE_BUILD, "BUILD"},
    };
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if ((uses & NAMES[i].bit) && at < cap)
            at += (size_t)snprintf(buf + at, cap - at, "%s%s", at ? "," : "", NAMES[i].name);
    if (at == 0)
        snprintf(buf, cap, "referenced");
    return buf;
}

/* ---- the verdict ---------------------------------------------------------------- */

static size_t count_refused(const c2s_report *r, c2s_global_class cls, const c2s_global_use **one)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nglobals; i++)
        if (r->globals[i].cls == cls) {
            *one = &r->globals[i];
            n++;
        }
    return n;
}

/* "refused by the safety policy: <item>; <item>; ... and N more".  The
 * error's subject names the one unknown global ("*" for several) so that a
 * front end can say how to accept it; more counts the items left out. */
static c2s_status refusal(const c2s_report *r, c2s_error *err)
{
    char msg[C2S_ERROR_MSG_MAX];
    size_t at = (size_t)snprintf(msg, sizeof msg, "refused by the safety policy: ");
    size_t items = 0, total = r->findings.n;
    for (size_t i = 0; i < r->nglobals; i++) {
        const c2s_global_use *g = &r->globals[i];
        if (!policy_refuses(g->cls))
            continue;
        if (items++ < REFUSAL_ITEMS && at < sizeof msg) {
            char uses[64];
            at += (size_t)snprintf(msg + at, sizeof msg - at, "%s%s global %s.%s (%s) in %s at offset %llu",
                                   items > 1 ? "; " : "", c2s_global_class_name(g->cls), g->module,
                                   g->name, c2s_uses_text(g->uses, uses, sizeof uses), g->pickle,
                                   (unsigned long long)g->offset);
        }
    }
    total += items;
    for (size_t i = 0; i < r->findings.n; i++)
        if (items++ < REFUSAL_ITEMS && at < sizeof msg)
            at += (size_t)snprintf(msg + at, sizeof msg - at, "%s%s", items > 1 ? "; " : "",
                                   r->findings.items[i]);
    size_t more = total > REFUSAL_ITEMS ? total - REFUSAL_ITEMS : 0;
    if (more > 0 && at < sizeof msg)
        snprintf(msg + at, sizeof msg - at, "; and %zu more", more);
    c2s_fail_rule(err, C2S_ERR_REFUSED, C2S_RULE_POLICY, "%s", msg);
    err->more = more;
    const c2s_global_use *one = NULL;
    size_t unknown = count_refused(r, C2S_GLOBAL_UNKNOWN, &one);
    if (unknown == 1)
        snprintf(err->subject, sizeof err->subject, "%s.%s", one->module, one->name);
    else if (unknown > 1)
        snprintf(err->subject, sizeof err->subject, "*");
    return C2S_ERR_REFUSED;
}

c2s_status judge_verdict(c2s_report *r, c2s_status read_status, c2s_error *err)
{
    if (read_status == C2S_ERR_REFUSED) /* a CRC mismatch while reading */
        findings_add(&r->findings, "%s", err->msg);
    else if (read_status != C2S_OK)
        r->error = *err;
    int unsafe = r->findings.n > 0;
    for (size_t i = 0; i < r->nglobals && !unsafe; i++)
        unsafe = policy_refuses(r->globals[i].cls);
    if (unsafe) {
        r->verdict = C2S_VERDICT_UNSAFE;
        return refusal(r, err);
    }
    r->verdict = read_status == C2S_OK ? C2S_VERDICT_SAFE : C2S_VERDICT_UNREADABLE;
    return read_status;
}

