/*
 * torchload.c - torch.load's reading of a file another reader claims (see
 * torchload.h).
 *
 * The tar test reads the first 512 bytes.  The pickle at byte 0 runs in a
 * window of FIRST_WINDOW bytes, grown fourfold only while the machine says
 * the pickle is cut short (it needs bytes past the window), up to the file
 * or the limit on pickle size: the first bytes of a genuine safetensors
 * file, .npy file or TensorFlow index stop the machine at once (an unknown
 * opcode, an empty stack), so they cost one small read.
 */
#include "reader/torchload.h"

#include <stdlib.h>
#include <string.h>

#include "reader/judge.h"
#include "torch/legacy_tar.h"
#include "torch/rd_legacy.h"
#include "util/io.h"
#include "util/limits.h"

#define FIRST_WINDOW (64u << 10)

static uint64_t max_pickle(const c2s_open_options *o)
{
    return o && o->limits.max_pickle ? o->limits.max_pickle : C2S_DEFAULT_MAX_PICKLE;
}

static int cut_short(const c2s_error *e)
{
    return strncmp(e->msg, "pickle: truncated", 17) == 0 ||
           strcmp(e->msg, "pickle: no STOP opcode") == 0;
}

/* Run the pickle at byte 0 on vm over buf, a window of w bytes: 1 when it
 * stopped (*v and *end set), 0 when it failed, -1 when it needs a larger window,
 * -2 when the read fails. */
static int run_window(const rd_input *in, pvm *vm, uint8_t *buf, size_t w, pvm_value **v,
                      size_t *end, c2s_error *e)
{
    if (pread_full(in->fd, buf, w, 0) != (ssize_t)w)
        return -2;
    if (pvm_run(vm, buf, w, v, end, e) == C2S_OK)
        return 1;
    return cut_short(e) ? -1 : 0;
}

/* Could __import__ find a module of this name: dotted identifiers (bytes
 * past ASCII count as letters)?  The first bytes of a genuine file can
 * spell a GLOBAL by chance, never one whose module Python could import. */
static int importable(const char *m)
{
    int start = 1;
    for (const unsigned char *p = (const unsigned char *)m;; p++) {
        int letter = *p >= 0x80 || *p == '_' || (*p >= 'a' && *p <= 'z') ||
                     (*p >= 'A' && *p <= 'Z');
        if (start && !letter)
            return 0;
        if (*p == '\0')
            return 1;
        start = *p == '.';
        if (!start && !letter && !(*p >= '0' && *p <= '9'))
            return 0;
    }
}

/* What torch.load does with the pickle at byte 0 (ran 1: it stopped with
 * value v at end): it imports and calls the globals the pickle names, and
 * reads on only when the value is the legacy magic number.  Its globals
 * are judged when one of them could be imported; a magic number is a
 * finding, and the rest of the file is swept. */
static c2s_status note_pickle(const rd_input *in, const c2s_open_options *o, const char *format,
                              const pvm *vm, int ran, const pvm_value *v, size_t end, c2s_report *r,
                              c2s_error *err)
{
    int imports = 0;
    for (size_t i = 0; i < pvm_global_count(vm) && !imports; i++)
        imports = importable(pvm_global_at(vm, i)->module);
    policy_options policy = rd_policy(o);
    if (imports && !judge_add_globals(r, vm, "file", 0, &policy))
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    if (ran != 1 || !rd_legacy_is_magic(v))
        return C2S_OK;
    findings_add(&r->findings,
                 "torch.load reads this %s file as a legacy checkpoint: it starts with the "
                 "legacy magic number",
                 format);
    return rd_legacy_sweep_rest(in, end, o, r, err); /* a legacy stream goes on */
}

/* The machine stopped at one of its own limits, where Python reads on. */
static int over_limit(const c2s_error *e)
{
    return e->rule == C2S_RULE_MAX_STRING || e->rule == C2S_RULE_MAX_CONTAINER ||
           e->rule == C2S_RULE_MAX_OBJECTS || e->rule == C2S_RULE_MAX_STACK ||
           e->rule == C2S_RULE_MAX_MEMO;
}

/* A pickle past one of the machine's limits: Python goes on, so the file
 * is swept for the globals it names, and it is unsafe (the first bytes of
 * a genuine file do not reach a limit). */
static c2s_status swept_past_limit(const rd_input *in, const c2s_open_options *o, c2s_report *r,
                                   c2s_error *err)
{
    findings_add(&r->findings,
                 "torch.load reads this file as a pickle from its first byte, one past the "
                 "limits of this reader");
    return rd_legacy_sweep_rest(in, 0, o, r, err);
}

static c2s_status judge_first_pickle(const rd_input *in, const c2s_open_options *o,
                                     const char *format, c2s_report *r, c2s_error *err)
{
    uint64_t room = in->size < max_pickle(o) ? in->size : max_pickle(o);
    size_t w = room < FIRST_WINDOW ? (size_t)room : FIRST_WINDOW;
    pvm_limits limits = rd_pvm_limits(o);
    for (;;) {
        pvm *vm = pvm_new(&limits);
        uint8_t *buf = malloc(w ? w : 1);
        c2s_error e;
        c2s_error_clear(&e);
        size_t end = 0;
        pvm_value *v = NULL;
        int ran = vm && buf ? run_window(in, vm, buf, w, &v, &end, &e) : -3;
        int grow = ran == -1 && w < room; /* cut short by the window: again, larger */
        c2s_status st = C2S_OK;
        if (ran == -3)
            st = c2s_fail(err, C2S_ERR_INPUT, "out of memory");
        else if (ran == -2)
            st = c2s_fail(err, C2S_ERR_INPUT, "cannot read the file");
        else if (!grow)
            st = note_pickle(in, o, format, vm, ran, v, end, r, err);
        if (st == C2S_OK && ran == 0 && over_limit(&e))
            st = swept_past_limit(in, o, r, err);
        pvm_free(vm);
        free(buf);
        if (!grow)
            return st;
        w = room / 4 < w ? (size_t)room : w * 4;
    }
}

c2s_status torchload_judge(const rd_input *in, const c2s_open_options *o, c2s_report *r,
                           c2s_error *err)
{
    const char *format = r->format ? r->format : "non-zip";
    if (legacy_tar_takes(in)) {
        findings_add(&r->findings,
                     "torch.load reads this %s file as a tar of pickles (Python's tarfile takes "
                     "its first 512 bytes)",
                     format);
        return legacy_tar_judge(in, o, r, err);
    }
    return judge_first_pickle(in, o, format, r, err);
}
