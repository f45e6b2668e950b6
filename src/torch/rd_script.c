/*
 * rd_script.c - TorchScript archives behind the reader interface (see
 * rd_script.h for what is judged and what is converted).
 *
 * sniff: a zip archive that zipsrc opened (rd_open opens every zip once,
 * for this sniff and for whichever reader then takes it) and calls
 * TorchScript.  open: data.pkl, constants.pkl and every
 * code/...debug_pkl run through the restricted VM and are judged; the code/
 * record of every "__torch__" qualifier the pickles name is read
 * (tscode.h), and the "__torch__" globals are then classed by what it
 * declares.  Last, the module tree is turned into a tree of dicts made here
 * (tsnodes.h: ids after the VM's, so the tensor map's visited marks stay
 * unique) whose leaves are the VM's own tensor rebuild calls: tmap.c then
 * names and checks the tensors exactly as for torch.save files.  A model.json
 * archive (torch 1.0-1.2) gets its tree from tsjson.c instead, and its
 * storage keys are indexes into the records model.json names.
 */
#include "torch/rd_script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reader/judge.h"
#include "torch/rd_zip.h"
#include "torch/torchtab.h"
#include "torch/tscode.h"
#include "torch/tseval.h"
#include "torch/tsjson.h"
#include "torch/tsnodes.h"

#define MAX_MODULE_DEPTH 200
#define PATH_MAX_LEN 4096
#define RECORD_MAX 900

typedef struct script_reader {
    zipsrc *zip;
    pvm *vm;  /* data.pkl */
    pvm *cvm; /* constants.pkl */
    uint8_t *data, *consts;
    size_t data_len, consts_len;
    ts_classes classes;
    char **qualifiers; /* whose code/ record was looked for */
    size_t nqualifiers;
    ts_nodes nodes;  /* the tree given to tmap */
    int model_json;  /* a torch 1.0-1.2 archive (tsjson.h) */
    tsjson_out json; /* its storage records */
    char **notes;
    size_t nnotes;
    uint64_t visits, max_visits;
} script_reader;

static c2s_status oom(c2s_error *err)
{
    return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
}

static int push_str(char ***list, size_t *n, const char *s)
{
    char **grown = realloc(*list, (*n + 1) * sizeof **list);
    if (grown == NULL)
        return 0;
    *list = grown;
    if ((grown[*n] = strdup(s)) == NULL)
        return 0;
    (*n)++;
    return 1;
}

/* ---- sniffing ------------------------------------------------------------------- */

static int script_sniff(const rd_input *in)
{
    /* rd_open opened every zip archive it could (rd_input.zip) */
    return in->zip != NULL && (zipsrc_is_torchscript(in->zip) || zipsrc_is_model_json(in->zip));
}

/* ---- judging ----------------------------------------------------------------- */

/* Run one pickle; its globals go to the report whatever happens. */
static c2s_status run_pickle(pvm **vm, const uint8_t *data, size_t len, const char *where,
                             const c2s_open_options *o, c2s_report *r, pvm_value **top,
                             c2s_error *err)
{
    pvm_limits limits = rd_pvm_limits(o);
    policy_options policy = rd_policy(o);
    if ((*vm = pvm_new(&limits)) == NULL)
        return oom(err);
    size_t end = 0;
    c2s_status s = pvm_run(*vm, data, len, top, &end, err);
    if (!judge_add_globals(r, *vm, where, 0, &policy))
        return oom(err);
    if (s != C2S_OK) {
        c2s_error_prefix(err, "%s", where);
        return s;
    }
    if (end < len)
        findings_add(&r->findings, "%s has %zu bytes after its STOP opcode", where, len - end);
    return C2S_OK;
}

/* Entry i's name ends with suffix (".debug_pkl", ".py") and lies under
 * "<archive>/code/" (or "libs/", where torch 1.0-1.2 archives keep their
 * classes), ASCII case ignored as torch's lookups ignore it. */
static int is_code_record(const zipsrc *z, size_t i, const char *suffix)
{
    const char *name = zipsrc_entry_name(z, i), *prefix = zipsrc_prefix(z);
    size_t n = strlen(name), k = strlen(prefix), x = strlen(suffix);
    return n > k + 6 + x && strncmp(name, prefix, k) == 0 && name[k] == '/' &&
           (strncasecmp(name + k + 1, "code/", 5) == 0 ||
            strncasecmp(name + k + 1, "libs/", 5) == 0) &&
           strcasecmp(name + n - x, suffix) == 0;
}

