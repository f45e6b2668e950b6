/*
 * tsnodes.c - pickle-VM values made by a reader (see tsnodes.h).  Every
 * node is one calloc, listed in t->made; containers own their item arrays.
 */
#include "torch/tsnodes.h"

#include <stdlib.h>
#include <string.h>

pvm_value *tsn_new(ts_nodes *t, pvm_kind kind)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        pvm_value **grown = realloc(t->made, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        t->made = grown;
        t->cap = cap;
    }
    if (t->first_id + t->n >= UINT32_MAX)
        return NULL;
    pvm_value *v = calloc(1, sizeof *v);
    if (v == NULL)
        return NULL;
    v->kind = kind;
    v->id = (uint32_t)(t->first_id + t->n);
    t->made[t->n++] = v;
    return v;
}

pvm_value *tsn_str(ts_nodes *t, const char *s)
{
    pvm_value *v = tsn_new(t, PVM_STR);
    if (v == NULL || (v->u.str.data = strdup(s)) == NULL)
        return NULL;
    v->u.str.len = strlen(s);
    return v;
}

pvm_value *tsn_int(ts_nodes *t, int64_t i)
{
    pvm_value *v = tsn_new(t, PVM_INT);
    if (v != NULL)
        v->u.i = i;
    return v;
}

pvm_value *tsn_tuple(ts_nodes *t, size_t n)
{
    pvm_value *v = tsn_new(t, PVM_TUPLE);
    if (v == NULL || (v->u.seq.items = calloc(n ? n : 1, sizeof *v->u.seq.items)) == NULL)
        return NULL;
    v->u.seq.len = v->u.seq.cap = n;
    return v;
}

pvm_value *tsn_global(ts_nodes *t, const char *module, const char *name)
{
    pvm_value *v = tsn_new(t, PVM_GLOBAL);
    if (v != NULL) {
        v->u.global.module = module;
        v->u.global.name = name;
    }
    return v;
}

int tsn_dict_add(ts_nodes *t, pvm_value *dict, const char *key, pvm_value *val)
{
    pvm_value *k = tsn_str(t, key);
    if (k == NULL)
        return 0;
    if (dict->u.dict.len == dict->u.dict.cap) {
        if (dict->u.dict.cap > UINT32_MAX / 2) /* len and cap are 32 bits */
            return 0;
        size_t cap = dict->u.dict.cap ? dict->u.dict.cap * 2 : 8;
        pvm_pair *pairs = realloc(dict->u.dict.pairs, cap * sizeof *pairs);
        if (pairs == NULL)
            return 0;
        dict->u.dict.pairs = pairs;
        dict->u.dict.cap = (uint32_t)cap;
    }
    dict->u.dict.pairs[dict->u.dict.len++] = (pvm_pair){k, val};
    return 1;
}

size_t tsn_count(const ts_nodes *t)
{
    return t->n;
}

void tsn_free(ts_nodes *t)
{
    for (size_t i = 0; i < t->n; i++) {
        pvm_value *v = t->made[i];
        if (v->kind == PVM_DICT) {
            free(v->u.dict.pairs);
        } else if (v->kind == PVM_STR) {
            free(v->u.str.data);
        } else if (v->kind == PVM_TUPLE) {
            free(v->u.seq.items);
        }
        free(v);
    }
    free(t->made);
    memset(t, 0, sizeof *t);
}
