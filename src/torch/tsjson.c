/*
 * tsjson.c - model.json of a torch 1.0-1.2 TorchScript archive to the
 * state_dict tree (see tsjson.h).
 *
 * The JSON is parsed by cJSON (bounded by the record size limit, nesting
 * bounded by cJSON).  Fields are looked up under both spellings and must
 * appear once.  The module tree is walked recursively with a depth limit;
 * each tensor of the table becomes one rebuild call, made once and shared
 * by every parameter naming it; each distinct record key becomes one
 * storage.
 */
#include "torch/tsjson.h"

#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 200
#define PATH_MAX_LEN 4096

typedef struct storage_type {
    const char *name; /* caffe2.TensorProto.DataType */
    int number;
    const char *storage; /* torch.<storage> */
    unsigned size;
} storage_type;

static const storage_type TYPES[] = {
    {"FLOAT", 1, "FloatStorage", 4},   {"INT32", 2, "IntStorage", 4},
    {"BYTE", 3, "ByteStorage", 1},     {"BOOL", 5, "BoolStorage", 1},
    {"UINT8", 6, "ByteStorage", 1},    {"INT8", 7, "CharStorage", 1},
    {"INT16", 9, "ShortStorage", 2},   {"INT64", 10, "LongStorage", 8},
    {"FLOAT16", 12, "HalfStorage", 2}, {"DOUBLE", 13, "DoubleStorage", 8},
};

typedef struct ctx {
    zipsrc *z;
    const char *where;
    ts_nodes *nodes;
    tsjson_out *out;
    findings *f;
    c2s_error *err;
    const cJSON *tensors;
    pvm_value **made; /* the call made for each tensor of the table */
    size_t ntensors;
} ctx;

static c2s_status oom(ctx *c)
{
    return c2s_fail(c->err, C2S_ERR_INPUT, "out of memory");
}

/* The member called camel or snake; NULL when absent, *st set when it is
 * given more than once. */
static const cJSON *field(ctx *c, const cJSON *obj, const char *camel, const char *snake,
                          c2s_status *st)
{
    const cJSON *found = NULL;
    for (const cJSON *m = obj ? obj->child : NULL; m != NULL; m = m->next) {
        if (m->string == NULL || (strcmp(m->string, camel) != 0 && strcmp(m->string, snake) != 0))
            continue;
        if (found != NULL) {
            *st = c2s_fail(c->err, C2S_ERR_INPUT, "%s: field %s is given twice", c->where, camel);
            return NULL;
        }
        found = m;
    }
    return found;
}

/* An int64 as protobuf's JSON writes it: a decimal string or a number. */
static int json_int(const cJSON *v, int64_t *out)
{
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        char *end = NULL;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (*s == '\0' || *end != '\0' || errno != 0)
            return 0;
        *out = x;
        return 1;
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d != d || d < -9007199254740992.0 || d > 9007199254740992.0 || (double)(int64_t)d != d)
            return 0;
        *out = (int64_t)d;
        return 1;
    }
    return 0;
}

/* An optional int64 field (absent: 0). */
static c2s_status get_int(ctx *c, const cJSON *obj, const char *camel, const char *snake,
                          const char *what, int64_t *out)
{
    c2s_status st = C2S_OK;
    const cJSON *v = field(c, obj, camel, snake, &st);
    *out = 0;
    if (st != C2S_OK || v == NULL)
        return st;
    if (!json_int(v, out))
        return c2s_fail(c->err, C2S_ERR_INPUT, "%s: %s: %s is not an integer", c->where, what,
                        camel);
    return C2S_OK;
}

/* An optional bool field (absent: false). */
static c2s_status get_bool(ctx *c, const cJSON *obj, const char *camel, const char *snake,
                           const char *what, int *out)
{
    c2s_status st = C2S_OK;
    const cJSON *v = field(c, obj, camel, snake, &st);
    *out = 0;
    if (st != C2S_OK || v == NULL)
        return st;
    if (!cJSON_IsBool(v))
        return c2s_fail(c->err, C2S_ERR_INPUT, "%s: %s: %s is not true or false", c->where, what,
                        camel);
    *out = cJSON_IsTrue(v);
    return C2S_OK;
}

/* A string field; required or NULL when absent. */
static c2s_status get_str(ctx *c, const cJSON *obj, const char *camel, const char *snake,
                          const char *what, int required, const char **out)
{
    c2s_status st = C2S_OK;
    const cJSON *v = field(c, obj, camel, snake, &st);
    *out = NULL;
    if (st != C2S_OK)
        return st;
    if (v == NULL && !required)
        return C2S_OK;
    if (!cJSON_IsString(v))
        return c2s_fail(c->err, C2S_ERR_INPUT, "%s: %s: %s is %s", c->where, what, camel,
                        v == NULL ? "missing" : "not a string");
    *out = v->valuestring;
    return C2S_OK;
}