/* Read a record and run it as a pickle (its objects are not kept). */
static c2s_status judge_record(script_reader *s, const char *record, const c2s_open_options *o,
                               c2s_report *r, c2s_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    pvm *vm = NULL;
    pvm_value *top = NULL;
    c2s_status st = zipsrc_read_record(s->zip, record, &data, &len, err);
    if (st == C2S_OK)
        st = run_pickle(&vm, data, len, zipsrc_record_name(s->zip, record), o, r, &top, err);
    pvm_free(vm);
    free(data);
    return st;
}

/* The source-range pickles torch.jit.load may read (lazily, for messages
 * about the code): judged like the others; their objects are not kept. */
static c2s_status judge_debug_pickles(script_reader *s, const c2s_open_options *o, c2s_report *r,
                                      c2s_error *err)
{
    for (size_t i = 0; i < zipsrc_entry_count(s->zip); i++) {
        if (!is_code_record(s->zip, i, ".debug_pkl"))
            continue;
        uint8_t *data = NULL;
        size_t len = 0;
        pvm *vm = NULL;
        pvm_value *top = NULL;
        c2s_status st = zipsrc_read_entry(s->zip, i, &data, &len, err);
        if (st == C2S_OK)
            st = run_pickle(&vm, data, len, zipsrc_entry_name(s->zip, i), o, r, &top, err);
        pvm_free(vm);
        free(data);
        if (st != C2S_OK)
            return st;
    }
    return C2S_OK;
}

/* What torch.jit.load evaluates while it compiles the sources (tseval.h:
 * parameter defaults, class-level values) must be literals: each code/ or
 * libs/ ".py" record (in any case: torch's importer looks records up by
 * exact name, and every such record is checked) that evaluates anything
 * else is a finding. */
static c2s_status judge_code_sources(script_reader *s, c2s_report *r, c2s_error *err)
{
    for (size_t i = 0; i < zipsrc_entry_count(s->zip); i++) {
        if (!is_code_record(s->zip, i, ".py"))
            continue;
        uint8_t *text = NULL;
        size_t len = 0;
        char why[256];
        c2s_status st = zipsrc_read_entry(s->zip, i, &text, &len, err);
        if (st != C2S_OK) {
            free(text); /* what was read before the error (a CRC mismatch) */
            return st;
        }
        int ok = tseval_check(text, len, why, sizeof why);
        free(text);
        if (!ok && !findings_add(&r->findings, "%s %s", zipsrc_entry_name(s->zip, i), why))
            return oom(err);
    }
    return C2S_OK;
}

/* __torch__.torch.classes.*: torch's source importer resolves these names
 * to classes built into torch (TorchBind: quantized packed weights and
 * the like, with C++ __setstate__s) before the archive's code/, so a class
 * of that name the archive declares says nothing of what runs. */
static int is_custom_class(const char *module)
{
    return strncmp(module, "__torch__.torch.classes", 23) == 0 &&
           (module[23] == '\0' || module[23] == '.');
}

static int is_script_module(const char *module)
{
    return strncmp(module, "__torch__", 9) == 0 && (module[9] == '\0' || module[9] == '.');
}

