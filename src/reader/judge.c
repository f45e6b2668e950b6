/*
 * judge.c - collecting globals into the report, and the verdict (see
 * judge.h).  The refusal message lists the first few offenders; the
 * error's rule, subject and count let the front end add how to see them
 * all and how to accept unknown ones.
 */
#include "reader/judge.h"
#include "torch/torchtab.h"
#include "pickle/sweep.h"
#include "util/utf8.h"
#include "util/findings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFUSAL_ITEMS 4

/* ---- collecting globals -------------------------------------------------------- */

/* The uses that make a torch table row unknown: torch.save never calls a
 * class, and calling one runs its constructor.  A torch.nn.Module class is
 * known when the pickle instantiates it the way torch.save does (NEWOBJ,
 * then BUILD); called with arguments (REDUCE, INST, OBJ) it would run its
 * __init__.  torch.Tensor and the storage classes are known only when
 * named: Tensor.__new__'s legacy Tensor(cdata=...) wraps any address as a
 * TensorImpl and UntypedStorage(n, allocator=...) uses one as an
 * allocator, both crashing torch.load at an address the file chose.
 * Parameter may be NEWOBJ'd (as a from_type call's new_type is, which the
 * machine marks NEWOBJ | BUILD), not called. */
static unsigned refused_uses(const torch_global *g)
{
    const unsigned call = PVM_USE_REDUCE | PVM_USE_INST | PVM_USE_OBJ;
    if (g == NULL)
        return 0;
    if (g->role == TORCH_STORAGE ||
        (strcmp(g->module, "torch") == 0 && strcmp(g->name, "Tensor") == 0))
        return call | PVM_USE_NEWOBJ;
    if (g->role == TORCH_MODULE ||
        (strcmp(g->module, "torch.nn.parameter") == 0 && strcmp(g->name, "Parameter") == 0))
        return call;
    return 0;
}

/* The torch table as the policy's classifier, for a global used as uses:
 * none for a use refused_uses names, so that the global is judged like
 * any name the table does not know. */
static policy_known_fn classifier_for(const char *module, const char *name, unsigned uses)
{
    return (uses & refused_uses(torchtab_find(module, name))) != 0 ? NULL : torchtab_allowed;
}

/* The class of a global used as uses says: the policy's, except that an
 * unknown global that is only named and is a builtin container counts as
 * data (policy_inert_reference).  A global found by the sweep is never
 * inert: how it was used is not known. */
static c2s_global_class classify(const char *module, const char *name, unsigned uses,
                                 const policy_options *policy)
{
    c2s_global_class cls = policy_classify(module, name, classifier_for(module, name, uses),
                                           policy);
    if (cls == C2S_GLOBAL_UNKNOWN && uses == C2S_USE_REF && policy_inert_reference(module, name))
        return C2S_GLOBAL_DATA;
    return cls;
}

static int add_global(c2s_report *r, const char *module, const char *name, const char *where,
                      unsigned uses, uint64_t offset, const policy_options *policy)
{
    c2s_global_use *g = realloc(r->globals, (r->nglobals + 1) * sizeof *g);
    if (g == NULL)
        return 0;
    r->globals = g;
    c2s_global_use *u = &r->globals[r->nglobals++];
    u->module = strdup(module);
    u->name = strdup(name);
    u->pickle = strdup(where);
    u->cls = classify(module, name, uses, policy);
    u->uses = uses;
    u->offset = offset;
    return u->module != NULL && u->name != NULL && u->pickle != NULL;
}

/* The machine's hazards (pvm.h: what CPython would call or set beyond the
 * calls of globals) as findings: each one refuses the file, whatever the
 * policy says of the globals involved. */
static int add_hazards(c2s_report *r, const pvm *vm, const char *where, uint64_t base)
{
    size_t n = pvm_hazard_count(vm), kept = n < PVM_HAZARDS_KEPT ? n : PVM_HAZARDS_KEPT;
    const char *at = base != 0 ? " (offset in the pickle)" : "";
    for (size_t i = 0; i < kept; i++)
        if (!findings_add(&r->findings, "%s: %s%s", where, pvm_hazard_at(vm, i), at))
            return 0;
    return n == kept || findings_add(&r->findings, "%s: %zu more such hazards", where, n - kept);
}

int judge_add_globals(c2s_report *r, const pvm *vm, const char *where, uint64_t base,
                      const policy_options *policy)
{
    size_t n = pvm_global_count(vm);
    for (size_t i = 0; i < n; i++) {
        const pvm_global *pg = pvm_global_at(vm, i);
        if (!add_global(r, pg->module, pg->name, where, pg->uses, base + pg->first_offset, policy))
            return 0;
    }
    return add_hazards(r, vm, where, base);
}

/* The globals of one pickle already in the report, by (module, name): an
 * open-addressing set of indices into r->globals, so that a sweep listing
 * many globals costs time in proportion to them, not to their square. */
typedef struct seen_set {
    size_t *slot; /* index + 1; 0 is empty */
    size_t cap;   /* a power of two, more than twice the entries */
} seen_set;