/* An optional array field (absent: NULL). */
static c2s_status get_array(ctx *c, const cJSON *obj, const char *camel, const char *snake,
                            const char *what, const cJSON **out)
{
    c2s_status st = C2S_OK;
    *out = field(c, obj, camel, snake, &st);
    if (st == C2S_OK && *out != NULL && !cJSON_IsArray(*out))
        return c2s_fail(c->err, C2S_ERR_INPUT, "%s: %s: %s is not a list", c->where, what, camel);
    return st;
}

static c2s_status data_type(ctx *c, const cJSON *t, const char *what, const storage_type **out)
{
    c2s_status st = C2S_OK;
    const cJSON *v = field(c, t, "dataType", "data_type", &st);
    int64_t number = -1;
    if (st != C2S_OK)
        return st;
    if (v == NULL)
        return c2s_fail(c->err, C2S_ERR_INPUT, "%s: %s: dataType is missing", c->where, what);
    int by_name = cJSON_IsString(v);
    if (!by_name && !json_int(v, &number))
        return c2s_fail(c->err, C2S_ERR_INPUT, "%s: %s: dataType is not a name or a number",
                        c->where, what);
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (by_name ? strcmp(v->valuestring, TYPES[i].name) == 0 : number == TYPES[i].number) {
            *out = &TYPES[i];
            return C2S_OK;
        }
    if (by_name)
        return c2s_fail(c->err, C2S_ERR_INPUT, "%s: %s: data type '%.40s' is not supported",
                        c->where, what, v->valuestring);
    return c2s_fail(c->err, C2S_ERR_INPUT, "%s: %s: data type %" PRId64 " is not supported",
                    c->where, what, number);
}

/* A tuple of the int64s of a JSON list (absent: empty). */
static c2s_status int_tuple(ctx *c, const cJSON *list, const char *what, pvm_value **out)
{
    size_t n = (size_t)cJSON_GetArraySize(list);
    pvm_value *t = tsn_tuple(c->nodes, n);
    if (t == NULL)
        return oom(c);
    size_t i = 0;
    for (const cJSON *v = list ? list->child : NULL; v != NULL; v = v->next, i++) {
        int64_t x;
        if (!json_int(v, &x))
            return c2s_fail(c->err, C2S_ERR_INPUT, "%s: %s holds a non-integer", c->where, what);
        if ((t->u.seq.items[i] = tsn_int(c->nodes, x)) == NULL)
            return oom(c);
    }
    *out = t;
    return C2S_OK;
}

/* The storage key (an index into out->records) for record. */
static c2s_status storage_key(ctx *c, const char *record, char *key, size_t cap)
{
    size_t i = 0;
    while (i < c->out->nrecords && strcmp(c->out->records[i], record) != 0)
        i++;
    if (i == c->out->nrecords) {
        char **grown = realloc(c->out->records, (i + 1) * sizeof *grown);
        if (grown == NULL)
            return oom(c);
        c->out->records = grown;
        if ((grown[i] = strdup(record)) == NULL)
            return oom(c);
        c->out->nrecords++;
    }
    snprintf(key, cap, "%zu", i);
    return C2S_OK;
}

/* ('storage', torch.<X>Storage, key, 'cpu', numel) over the whole record. */
static c2s_status make_persid(ctx *c, const storage_type *ty, const char *record, const char *what,
                              pvm_value **out)
{
    uint64_t size = 0;
    char key[32];
    c2s_status st = zipsrc_record_size(c->z, record, &size, c->err);
    if (st == C2S_OK)
        st = storage_key(c, record, key, sizeof key);
    if (st != C2S_OK) {
        c2s_error_prefix(c->err, "%s: %s", c->where, what);
        return st;
    }
    pvm_value *pid = tsn_tuple(c->nodes, 5), *p = tsn_new(c->nodes, PVM_PERSID);
    if (pid == NULL || p == NULL)
        return oom(c);
    pvm_value **it = pid->u.seq.items;
    it[0] = tsn_str(c->nodes, "storage");
    it[1] = tsn_global(c->nodes, "torch", ty->storage);
    it[2] = tsn_str(c->nodes, key);
    it[3] = tsn_str(c->nodes, "cpu");
    it[4] = tsn_int(c->nodes, (int64_t)(size / ty->size));
    for (int i = 0; i < 5; i++)
        if (it[i] == NULL)
            return oom(c);
    p->u.persid.pid = pid;
    *out = p;
    return C2S_OK;
}