/* A qualifier torch maps to a code/ path: dot-separated identifiers. */
static int plain_qualifier(const char *q)
{
    size_t n = strlen(q);
    if (n == 0 || n > 512 || q[0] == '.' || q[n - 1] == '.' || strstr(q, "..") != NULL)
        return 0;
    for (const char *p = q; *p; p++)
        if (!(*p == '.' || *p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

/* Read code/<qualifier as a path>.py (as torch's source importer finds it);
 * a qualifier without a record declares nothing. */
static c2s_status load_qualifier(script_reader *s, const char *qualifier, c2s_error *err)
{
    for (size_t i = 0; i < s->nqualifiers; i++)
        if (strcmp(s->qualifiers[i], qualifier) == 0)
            return C2S_OK;
    if (!push_str(&s->qualifiers, &s->nqualifiers, qualifier))
        return oom(err);
    if (!plain_qualifier(qualifier))
        return C2S_OK;
    char record[RECORD_MAX];
    int n = snprintf(record, sizeof record, "code/%s.py", qualifier);
    for (char *p = record + 5; *p; p++)
        if (*p == '.' && p < record + n - 3)
            *p = '/';
    const char *name = zipsrc_record_name(s->zip, record);
    if (name == NULL)
        return C2S_OK;
    uint8_t *text = NULL;
    size_t len = 0;
    c2s_status st = zipsrc_read_record(s->zip, record, &text, &len, err);
    if (st == C2S_OK)
        st = tscode_parse(qualifier, name, text, len, &s->classes, err);
    free(text);
    return st;
}

/* torch.jit._pickle's helpers that TorchScript's unpickler interprets itself
 * (a list of ints, floats, bools or tensors; a type tag on a list or dict). */
static int script_unpickler_builtin(const char *module, const char *name)
{
    static const char *const NAMES[] = {"build_intlist", "build_doublelist", "build_boollist",
                                        "build_tensorlist", "restore_type_tag"};
    if (strcmp(module, "torch.jit._pickle") != 0)
        return 0;
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (strcmp(name, NAMES[i]) == 0)
            return 1;
    return 0;
}

/* Class the globals from index first on as TorchScript's unpickler sees them.
 * A code record that cannot be read stops the reading (its classes, and
 * those not read yet, stay unknown) and is the error returned. */
static c2s_status class_globals(script_reader *s, size_t first, c2s_report *r, c2s_error *err)
{
    c2s_status st = C2S_OK;
    for (size_t i = first; i < r->nglobals && st == C2S_OK; i++) {
        const c2s_global_use *g = &r->globals[i];
        if (g->cls != C2S_GLOBAL_DANGEROUS && is_script_module(g->module))
            st = load_qualifier(s, g->module, err);
    }
    for (size_t i = first; i < r->nglobals; i++) {
        c2s_global_use *g = &r->globals[i];
        if (g->cls == C2S_GLOBAL_DANGEROUS && script_unpickler_builtin(g->module, g->name)) {
            g->cls = C2S_GLOBAL_ALLOWED;
        } else if (g->cls == C2S_GLOBAL_UNKNOWN && is_script_module(g->module) &&
                   !is_custom_class(g->module)) {
            char qual[1100];
            snprintf(qual, sizeof qual, "%s.%s", g->module, g->name);
            const ts_class *k = tscode_find(&s->classes, qual);
            if (k != NULL && !k->has_setstate)
                g->cls = C2S_GLOBAL_DATA;
        }
    }
    return st;
}

/* ---- the module tree --------------------------------------------------------------- */

static int is_tensor(const pvm_value *v)
{
    if (v->kind != PVM_CALL || v->u.call.callable->kind != PVM_GLOBAL)
        return 0;
    const torch_global *t = torchtab_find(v->u.call.callable->u.global.module,
                                          v->u.call.callable->u.global.name);
    return t != NULL && t->role == TORCH_REBUILD;
}

/* The class of a TorchScript object (NEWOBJ of a __torch__ global), or NULL. */
static const ts_class *object_class(const script_reader *s, const pvm_value *v)
{
    if (v->kind != PVM_CALL || v->u.call.callable->kind != PVM_GLOBAL)
        return NULL;
    const pvm_value *g = v->u.call.callable;
    if (!is_script_module(g->u.global.module))
        return NULL;
    char qual[1100];
    snprintf(qual, sizeof qual, "%s.%s", g->u.global.module, g->u.global.name);
    return tscode_find(&s->classes, qual);
}

static void join(char *out, size_t cap, const char *path, const char *key)
{
    snprintf(out, cap, "%s%s%s", path, *path ? "." : "", key);
}

/* The declared tensors of one list (parameters or buffers) into dict.
 * torch's importer ignores a name of the list the class does not declare
 * as an attribute, and state_dict() takes a buffer only when it is
 * declared a Tensor: such a name is refused rather than guessed at. */
static c2s_status add_declared(script_reader *s, const ts_class *k, const pvm_value *state,
                               char *const *names, size_t n, const char *what, const char *path,
                               pvm_value *dict, c2s_error *err)
{
    for (size_t i = 0; i < n; i++) {
        char name[PATH_MAX_LEN];
        join(name, sizeof name, path, names[i]);
        const char *type = tscode_attr_type(k, names[i]);
        if (type == NULL)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "%s '%s' is listed by %s but not declared as an attribute: "
                            "torch.jit.load ignores it",
                            what, name, k->qualname);
        if (strcmp(what, "buffer") == 0 && strcmp(type, "Tensor") != 0)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "buffer '%s' is declared '%s', not 'Tensor': torch's state_dict "
                            "leaves it out",
                            name, type);
        const pvm_value *v = pvm_dict_get_str(state, names[i]);
        if (v == NULL)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "%s '%s' is declared but data.pkl does not "
                            "set it",
                            what, name);
        if (v->kind == PVM_NONE)
            continue; /* state_dict() skips a None parameter or buffer */
        if (!is_tensor(v))
            return c2s_fail(err, C2S_ERR_INPUT, "%s '%s' is a %s, not a tensor", what, name,
                            pvm_kind_name(v->kind));
        if (!tsn_dict_add(&s->nodes, dict, names[i], (pvm_value *)v))
            return oom(err);
    }
    return C2S_OK;
}