static size_t name_hash(const char *module, const char *name)
{
    size_t h = 1469598103934665603ull;
    for (const char *p = module; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ '.') * 1099511628211ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

/* The slot of module.name: where it is, or the empty one it would take. */
static size_t *seen_slot(const seen_set *s, const c2s_report *r, const char *module,
                         const char *name)
{
    size_t i = name_hash(module, name) & (s->cap - 1);
    while (s->slot[i] != 0) {
        const c2s_global_use *g = &r->globals[s->slot[i] - 1];
        if (strcmp(g->module, module) == 0 && strcmp(g->name, name) == 0)
            break;
        i = (i + 1) & (s->cap - 1);
    }
    return &s->slot[i];
}

static int seen_init(seen_set *s, const c2s_report *r, const char *where, size_t more)
{
    s->cap = 16;
    while (s->cap < 2 * (r->nglobals + more) + 1)
        s->cap *= 2;
    if ((s->slot = calloc(s->cap, sizeof *s->slot)) == NULL)
        return 0;
    for (size_t i = 0; i < r->nglobals; i++)
        if (strcmp(r->globals[i].pickle, where) == 0) {
            size_t *slot = seen_slot(s, r, r->globals[i].module, r->globals[i].name);
            if (*slot == 0)
                *slot = i + 1;
        }
    return 1;
}

/* 1 when Python's unpickler could not even decode the names of g (not
 * UTF-8, or a NUL in them): it fails before it imports anything. */
static int undecodable(const sweep_global *g)
{
    return (g->module != NULL && (utf8_valid_prefix(g->module, g->module_len) != g->module_len ||
                                  memchr(g->module, '\0', g->module_len) != NULL)) ||
           (g->name != NULL && (utf8_valid_prefix(g->name, g->name_len) != g->name_len ||
                                memchr(g->name, '\0', g->name_len) != NULL));
}

/* module and name of one swept global as Python 3 names them, NUL-terminated
 * ("?" when the sweep could not tell). */
static int swept_names(const sweep_global *g, char **module, char **name)
{
    const uint8_t *m = g->module, *n = g->name;
    size_t ml = g->module_len, nl = g->name_len;
    if (m != NULL && n != NULL && g->proto < 3)
        pvm_map_python2(&m, &ml, &n, &nl);
    *module = m != NULL ? strndup((const char *)m, ml) : strdup("?");
    *name = n != NULL ? strndup((const char *)n, nl) : strdup("?");
    return *module != NULL && *name != NULL;
}

c2s_status judge_sweep(c2s_report *r, const uint8_t *data, size_t len, size_t start, int past_stop,
                       const char *where, uint64_t base, const policy_options *policy,
                       c2s_error *err)
{
    sweep_options so = {.past_stop = past_stop, .max_globals = 0};
    sweep_report sr = {0};
    seen_set seen = {0};
    c2s_status st = sweep_pickle(data, len, start, &so, &sr, err);
    if (st == C2S_OK && !seen_init(&seen, r, where, sr.count))
        st = c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    for (size_t i = 0; st == C2S_OK && i < sr.count; i++) {
        char *module = NULL, *name = NULL;
        if (undecodable(&sr.globals[i]))
            continue;
        size_t *slot = NULL;
        if (!swept_names(&sr.globals[i], &module, &name))
            st = c2s_fail(err, C2S_ERR_INPUT, "out of memory");
        else if (*(slot = seen_slot(&seen, r, module, name)) == 0) {
            if (add_global(r, module, name, where, C2S_USE_REF | C2S_USE_SWEEP,
                           base + sr.globals[i].offset, policy))
                *slot = r->nglobals;
            else
                st = c2s_fail(err, C2S_ERR_INPUT, "out of memory");
        }
        free(module);
        free(name);
    }
    free(seen.slot);
    if (st == C2S_OK && sr.limited)
        findings_add(&r->findings, "%s names more globals than the sweep lists", where);
    sweep_report_free(&sr);
    return st;
}

const char *c2s_uses_text(unsigned uses, char *buf, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *name;
    } NAMES[] = {
        {PVM_USE_REDUCE, "REDUCE"}, {PVM_USE_NEWOBJ, "NEWOBJ"}, {PVM_USE_INST, "INST"},
        {PVM_USE_OBJ, "OBJ"},       {PVM_USE_BUILD, "BUILD"},   {C2S_USE_SWEEP, "sweep"},
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
            at += (size_t)snprintf(msg + at, sizeof msg - at,
                                   "%s%s global %s.%s (%s) in %s at offset %llu",
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

/* The first damage, as the error to return (rule C2S_RULE_CORRUPT). */
static c2s_status corruption(const c2s_report *r, c2s_error *err)
{
    if (err->rule == C2S_RULE_CORRUPT && err->msg[0] != '\0')
        return C2S_ERR_INPUT;
    return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_CORRUPT, "%s", r->damage.items[0]);
}

static int listed(const findings *f, const char *msg)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->items[i], msg) == 0)
            return 1;
    return 0;
}

c2s_status judge_verdict(c2s_report *r, c2s_status read_status, c2s_error *err)
{
    if (read_status != C2S_OK && err->rule == C2S_RULE_CORRUPT && !listed(&r->damage, err->msg))
        findings_add(&r->damage, "%s", err->msg);
    if (read_status != C2S_OK)
        r->error = *err;
    int unsafe = r->findings.n > 0;
    for (size_t i = 0; i < r->nglobals && !unsafe; i++)
        unsafe = policy_refuses(r->globals[i].cls);
    if (unsafe) {
        r->verdict = C2S_VERDICT_UNSAFE;
        return refusal(r, err);
    }
    if (r->damage.n > 0) {
        r->verdict = C2S_VERDICT_CORRUPT;
        c2s_status st = corruption(r, err);
        r->error = *err;
        return st;
    }
    r->verdict = read_status == C2S_OK ? C2S_VERDICT_SAFE : C2S_VERDICT_UNREADABLE;
    return read_status;
}

const char *c2s_verdict_name(c2s_verdict v)
{
    switch (v) {
    case C2S_VERDICT_SAFE:
        return "safe";
    case C2S_VERDICT_UNSAFE:
        return "unsafe";
    case C2S_VERDICT_UNREADABLE:
        return "unreadable";
    case C2S_VERDICT_CORRUPT:
        return "corrupt";
    }
    return "?";
}
