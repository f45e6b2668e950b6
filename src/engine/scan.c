/*
 * scan.c - judging a file: what would torch.load run? (c2s_scan, and the
 * stages c2s_open shares with it).
 *
 * torch.load decides on the first four bytes: a zip ("PK\3\4") has its
 * data.pkl unpickled; anything else goes down the legacy path, which
 * unpickles the pickles at the start of the file (magic number, protocol,
 * system info, the object, the storage keys), stopping early when the magic
 * or protocol number is wrong.  We interpret the same pickles with the
 * restricted VM and classify every global they name.  Globals seen before a
 * pickle turned out malformed still count: Python would already have
 * imported or called them when it hit the error.
 *
 * Verdict: unsafe when any global is dangerous or unknown (policy.h) or a
 * finding was made; otherwise unreadable when the file could not be read;
 * otherwise safe.
 */
#include "engine/checkpoint.h"
#include "zip/ziplayout.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEGACY_PICKLES 5
#define REFUSAL_ITEMS 4
#define VERIFY_BUFFER (1u << 20)

/* ---- collecting globals -------------------------------------------------------- */

static int add_globals(c2s_report *r, const pvm *vm, const char *where, uint64_t base,
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
        u->cls = policy_classify(pg->module, pg->name, policy);
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

/* ---- the legacy load path ------------------------------------------------------ */

/* torch's legacy magic number 0x1950a86a20f9469cfc6c as LONG1 bytes. */
static int is_legacy_magic(const pvm_value *v)
{
    static const unsigned char MAGIC[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    return v->kind == PVM_BIGINT && v->u.str.len == sizeof MAGIC &&
           memcmp(v->u.str.data, MAGIC, sizeof MAGIC) == 0;
}

static unsigned char *read_head(const char *path, uint64_t max, size_t *len)
{
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        close(fd);
        return NULL;
    }
    size_t want = (uint64_t)st.st_size < max ? (size_t)st.st_size : (size_t)max;
    unsigned char *buf = malloc(want);
    ssize_t got = buf ? pread(fd, buf, want, 0) : -1;
    close(fd);
    if (got <= 0) {
        free(buf);
        return NULL;
    }
    *len = (size_t)got;
    return buf;
}

/* Interpret the pickles torch's legacy path would, collecting their globals. */
static void judge_legacy(c2s_report *r, const char *path, const c2s_open_options *o)
{
    size_t len;
    uint64_t max = o && o->limits.max_pickle ? o->limits.max_pickle : (1ull << 30);
    unsigned char *buf = read_head(path, max, &len);
    pvm_limits limits = ckpt_pvm_limits(o);
    policy_options policy = ckpt_policy(o);
    size_t pos = 0;
    for (int k = 1; buf != NULL && k <= LEGACY_PICKLES && pos < len; k++) {
        pvm *vm = pvm_new(&limits);
        pvm_value *v = NULL;
        size_t end = 0;
        c2s_error e;
        c2s_status st = vm ? pvm_run(vm, buf + pos, len - pos, &v, &end, &e) : C2S_ERR_INPUT;
        if (vm != NULL && !add_globals(r, vm, "file", pos, &policy))
            findings_add(&r->findings, "out of memory while judging the file");
        int next = st == C2S_OK && !(k == 1 && !is_legacy_magic(v)) &&
                   !(k == 2 && !(v->kind == PVM_INT && v->u.i == 1001));
        pvm_free(vm);
        if (!next)
            break;
        pos += end;
    }
    free(buf);
}

/* A zip behind leading bytes: torch takes the legacy path, other tools see
 * the archive.  Two readings of one file is the mark of a polyglot. */
static void find_hidden_zip(c2s_report *r, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        ziplayout zl;
        c2s_error e;
        findings ignored = {0};
        if (ziplayout_read(fd, (uint64_t)st.st_size, &zl, &ignored, &e) == C2S_OK) {
            uint64_t first = zl.n ? zl.entries[0].local_offset : zl.cd_offset;
            for (size_t i = 0; i < zl.n; i++)
                if (zl.entries[i].local_offset < first)
                    first = zl.entries[i].local_offset;
            findings_add(&r->findings, "%llu bytes in front of a zip archive: torch.load "
                         "reads the file as a legacy pickle, zip tools as the archive",
                         (unsigned long long)first);
            ziplayout_free(&zl);
        }
        findings_free(&ignored);
    }
    close(fd);
}

/* ---- the stages ---------------------------------------------------------------- */

c2s_status ckpt_inspect(c2s_checkpoint *ck, const char *path, const c2s_open_options *o,
                        pvm_value **top, c2s_error *err)
{
    c2s_report *r = &ck->report;
    struct stat st;
    if (stat(path, &st) == 0) {
        ck->in_dev = st.st_dev;
        ck->in_ino = st.st_ino;
    }
    if (!zipsrc_is_zip(path)) {
        r->format = "not a zip (legacy load path)";
        judge_legacy(r, path, o);
        find_hidden_zip(r, path);
        return zipsrc_open(path, 0, &ck->zip, &r->findings, err); /* its message */
    }
    r->format = "zip";
    c2s_status s = zipsrc_open(path, o ? o->limits.max_pickle : 0, &ck->zip, &r->findings, err);
    if (s == C2S_OK)
        s = zipsrc_read_pickle(ck->zip, &ck->pickle, &ck->pickle_len, err);
    if (s != C2S_OK)
        return s;
    pvm_limits limits = ckpt_pvm_limits(o);
    policy_options policy = ckpt_policy(o);
    if ((ck->vm = pvm_new(&limits)) == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    char where[300];
    snprintf(where, sizeof where, "%s/data.pkl", zipsrc_prefix(ck->zip));
    s = pvm_run(ck->vm, ck->pickle, ck->pickle_len, top, &ck->pickle_end, err);
    if (!add_globals(r, ck->vm, where, 0, &policy))
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    if (s != C2S_OK) {
        c2s_error_prefix(err, "%s", where);
        return s;
    }
    if (ck->pickle_end < ck->pickle_len)
        findings_add(&r->findings, "%s has %zu bytes after its STOP opcode", where,
                     ck->pickle_len - ck->pickle_end);
    return C2S_OK;
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

c2s_status ckpt_verdict(c2s_checkpoint *ck, c2s_status read_status, c2s_error *err)
{
    c2s_report *r = &ck->report;
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

/* ---- the public scan --------------------------------------------------------------- */

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
    pvm_value *top = NULL;
    c2s_status st = ckpt_inspect(ck, path, opts, &top, &err);
    if (st == C2S_OK) {
        void *buf = malloc(VERIFY_BUFFER);
        st = buf ? zipsrc_verify_all(ck->zip, buf, VERIFY_BUFFER, &ck->report.findings, &err)
                 : c2s_fail(&err, C2S_ERR_INPUT, "out of memory");
        free(buf);
    }
    st = ckpt_verdict(ck, st, &err);
    if (st == C2S_OK && (st = ckpt_map(ck, top, opts, &err)) != C2S_OK) {
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