static c2s_status map_module(script_reader *s, const pvm_value *obj, const char *path, int depth,
                             pvm_value **out, c2s_error *err);

/* The attributes that are neither parameters nor buffers: sub-modules are
 * mapped, tensors noted as left out. */
static c2s_status add_children(script_reader *s, const ts_class *k, const pvm_value *state,
                               const char *path, int depth, pvm_value *dict, c2s_error *err)
{
    for (size_t i = 0; i < state->u.dict.len; i++) {
        const pvm_value *key = state->u.dict.pairs[i].key, *v = state->u.dict.pairs[i].val;
        if (key->kind != PVM_STR)
            return c2s_fail(err, C2S_ERR_INPUT, "module '%s': an attribute name is a %s", path,
                            pvm_kind_name(key->kind));
        const char *attr = key->u.str.data;
        if (tscode_has(k->params, k->nparams, attr) || tscode_has(k->buffers, k->nbuffers, attr))
            continue;
        char name[PATH_MAX_LEN];
        join(name, sizeof name, path, attr);
        const ts_class *ck = object_class(s, v);
        const char *type = tscode_attr_type(k, attr);
        if (ck != NULL && ck->is_module && (type == NULL || strcmp(type, ck->qualname) != 0))
            return c2s_fail(err, C2S_ERR_INPUT,
                            "module '%s' (%s) is %s of %s: torch.jit.load keeps only the "
                            "attributes a class declares, as declared",
                            name, ck->qualname,
                            type == NULL ? "not a declared attribute" : "declared otherwise",
                            k->qualname);
        if (ck != NULL && ck->is_module) {
            pvm_value *child = NULL;
            c2s_status st = map_module(s, v, name, depth + 1, &child, err);
            if (st != C2S_OK)
                return st;
            if (child->u.dict.len > 0 && !tsn_dict_add(&s->nodes, dict, attr, child))
                return oom(err);
        } else if (is_tensor(v)) {
            char note[PATH_MAX_LEN + 80];
            snprintf(note, sizeof note,
                     "left out: %s (a tensor attribute, neither parameter "
                     "nor buffer)",
                     name);
            if (!push_str(&s->notes, &s->nnotes, note))
                return oom(err);
        }
    }
    return C2S_OK;
}

/* One module object: its parameters, buffers and sub-modules as a dict. */
static c2s_status map_module(script_reader *s, const pvm_value *obj, const char *path, int depth,
                             pvm_value **out, c2s_error *err)
{
    const char *what = *path ? path : "the top-level module";
    if (depth > MAX_MODULE_DEPTH)
        return c2s_fail(err, C2S_ERR_INPUT, "modules nested more than %d deep at '%s'",
                        MAX_MODULE_DEPTH, path);
    if (++s->visits > s->max_visits)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "more than %llu module visits: shared sub-modules "
                        "too many times over",
                        (unsigned long long)s->max_visits);
    const ts_class *k = object_class(s, obj);
    if (k == NULL || !k->is_module)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "%s is not an object of a module class declared "
                        "in code/",
                        what);
    const pvm_value *state = pvm_call_state(obj);
    if (k->has_setstate)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "%s (%s) is built by its class's own __setstate__, "
                        "which the converter does not run",
                        what, k->qualname);
    if (state == NULL || state->kind != PVM_DICT)
        return c2s_fail(err, C2S_ERR_INPUT, "%s (%s) has no attribute dict", what, k->qualname);
    pvm_value *dict = tsn_new(&s->nodes, PVM_DICT);
    if (dict == NULL)
        return oom(err);
    c2s_status st = add_declared(s, k, state, k->params, k->nparams, "parameter", path, dict, err);
    if (st == C2S_OK)
        st = add_declared(s, k, state, k->buffers, k->nbuffers, "buffer", path, dict, err);
    if (st == C2S_OK)
        st = add_children(s, k, state, path, depth, dict, err);
    *out = dict;
    return st;
}