/* The rebuild call of tensor i of the table (made once). */
static c2s_status tensor_call(ctx *c, int64_t id, const char *name, pvm_value **out)
{
    if (id < 0 || (uint64_t)id >= c->ntensors)
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "%s: '%s' names tensor %" PRId64 " of a table "
                        "of %zu",
                        c->where, name, id, c->ntensors);
    if ((*out = c->made[id]) != NULL)
        return C2S_OK;
    const cJSON *t = cJSON_GetArrayItem(c->tensors, (int)id);
    char what[64];
    snprintf(what, sizeof what, "tensor %" PRId64, id);
    const storage_type *ty = NULL;
    const cJSON *dims = NULL, *strides = NULL, *data = NULL;
    const char *record = NULL, *device = NULL;
    int64_t offset = 0;
    int quantized = 0, grad = 0;
    c2s_status st = data_type(c, t, what, &ty);
    if (st == C2S_OK)
        st = get_array(c, t, "dims", "dims", what, &dims);
    if (st == C2S_OK)
        st = get_array(c, t, "strides", "strides", what, &strides);
    if (st == C2S_OK)
        st = get_int(c, t, "offset", "offset", what, &offset);
    if (st == C2S_OK)
        st = get_bool(c, t, "isQuantized", "is_quantized", what, &quantized);
    if (st == C2S_OK)
        st = get_bool(c, t, "requiresGrad", "requires_grad", what, &grad);
    if (st == C2S_OK)
        st = get_str(c, t, "device", "device", what, 1, &device);
    if (st == C2S_OK && (data = field(c, t, "data", "data", &st)) == NULL && st == C2S_OK)
        st = c2s_fail(c->err, C2S_ERR_INPUT, "%s: %s: data is missing", c->where, what);
    if (st == C2S_OK)
        st = get_str(c, data, "key", "key", what, 1, &record);
    if (st != C2S_OK)
        return st;
    if (quantized)
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "%s: %s ('%s') is a quantized tensor, which "
                        "safetensors cannot store",
                        c->where, what, name);
    if (*device == '\0')
        return c2s_fail(c->err, C2S_ERR_INPUT, "%s: %s: device is empty", c->where, what);
    pvm_value *call = tsn_new(c->nodes, PVM_CALL), *args = tsn_tuple(c->nodes, 6);
    if (call == NULL || args == NULL)
        return oom(c);
    pvm_value **a = args->u.seq.items;
    if ((st = make_persid(c, ty, record, what, &a[0])) != C2S_OK ||
        (st = int_tuple(c, dims, "dims", &a[2])) != C2S_OK ||
        (st = int_tuple(c, strides, "strides", &a[3])) != C2S_OK)
        return st;
    a[1] = tsn_int(c->nodes, offset);
    a[4] = tsn_new(c->nodes, PVM_BOOL);
    a[5] = tsn_new(c->nodes, PVM_DICT);
    call->u.call.callable = tsn_global(c->nodes, "torch._utils", "_rebuild_tensor_v2");
    if (a[1] == NULL || a[4] == NULL || a[5] == NULL || call->u.call.callable == NULL)
        return oom(c);
    a[4]->u.b = grad;
    call->u.call.args = args;
    call->how = PVM_USE_REDUCE;
    *out = c->made[id] = call;
    return C2S_OK;
}

static void join(char *out, size_t cap, const char *path, const char *key)
{
    snprintf(out, cap, "%s%s%s", path, *path ? "." : "", key);
}

/* The parameters (buffers = 0) or buffers (1) of a module, in table order. */
static c2s_status add_tensors(ctx *c, const cJSON *params, int buffers, const char *path,
                              pvm_value *dict)
{
    for (const cJSON *p = params ? params->child : NULL; p != NULL; p = p->next) {
        const char *name = NULL;
        int is_buffer = 0;
        int64_t id = 0;
        c2s_status st = get_str(c, p, "name", "name", "a parameter", 1, &name);
        if (st == C2S_OK)
            st = get_bool(c, p, "isBuffer", "is_buffer", name, &is_buffer);
        if (st == C2S_OK)
            st = get_int(c, p, "tensorId", "tensor_id", name, &id);
        if (st != C2S_OK)
            return st;
        if (is_buffer != buffers)
            continue;
        char full[PATH_MAX_LEN];
        join(full, sizeof full, path, name);
        pvm_value *call = NULL;
        if ((st = tensor_call(c, id, full, &call)) != C2S_OK)
            return st;
        if (!tsn_dict_add(c->nodes, dict, name, call))
            return oom(c);
    }
    return C2S_OK;
}