/* Tensors of constants.pkl: constants of the code, not state. */
static c2s_status note_constants(script_reader *s, const char *where, c2s_error *err)
{
    size_t n = 0;
    for (size_t i = 0; s->cvm != NULL && i < pvm_object_count(s->cvm); i++)
        n += is_tensor(pvm_node_at(s->cvm, i));
    if (n == 0)
        return C2S_OK;
    char note[600];
    snprintf(note, sizeof note, "left out: %zu tensor constant%s of %s", n, n == 1 ? "" : "s",
             where);
    return push_str(&s->notes, &s->nnotes, note) ? C2S_OK : oom(err);
}

/* ---- the reader ---------------------------------------------------------------------- */

static void script_close(void *impl)
{
    script_reader *s = impl;
    if (s == NULL)
        return;
    tsn_free(&s->nodes);
    tsjson_free(&s->json);
    for (size_t i = 0; i < s->nqualifiers; i++)
        free(s->qualifiers[i]);
    free(s->qualifiers);
    for (size_t i = 0; i < s->nnotes; i++)
        free(s->notes[i]);
    free(s->notes);
    tscode_free(&s->classes);
    pvm_free(s->vm);
    pvm_free(s->cvm);
    free(s->data);
    free(s->consts);
    zipsrc_close(s->zip);
    free(s);
}

/* data.pkl and constants.pkl, judged; *constants_name NULL when missing. */
static c2s_status judge_pickles(script_reader *s, const c2s_open_options *o, c2s_report *r,
                                pvm_value **top, const char **constants_name, c2s_error *err)
{
    c2s_status st = zipsrc_read_pickle(s->zip, &s->data, &s->data_len, err);
    if (st == C2S_OK)
        st = run_pickle(&s->vm, s->data, s->data_len, zipsrc_pickle_name(s->zip), o, r, top, err);
    *constants_name = zipsrc_record_name(s->zip, "constants.pkl");
    if (st != C2S_OK || *constants_name == NULL)
        return st;
    st = zipsrc_read_record(s->zip, "constants.pkl", &s->consts, &s->consts_len, err);
    pvm_value *ctop = NULL;
    if (st == C2S_OK)
        st = run_pickle(&s->cvm, s->consts, s->consts_len, *constants_name, o, r, &ctop, err);
    return st;
}

/* A torch 1.0-1.2 archive: the tree from model.json; judged are the
 * attributes.pkl torch reads (proto version 2 and later), the debug arenas
 * model.json names and every debug_pkl of code/ and libs/. */
static c2s_status open_model_json(script_reader *s, const c2s_open_options *o, c2s_report *r,
                                  const pvm_value **top, c2s_error *err)
{
    uint8_t *text = NULL;
    size_t len = 0;
    s->model_json = 1;
    c2s_status st = zipsrc_read_record(s->zip, "model.json", &text, &len, err);
    if (st == C2S_OK)
        st = tsjson_build(s->zip, zipsrc_record_name(s->zip, "model.json"), text, len, &s->nodes,
                          &s->json, &r->findings, err);
    free(text);
    if (st == C2S_OK &&
        (s->json.proto_version >= 2 || zipsrc_record_name(s->zip, "attributes.pkl") != NULL))
        st = judge_record(s, "attributes.pkl", o, r, err);
    for (size_t i = 0; st == C2S_OK && i < s->json.npickles; i++)
        st = judge_record(s, s->json.pickles[i], o, r, err);
    if (st == C2S_OK)
        st = judge_debug_pickles(s, o, r, err);
    if (st == C2S_OK)
        st = judge_code_sources(s, r, err);
    if (st == C2S_OK)
        *top = s->json.tree;
    return st;
}