/* Record the module's debug arena for judging, and a __setstate__ as a finding. */
static c2s_status module_extras(ctx *c, const cJSON *m, const char *path)
{
    c2s_status st = C2S_OK;
    const cJSON *debug = field(c, m, "torchscriptDebugArena", "torchscript_debug_arena", &st);
    const char *key = NULL;
    if (st == C2S_OK && debug != NULL)
        st = get_str(c, debug, "key", "key", "torchscriptDebugArena", 1, &key);
    if (st != C2S_OK)
        return st;
    if (key != NULL) {
        char **grown = realloc(c->out->pickles, (c->out->npickles + 1) * sizeof *grown);
        if (grown == NULL)
            return oom(c);
        c->out->pickles = grown;
        if ((grown[c->out->npickles] = strdup(key)) == NULL)
            return oom(c);
        c->out->npickles++;
    }
    if (field(c, m, "getStateAttributeId", "get_state_attribute_id", &st) != NULL)
        findings_add(c->f,
                     "%s: module '%s' has a __setstate__: torch.jit.load runs the "
                     "archive's code while loading it",
                     c->where, *path ? path : "(main)");
    return st;
}

static c2s_status module_tree(ctx *c, const cJSON *m, const char *path, int depth, pvm_value **out)
{
    if (depth > MAX_DEPTH)
        return c2s_fail(c->err, C2S_ERR_INPUT, "%s: modules nested more than %d deep", c->where,
                        MAX_DEPTH);
    if (!cJSON_IsObject(m))
        return c2s_fail(c->err, C2S_ERR_INPUT, "%s: module '%s' is not an object", c->where, path);
    const cJSON *params = NULL, *subs = NULL;
    c2s_status st = get_array(c, m, "parameters", "parameters", path, &params);
    if (st == C2S_OK)
        st = get_array(c, m, "submodules", "submodules", path, &subs);
    if (st == C2S_OK)
        st = module_extras(c, m, path);
    pvm_value *dict = tsn_new(c->nodes, PVM_DICT);
    if (st == C2S_OK && dict == NULL)
        st = oom(c);
    if (st == C2S_OK)
        st = add_tensors(c, params, 0, path, dict);
    if (st == C2S_OK)
        st = add_tensors(c, params, 1, path, dict);
    for (const cJSON *s = subs ? subs->child : NULL; s != NULL && st == C2S_OK; s = s->next) {
        const char *name = NULL;
        char full[PATH_MAX_LEN];
        pvm_value *child = NULL;
        if ((st = get_str(c, s, "name", "name", "a submodule", 1, &name)) != C2S_OK)
            break;
        join(full, sizeof full, path, name);
        if ((st = module_tree(c, s, full, depth + 1, &child)) == C2S_OK && child->u.dict.len > 0 &&
            !tsn_dict_add(c->nodes, dict, name, child))
            st = oom(c);
    }
    *out = dict;
    return st;
}

static c2s_status build(ctx *c, const cJSON *root)
{
    if (!cJSON_IsObject(root))
        return c2s_fail(c->err, C2S_ERR_INPUT, "%s: not a JSON object", c->where);
    c2s_status st = get_int(c, root, "protoVersion", "proto_version", "the model",
                            &c->out->proto_version);
    if (st == C2S_OK)
        st = get_array(c, root, "tensors", "tensors", "the model", &c->tensors);
    if (st != C2S_OK)
        return st;
    if (c->out->proto_version >= 6)
        return c2s_fail(c->err, C2S_ERR_INPUT,
                        "%s: proto version %" PRId64 " (torch reads "
                        "versions below 6)",
                        c->where, c->out->proto_version);
    c->ntensors = (size_t)cJSON_GetArraySize(c->tensors);
    if ((c->made = calloc(c->ntensors ? c->ntensors : 1, sizeof *c->made)) == NULL)
        return oom(c);
    const cJSON *main_module = field(c, root, "mainModule", "main_module", &st);
    if (st == C2S_OK && main_module == NULL)
        st = c2s_fail(c->err, C2S_ERR_INPUT, "%s: mainModule is missing", c->where);
    return st == C2S_OK ? module_tree(c, main_module, "", 0, &c->out->tree) : st;
}

c2s_status tsjson_build(zipsrc *z, const char *where, const uint8_t *text, size_t len,
                        ts_nodes *nodes, tsjson_out *out, findings *f, c2s_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength((const char *)text, len);
    if (root == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: not valid JSON", where);
    ctx c = {.z = z, .where = where, .nodes = nodes, .out = out, .f = f, .err = err};
    c2s_status st = build(&c, root);
    free(c.made);
    cJSON_Delete(root);
    return st;
}

void tsjson_free(tsjson_out *out)
{
    for (size_t i = 0; i < out->nrecords; i++)
        free(out->records[i]);
    free(out->records);
    for (size_t i = 0; i < out->npickles; i++)
        free(out->pickles[i]);
    free(out->pickles);
    memset(out, 0, sizeof *out);
}