static c2s_status script_open(rd_input *in, const c2s_open_options *o, void **impl, c2s_report *r,
                              const pvm_value **top, c2s_error *err)
{
    script_reader *s = calloc(1, sizeof *s);
    if (s == NULL)
        return oom(err);
    *impl = s;
    c2s_status st = rd_input_take_zip(in, o ? o->limits.max_pickle : 0, &s->zip, &r->findings, err);
    if (st != C2S_OK)
        return st;
    if (zipsrc_is_model_json(s->zip))
        return open_model_json(s, o, r, top, err);
    if (!zipsrc_torch_load_sees_script(s->zip))
        findings_add(&r->findings,
                     "torch.load would read this archive as a plain checkpoint, "
                     "torch.jit.load as TorchScript: no record is named exactly "
                     "'%s/constants.pkl'",
                     zipsrc_prefix(s->zip));
    size_t first = r->nglobals;
    pvm_value *obj = NULL;
    const char *constants = NULL;
    st = judge_pickles(s, o, r, &obj, &constants, err);
    if (st == C2S_OK)
        st = judge_debug_pickles(s, o, r, err);
    if (st == C2S_OK)
        st = judge_code_sources(s, r, err);
    c2s_status cs = class_globals(s, first, r, err);
    if (st != C2S_OK || cs != C2S_OK)
        return st != C2S_OK ? st : cs;
    if (constants == NULL)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "no constants.pkl record: torch.jit.load refuses "
                        "the archive");
    s->max_visits = 100000 + 4 * (uint64_t)pvm_value_count(s->vm);
    s->nodes.first_id = pvm_object_count(s->vm);
    pvm_value *tree = NULL;
    if ((st = map_module(s, obj, "", 0, &tree, err)) != C2S_OK)
        return st;
    if ((st = note_constants(s, constants, err)) != C2S_OK)
        return st;
    *top = tree;
    return C2S_OK;
}

static c2s_status script_verify_all(void *impl, findings *f, c2s_error *err)
{
    script_reader *s = impl;
    return rd_zip_verify_all(s->zip, f, err);
}

/* The record of a model.json archive's storage key (an index, tsjson.h). */
static const char *json_record(const script_reader *s, const char *key)
{
    char *end = NULL;
    unsigned long i = strtoul(key, &end, 10);
    return *key != '\0' && *end == '\0' && i < s->json.nrecords ? s->json.records[i] : NULL;
}

static c2s_status json_check_storages(script_reader *s, const tmap *m, c2s_error *err)
{
    for (size_t i = 0; i < m->nstorages; i++) {
        const tmap_storage *t = &m->storages[i];
        const char *record = json_record(s, t->key);
        uint64_t size = 0;
        if (record == NULL)
            return c2s_fail(err, C2S_ERR_INPUT, "internal error: no record for storage '%s'",
                            t->key);
        c2s_status st = zipsrc_record_size(s->zip, record, &size, err);
        if (st != C2S_OK)
            return st;
        if (size < t->nbytes)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "record %s/%s has %llu bytes, the tensors "
                            "need %llu",
                            zipsrc_prefix(s->zip), record, (unsigned long long)size,
                            (unsigned long long)t->nbytes);
    }
    return C2S_OK;
}

static c2s_status script_check_storages(void *impl, const tmap *m, c2s_error *err)
{
    script_reader *s = impl;
    return s->model_json ? json_check_storages(s, m, err) : rd_zip_check_storages(s->zip, m, err);
}

static c2s_status script_stream_open(void *impl, const char *key, rd_stream *st, c2s_error *err)
{
    script_reader *s = impl;
    if (!s->model_json)
        return rd_zip_stream_open(s->zip, key, st, err);
    const char *record = json_record(s, key);
    if (record == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "internal error: no record for storage '%s'", key);
    c2s_status rc = zipsrc_record_stream_open(s->zip, record, &st->u.zip, err);
    if (rc == C2S_OK)
        rd_zip_stream_wrap(st);
    return rc;
}

static int script_big_endian(const void *impl)
{
    const script_reader *s = impl;
    return zipsrc_big_endian(s->zip);
}

static uint64_t script_object_count(const void *impl)
{
    const script_reader *s = impl;
    return (s->vm ? pvm_value_count(s->vm) : 0) + tsn_count(&s->nodes);
}

static const char *const *script_notes(const void *impl, size_t *n)
{
    const script_reader *s = impl;
    *n = s->nnotes;
    return (const char *const *)s->notes;
}

const rd_ops rd_script_ops = {
    .format = "TorchScript zip",
    .sniff = script_sniff,
    .open = script_open,
    .verify_all = script_verify_all,
    .check_storages = script_check_storages,
    .stream_open = script_stream_open,
    .big_endian = script_big_endian,
    .object_count = script_object_count,
    .close = script_close,
    .notes = script_notes,
};
